//! Each activity type with its own fields and rules (S6.1), the audit trail and the immutable
//! body of a logged email (S6.3), tasks and the "my tasks" list.

use crm_e2e_tests::stack::{errors, pair};
use crm_e2e_tests::{Stack, json};

#[tokio::test]
async fn s6_1_each_type_keeps_its_own_fields_and_refuses_another_types() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let ada = stack
        .create_contact(&admin, json!({"first_name": "Ada"}))
        .await;
    let bob = stack
        .create_contact(&admin, json!({"first_name": "Bob"}))
        .await;
    let cases = [
        json!({"type": "email", "direction": "outbound", "from": "alice@acme.example",
               "to": ["ada@example.com"], "cc": ["bob@example.com"], "subject": "Offer",
               "message_id": "<m1@acme.example>", "thread_id": "t-1", "body": "Hello Ada,\nthe offer.",
               "contact_ids": [ada, bob]}),
        json!({"type": "chat", "channel": "whatsapp", "direction": "inbound",
               "transcript": "Hi!\nHello.", "contact_ids": [ada]}),
        json!({"type": "ticket", "external_id": "ZD-42", "state": "pending", "subject": "Login fails",
               "contact_ids": [ada]}),
        json!({"type": "call", "direction": "outbound", "duration_seconds": 300,
               "outcome": "connected", "text": "Discussed pricing", "contact_ids": [ada]}),
        json!({"type": "meeting", "subject": "Kick-off", "starts_at": "2026-11-20T10:00:00Z",
               "ends_at": "2026-11-20T11:00:00Z", "attendees": ["Ada", "alice@acme.example"],
               "location": "Berlin", "contact_ids": [ada]}),
        json!({"type": "note", "text": "Prefers email.", "contact_ids": [ada]}),
        json!({"type": "task", "subject": "Send the contract", "due_at": "2026-12-24T09:00:00Z",
               "assignee": "alice", "contact_ids": [ada]}),
    ];
    for body in cases {
        let r = stack
            .call("POST", "/activities", &admin, Some(body.clone()))
            .await;
        assert_eq!(r.status, 201, "{body}: {:?}", r.body);
        for (k, v) in body.as_object().unwrap() {
            assert_eq!(&r.body[k], v, "{k} of a {} activity", body["type"]);
        }
        assert_eq!(r.body["origin"], "user");
        assert_eq!(r.body["owner"], "alice");
        let got = stack
            .get(
                &format!("/activities/{}", r.body["id"].as_str().unwrap()),
                &admin,
            )
            .await;
        assert_eq!(got.body, r.body);
    }
    // A meeting happens at its start.
    let meeting = stack
        .call("POST", "/activities", &admin, Some(json!({"type": "meeting", "starts_at": "2026-11-02T08:00:00Z", "contact_ids": [ada]})))
        .await;
    assert_eq!(meeting.body["occurred_at"], "2026-11-02T08:00:00Z");

    // Fields of another type, missing required ones, bad shapes and links are named.
    for (body, expected) in [
        (
            json!({"type": "call", "direction": "outbound", "location": "Berlin", "contact_ids": [ada]}),
            vec![pair("location", "not_for_type")],
        ),
        (
            json!({"type": "email", "from": "x@example.com", "contact_ids": [ada]}),
            vec![pair("direction", "required")],
        ),
        (
            json!({"type": "note", "text": "x"}),
            vec![pair("contact_ids", "required")],
        ),
        (
            json!({"type": "call", "direction": "sideways", "contact_ids": [ada]}),
            vec![pair("direction", "type")],
        ),
        (
            json!({"type": "note", "text": "x", "mood": "happy", "contact_ids": [ada]}),
            vec![pair("mood", "unknown_field")],
        ),
        (
            json!({"type": "note", "text": "x", "contact_ids": ["00000000-0000-7000-8000-000000000001"]}),
            vec![pair("contact_ids[0]", "exists")],
        ),
        (
            json!({"type": "task", "subject": "x", "assignee": "nobody", "contact_ids": [ada]}),
            vec![pair("assignee", "exists")],
        ),
        (
            json!({"type": "meeting", "starts_at": "2026-11-20T10:00:00Z", "ends_at": "2026-11-20T09:00:00Z", "contact_ids": [ada]}),
            vec![pair("ends_at", "after_start")],
        ),
        (
            json!({"type": "fax", "contact_ids": [ada]}),
            vec![pair("type", "type")],
        ),
    ] {
        let r = stack
            .call("POST", "/activities", &admin, Some(body.clone()))
            .await;
        assert_eq!(r.status, 422, "{body}: {:?}", r.body);
        assert_eq!(errors(&r), expected, "{body}");
    }
}

#[tokio::test]
async fn s6_3_a_logged_emails_body_stays_and_every_change_is_audited() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let ada = stack
        .create_contact(&admin, json!({"first_name": "Ada"}))
        .await;
    let email = stack
        .create(
            "/activities",
            &admin,
            json!({"type": "email", "direction": "inbound", "from": "ada@example.com",
            "subject": "Question", "body": "What does it cost?", "contact_ids": [ada]}),
        )
        .await;
    let path = format!("/activities/{email}");
    let r = stack
        .call("PATCH", &path, &admin, Some(json!({"body": "Rewritten"})))
        .await;
    assert_eq!(
        (r.status, errors(&r)),
        (422, vec![pair("body", "immutable")])
    );
    let r = stack
        .call("PATCH", &path, &admin, Some(json!({"type": "note"})))
        .await;
    assert_eq!(
        (r.status, errors(&r)),
        (422, vec![pair("type", "immutable")])
    );
    let r = stack
        .call(
            "PATCH",
            &path,
            &admin,
            Some(json!({"subject": "Pricing question"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["body"], "What does it cost?");
    let history = stack.get(&format!("{path}/history"), &admin).await;
    let actions: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["updated", "created"]);
    assert_eq!(history.body["items"][0]["changes"][0]["field"], "subject");
    // Deleted, it leaves the timeline; restored, it is back.
    assert_eq!(stack.status("DELETE", &path, &admin, None).await, 204);
    assert!(
        stack
            .ids(&format!("/contacts/{ada}/activities"), &admin)
            .await
            .is_empty()
    );
    assert_eq!(
        stack
            .status("POST", &format!("{path}/restore"), &admin, None)
            .await,
        200
    );
    assert_eq!(
        stack
            .ids(&format!("/contacts/{ada}/activities"), &admin)
            .await,
        [email]
    );
}

#[tokio::test]
async fn s6_1_my_tasks_are_the_open_ones_assigned_to_me_soonest_due_first() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    stack
        .put_user(&admin, "mia", json!({"role": "member"}))
        .await;
    stack
        .put_user(&admin, "alice", json!({"role": "admin"}))
        .await;
    let mia = stack.token("acme", "mia", "member");
    let ada = stack
        .create_contact(&mia, json!({"first_name": "Ada"}))
        .await;
    let task = |subject: &str, due: Option<&str>, assignee: &str| {
        let mut body =
            json!({"type": "task", "subject": subject, "assignee": assignee, "contact_ids": [ada]});
        if let Some(d) = due {
            body["due_at"] = json!(d);
        }
        body
    };
    let later = stack
        .create(
            "/activities",
            &mia,
            task("Later", Some("2027-01-10T09:00:00Z"), "mia"),
        )
        .await;
    let undated = stack
        .create("/activities", &mia, task("Someday", None, "mia"))
        .await;
    let soon = stack
        .create(
            "/activities",
            &mia,
            task("Soon", Some("2026-12-05T09:00:00Z"), "mia"),
        )
        .await;
    let done = stack
        .create(
            "/activities",
            &mia,
            task("Done", Some("2026-12-01T09:00:00Z"), "mia"),
        )
        .await;
    stack
        .create(
            "/activities",
            &mia,
            task("Alice's", Some("2026-12-02T09:00:00Z"), "alice"),
        )
        .await;
    let r = stack
        .call(
            "PATCH",
            &format!("/activities/{done}"),
            &mia,
            Some(json!({"done": true})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body["done_at"].is_string());
    assert_eq!(
        stack.ids("/me/tasks", &mia).await,
        [soon.clone(), later.clone(), undated]
    );
    assert_eq!(
        stack.ids("/me/tasks?due_to=2026-12-31", &mia).await,
        [soon],
        "a due range"
    );
    assert_eq!(stack.ids("/me/tasks", &admin).await.len(), 1, "Alice's own");
    // Reopened, the task is back in the list.
    stack
        .call(
            "PATCH",
            &format!("/activities/{done}"),
            &mia,
            Some(json!({"done": false})),
        )
        .await;
    assert_eq!(stack.ids("/me/tasks", &mia).await[0], done);
    let _ = later;
}
