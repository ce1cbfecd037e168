//! A contact's data and its workflow runs (S1.2): the export holds them, the erasure leaves
//! nothing of them.

use super::{contact, start_run, workflow};
use crm_e2e_tests::{Reply, Stack, json};

/// Ada (changed once) and Grace, each enrolled in the Welcome workflow: their ids and Ada's
/// run.
async fn two_enrolled(stack: &Stack, admin: &str) -> (String, String, Reply) {
    let contact_id = contact(stack, admin, "ada@example.com").await;
    stack
        .call(
            "PATCH",
            &format!("/contacts/{contact_id}"),
            admin,
            Some(json!({"company": "ACME"})),
        )
        .await;
    let workflow_id = workflow(stack, admin, 5).await;
    let run = start_run(stack, admin, &workflow_id, &contact_id).await;
    // Another contact's data stays out of the export.
    let other_contact = contact(stack, admin, "grace@example.com").await;
    start_run(stack, admin, &workflow_id, &other_contact).await;
    (contact_id, other_contact, run)
}

/// The data export holds the contact, its history and its workflow runs, and nothing of
/// another contact's (S1.2).
#[tokio::test]
async fn s1_2_the_export_holds_the_contact_its_history_and_its_workflow_runs() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (contact_id, _, run) = two_enrolled(&stack, &admin).await;
    let export = stack
        .get(&format!("/contacts/{contact_id}/export"), &admin)
        .await;
    assert_eq!(export.status, 200, "{:?}", export.body);
    assert_eq!(export.body["contact"]["id"], contact_id.as_str());
    assert_eq!(export.body["contact"]["company"], "ACME");
    let actions: Vec<&str> = export.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["created", "updated"]);
    let runs = export.body["workflow_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["id"], run.body["id"]);
}

/// Another tenant gets no export of a contact (S1.2, S1.4).
#[tokio::test]
async fn s1_2_another_tenant_gets_no_export() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (contact_id, _, _) = two_enrolled(&stack, &admin).await;
    let other = stack.token("other", "olga", "admin");
    assert_eq!(
        stack
            .get(&format!("/contacts/{contact_id}/export"), &other)
            .await
            .status,
        404
    );
}

/// Ada (changed, enrolled, her step taken, linked to Initech as primary) and Grace (enrolled):
/// their ids and the client's.
async fn ada_with_a_trail(stack: &Stack, admin: &str) -> (String, String, String) {
    let ada = contact(stack, admin, "ada.erased@example.com").await;
    stack
        .call(
            "PATCH",
            &format!("/contacts/{ada}"),
            admin,
            Some(json!({"company": "Analytical Engines"})),
        )
        .await;
    let grace = contact(stack, admin, "grace@example.com").await;
    let workflow_id = workflow(stack, admin, 5).await;
    for id in [&ada, &grace] {
        let r = start_run(stack, admin, &workflow_id, id).await;
        assert_eq!(r.status, 201);
    }
    stack.runtime.deliver_step_messages().await.unwrap();
    let client = stack.create_client(admin, json!({"name": "Initech"})).await;
    stack
        .link_contact(
            admin,
            &ada,
            &client,
            json!({"role": "billing", "primary": true}),
        )
        .await;
    (ada, grace, client)
}

/// Only writers erase (a viewer sees the contact but may not); the erased contact is gone from
/// every route, is not restored and is listed nowhere (S1.2).
#[tokio::test]
async fn s1_2_erase_takes_the_contact_off_every_route_for_good() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    // A viewer sees the contact but may not erase it.
    let viewer = stack.token("acme", "vic", "viewer");
    let (ada, grace, _) = ada_with_a_trail(&stack, &admin).await;
    assert_eq!(
        stack
            .status("POST", &format!("/contacts/{ada}/erase"), &viewer, None)
            .await,
        403
    );
    assert_eq!(
        stack
            .status("POST", &format!("/contacts/{ada}/erase"), &admin, None)
            .await,
        204
    );

    for path in [
        format!("/contacts/{ada}"),
        format!("/contacts/{ada}/history"),
        format!("/contacts/{ada}/export"),
    ] {
        assert_eq!(
            stack.call("GET", &path, &admin, None).await.status,
            404,
            "{path}"
        );
    }
    assert_eq!(
        stack
            .status("POST", &format!("/contacts/{ada}/restore"), &admin, None)
            .await,
        404
    );
    assert_eq!(stack.ids("/contacts", &admin).await, vec![grace.clone()]);
}

/// Erasure leaves nothing in the table naming or describing the contact but the erasure marker
/// (no personal data), unlinks its clients, and leaves other contacts' runs alone (S1.2).
#[tokio::test]
async fn s1_2_erase_leaves_nothing_about_the_contact() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (ada, grace, client) = ada_with_a_trail(&stack, &admin).await;
    assert_eq!(
        stack
            .status("POST", &format!("/contacts/{ada}/erase"), &admin, None)
            .await,
        204
    );
    // Nothing left in the table names or describes her, but the erasure marker (no personal data).
    let table = stack.runtime.provisioned.resolved.refs["CrmTable"].clone();
    let items = stack
        .runtime
        .aws
        .dynamodb
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let about_ada: Vec<String> = items
        .iter()
        .map(|item| format!("{item:?}"))
        .filter(|text| {
            text.contains(&ada) || text.contains("ada.erased") || text.contains("Analytical")
        })
        .collect();
    assert_eq!(about_ada.len(), 1, "{about_ada:#?}");
    assert!(about_ada[0].contains("contact_erasure") && about_ada[0].contains("alice"));
    assert_eq!(
        stack
            .get(&format!("/clients/{client}/contacts"), &admin)
            .await
            .body["items"],
        json!([])
    );
    // Grace's run is untouched.
    let export = stack
        .get(&format!("/contacts/{grace}/export"), &admin)
        .await;
    assert_eq!(export.body["workflow_runs"].as_array().unwrap().len(), 1);
}
