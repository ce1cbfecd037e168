//! Emulation of API Gateway's JWT authorizer. Locally, tokens are HS256-signed with a dev secret
//! (documented in the README, overridable by `CRM_DEV_JWT_SECRET`); in AWS the authorizer checks
//! the real issuer's tokens. Either way, the verified claims reach the handler as string values
//! under `requestContext.authorizer.jwt.claims`.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde_json::{Value, json};
use std::collections::HashMap;

pub const DEV_JWT_SECRET: &str = "crm-local-dev-secret-do-not-use-in-production";
pub const DEV_ISSUER: &str = "https://crm.local/dev-issuer";
pub const DEV_AUDIENCE: &str = "crm-web";

#[derive(Clone)]
pub struct DevAuthorizer {
    secret: String,
}

impl Default for DevAuthorizer {
    fn default() -> Self {
        Self {
            secret: std::env::var("CRM_DEV_JWT_SECRET")
                .unwrap_or_else(|_| DEV_JWT_SECRET.to_string()),
        }
    }
}

impl DevAuthorizer {
    pub fn with_secret(secret: &str) -> Self {
        Self {
            secret: secret.to_string(),
        }
    }

    /// A token for a tenant, user and role, valid for `ttl_seconds` (negative: already expired).
    pub fn mint(&self, tenant: &str, user: &str, role: &str, ttl_seconds: i64) -> String {
        let now = chrono::Utc::now().timestamp();
        self.sign(&json!({
            "sub": user,
            "tenant_id": tenant,
            "role": role,
            "iss": DEV_ISSUER,
            "aud": DEV_AUDIENCE,
            "iat": now,
            "exp": now + ttl_seconds,
        }))
    }

    /// A token with exactly these claims, HS256-signed with this authorizer's secret (tests
    /// craft wrong issuers, audiences, `nbf` or missing claims with it).
    pub fn sign(&self, claims: &Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(self.secret.as_bytes()).expect("HMAC key"),
        )
        .expect("HS256 signing")
    }

    /// Checks `Authorization: Bearer <jwt>` like the HTTP API JWT authorizer: signature, `exp`,
    /// `nbf` (when present, as API Gateway checks it), issuer and audience. Returns the claims as API Gateway passes them (all strings).
    pub fn verify(&self, authorization: Option<&str>) -> Result<HashMap<String, String>, String> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or("missing bearer token")?;
        // Only HS256 is accepted: `alg: none` and any other algorithm fail here.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[DEV_ISSUER]);
        validation.set_audience(&[DEV_AUDIENCE]);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = decode::<HashMap<String, Value>>(
            token,
            &DecodingKey::from_secret(self.secret.as_bytes()).map_err(|e| e.to_string())?,
            &validation,
        )
        .map_err(|e| format!("invalid token: {e}"))?;
        Ok(data
            .claims
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn minted_tokens_verify_and_carry_string_claims() {
        let auth = DevAuthorizer::with_secret("s");
        let token = auth.mint("t1", "u1", "admin", 60);
        let claims = auth.verify(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(claims["tenant_id"], "t1");
        assert_eq!(claims["role"], "admin");
        assert!(claims["exp"].parse::<i64>().is_ok());
    }

    #[test]
    fn bad_tokens_are_refused() {
        let auth = DevAuthorizer::with_secret("s");
        assert!(auth.verify(None).is_err());
        assert!(auth.verify(Some("Basic abc")).is_err());
        let expired = auth.mint("t1", "u1", "admin", -10);
        assert!(auth.verify(Some(&format!("Bearer {expired}"))).is_err());
        let other = DevAuthorizer::with_secret("other").mint("t1", "u1", "admin", 60);
        assert!(auth.verify(Some(&format!("Bearer {other}"))).is_err());
        // alg: none with the same claims
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let good = auth.mint("t1", "u1", "admin", 60);
        let payload = good.split('.').nth(1).unwrap();
        let none = format!(
            "{}.{payload}.",
            b64.encode(br#"{"alg":"none","typ":"JWT"}"#)
        );
        assert!(auth.verify(Some(&format!("Bearer {none}"))).is_err());
    }

    #[test]
    fn not_yet_valid_wrong_issuer_and_wrong_audience_are_refused() {
        let auth = DevAuthorizer::with_secret("s");
        let now = chrono::Utc::now().timestamp();
        let claims = |extra: Value| {
            let mut c = json!({"sub": "u1", "tenant_id": "t1", "role": "admin",
                "iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "iat": now, "exp": now + 600});
            for (k, v) in extra.as_object().unwrap() {
                c[k] = v.clone();
            }
            format!("Bearer {}", auth.sign(&c))
        };
        assert!(auth.verify(Some(&claims(json!({})))).is_ok());
        assert!(auth.verify(Some(&claims(json!({"nbf": now - 5})))).is_ok());
        assert!(
            auth.verify(Some(&claims(json!({"nbf": now + 300}))))
                .is_err()
        );
        assert!(
            auth.verify(Some(&claims(json!({"iss": "https://evil"}))))
                .is_err()
        );
        assert!(
            auth.verify(Some(&claims(json!({"aud": "other-app"}))))
                .is_err()
        );
    }
}
