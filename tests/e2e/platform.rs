//! The platform conventions every route follows: the local JWT authorizer, problem+json, the
//! OpenAPI document matching the template's routes.

use crm_e2e_tests::{Stack, json};
use std::collections::BTreeSet;

#[tokio::test]
async fn authorizer_refuses_missing_expired_forged_and_unsigned_tokens() {
    let stack = Stack::start().await;
    let missing = stack.send(stack.request("GET", "/contacts", None)).await;
    assert_eq!(missing.status, 401);

    let expired = stack.runtime.authorizer.mint("acme", "u1", "admin", -60);
    assert_eq!(
        stack
            .send(stack.request("GET", "/contacts", Some(&expired)))
            .await
            .status,
        401
    );

    let forged = crm_local::authorizer::DevAuthorizer::with_secret("not-the-dev-secret")
        .mint("acme", "u1", "admin", 600);
    assert_eq!(
        stack
            .send(stack.request("GET", "/contacts", Some(&forged)))
            .await
            .status,
        401
    );

    // alg: none, with otherwise valid claims.
    let good = stack.token("acme", "u1", "admin");
    let payload = good.split('.').nth(1).unwrap();
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    assert_eq!(
        stack
            .send(stack.request("GET", "/contacts", Some(&unsigned)))
            .await
            .status,
        401
    );

    // The same claims, properly signed, pass.
    assert_eq!(
        stack
            .send(stack.request("GET", "/contacts", Some(&good)))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn tokens_without_a_valid_role_or_tenant_are_refused_by_the_handler() {
    let stack = Stack::start().await;
    let bad_role = stack.token("acme", "u1", "superuser");
    let r = stack.call("GET", "/contacts", &bad_role, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let bad_tenant = stack.token("acme#evil", "u1", "admin");
    assert_eq!(
        stack
            .call("GET", "/contacts", &bad_tenant, None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn unknown_routes_answer_404_like_api_gateway() {
    let stack = Stack::start().await;
    let token = stack.token("acme", "u1", "admin");
    assert_eq!(stack.call("GET", "/nope", &token, None).await.status, 404);
    assert_eq!(
        stack
            .call("PUT", "/contacts", &token, Some(json!({})))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn openapi_document_is_served_and_matches_the_template_routes() {
    let stack = Stack::start().await;
    let doc = stack
        .send(stack.request("GET", "/openapi.json", None))
        .await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));

    let documented: BTreeSet<String> = doc.body["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    let routed: BTreeSet<String> = stack
        .runtime
        .template
        .http_routes()
        .into_iter()
        .filter(|r| r.path != "/openapi.json")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        documented, routed,
        "every route of template.yaml is documented, and nothing else"
    );

    // The committed copy is the generated one (regenerate with `make openapi`).
    let committed: serde_json::Value = serde_json::from_str(include_str!("../../openapi.json"))
        .expect("openapi.json at the repository root");
    assert_eq!(
        committed, doc.body,
        "openapi.json is stale: run `make openapi`"
    );
}

/// The storage port's contract holds for DynamoDB as it does for the in-memory store the
/// domain rules are unit-tested on.
#[tokio::test]
async fn the_dynamodb_store_keeps_the_store_contract() {
    let stack = Stack::start().await;
    crm_shared::store::contract::run(&stack.table(), "T#contract#").await;
}
