//! The deals of a contact and of a client (S4.2): only what the caller may see, following the
//! trash and restore of the deal, 404 for a record the caller cannot see.

use super::sales_pipeline;
use crm_e2e_tests::stack::{errors, pair};
use crm_e2e_tests::{Stack, json};

#[tokio::test]
async fn s4_2_a_contacts_and_a_clients_deals_follow_visibility_trash_and_restore() {
    let stack = Stack::start().await;
    sales_pipeline(&stack).await;
    let admin = stack.token("acme", "alice", "admin");
    let mia = stack.token("acme", "mia", "member");
    // Mia (a member in no team) sees what she owns; Alice's private deal on Ada is hidden.
    let ada = stack
        .create_contact(&mia, json!({"first_name": "Ada"}))
        .await;
    let bob = stack
        .create_contact(&mia, json!({"first_name": "Bob"}))
        .await;
    let initech = stack.create_client(&mia, json!({"name": "Initech"})).await;
    let open = stack
        .create("/deals", &mia, json!({"title": "Open deal", "contact_ids": [bob, ada], "primary_contact_id": ada, "client_id": initech}))
        .await;
    let private = stack
        .create("/deals", &admin, json!({"title": "Admin only", "contact_ids": [ada], "client_id": initech, "visibility": "private"}))
        .await;
    let deal = stack.get(&format!("/deals/{open}"), &mia).await;
    assert_eq!(
        deal.body["contact_ids"],
        json!([ada, bob]),
        "the primary contact first"
    );
    assert_eq!(
        stack.ids(&format!("/contacts/{ada}/deals"), &admin).await,
        [private.clone(), open.clone()]
    );
    assert_eq!(
        stack.ids(&format!("/contacts/{ada}/deals"), &mia).await,
        vec![open.clone()]
    );
    assert_eq!(
        stack.ids(&format!("/clients/{initech}/deals"), &mia).await,
        vec![open.clone()]
    );
    assert_eq!(
        stack
            .ids(&format!("/clients/{initech}/deals"), &admin)
            .await,
        [private, open.clone()]
    );
    // Max, another member in no team, does not see Mia's contact Bob, nor his deals.
    let max = stack.token("acme", "max", "member");
    assert_eq!(
        stack
            .status("GET", &format!("/contacts/{bob}/deals"), &max, None)
            .await,
        404
    );
    // A contact the writer cannot see is not linked.
    let r = stack
        .call(
            "POST",
            "/deals",
            &max,
            Some(json!({"title": "Sneaky", "contact_ids": [bob]})),
        )
        .await;
    assert_eq!(
        (r.status, errors(&r)),
        (422, vec![pair("contact_ids[0]", "exists")])
    );
    assert_eq!(
        stack
            .status("DELETE", &format!("/deals/{open}"), &mia, None)
            .await,
        204
    );
    assert_eq!(
        stack.ids(&format!("/contacts/{ada}/deals"), &mia).await,
        Vec::<String>::new()
    );
    assert_eq!(
        stack.ids(&format!("/clients/{initech}/deals"), &mia).await,
        Vec::<String>::new()
    );
    assert_eq!(
        stack
            .status("POST", &format!("/deals/{open}/restore"), &mia, None)
            .await,
        200
    );
    assert_eq!(
        stack.ids(&format!("/clients/{initech}/deals"), &mia).await,
        [open]
    );
    let other = stack.token("other-tenant", "olga", "owner");
    assert_eq!(
        stack
            .status("GET", &format!("/clients/{initech}/deals"), &other, None)
            .await,
        404
    );
}

/// A contact's export lists its deals; its erasure takes it off them, each deal's other
/// contacts kept and the change in the deal's audit trail (S1.2).
#[tokio::test]
async fn s1_2_a_contacts_export_and_erasure_cover_its_deals() {
    let stack = Stack::start().await;
    sales_pipeline(&stack).await;
    let admin = stack.token("acme", "alice", "admin");
    let ada = stack
        .create_contact(&admin, json!({"first_name": "Ada"}))
        .await;
    let bob = stack
        .create_contact(&admin, json!({"first_name": "Bob"}))
        .await;
    let deal = stack
        .create(
            "/deals",
            &admin,
            json!({"title": "Joint", "contact_ids": [ada, bob]}),
        )
        .await;
    let export = stack.get(&format!("/contacts/{ada}/export"), &admin).await;
    assert_eq!(export.status, 200);
    assert_eq!(export.body["deals"][0]["id"], deal.as_str());
    assert_eq!(
        stack
            .status("POST", &format!("/contacts/{ada}/erase"), &admin, None)
            .await,
        204
    );
    let after = stack.get(&format!("/deals/{deal}"), &admin).await;
    assert_eq!(after.body["contact_ids"], json!([bob]));
    assert_eq!(
        stack.ids(&format!("/deals?contact={ada}"), &admin).await,
        Vec::<String>::new()
    );
    let history = stack.get(&format!("/deals/{deal}/history"), &admin).await;
    assert_eq!(
        history.body["items"][0]["changes"][0]["field"],
        "contact_ids"
    );
}

/// A list filter with an empty or malformed value names nothing: it is refused naming the
/// parameter, never read as "no filter" (issue 14 item 1: the handler refuses what the
/// OpenAPI document refuses).
#[tokio::test]
async fn issue14_empty_or_malformed_deal_filters_are_refused_not_ignored() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let ada = stack
        .create_contact(&admin, json!({"first_name": "Ada"}))
        .await;
    stack
        .assert_filters_refused(
            &admin,
            &[
                ("/deals?client=".to_string(), "client"),
                ("/deals?client=not-a-uuid".to_string(), "client"),
                ("/deals?owner=".to_string(), "owner"),
                ("/deals?owner=%20".to_string(), "owner"),
                ("/deals?status=".to_string(), "status"),
                ("/deals?tag=".to_string(), "tag"),
                (format!("/contacts/{ada}/deals?status="), "status"),
            ],
        )
        .await;
    assert_eq!(stack.get("/deals?status=open", &admin).await.status, 200);
}
