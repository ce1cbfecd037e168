//! API9:2023 Improper Inventory Management. What is deployed is what is documented and
//! governed: every route of `template.yaml` is in the OpenAPI document the API serves and in
//! the API5 policy table (and nothing else is in either); nothing else is routed (unknown
//! paths and methods answer 404 like API Gateway); every function of the template has a
//! trigger, a handler in the local runtime and a row in the README's function table.

use super::api5_function_authorisation::POLICY;
use super::template_routes;
use crm_e2e_tests::{Stack, json};
use std::collections::BTreeSet;

#[tokio::test]
async fn api9_template_routes_openapi_document_and_policy_table_are_the_same_set() {
    let stack = Stack::start().await;
    let routed: BTreeSet<String> = template_routes(&stack)
        .into_iter()
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    let doc = stack
        .send(stack.request("GET", "/openapi.json", None))
        .await;
    assert_eq!(doc.status, 200);
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
        .chain(["GET /openapi.json".to_string()])
        .collect();
    assert_eq!(
        routed, documented,
        "template.yaml and the served OpenAPI document"
    );
    let governed: BTreeSet<String> = POLICY.iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    assert_eq!(routed, governed, "template.yaml and the API5 policy table");
}

#[tokio::test]
async fn api9_nothing_else_is_routed() {
    let stack = Stack::start().await;
    let token = stack.token("acme", "u1", "owner");
    let id = uuid::Uuid::now_v7();
    let probes = [
        ("GET", "/nope".to_string()),
        ("PUT", "/contacts".to_string()),
        ("DELETE", "/contacts".to_string()),
        ("TRACE", "/contacts".to_string()),
        ("GET", format!("/contacts/{id}/secrets")),
        ("GET", "/admin".to_string()),
        ("GET", "/internal/health".to_string()),
        ("GET", "/debug/vars".to_string()),
        ("GET", "/.env".to_string()),
        ("GET", "/v1/contacts".to_string()),
        ("GET", "/api/contacts".to_string()),
        ("GET", "/openapi.yaml".to_string()),
        ("GET", "/swagger-ui".to_string()),
        ("POST", "/openapi.json".to_string()),
    ];
    for (method, path) in probes {
        let r = stack.call(method, &path, &token, Some(json!({}))).await;
        assert_eq!(r.status, 404, "{method} {path}: {:?}", r.body);
        let anonymous = stack.send(stack.request(method, &path, None)).await;
        assert_eq!(anonymous.status, 404, "{method} {path} without a token");
    }
}

#[tokio::test]
async fn api9_every_function_of_the_template_is_triggered_served_and_documented() {
    let stack = Stack::start().await;
    let template = &stack.runtime.template;
    let readme = include_str!("../../../README.md");
    let functions = template.resources_of_type(crm_local::template::FUNCTION_TYPE);
    assert!(functions.len() >= 18, "{} functions", functions.len());
    let s3: BTreeSet<String> = template
        .s3_triggers()
        .into_iter()
        .map(|t| t.function)
        .collect();
    let sqs: BTreeSet<String> = template
        .sqs_triggers()
        .into_iter()
        .map(|t| t.function)
        .collect();
    let streams: BTreeSet<String> = template
        .dynamodb_triggers()
        .into_iter()
        .map(|t| t.function)
        .collect();
    let f = &stack.runtime.functions;
    let token = stack.token("acme", "alice", "admin");
    for (name, _) in functions {
        let binary = template
            .function_binary(&name)
            .unwrap_or_else(|| panic!("{name}: no BuildProperties.Binary"));
        assert!(
            readme.contains(&format!("| `{binary}` |")),
            "{binary}: no row in the README's function table"
        );
        let mut served = false;
        if let Some(route) = template
            .http_routes()
            .into_iter()
            .find(|r| r.function == name)
        {
            // Through the gateway: 502 would mean no handler behind the route.
            let path = route
                .path
                .split('/')
                .map(|s| if s.starts_with('{') { "x" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let r = stack.call(&route.method, &path, &token, None).await;
            assert_ne!(r.status, 502, "{binary}: routed but no handler");
            assert!(
                r.status < 500,
                "{binary}: {} {path}: {}",
                route.method,
                r.status
            );
            served = true;
        }
        if s3.contains(&name) {
            let event = aws_lambda_events::event::s3::S3Event::default();
            assert!(f.invoke_s3(&binary, event).await.is_some(), "{binary}: S3");
            served = true;
        }
        if sqs.contains(&name) {
            let event = aws_lambda_events::event::sqs::SqsEvent::default();
            assert!(
                f.invoke_sqs(&binary, event).await.is_some(),
                "{binary}: SQS"
            );
            served = true;
        }
        if streams.contains(&name) {
            let event = json!({"Records": []});
            assert!(
                f.invoke_event(&binary, event).await.is_some(),
                "{binary}: stream"
            );
            served = true;
        }
        assert!(
            served,
            "{name} ({binary}): a function of the template nothing triggers"
        );
    }
}
