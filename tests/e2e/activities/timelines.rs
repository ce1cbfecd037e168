//! Timelines (S6.2): per contact, per client across its contacts, per deal; newest first, by
//! type and period, a page at a time.

use crm_e2e_tests::{Stack, json};
use serde_json::Value;

fn note(text: &str, at: &str, links: Value) -> Value {
    let mut body = json!({"type": "note", "text": text, "occurred_at": at});
    body.as_object_mut()
        .unwrap()
        .extend(links.as_object().unwrap().clone());
    body
}

#[tokio::test]
async fn s6_2_a_clients_timeline_spans_its_contacts_newest_first_by_type_and_period() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let initech = stack
        .create_client(&admin, json!({"name": "Initech"}))
        .await;
    let globex = stack.create_client(&admin, json!({"name": "Globex"})).await;
    let mut contacts = Vec::new();
    for name in ["Ada", "Bob", "Cy"] {
        let c = stack
            .create_contact(&admin, json!({"first_name": name}))
            .await;
        stack
            .link_contact(&admin, &c, &initech, json!({"role": "other"}))
            .await;
        contacts.push(c);
    }
    let outsider = stack
        .create_contact(&admin, json!({"first_name": "Olga"}))
        .await;
    stack
        .link_contact(&admin, &outsider, &globex, json!({"role": "other"}))
        .await;
    let [ada, bob, cy] = [&contacts[0], &contacts[1], &contacts[2]];
    let on_ada = stack
        .create(
            "/activities",
            &admin,
            note(
                "Ada 1",
                "2026-11-01T10:00:00Z",
                json!({"contact_ids": [ada]}),
            ),
        )
        .await;
    let on_bob = stack
        .create("/activities", &admin, json!({"type": "call", "direction": "outbound", "occurred_at": "2026-11-03T10:00:00Z", "contact_ids": [bob]}))
        .await;
    let on_client = stack
        .create(
            "/activities",
            &admin,
            note(
                "Client",
                "2026-11-02T10:00:00Z",
                json!({"client_id": initech}),
            ),
        )
        .await;
    let on_cy_and_olga = stack
        .create(
            "/activities",
            &admin,
            note(
                "Both",
                "2026-11-04T10:00:00Z",
                json!({"contact_ids": [cy, outsider]}),
            ),
        )
        .await;
    let on_olga = stack
        .create(
            "/activities",
            &admin,
            note(
                "Olga",
                "2026-11-05T10:00:00Z",
                json!({"contact_ids": [outsider]}),
            ),
        )
        .await;

    let timeline = format!("/clients/{initech}/activities");
    assert_eq!(
        stack.ids(&timeline, &admin).await,
        [
            on_cy_and_olga.clone(),
            on_bob.clone(),
            on_client.clone(),
            on_ada.clone()
        ],
        "newest first, its contacts' and its own, not another client's"
    );
    assert_eq!(
        stack
            .ids(&format!("/clients/{globex}/activities"), &admin)
            .await,
        [on_olga.clone(), on_cy_and_olga.clone()]
    );
    assert_eq!(
        stack.ids(&format!("{timeline}?type=call"), &admin).await,
        vec![on_bob.clone()]
    );
    assert_eq!(
        stack
            .ids(
                &format!("{timeline}?occurred_from=2026-11-02&occurred_to=2026-11-03"),
                &admin
            )
            .await,
        [on_bob.clone(), on_client.clone()]
    );
    assert_eq!(
        stack
            .ids(&format!("{timeline}?sort=occurred_at"), &admin)
            .await,
        [
            on_ada.clone(),
            on_client.clone(),
            on_bob.clone(),
            on_cy_and_olga.clone()
        ]
    );
    // Page by page with cursors: the same rows, each once.
    let first = stack.get(&format!("{timeline}?limit=3"), &admin).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 3);
    let cursor = first.body["next_cursor"].as_str().expect("a next page");
    let second = stack
        .get(&format!("{timeline}?limit=3&cursor={cursor}"), &admin)
        .await;
    assert_eq!(second.body["items"][0]["id"], on_ada.as_str());
    assert!(second.body["next_cursor"].is_null());
    // A row is a summary: no long texts.
    let row = &first.body["items"][0];
    assert_eq!(row["snippet"], "Both");
    assert!(row.get("text").is_none());

    assert_eq!(
        stack
            .ids(&format!("/contacts/{cy}/activities"), &admin)
            .await,
        vec![on_cy_and_olga.clone()]
    );
    let bad = stack
        .call("GET", &format!("{timeline}?type=fax"), &admin, None)
        .await;
    assert_eq!(bad.status, 422);
    let bad = stack
        .call("GET", &format!("{timeline}?contact={ada}"), &admin, None)
        .await;
    assert_eq!(bad.status, 422, "the subject is the route's");
}

#[tokio::test]
async fn s6_2_a_deals_timeline_and_activity_keeps_the_deal_from_rotting() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    stack
        .create("/pipelines", &admin, json!({"name": "Sales", "stages": [{"name": "Lead", "probability": "20"}, {"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}]}))
        .await;
    let ada = stack
        .create_contact(&admin, json!({"first_name": "Ada"}))
        .await;
    let deal = stack
        .create(
            "/deals",
            &admin,
            json!({"title": "Relaunch", "contact_ids": [ada]}),
        )
        .await;
    let meeting = stack
        .create("/activities", &admin, json!({"type": "meeting", "starts_at": "2030-01-01T10:00:00Z", "deal_id": deal, "contact_ids": [ada]}))
        .await;
    let note_on_contact = stack
        .create(
            "/activities",
            &admin,
            note(
                "Only Ada",
                "2026-11-01T10:00:00Z",
                json!({"contact_ids": [ada]}),
            ),
        )
        .await;
    assert_eq!(
        stack
            .ids(&format!("/deals/{deal}/activities"), &admin)
            .await,
        vec![meeting.clone()]
    );
    assert_eq!(
        stack
            .ids(&format!("/contacts/{ada}/activities"), &admin)
            .await,
        [meeting, note_on_contact]
    );
    let d = stack.get(&format!("/deals/{deal}"), &admin).await;
    assert_eq!(d.body["last_activity_at"], "2030-01-01T10:00:00Z");
    let r = stack.call("POST", "/activities", &admin, Some(json!({"type": "note", "text": "x", "deal_id": "00000000-0000-7000-8000-000000000009"}))).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["errors"][0]["field"], "deal_id");
}

/// An empty filter value is refused naming the parameter, not read as "no filter" (issue 14
/// item 1), on the list, a timeline and the caller's tasks.
#[tokio::test]
async fn issue14_empty_activity_filters_are_refused_not_ignored() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let ada = stack
        .create_contact(&admin, json!({"first_name": "Ada"}))
        .await;
    stack
        .assert_filters_refused(
            &admin,
            &[
                ("/activities?contact=".to_string(), "contact"),
                ("/activities?owner=".to_string(), "owner"),
                ("/activities?occurred_from=".to_string(), "occurred_from"),
                (
                    format!("/contacts/{ada}/activities?occurred_to="),
                    "occurred_to",
                ),
                ("/me/tasks?due_from=".to_string(), "due_from"),
            ],
        )
        .await;
}
