//! Slice 1: HTTP → DynamoDB. Contacts through the gateway and the contacts-api handler.

use crm_e2e_tests::{Stack, json};

#[tokio::test]
async fn s1_2_create_get_list_patch_delete() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");

    let created = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(
                json!({"first_name": " Ada ", "last_name": "Lovelace", "email": "ADA@Example.com"}),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
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

    let got = stack
        .call("GET", &format!("/contacts/{id}"), &admin, None)
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, created.body);
    assert_eq!(got.header("etag"), Some("\"1\""));

    let patched = stack
        .send(
            stack
                .request("PATCH", &format!("/contacts/{id}"), Some(&admin))
                .header("if-match", "\"1\"")
                .json(&json!({"first_name": "Augusta Ada", "company": "Analytical Engines"})),
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

    let listed = stack.call("GET", "/contacts", &admin, None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    let deleted = stack
        .call("DELETE", &format!("/contacts/{id}"), &admin, None)
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        stack
            .call("GET", &format!("/contacts/{id}"), &admin, None)
            .await
            .status,
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

#[tokio::test]
async fn s1_2_validation_errors_name_the_field_and_change_nothing() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");

    let bad_email = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "Bob", "email": "not-an-email"})),
        )
        .await;
    assert_eq!(bad_email.status, 422);
    assert_eq!(
        bad_email.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(bad_email.problem_field(), ("email".into(), "format".into()));
    assert_eq!(bad_email.body["status"], 422);
    assert_eq!(bad_email.body["type"], "/problems/validation");

    let empty = stack
        .call("POST", "/contacts", &admin, Some(json!({})))
        .await;
    assert_eq!(empty.status, 422);
    assert_eq!(empty.problem_field().1, "required_one_of");

    // Mass assignment: tenant, id, version, timestamps are not accepted.
    for field in ["id", "tenant_id", "version", "created_at", "created_by"] {
        let r = stack
            .call(
                "POST",
                "/contacts",
                &admin,
                Some(json!({"first_name": "Eve", field: "x"})),
            )
            .await;
        assert_eq!(r.status, 400, "{field}");
        assert_eq!(
            r.problem_field(),
            (field.to_string(), "unknown_field".to_string())
        );
    }

    let not_json = stack
        .send(
            stack
                .request("POST", "/contacts", Some(&admin))
                .header("content-type", "application/json")
                .body("{oops"),
        )
        .await;
    assert_eq!(not_json.status, 400);

    let listed = stack.call("GET", "/contacts", &admin, None).await;
    assert_eq!(listed.body["items"], json!([]), "bad input created nothing");

    let bad_limit = stack.call("GET", "/contacts?limit=0", &admin, None).await;
    assert_eq!(bad_limit.status, 422);
    assert_eq!(bad_limit.problem_field(), ("limit".into(), "range".into()));
}

#[tokio::test]
async fn s1_4_another_tenant_gets_404_for_every_route() {
    let stack = Stack::start().await;
    let a = stack.token("tenant-a", "alice", "admin");
    let b = stack.token("tenant-b", "bob", "owner");
    let created = stack
        .call(
            "POST",
            "/contacts",
            &a,
            Some(json!({"first_name": "Ada", "email": "ada@a.example"})),
        )
        .await;
    let id = created.body["id"].as_str().unwrap();
    let path = format!("/contacts/{id}");

    assert_eq!(stack.call("GET", &path, &b, None).await.status, 404);
    assert_eq!(
        stack
            .call("PATCH", &path, &b, Some(json!({"first_name": "Mallory"})))
            .await
            .status,
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
            .call(
                "POST",
                "/contacts",
                &b,
                Some(json!({"email": "ada@a.example"}))
            )
            .await
            .status,
        201
    );
    // Tenant A's record is untouched.
    let got = stack.call("GET", &path, &a, None).await;
    assert_eq!(
        (got.status, got.body["first_name"].as_str()),
        (200, Some("Ada"))
    );
}

#[tokio::test]
async fn s1_2_stale_if_match_is_refused_with_412() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let created = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "Ada"})),
        )
        .await;
    let path = format!("/contacts/{}", created.body["id"].as_str().unwrap());
    let first = stack
        .send(
            stack
                .request("PATCH", &path, Some(&admin))
                .header("if-match", "\"1\"")
                .json(&json!({"last_name": "L"})),
        )
        .await;
    assert_eq!(first.status, 200);
    let stale = stack
        .send(
            stack
                .request("PATCH", &path, Some(&admin))
                .header("if-match", "\"1\"")
                .json(&json!({"last_name": "X"})),
        )
        .await;
    assert_eq!(stale.status, 412);
    assert_eq!(stale.problem_field().0, "If-Match");
    let stale_delete = stack
        .send(
            stack
                .request("DELETE", &path, Some(&admin))
                .header("if-match", "\"1\""),
        )
        .await;
    assert_eq!(stale_delete.status, 412);
    assert_eq!(
        stack.call("GET", &path, &admin, None).await.body["last_name"],
        "L"
    );
}

#[tokio::test]
async fn idempotency_key_replays_the_first_response_and_refuses_a_different_body() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let post = |body: serde_json::Value| {
        stack
            .request("POST", "/contacts", Some(&admin))
            .header("idempotency-key", "key-1")
            .json(&body)
    };

    let first = stack.send(post(json!({"first_name": "Ada"}))).await;
    assert_eq!(first.status, 201);
    let replay = stack.send(post(json!({"first_name": "Ada"}))).await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.body, first.body);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.header("etag"), first.header("etag"));

    let different = stack.send(post(json!({"first_name": "Grace"}))).await;
    assert_eq!(different.status, 422);
    assert_eq!(different.problem_field().0, "Idempotency-Key");

    let listed = stack.call("GET", "/contacts", &admin, None).await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "one contact, not two"
    );

    // Keys are per tenant: another tenant's same key is a new request.
    let other = stack.token("other", "olga", "admin");
    let theirs = stack
        .send(
            stack
                .request("POST", "/contacts", Some(&other))
                .header("idempotency-key", "key-1")
                .json(&json!({"first_name": "Ada"})),
        )
        .await;
    assert_eq!(theirs.status, 201);
    assert_ne!(theirs.body["id"], first.body["id"]);
}

#[tokio::test]
async fn duplicate_emails_conflict_and_roles_limit_writes() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let viewer = stack.token("acme", "vic", "viewer");
    let created = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"email": "ada@example.com"})),
        )
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

    let path = format!("/contacts/{}", created.body["id"].as_str().unwrap());
    assert_eq!(stack.call("GET", &path, &viewer, None).await.status, 200);
    assert_eq!(
        stack
            .call(
                "POST",
                "/contacts",
                &viewer,
                Some(json!({"first_name": "V"}))
            )
            .await
            .status,
        403
    );
    assert_eq!(
        stack
            .call("PATCH", &path, &viewer, Some(json!({"first_name": "V"})))
            .await
            .status,
        403
    );
    assert_eq!(stack.call("DELETE", &path, &viewer, None).await.status, 403);
}

#[tokio::test]
async fn lists_are_cursor_paginated_and_cursors_are_bound_to_the_tenant() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = stack
            .call(
                "POST",
                "/contacts",
                &admin,
                Some(json!({"first_name": format!("C{i}")})),
            )
            .await;
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/contacts?limit=2&cursor={c}"),
            None => "/contacts?limit=2".to_string(),
        };
        let page = stack.call("GET", &path, &admin, None).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        pages += 1;
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_string()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 10);
    }
    ids.reverse(); // newest first
    assert_eq!(seen, ids);

    let first = stack.call("GET", "/contacts?limit=2", &admin, None).await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let other = stack.token("other", "olga", "admin");
    let stolen = stack
        .call(
            "GET",
            &format!("/contacts?limit=2&cursor={cursor}"),
            &other,
            None,
        )
        .await;
    assert_eq!(stolen.status, 422);
    assert_eq!(stolen.problem_field().0, "cursor");
}

#[tokio::test]
async fn s6_5_every_change_is_in_the_history_newest_first_with_old_and_new_values() {
    let stack = Stack::start().await;
    let alice = stack.token("acme", "alice", "admin");
    let bob = stack.token("acme", "bob", "admin");
    let created = stack
        .call(
            "POST",
            "/contacts",
            &alice,
            Some(json!({"first_name": "Ada", "email": "ada@example.com"})),
        )
        .await;
    let id = created.body["id"].as_str().unwrap();
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

    let history = stack
        .call("GET", &format!("{path}/history"), &alice, None)
        .await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    let entries = history.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        (
            entries[0]["action"].as_str(),
            entries[0]["actor"].as_str(),
            entries[0]["version"].as_u64()
        ),
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

    // Paginated; another tenant sees nothing.
    let first = stack
        .call("GET", &format!("{path}/history?limit=1"), &alice, None)
        .await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = stack
        .call(
            "GET",
            &format!("{path}/history?limit=1&cursor={cursor}"),
            &alice,
            None,
        )
        .await;
    assert_eq!(second.body["items"][0]["action"], "created");
    let other = stack.token("other", "olga", "admin");
    assert_eq!(
        stack
            .call("GET", &format!("{path}/history"), &other, None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn s1_2_a_deleted_contact_can_be_restored_unless_its_email_was_taken() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let viewer = stack.token("acme", "vic", "viewer");
    let created = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "Ada", "email": "ada@example.com"})),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let path = format!("/contacts/{id}");

    assert_eq!(stack.call("DELETE", &path, &admin, None).await.status, 204);
    assert_eq!(stack.call("GET", &path, &admin, None).await.status, 404);
    assert_eq!(
        stack
            .call("PATCH", &path, &admin, Some(json!({"first_name": "X"})))
            .await
            .status,
        404
    );
    assert_eq!(
        stack.call("GET", "/contacts", &admin, None).await.body["items"],
        json!([])
    );
    assert_eq!(
        stack
            .call("POST", &format!("{path}/restore"), &viewer, None)
            .await
            .status,
        403
    );

    let restored = stack
        .call("POST", &format!("{path}/restore"), &admin, None)
        .await;
    assert_eq!(restored.status, 200, "{:?}", restored.body);
    assert_eq!(restored.body["version"], 3);
    assert!(restored.body.get("deleted_at").is_none());
    assert_eq!(
        stack.call("GET", &path, &admin, None).await.body["email"],
        "ada@example.com"
    );
    let history = stack
        .call("GET", &format!("{path}/history"), &admin, None)
        .await;
    let actions: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["restored", "deleted", "created"]);
    // Restoring a live contact changes nothing.
    assert_eq!(
        stack
            .call("POST", &format!("{path}/restore"), &admin, None)
            .await
            .body["version"],
        3
    );

    // Deleted again, its email taken meanwhile: the restore is refused and changes nothing.
    stack.call("DELETE", &path, &admin, None).await;
    assert_eq!(
        stack
            .call(
                "POST",
                "/contacts",
                &admin,
                Some(json!({"email": "ada@example.com"}))
            )
            .await
            .status,
        201
    );
    let refused = stack
        .call("POST", &format!("{path}/restore"), &admin, None)
        .await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.problem_field(), ("email".into(), "unique".into()));
    assert_eq!(stack.call("GET", &path, &admin, None).await.status, 404);

    let other = stack.token("other", "olga", "admin");
    assert_eq!(
        stack
            .call("POST", &format!("{path}/restore"), &other, None)
            .await
            .status,
        404
    );
}
