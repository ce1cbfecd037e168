//! Slice 1: HTTP → DynamoDB. Contacts through the gateway and the contacts-api handler: the
//! life of a contact (S1.2), its history (S6.5), deleting and restoring it, tenancy (S1.4).

mod history;
mod lifecycle;
mod requests;
mod restore;

use crm_e2e_tests::{Reply, Stack, json};

/// Creates Ada Lovelace (written as a user might), which must succeed: the reply and her id.
async fn create_ada(stack: &Stack, admin: &str) -> (Reply, String) {
    let created = stack
        .call(
            "POST",
            "/contacts",
            admin,
            Some(
                json!({"first_name": " Ada ", "last_name": "Lovelace", "email": "ADA@Example.com"}),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    (created, id)
}
