//! A client's history (S6.5): created, changed and deleted, newest first, changed fields only,
//! paginated, kept after the delete for owners and admins, one tenant's only.

use crm_e2e_tests::stack::audit_entry;
use crm_e2e_tests::{Stack, json};

/// Initech, created by Alice and changed by Bob (then a PATCH changing nothing and a refused
/// one): the client's path and its history's.
async fn changed_client(stack: &Stack) -> (String, String) {
    let alice = stack.token("acme", "alice", "admin");
    let bob = stack.token("acme", "bob", "admin");
    let id = stack
        .create_client(
            &alice,
            json!({"name": "Initech", "billing_address": {"city": "Berlin"}}),
        )
        .await;
    let path = format!("/clients/{id}");
    let history = format!("{path}/history");
    let patched = stack
        .call(
            "PATCH",
            &path,
            &bob,
            Some(json!({"name": "Initech AG", "phone": "+49 30 1234567", "billing_address": {"city": "Bonn"}})),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    // A PATCH that changes nothing records nothing; a refused one neither.
    stack
        .call("PATCH", &path, &bob, Some(json!({"name": "Initech AG"})))
        .await;
    assert_eq!(
        stack
            .status("PATCH", &path, &bob, Some(json!({"currency": "EURO"})))
            .await,
        422
    );
    (path, history)
}

/// The history records the create and each change newest first, with who and which version;
/// changed fields only, sorted, nested objects whole, absent as null (S6.5).
#[tokio::test]
async fn s6_5_client_history_records_the_create_and_changed_fields_newest_first() {
    let stack = Stack::start().await;
    let bob = stack.token("acme", "bob", "admin");
    let (_, history) = changed_client(&stack).await;
    let r = stack.call("GET", &history, &bob, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let entries = r.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(
        audit_entry(&entries[0]),
        (Some("updated"), Some("bob"), Some(2))
    );
    // Changed fields only, sorted, nested objects whole, absent → null.
    assert_eq!(
        entries[0]["changes"],
        json!([
            {"field": "billing_address", "old": {"city": "Berlin"}, "new": {"city": "Bonn"}},
            {"field": "name", "old": "Initech", "new": "Initech AG"},
            {"field": "phone", "old": null, "new": "+49 30 1234567"},
        ])
    );
    assert_eq!(
        (entries[1]["action"].as_str(), entries[1]["actor"].as_str()),
        (Some("created"), Some("alice"))
    );
    let created: Vec<&str> = entries[1]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(
        created.contains(&"name") && created.contains(&"currency") && !created.contains(&"version"),
        "{created:?}"
    );
}

/// The history is paginated newest first; another tenant sees nothing of it, and a client that
/// does not exist has none (S6.5).
#[tokio::test]
async fn s6_5_client_history_is_paginated_and_one_tenants_only() {
    let stack = Stack::start().await;
    let alice = stack.token("acme", "alice", "admin");
    let (_, history) = changed_client(&stack).await;
    // Paginated, newest first; the cursor belongs to this list and tenant.
    let first = stack.get(&format!("{history}?limit=1"), &alice).await;
    assert_eq!(first.body["items"][0]["action"], "updated");
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let second = stack
        .get(&format!("{history}?limit=1&cursor={cursor}"), &alice)
        .await;
    assert_eq!(second.body["items"][0]["action"], "created");
    assert_eq!(
        stack
            .get(&format!("{history}?limit=0"), &alice)
            .await
            .problem_field(),
        ("limit".into(), "range".into())
    );

    // Another tenant sees nothing, not even with a cursor of this list.
    let other = stack.token("other", "olga", "admin");
    assert_eq!(stack.call("GET", &history, &other, None).await.status, 404);
    assert_eq!(
        stack
            .get(
                &format!("/clients/{}/history", uuid::Uuid::now_v7()),
                &alice
            )
            .await
            .status,
        404
    );
}

/// A deleted client is gone (not even a PATCH brings it back) and listed nowhere; its trail
/// stays, with the delete, for owners and admins only (S6.5).
#[tokio::test]
async fn s6_5_a_deleted_clients_history_stays_for_owners_and_admins_only() {
    let stack = Stack::start().await;
    let alice = stack.token("acme", "alice", "admin");
    let vic = stack.token("acme", "vic", "viewer");
    let other = stack.token("other", "olga", "admin");
    let (path, history) = changed_client(&stack).await;
    // Deleted: the client is gone, its trail stays, for owners and admins only.
    assert_eq!(
        stack
            .call_if_match("DELETE", &path, &alice, "\"2\"", None)
            .await
            .status,
        204
    );
    assert_eq!(stack.call("GET", &path, &alice, None).await.status, 404);
    let after = stack.call("GET", &history, &alice, None).await;
    assert_eq!(after.status, 200, "{:?}", after.body);
    let entries = after.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(
        audit_entry(&entries[0]),
        (Some("deleted"), Some("alice"), Some(2))
    );
    assert!(
        entries[0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "name" && c["old"] == "Initech AG" && c["new"].is_null())
    );
    assert_eq!(stack.call("GET", &history, &vic, None).await.status, 404);
    assert_eq!(stack.call("GET", &history, &other, None).await.status, 404);
    let owner = stack.token("acme", "oscar", "owner");
    assert_eq!(stack.call("GET", &history, &owner, None).await.status, 200);
    // The deleted client does not come back through a PATCH, and is listed nowhere.
    assert_eq!(
        stack
            .call("PATCH", &path, &alice, Some(json!({"name": "X"})))
            .await
            .status,
        404
    );
    assert_eq!(
        stack.call("GET", "/clients", &alice, None).await.body["items"],
        json!([])
    );
}
