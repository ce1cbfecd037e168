//! A contact's life (S1.2): created normalised, read back, patched with If-Match, deleted;
//! emails unique per tenant, roles limiting writes, another tenant seeing nothing (S1.4).

use super::create_ada;
use crm_e2e_tests::{Stack, json};

/// A created contact is normalised and bookkept (display name, email, version, creator, UUIDv7
/// id, ETag, Location) and read back unchanged (S1.2).
#[tokio::test]
async fn s1_2_a_created_contact_is_normalised_and_read_back_unchanged() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");

    let (created, id) = create_ada(&stack, &admin).await;
    assert_eq!(created.body["display_name"], "Ada Lovelace");
    assert_eq!(created.body["email"], "ada@example.com");
    assert_eq!(created.body["version"], 1);
    assert_eq!(created.body["created_by"], "alice");
    assert!(created.body["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(
        created.header("location"),
        Some(format!("/contacts/{id}").as_str())
    );
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);

    let got = stack.get(&format!("/contacts/{id}"), &admin).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, created.body);
    assert_eq!(got.header("etag"), Some("\"1\""));
}

/// A PATCH with If-Match bumps the version and the ETag; null clears a field and the display
/// name follows the rule (company next) (S1.2).
#[tokio::test]
async fn s1_2_a_patch_bumps_the_version_and_null_clears() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (_, id) = create_ada(&stack, &admin).await;

    let patched = stack
        .call_if_match(
            "PATCH",
            &format!("/contacts/{id}"),
            &admin,
            "\"1\"",
            Some(json!({"first_name": "Augusta Ada", "company": "Analytical Engines"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["display_name"], "Augusta Ada Lovelace");
    assert_eq!(patched.body["version"], 2);
    assert_eq!(patched.header("etag"), Some("\"2\""));

    // null clears; the display name follows the rule (company next).
    let cleared = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &admin,
            Some(json!({"first_name": null, "last_name": null})),
        )
        .await;
    assert_eq!(cleared.status, 200);
    assert_eq!(cleared.body["display_name"], "Analytical Engines");
    assert!(cleared.body.get("first_name").is_none());
}

/// A listed contact, deleted, is gone and its email is free again (S1.2).
#[tokio::test]
async fn s1_2_a_deleted_contact_is_gone_and_its_email_free_again() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (_, id) = create_ada(&stack, &admin).await;

    let listed = stack.call("GET", "/contacts", &admin, None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    let deleted = stack
        .call("DELETE", &format!("/contacts/{id}"), &admin, None)
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        stack.get(&format!("/contacts/{id}"), &admin).await.status,
        404
    );
    // The email is free again.
    let again = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"email": "ada@example.com"})),
        )
        .await;
    assert_eq!(again.status, 201);
}

/// A PATCH or DELETE with a stale If-Match is refused with 412 naming the header, and changes
/// nothing (S1.2).
#[tokio::test]
async fn s1_2_stale_if_match_is_refused_with_412() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = stack
        .create_contact(&admin, json!({"first_name": "Ada"}))
        .await;
    let path = format!("/contacts/{id}");
    let first = stack
        .call_if_match(
            "PATCH",
            &path,
            &admin,
            "\"1\"",
            Some(json!({"last_name": "L"})),
        )
        .await;
    assert_eq!(first.status, 200);
    let stale = stack
        .call_if_match(
            "PATCH",
            &path,
            &admin,
            "\"1\"",
            Some(json!({"last_name": "X"})),
        )
        .await;
    assert_eq!(stale.status, 412);
    assert_eq!(stale.problem_field().0, "If-Match");
    let stale_delete = stack
        .call_if_match("DELETE", &path, &admin, "\"1\"", None)
        .await;
    assert_eq!(stale_delete.status, 412);
    assert_eq!(
        stack.call("GET", &path, &admin, None).await.body["last_name"],
        "L"
    );
}

/// An email in use (whatever its case) is a conflict; a viewer reads but may not create,
/// change or delete (S1.2, S1.4).
#[tokio::test]
async fn duplicate_emails_conflict_and_roles_limit_writes() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let viewer = stack.token("acme", "vic", "viewer");
    let id = stack
        .create_contact(&admin, json!({"email": "ada@example.com"}))
        .await;
    let dup = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"email": "Ada@Example.com"})),
        )
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.problem_field(), ("email".into(), "unique".into()));

    let path = format!("/contacts/{id}");
    assert_eq!(stack.call("GET", &path, &viewer, None).await.status, 200);
    assert_eq!(
        stack
            .status(
                "POST",
                "/contacts",
                &viewer,
                Some(json!({"first_name": "V"}))
            )
            .await,
        403
    );
    assert_eq!(
        stack
            .status("PATCH", &path, &viewer, Some(json!({"first_name": "V"})))
            .await,
        403
    );
    assert_eq!(stack.call("DELETE", &path, &viewer, None).await.status, 403);
}

/// Another tenant gets 404 on every route of a contact and sees none in its list; the same
/// email is independent per tenant, and the first tenant's record is untouched (S1.4).
#[tokio::test]
async fn s1_4_another_tenant_gets_404_for_every_route() {
    let stack = Stack::start().await;
    let a = stack.token("tenant-a", "alice", "admin");
    let b = stack.token("tenant-b", "bob", "owner");
    let id = stack
        .create_contact(&a, json!({"first_name": "Ada", "email": "ada@a.example"}))
        .await;
    let path = format!("/contacts/{id}");

    assert_eq!(stack.call("GET", &path, &b, None).await.status, 404);
    assert_eq!(
        stack
            .status("PATCH", &path, &b, Some(json!({"first_name": "Mallory"})))
            .await,
        404
    );
    assert_eq!(stack.call("DELETE", &path, &b, None).await.status, 404);
    assert_eq!(
        stack.call("GET", "/contacts", &b, None).await.body["items"],
        json!([])
    );
    // The same email is independent per tenant.
    assert_eq!(
        stack
            .status(
                "POST",
                "/contacts",
                &b,
                Some(json!({"email": "ada@a.example"}))
            )
            .await,
        201
    );
    // Tenant A's record is untouched.
    let got = stack.call("GET", &path, &a, None).await;
    assert_eq!(
        (got.status, got.body["first_name"].as_str()),
        (200, Some("Ada"))
    );
}
