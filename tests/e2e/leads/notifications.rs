//! S8.4: leads without an owner go round robin to a team's active members; each new lead
//! notifies its owner (listed newest first, marked read, emailed when they opted in); an
//! import notifies its importer once.

use crm_e2e_tests::stack::{errors, pair};
use crm_e2e_tests::{Stack, json};

#[tokio::test]
async fn s8_4_round_robin_assignment_and_notifications() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let sales = stack.create_team(&admin, "Sales").await;
    for user in ["u1", "u2", "u3"] {
        stack
            .put_user(
                &admin,
                user,
                json!({"role": "member", "teams": [sales], "email": format!("{user}-{}@example.com", stack.prefix)}),
            )
            .await;
    }
    let u1 = stack.token("acme", "u1", "member");
    let r = stack
        .call(
            "PUT",
            "/lead-assignment-rules",
            &admin,
            Some(json!({"rules": [{"team": stack_uuid()}]})),
        )
        .await;
    assert_eq!(errors(&r), vec![pair("rules[0].team", "exists")]);
    let r = stack
        .call(
            "PUT",
            "/lead-assignment-rules",
            &admin,
            Some(json!({"rules": [{"team": sales}]})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        stack
            .status(
                "PUT",
                "/lead-assignment-rules",
                &u1,
                Some(json!({"rules": []}))
            )
            .await,
        403
    );

    // u1 wants an email for each new lead.
    let r = stack
        .call(
            "PUT",
            "/me/notification-preferences",
            &u1,
            Some(json!({"email_new_leads": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // 6 leads without an owner: 2 each, in order.
    let mut owners = Vec::new();
    for i in 0..6 {
        let id = stack
            .create_contact(&admin, json!({"first_name": format!("Lead{i}")}))
            .await;
        let c = stack.get(&format!("/contacts/{id}"), &admin).await.body;
        assert_eq!(c["team"], json!(sales));
        owners.push(c["owner"].as_str().unwrap().to_string());
    }
    assert_eq!(owners, ["u1", "u2", "u3", "u1", "u2", "u3"]);
    // A contact named with an owner, and a customer, are not assigned.
    let own = stack
        .create_contact(&admin, json!({"first_name": "Own", "owner": "u3"}))
        .await;
    assert_eq!(
        stack.get(&format!("/contacts/{own}"), &admin).await.body["owner"],
        "u3"
    );
    let cust = stack
        .create_contact(
            &admin,
            json!({"first_name": "Cust", "lifecycle_status": "customer"}),
        )
        .await;
    assert_eq!(
        stack.get(&format!("/contacts/{cust}"), &admin).await.body["owner"],
        "alice"
    );

    // u1's notifications: two new leads, newest first, both unread.
    let r = stack.get("/me/notifications", &u1).await;
    let items = r.body["items"].as_array().unwrap().clone();
    let titles: Vec<&str> = items.iter().map(|n| n["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["New lead: Lead3", "New lead: Lead0"]);
    assert_eq!(items[0]["kind"], "new_lead");
    // Paged with a cursor.
    let r = stack.get("/me/notifications?limit=1", &u1).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert!(r.body["next_cursor"].is_string());
    // Marked read one by one, then all.
    let first = items[0]["id"].as_str().unwrap();
    let r = stack
        .call(
            "POST",
            &format!("/me/notifications/{first}/read"),
            &u1,
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body["read_at"].is_string());
    let unread = stack.ids("/me/notifications?unread=true", &u1).await;
    assert_eq!(unread, vec![items[1]["id"].as_str().unwrap().to_string()]);
    // Someone else's notification is not theirs to mark.
    let u2 = stack.token("acme", "u2", "member");
    assert_eq!(
        stack
            .status(
                "POST",
                &format!("/me/notifications/{first}/read"),
                &u2,
                None
            )
            .await,
        404
    );
    let r = stack
        .call("POST", "/me/notifications/read-all", &u1, None)
        .await;
    assert_eq!(r.body["marked"], 1);
    assert!(
        stack
            .ids("/me/notifications?unread=true", &u1)
            .await
            .is_empty()
    );
    assert_eq!(stack.ids("/me/notifications", &u1).await.len(), 2);
    // u1 opted in: two emails; u2 did not.
    assert_eq!(
        stack
            .sent_emails_to(&format!("u1-{}@example.com", stack.prefix))
            .await
            .len(),
        2
    );
    assert!(
        stack
            .sent_emails_to(&format!("u2-{}@example.com", stack.prefix))
            .await
            .is_empty()
    );

    // An import notifies its importer once, with a summary, not once per row.
    let (id, url) = stack.start_import(&u1, "three.csv").await;
    let csv = "Name,Email\nA One,a1@example.com\nB Two,b2@example.com\nC Three,c3@example.com\n";
    let import = stack
        .import_with(
            &stack.runtime.functions.import_processor,
            &u1,
            &url,
            &id,
            csv,
        )
        .await;
    assert_eq!(import["created"], 3);
    let r = stack.get("/me/notifications?unread=true", &u1).await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["kind"], "import_summary");
    assert_eq!(items[0]["created"], 3);
    assert_eq!(items[0]["import_id"], json!(id));
}

fn stack_uuid() -> String {
    "01900000-0000-7000-8000-000000000000".into()
}
