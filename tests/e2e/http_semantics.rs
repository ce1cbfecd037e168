//! HTTP semantics every route shares (issue 14 item 2): If-Match as RFC 9110 §13.1.1 defines
//! it (a foreign entity tag is 412, `*` matches any existing record, lists), 415 for a body
//! that is not JSON, one 400 for a cursor that cannot be used, 400 for an empty query value.

use crm_e2e_tests::{Stack, json};

async fn contact(stack: &Stack, token: &str, email: &str) -> String {
    stack
        .create_contact(token, json!({"first_name": "Ada", "email": email}))
        .await
}

/// A well-formed entity tag this API never issued, or a weak one, matches nothing: 412 and
/// nothing changed; only a value that is no entity-tag list is 400.
#[tokio::test]
async fn issue14_a_foreign_entity_tag_is_412_and_a_malformed_one_400() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = contact(&stack, &admin, "ada@example.com").await;
    let path = format!("/contacts/{id}");
    let body = json!({"last_name": "Lovelace"});
    // The empty value is a list of no tags: it matches nothing either.
    for tag in ["\"stale-0\"", "W/\"1\"", "\"2\", \"x\"", ""] {
        let r = stack
            .call_if_match("PATCH", &path, &admin, tag, Some(body.clone()))
            .await;
        assert_eq!(r.status, 412, "{tag}: {:?}", r.body);
        assert_eq!(r.problem_field().0, "If-Match");
    }
    let r = stack
        .call_if_match("DELETE", &path, &admin, "\"stale-0\"", None)
        .await;
    assert_eq!(r.status, 412);
    for bad in ["1", "\"1", "abc"] {
        let r = stack
            .call_if_match("PATCH", &path, &admin, bad, Some(body.clone()))
            .await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
    }
    // Bytes outside ASCII (obs-text, which HTTP carries but no entity tag may hold) are a
    // value that cannot be read: 400, not an empty list.
    let r = stack
        .send(
            stack
                .request("PATCH", &path, Some(&admin))
                .header(
                    "if-match",
                    reqwest::header::HeaderValue::from_bytes("\"1\u{e9}\"".as_bytes()).unwrap(),
                )
                .json(&body),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.problem_field().0, "If-Match");
    let now = stack.get(&path, &admin).await;
    assert_eq!(
        (now.body["version"].as_u64(), now.body.get("last_name")),
        (Some(1), None)
    );
    // A missing record is 404 whatever the tag.
    let missing = format!("/contacts/{}", uuid::Uuid::now_v7());
    let r = stack
        .call_if_match("PATCH", &missing, &admin, "\"stale-0\"", Some(body))
        .await;
    assert_eq!(r.status, 404);
}

/// `If-Match: *` matches any existing record (404 for a missing one); a list matches when one
/// of its tags is the record's ETag.
#[tokio::test]
async fn issue14_if_match_star_and_lists_are_honoured() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = contact(&stack, &admin, "ada@example.com").await;
    let path = format!("/contacts/{id}");
    let r = stack
        .call_if_match("PATCH", &path, &admin, "*", Some(json!({"last_name": "L"})))
        .await;
    assert_eq!(
        (r.status, r.header("etag")),
        (200, Some("\"2\"")),
        "{:?}",
        r.body
    );
    let r = stack
        .call_if_match(
            "PATCH",
            &path,
            &admin,
            "\"1\", \"2\"",
            Some(json!({"last_name": "Lovelace"})),
        )
        .await;
    assert_eq!(
        (r.status, r.header("etag")),
        (200, Some("\"3\"")),
        "{:?}",
        r.body
    );
    let r = stack
        .call_if_match("PATCH", &path, &admin, "\"1\", \"2\"", Some(json!({})))
        .await;
    assert_eq!(r.status, 412);
    let missing = format!("/contacts/{}", uuid::Uuid::now_v7());
    let r = stack
        .call_if_match("DELETE", &missing, &admin, "*", None)
        .await;
    assert_eq!(r.status, 404);
    let r = stack
        .call_if_match("DELETE", &path, &admin, "*", None)
        .await;
    assert_eq!(r.status, 204);
}

/// A body sent as anything but JSON is 415 naming Content-Type, and nothing is created.
#[tokio::test]
async fn issue14_a_body_that_is_not_json_is_415() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut req = stack
            .request("POST", "/contacts", Some(&admin))
            .body(r#"{"first_name": "Ada"}"#);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let r = stack.send(req).await;
        assert_eq!(r.status, 415, "{content_type:?}: {:?}", r.body);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert_eq!(r.problem_field().0, "Content-Type");
    }
    let r = stack
        .send(
            stack
                .request("POST", "/contacts", Some(&admin))
                .header("content-type", "application/json; charset=utf-8")
                .body(r#"{"first_name": "Ada"}"#),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(stack.ids("/contacts", &admin).await.len(), 1);
}

/// A cursor that cannot be used — malformed, another tenant's, another query's — is 400
/// naming `cursor`; an empty query value is 400 naming it.
#[tokio::test]
async fn issue14_a_cursor_that_cannot_be_used_is_400() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    for n in 0..3 {
        contact(&stack, &admin, &format!("c{n}@example.com")).await;
    }
    let page = stack.get("/contacts?limit=1", &admin).await;
    let cursor = page.body["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let other = stack.token("other", "olga", "admin");
    for (token, path) in [
        (&admin, "/contacts?cursor=not-a-cursor".to_string()),
        (&admin, "/clients?cursor=bm90IGpzb24".to_string()),
        (&other, format!("/contacts?limit=1&cursor={cursor}")),
        (
            &admin,
            format!("/contacts?limit=1&status=lead&cursor={cursor}"),
        ),
        (&admin, format!("/clients?limit=1&cursor={cursor}")),
    ] {
        let r = stack.get(&path, token).await;
        assert_eq!(
            (r.status, r.problem_field()),
            (400, ("cursor".to_string(), "valid_cursor".to_string())),
            "{path}: {:?}",
            r.body
        );
    }
    let next = stack
        .get(&format!("/contacts?limit=1&cursor={cursor}"), &admin)
        .await;
    assert_eq!(next.status, 200);
    for path in ["/contacts?client=", "/contacts?tag=", "/clients?cursor="] {
        let r = stack.get(path, &admin).await;
        assert_eq!(r.status, 400, "{path}: {:?}", r.body);
    }
    let r = stack.get("/contacts?client=nope", &admin).await;
    assert_eq!((r.status, r.problem_field().0.as_str()), (422, "client"));
}
