//! A contact's history (S6.5): every change newest first with old and new values, paginated,
//! one tenant's only.

use crm_e2e_tests::stack::audit_entry;
use crm_e2e_tests::{Stack, json};

/// Ada, created by Alice and her email changed by Bob (then a PATCH changing nothing): the
/// contact's path.
async fn changed_contact(stack: &Stack) -> String {
    let alice = stack.token("acme", "alice", "admin");
    let bob = stack.token("acme", "bob", "admin");
    let id = stack
        .create_contact(
            &alice,
            json!({"first_name": "Ada", "email": "ada@example.com"}),
        )
        .await;
    let path = format!("/contacts/{id}");
    stack
        .call(
            "PATCH",
            &path,
            &bob,
            Some(json!({"email": "ada@lovelace.example"})),
        )
        .await;
    // A PATCH that changes nothing records nothing.
    stack
        .call("PATCH", &path, &bob, Some(json!({"first_name": "Ada"})))
        .await;
    path
}

/// Every change is in the history, newest first, with who, the version and the old and new
/// values; a PATCH changing nothing records nothing (S6.5).
#[tokio::test]
async fn s6_5_every_change_is_in_the_history_newest_first_with_old_and_new_values() {
    let stack = Stack::start().await;
    let alice = stack.token("acme", "alice", "admin");
    let path = changed_contact(&stack).await;

    let history = stack.get(&format!("{path}/history"), &alice).await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    let entries = history.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        audit_entry(&entries[0]),
        (Some("updated"), Some("bob"), Some(2))
    );
    assert_eq!(
        entries[0]["changes"],
        json!([{
            "field": "emails",
            "old": [{"address": "ada@example.com", "primary": true}],
            "new": [{"address": "ada@lovelace.example", "primary": true}]
        }])
    );
    assert_eq!(
        (entries[1]["action"].as_str(), entries[1]["actor"].as_str()),
        (Some("created"), Some("alice"))
    );
    assert!(
        entries[1]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "first_name" && c["new"] == "Ada")
    );
}

/// The history is paginated by cursor; another tenant sees nothing of it (S6.5).
#[tokio::test]
async fn s6_5_contact_history_is_paginated_and_one_tenants_only() {
    let stack = Stack::start().await;
    let alice = stack.token("acme", "alice", "admin");
    let path = changed_contact(&stack).await;
    // Paginated; another tenant sees nothing.
    let first = stack.get(&format!("{path}/history?limit=1"), &alice).await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = stack
        .get(&format!("{path}/history?limit=1&cursor={cursor}"), &alice)
        .await;
    assert_eq!(second.body["items"][0]["action"], "created");
    let other = stack.token("other", "olga", "admin");
    assert_eq!(
        stack.get(&format!("{path}/history"), &other).await.status,
        404
    );
}
