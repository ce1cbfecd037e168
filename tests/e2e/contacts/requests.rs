//! What a request to the contacts API must be (S1.2): valid bodies and parameters (problems
//! naming the field), idempotency keys, cursors bound to their tenant.

use crm_e2e_tests::{Stack, json};

/// A bad body is refused as a problem naming the field and its rule: a bad email, no name at
/// all, bookkeeping fields (mass assignment), malformed JSON; and it creates nothing (S1.2).
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
}

/// A bad list parameter is refused naming it and its rule (S1.2).
#[tokio::test]
async fn s1_2_a_bad_list_parameter_is_named() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let bad_limit = stack.call("GET", "/contacts?limit=0", &admin, None).await;
    assert_eq!(bad_limit.status, 422);
    assert_eq!(bad_limit.problem_field(), ("limit".into(), "range".into()));
}

/// A repeated Idempotency-Key replays the first response (one contact, not two) and refuses a
/// different body; keys are per tenant.
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

/// Lists are paginated by cursors, newest first, every contact once; a cursor of one tenant
/// is refused for another.
#[tokio::test]
async fn lists_are_cursor_paginated_and_cursors_are_bound_to_the_tenant() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let mut ids = Vec::new();
    for i in 0..5 {
        let id = stack
            .create_contact(&admin, json!({"first_name": format!("C{i}")}))
            .await;
        ids.push(id);
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
    assert_eq!(stolen.status, 400, "a cursor that cannot be used is a 400");
    assert_eq!(stolen.problem_field().0, "cursor");
}
