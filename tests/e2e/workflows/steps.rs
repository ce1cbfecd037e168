//! The steps that reach people (S7.2): an email inline and from a template with the contact's
//! merge fields (custom fields, the owner's name), read back from the local SES; an opted-out
//! contact skipped with the reason recorded while the run goes on; a task and a note on the
//! contact's timeline and in the owner's tasks; notifications to the owner and to the team.

use super::{alice, drive, enroll, entry, flow, history, person, run_of, subjects};
use crm_e2e_tests::{Stack, json};

/// The contact custom field `plan` (text).
async fn plan_field(stack: &Stack, admin: &str) {
    stack
        .create_field(
            admin,
            json!({"key": "plan", "entity": "contact", "label": "Plan", "type": {"kind": "text"}}),
        )
        .await;
}

/// A `send_email` step inline and one by `template_id` fill in the contact's fields, a custom
/// field (`{{cf.plan}}`) and the owner's name (`{{owner.name}}`); the mail leaves from the
/// stack's sender and is logged as an outbound email activity of the workflow (S7.2, S6.4).
#[tokio::test]
async fn s7_2_send_email_inline_and_by_template_with_custom_and_owner_merge_fields() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    plan_field(&stack, &admin).await;
    let template = stack
        .create(
            "/email-templates",
            &admin,
            json!({"name": "Plan", "subject": "Your {{cf.plan}} plan, {{first_name}}",
                   "text": "{{owner.name}} looks after your {{cf.plan}} plan."}),
        )
        .await;
    let (ada, address) = person(
        &stack,
        &admin,
        json!({"first_name": "Ada", "last_name": "Lovelace", "custom_fields": {"plan": "Gold"}}),
    )
    .await;
    let wf = flow(
        &stack,
        &admin,
        json!([
            {"id": "inline", "type": "send_email", "subject": "Hi {{first_name}}",
             "body": "Dear {{display_name}}, plan {{cf.plan}}. Yours, {{owner.name}}"},
            {"id": "templated", "type": "send_email", "template_id": template}
        ]),
    )
    .await;
    let run = enroll(&stack, &admin, &wf, &ada).await;
    drive(&stack).await;

    let run = run_of(&stack, &admin, &run).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(
        history(&run)
            .into_iter()
            .map(|(_, _, result)| result)
            .collect::<Vec<_>>(),
        ["sent", "sent"]
    );
    let mut sent = stack.sent_emails_to(&address).await;
    sent.sort();
    assert_eq!(
        sent,
        [
            (
                "Hi Ada".to_string(),
                "Dear Ada Lovelace, plan Gold. Yours, Alice Admin".to_string()
            ),
            (
                "Your Gold plan, Ada".to_string(),
                "Alice Admin looks after your Gold plan.".to_string()
            ),
        ]
    );
    let raw = stack.raw_emails_to(&address).await;
    assert!(raw[0].contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    // Each mail is an outbound email activity of the workflow on Ada's timeline.
    let timeline = stack
        .get(&format!("/contacts/{ada}/activities?type=email"), &admin)
        .await;
    let items = timeline.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(
        items
            .iter()
            .all(|a| a["direction"] == "outbound" && a["origin"] == "workflow")
    );
}

/// An opted-out contact gets no mail: the step is `skipped` with the reason, and the run goes
/// on to its next step (S7.2).
#[tokio::test]
async fn s7_2_send_email_to_an_opted_out_contact_is_skipped_and_the_run_goes_on() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let (olga, address) = person(
        &stack,
        &admin,
        json!({"first_name": "Olga", "email_opt_out": true}),
    )
    .await;
    let wf = flow(
        &stack,
        &admin,
        json!([
            {"id": "mail", "type": "send_email", "subject": "Hi {{first_name}}", "body": "News"},
            {"id": "tag", "type": "add_tag", "tag": "after-mail"}
        ]),
    )
    .await;
    let run = enroll(&stack, &admin, &wf, &olga).await;
    drive(&stack).await;

    let run = run_of(&stack, &admin, &run).await;
    assert_eq!(run["status"], "completed", "{run}");
    let skipped = entry(&run, "mail");
    assert_eq!(skipped["result"], "skipped");
    let why = skipped["detail"].as_str().unwrap_or("");
    assert!(why.contains("email_opt_out"), "the reason: {why}");
    assert_eq!(entry(&run, "tag")["result"], "done");
    assert!(subjects(&stack, &address).await.is_empty(), "nothing sent");
    assert_eq!(super::tags(&stack, &admin, &olga).await, ["after-mail"]);
}

/// `create_activity` logs a task (assigned to the owner, due `due_in_days` later, in their
/// "my tasks") and a note on the contact's timeline, made by the workflow (S7.2, S6.1).
#[tokio::test]
async fn s7_2_create_activity_logs_a_task_for_the_owner_and_a_note() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let (ada, _) = person(&stack, &admin, json!({"first_name": "Ada"})).await;
    let wf = flow(
        &stack,
        &admin,
        json!([
            {"id": "task", "type": "create_activity", "due_in_days": 3,
             "activity": {"type": "task", "subject": "Call Ada"}},
            {"id": "note", "type": "create_activity",
             "activity": {"type": "note", "text": "Enrolled in the welcome series"}}
        ]),
    )
    .await;
    let started = chrono::Utc::now();
    let run = enroll(&stack, &admin, &wf, &ada).await;
    drive(&stack).await;
    let run = run_of(&stack, &admin, &run).await;
    assert_eq!(run["status"], "completed", "{run}");

    let timeline = stack
        .get(&format!("/contacts/{ada}/activities"), &admin)
        .await;
    let items = timeline.body["items"].as_array().unwrap();
    let mut types: Vec<&str> = items.iter().map(|a| a["type"].as_str().unwrap()).collect();
    types.sort();
    assert_eq!(types, ["note", "task"], "{items:?}");
    assert!(items.iter().all(|a| a["origin"] == "workflow"));
    let note = items.iter().find(|a| a["type"] == "note").unwrap();
    let note = stack
        .get(
            &format!("/activities/{}", note["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(note.body["text"], "Enrolled in the welcome series");
    assert_eq!(note.body["owner"], "alice");

    let tasks = stack.get("/me/tasks", &admin).await;
    let tasks = tasks.body["items"].as_array().unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["subject"], "Call Ada");
    assert_eq!(tasks[0]["assignee"], "alice");
    let due: chrono::DateTime<chrono::Utc> = tasks[0]["due_at"].as_str().unwrap().parse().unwrap();
    let expected = started + chrono::Duration::days(3);
    assert!(
        (due - expected).num_seconds().abs() < 60,
        "due {due} ≈ three days after the step ({expected})"
    );
    assert!(
        entry(&run, "task")["detail"]
            .as_str()
            .unwrap()
            .contains(tasks[0]["id"].as_str().unwrap())
    );
}

/// `notify` reaches the contact's owner, or every active member of its team, in their
/// notifications (`GET /me/notifications`), naming the contact (S7.2).
#[tokio::test]
async fn s7_2_notify_reaches_the_owner_and_the_team() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let sales = stack.create_team(&admin, "Sales").await;
    for user in ["u1", "u2"] {
        stack
            .put_user(&admin, user, json!({"role": "member", "teams": [sales]}))
            .await;
    }
    let (ada, _) = person(
        &stack,
        &admin,
        json!({"first_name": "Ada", "owner": "alice", "team": sales}),
    )
    .await;
    let wf = flow(
        &stack,
        &admin,
        json!([
            {"type": "notify", "to": "owner", "message": "Ada joined the series"},
            {"type": "notify", "to": "team", "message": "Someone call Ada"}
        ]),
    )
    .await;
    let run = enroll(&stack, &admin, &wf, &ada).await;
    drive(&stack).await;
    assert_eq!(run_of(&stack, &admin, &run).await["status"], "completed");

    assert_eq!(
        notified(&stack, &admin, &ada).await,
        ["Ada joined the series"]
    );
    for user in ["u1", "u2"] {
        let token = stack.token("acme", user, "member");
        assert_eq!(
            notified(&stack, &token, &ada).await,
            ["Someone call Ada"],
            "{user}"
        );
    }
}

/// The titles of the caller's workflow notifications, each about `contact`.
async fn notified(stack: &Stack, token: &str, contact: &str) -> Vec<String> {
    let r = stack.get("/me/notifications", token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "workflow")
        .map(|n| {
            assert_eq!(n["contact_id"], contact);
            n["title"].as_str().unwrap().to_string()
        })
        .collect()
}
