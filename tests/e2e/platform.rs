//! The platform conventions every route follows: problem+json, the OpenAPI document matching
//! the template's routes (the authorizer's refusals and unknown routes: `owasp::api2_authentication`,
//! `owasp::api9_inventory`).

use crm_e2e_tests::Stack;
use std::collections::BTreeSet;

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
