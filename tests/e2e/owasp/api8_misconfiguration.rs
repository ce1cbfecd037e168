//! API8:2023 Security Misconfiguration. Every answer says what it is (`Content-Type`), is not
//! sniffed or cached (`X-Content-Type-Options: nosniff`, `Cache-Control: no-store`, set by
//! `api_kit::limits`) and names no server internals; error bodies are problem+json that never
//! leak tables, ARNs, SDK or stack text, also when DynamoDB fails (moto's fault injection).
//! CORS is checked by its own tests (issue 14 item 4).

use crm_e2e_tests::{Reply, Stack, json};

/// Words an answer to a client must not hold.
const INTERNALS: [&str; 12] = [
    "arn:aws",
    "dynamodb",
    "DynamoDB",
    "CrmTable",
    "ServiceError",
    "SdkError",
    "DispatchFailure",
    "panicked",
    "src/",
    "amazonaws",
    "ResourceNotFound",
    "stack backtrace",
];

fn assert_clean(what: &str, r: &Reply, prefix: &str) {
    let text = r.body.to_string();
    for word in INTERNALS.iter().chain([&prefix]) {
        assert!(
            !text.contains(word),
            "{what}: the answer names {word}: {text}"
        );
    }
    for header in ["server", "x-powered-by"] {
        assert!(r.header(header).is_none(), "{what}: a {header} header");
    }
}

#[tokio::test]
async fn api8_every_answer_has_a_content_type_nosniff_and_no_store() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = stack
        .create_contact(&admin, json!({"first_name": "Ada"}))
        .await;
    let answers = [
        ("a list", stack.get("/contacts", &admin).await),
        (
            "a record",
            stack.get(&format!("/contacts/{id}"), &admin).await,
        ),
        (
            "a 404",
            stack
                .get(&format!("/contacts/{}", uuid::Uuid::now_v7()), &admin)
                .await,
        ),
        (
            "a 422",
            stack
                .call("POST", "/contacts", &admin, Some(json!({"email": "nope"})))
                .await,
        ),
        (
            "a 400",
            stack
                .call("POST", "/contacts", &admin, Some(json!({"id": "x"})))
                .await,
        ),
        (
            "a 403",
            stack
                .call(
                    "PATCH",
                    "/settings",
                    &stack.token("acme", "v", "viewer"),
                    Some(json!({})),
                )
                .await,
        ),
        (
            "a handler's 401",
            stack
                .get("/contacts", &stack.token("acme", "u", "superuser"))
                .await,
        ),
        (
            "the OpenAPI document",
            stack
                .send(stack.request("GET", "/openapi.json", None))
                .await,
        ),
        (
            "an unsubscribe page",
            stack
                .send(stack.request("GET", "/unsubscribe/forged", None))
                .await,
        ),
        ("the settings", stack.get("/settings", &admin).await),
    ];
    for (what, r) in &answers {
        assert!(
            r.header("content-type").is_some(),
            "{what}: no content-type"
        );
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
        assert_clean(what, r, &stack.prefix);
        if r.status >= 400 && *what != "an unsubscribe page" {
            assert_eq!(
                r.header("content-type"),
                Some("application/problem+json"),
                "{what}"
            );
        }
    }
    // A 204 has no body and still the headers.
    let r = stack
        .call("DELETE", &format!("/contacts/{id}"), &admin, None)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    // Malformed JSON: the parser's complaint, not the server's insides.
    let r = stack
        .send(
            stack
                .request("POST", "/contacts", Some(&admin))
                .header("content-type", "application/json")
                .body("{\"first_name\": "),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_clean("malformed JSON", &r, &stack.prefix);
}

/// DynamoDB answering 500 (moto's fault injection): the API answers 5xx problem+json naming
/// no table, ARN or SDK text.
#[tokio::test]
async fn api8_internal_errors_leak_nothing() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = stack
        .create_contact(&admin, json!({"first_name": "Ada"}))
        .await;
    let faults = format!("{}/_faults/dynamodb", stack.runtime.endpoint_url);
    let http = reqwest::Client::new();
    let table = &stack.runtime.provisioned.resolved.refs["CrmTable"];
    let set = http
        .post(&faults)
        .json(&json!({"table": table, "server_error": 1000}))
        .send()
        .await
        .expect("moto's fault injection");
    assert!(
        set.status().is_success(),
        "fault injection: {}",
        set.status()
    );
    let answers = [
        ("a list", stack.get("/contacts", &admin).await),
        (
            "a record",
            stack.get(&format!("/contacts/{id}"), &admin).await,
        ),
        (
            "a create",
            stack
                .call(
                    "POST",
                    "/contacts",
                    &admin,
                    Some(json!({"first_name": "B"})),
                )
                .await,
        ),
    ];
    let cleared = http.delete(&faults).send().await;
    for (what, r) in &answers {
        assert!(r.status >= 500, "{what}: {} {:?}", r.status, r.body);
        assert_eq!(
            r.header("content-type"),
            Some("application/problem+json"),
            "{what}"
        );
        assert_clean(what, r, &stack.prefix);
        assert!(
            !r.body.to_string().contains(table.as_str()),
            "{what} names the table"
        );
    }
    assert!(cleared.unwrap().status().is_success());
    assert_eq!(
        stack.get(&format!("/contacts/{id}"), &admin).await.status,
        200
    );
}
