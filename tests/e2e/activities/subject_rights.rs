//! A contact's export and erasure (S1.2) cover its activities: those about the contact alone
//! go for good, shared ones lose the contact and its address, audit trail included.

use crm_e2e_tests::{Stack, json};

#[tokio::test]
async fn s1_2_export_and_erasure_cover_the_contacts_activities() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let ada = stack
        .create_contact(
            &admin,
            json!({"first_name": "Ada", "email": "ada@example.com"}),
        )
        .await;
    let bob = stack
        .create_contact(
            &admin,
            json!({"first_name": "Bob", "email": "bob@example.com"}),
        )
        .await;
    let alone = stack
        .create(
            "/activities",
            &admin,
            json!({"type": "call", "direction": "outbound", "contact_ids": [ada]}),
        )
        .await;
    let from_ada = stack
        .create(
            "/activities",
            &admin,
            json!({"type": "email", "direction": "inbound", "from": "ada@example.com",
            "to": ["alice@acme.example"], "contact_ids": [ada, bob]}),
        )
        .await;
    let shared = stack
        .create("/activities", &admin, json!({"type": "email", "direction": "outbound", "from": "alice@acme.example",
            "to": ["ada@example.com", "bob@example.com"], "subject": "Both", "contact_ids": [ada, bob]}))
        .await;
    let export = stack.get(&format!("/contacts/{ada}/export"), &admin).await;
    assert_eq!(export.status, 200);
    let mut exported: Vec<String> = export.body["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    exported.sort();
    let mut expected = vec![alone.clone(), from_ada.clone(), shared.clone()];
    expected.sort();
    assert_eq!(exported, expected);

    assert_eq!(
        stack
            .status("POST", &format!("/contacts/{ada}/erase"), &admin, None)
            .await,
        204
    );
    for gone in [&alone, &from_ada] {
        assert_eq!(
            stack
                .get(&format!("/activities/{gone}"), &admin)
                .await
                .status,
            404
        );
        assert_eq!(
            stack
                .get(&format!("/activities/{gone}/history"), &admin)
                .await
                .status,
            404
        );
    }
    let kept = stack.get(&format!("/activities/{shared}"), &admin).await;
    assert_eq!(kept.body["contact_ids"], json!([bob]));
    assert_eq!(kept.body["to"], json!(["bob@example.com"]));
    let history = stack
        .get(&format!("/activities/{shared}/history"), &admin)
        .await;
    let trail = history.body.to_string();
    assert!(
        !trail.contains("ada@example.com") && !trail.contains(&ada),
        "{trail}"
    );
    assert_eq!(
        stack
            .ids(&format!("/contacts/{bob}/activities"), &admin)
            .await,
        vec![shared]
    );
}
