//! Deleted contacts restored (S1.2): gone until restored by a writer of the tenant, back with
//! their history, refused when their email was taken meanwhile.

use crm_e2e_tests::{Reply, Stack, json};

/// Ada (ada@example.com), created and deleted: her path.
async fn deleted_ada(stack: &Stack, admin: &str) -> String {
    let id = stack
        .create_contact(
            admin,
            json!({"first_name": "Ada", "email": "ada@example.com"}),
        )
        .await;
    let path = format!("/contacts/{id}");
    assert_eq!(stack.call("DELETE", &path, admin, None).await.status, 204);
    path
}

/// `POST {path}/restore` by `token` (the reply).
async fn restore(stack: &Stack, token: &str, path: &str) -> Reply {
    stack
        .call("POST", &format!("{path}/restore"), token, None)
        .await
}

/// Ada deleted, restored and deleted again: her path.
async fn deleted_again(stack: &Stack, admin: &str) -> String {
    let path = deleted_ada(stack, admin).await;
    let restored = restore(stack, admin, &path).await;
    assert_eq!(restored.status, 200, "{:?}", restored.body);
    stack.call("DELETE", &path, admin, None).await;
    path
}

/// A deleted contact is gone from reads, writes and lists; a viewer may not restore it, nor
/// another tenant (S1.2, S1.4).
#[tokio::test]
async fn s1_2_a_deleted_contact_is_gone_and_only_a_writer_of_the_tenant_restores_it() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let viewer = stack.token("acme", "vic", "viewer");
    let path = deleted_ada(&stack, &admin).await;
    assert_eq!(stack.call("GET", &path, &admin, None).await.status, 404);
    assert_eq!(
        stack
            .status("PATCH", &path, &admin, Some(json!({"first_name": "X"})))
            .await,
        404
    );
    assert_eq!(
        stack.call("GET", "/contacts", &admin, None).await.body["items"],
        json!([])
    );
    assert_eq!(restore(&stack, &viewer, &path).await.status, 403);
    let other = stack.token("other", "olga", "admin");
    assert_eq!(restore(&stack, &other, &path).await.status, 404);
}

/// A restored contact is back, with a new version, its data and its history (restored,
/// deleted, created); restoring a live contact changes nothing (S1.2, S6.5).
#[tokio::test]
async fn s1_2_a_restored_contact_is_back_with_its_history() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let path = deleted_ada(&stack, &admin).await;
    let restored = restore(&stack, &admin, &path).await;
    assert_eq!(restored.status, 200, "{:?}", restored.body);
    assert_eq!(restored.body["version"], 3);
    assert!(restored.body.get("deleted_at").is_none());
    assert_eq!(
        stack.call("GET", &path, &admin, None).await.body["email"],
        "ada@example.com"
    );
    let history = stack.get(&format!("{path}/history"), &admin).await;
    let actions: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["restored", "deleted", "created"]);
    // Restoring a live contact changes nothing.
    assert_eq!(restore(&stack, &admin, &path).await.body["version"], 3);
}

/// A contact deleted (again) whose email was taken meanwhile is not restored: refused naming
/// the email, nothing changed (S1.2).
#[tokio::test]
async fn s1_2_a_restore_is_refused_when_the_email_was_taken_meanwhile() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let path = deleted_again(&stack, &admin).await;
    // Deleted again, its email taken meanwhile: the restore is refused and changes nothing.
    assert_eq!(
        stack
            .status(
                "POST",
                "/contacts",
                &admin,
                Some(json!({"email": "ada@example.com"}))
            )
            .await,
        201
    );
    let refused = restore(&stack, &admin, &path).await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.problem_field(), ("email".into(), "unique".into()));
    assert_eq!(stack.call("GET", &path, &admin, None).await.status, 404);
}
