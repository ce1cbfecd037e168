//! API2:2023 Broken Authentication. The gateway's JWT authorizer (API Gateway's locally, the
//! same checks: signature, `alg`, `exp`, `nbf`, issuer, audience, `sub`) and the handlers'
//! claim checks (`tenant_id`, `role`) refuse every broken token with 401, on every kind of
//! route; the same claims properly signed pass.

use crm_e2e_tests::{Stack, json};
use crm_local::authorizer::{DEV_AUDIENCE, DEV_ISSUER, DevAuthorizer};
use serde_json::Value;

/// Valid claims for acme's admin u1, with `change` applied (`null` removes a claim).
fn claims(change: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut c = json!({"sub": "u1", "tenant_id": "acme", "role": "admin",
        "iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "iat": now, "exp": now + 600});
    for (k, v) in change.as_object().unwrap() {
        match v {
            Value::Null => {
                c.as_object_mut().unwrap().remove(k);
            }
            v => c[k] = v.clone(),
        }
    }
    c
}

/// A route of each function behind the authorizer.
const ROUTES: [&str; 8] = [
    "/contacts",
    "/clients",
    "/deals",
    "/activities",
    "/imports",
    "/workflows",
    "/settings",
    "/email-templates",
];

async fn status(stack: &Stack, path: &str, token: Option<&str>) -> (u16, Value) {
    let r = stack.send(stack.request("GET", path, token)).await;
    (r.status, r.body)
}

#[tokio::test]
async fn api2_missing_expired_not_yet_valid_wrong_audience_issuer_forged_and_unsigned_tokens_are_401()
 {
    let stack = Stack::start().await;
    let auth = &stack.runtime.authorizer;
    let now = chrono::Utc::now().timestamp();
    let good = auth.sign(&claims(json!({})));
    let payload = good.split('.').nth(1).unwrap().to_string();
    let broken: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("an empty bearer", Some(String::new())),
        ("not a JWT", Some("not-a-jwt".into())),
        ("expired", Some(auth.mint("acme", "u1", "admin", -60))),
        (
            "expired a second ago",
            Some(auth.sign(&claims(json!({"exp": now - 1})))),
        ),
        (
            "not yet valid (nbf in the future)",
            Some(auth.sign(&claims(json!({"nbf": now + 300})))),
        ),
        (
            "wrong audience",
            Some(auth.sign(&claims(json!({"aud": "another-app"})))),
        ),
        (
            "no audience",
            Some(auth.sign(&claims(json!({"aud": null})))),
        ),
        (
            "wrong issuer",
            Some(auth.sign(&claims(json!({"iss": "https://evil.example/issuer"})))),
        ),
        ("no issuer", Some(auth.sign(&claims(json!({"iss": null}))))),
        ("no expiry", Some(auth.sign(&claims(json!({"exp": null}))))),
        (
            "forged (another secret)",
            Some(DevAuthorizer::with_secret("not-the-dev-secret").sign(&claims(json!({})))),
        ),
        (
            "alg: none",
            Some(format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.")),
        ),
        (
            "alg: none, signature kept",
            Some(format!(
                "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.{}",
                good.rsplit('.').next().unwrap()
            )),
        ),
        (
            "payload swapped under a valid signature",
            Some({
                let other = auth.sign(&claims(json!({"tenant_id": "globex"})));
                let mut parts: Vec<&str> = good.split('.').collect();
                parts[1] = other.split('.').nth(1).unwrap();
                parts.join(".")
            }),
        ),
    ];
    for path in ROUTES {
        for (what, token) in &broken {
            let (s, body) = status(&stack, path, token.as_deref()).await;
            assert_eq!(s, 401, "{what} on {path}: {body:?}");
        }
        assert_eq!(status(&stack, path, Some(&good)).await.0, 200, "{path}");
    }
}

#[tokio::test]
async fn api2_tokens_missing_a_claim_or_with_an_unknown_role_or_bad_tenant_are_401() {
    let stack = Stack::start().await;
    let auth = &stack.runtime.authorizer;
    let broken = [
        ("no sub", json!({"sub": null})),
        ("empty sub", json!({"sub": ""})),
        ("no tenant_id", json!({"tenant_id": null})),
        ("no role", json!({"role": null})),
        ("unknown role", json!({"role": "superuser"})),
        ("role in capitals", json!({"role": "ADMIN"})),
        (
            "a tenant id that would break keys",
            json!({"tenant_id": "acme#evil"}),
        ),
        ("an empty tenant id", json!({"tenant_id": ""})),
    ];
    for path in ROUTES {
        for (what, change) in &broken {
            let token = auth.sign(&claims(change.clone()));
            let (s, body) = status(&stack, path, Some(&token)).await;
            assert_eq!(s, 401, "{what} on {path}: {body:?}");
        }
    }
    // The handler's 401 is problem+json.
    let r = stack
        .call(
            "GET",
            "/contacts",
            &auth.sign(&claims(json!({"role": "superuser"}))),
            None,
        )
        .await;
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
}
