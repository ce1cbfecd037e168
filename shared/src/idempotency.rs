//! `Idempotency-Key` on POST: the first response is stored and replayed for the same key; the
//! same key with a different request is refused. Records expire after a day (table TTL).

use crate::store::item::text;
use crate::store::{Condition, Key, Table, WriteError, key, n, s};
use crate::{CrmError, FieldError};
use aws_sdk_dynamodb::types::AttributeValue;
use sha2::{Digest, Sha256};

const RETENTION_SECONDS: i64 = 24 * 3600;
/// How long a first attempt holds the key before a retry may take over (a crashed attempt).
const LEASE_MS: i64 = 30_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug)]
pub enum Begin {
    /// First use of the key: run the request, then `complete` (or `abort` on a server fault).
    New,
    Replay(StoredResponse),
}

pub fn validate_key(raw: &str) -> Result<(), CrmError> {
    if raw.is_empty() || raw.len() > 255 || !raw.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(CrmError::BadRequest {
            detail: "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
            errors: vec![FieldError::new(
                "Idempotency-Key",
                "format",
                "1 to 255 visible ASCII characters",
            )],
        });
    }
    Ok(())
}

/// Fingerprint of what was asked: a replay must ask exactly the same.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn pk(tenant: &str, idem_key: &str) -> String {
    format!("T#{tenant}#IDEMPOTENCY#{idem_key}")
}

pub async fn begin(
    table: &Table,
    tenant: &str,
    idem_key: &str,
    fingerprint: &str,
) -> Result<Begin, CrmError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut item = key(pk(tenant, idem_key), "IDEMPOTENCY");
    item.insert("fingerprint".into(), s(fingerprint));
    item.insert("state".into(), s("in_progress"));
    item.insert("lease_until".into(), n(now_ms + LEASE_MS));
    item.insert("expires_at".into(), n(now_ms / 1000 + RETENTION_SECONDS));
    // A crashed first attempt gives its key up when its lease runs out.
    let claimable = Condition::Or(vec![
        Condition::NotExists,
        Condition::And(vec![
            Condition::eq("state", s("in_progress")),
            Condition::Lt("lease_until".into(), n(now_ms)),
            Condition::eq("fingerprint", s(fingerprint)),
        ]),
    ]);
    match table.put_if(item, claimable).await {
        Ok(()) => Ok(Begin::New),
        Err(WriteError::ConditionFailed) => {
            let existing = table
                .get(pk(tenant, idem_key), "IDEMPOTENCY")
                .await?
                .ok_or_else(|| CrmError::Internal("idempotency record vanished".into()))?;
            let text = |name: &str| text(&existing, name).unwrap_or_default().to_string();
            if text("fingerprint") != fingerprint {
                return Err(CrmError::IdempotencyMismatch);
            }
            if text("state") != "done" {
                return Err(CrmError::IdempotencyInProgress);
            }
            let status = match existing.get("status") {
                Some(AttributeValue::N(v)) => v.parse().unwrap_or(200),
                _ => 200,
            };
            let headers: Vec<(String, String)> =
                serde_json::from_str(&text("headers")).unwrap_or_default();
            Ok(Begin::Replay(StoredResponse {
                status,
                body: text("body"),
                headers,
            }))
        }
        Err(WriteError::Other(e)) => Err(e),
    }
}

pub async fn complete(
    table: &Table,
    tenant: &str,
    idem_key: &str,
    fingerprint: &str,
    response: &StoredResponse,
) -> Result<(), CrmError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut item = key(pk(tenant, idem_key), "IDEMPOTENCY");
    item.insert("fingerprint".into(), s(fingerprint));
    item.insert("state".into(), s("done"));
    item.insert("status".into(), n(response.status));
    item.insert("body".into(), s(response.body.clone()));
    item.insert(
        "headers".into(),
        s(serde_json::to_string(&response.headers).map_err(CrmError::internal)?),
    );
    item.insert("expires_at".into(), n(now_ms / 1000 + RETENTION_SECONDS));
    table.put(item).await
}

/// Releases the key after a server fault so that a retry runs the request again.
pub async fn abort(table: &Table, tenant: &str, idem_key: &str) -> Result<(), CrmError> {
    table
        .release_claim(Key::new(pk(tenant, idem_key), "IDEMPOTENCY"))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_separates_method_path_and_body() {
        let a = fingerprint("POST", "/contacts", b"{}");
        assert_eq!(a, fingerprint("POST", "/contacts", b"{}"));
        assert_ne!(a, fingerprint("POST", "/imports", b"{}"));
        assert_ne!(a, fingerprint("POST", "/contacts", b"{ }"));
    }

    #[test]
    fn keys_are_checked() {
        assert!(validate_key("abc-123").is_ok());
        assert!(validate_key("").is_err());
        assert!(validate_key("has space").is_err());
        assert!(validate_key(&"x".repeat(256)).is_err());
    }

    #[tokio::test]
    async fn a_key_replays_its_first_response_and_refuses_another_request() {
        let table = Table::in_memory();
        let fp = fingerprint("POST", "/contacts", b"{}");
        assert!(matches!(
            begin(&table, "t", "k", &fp).await.unwrap(),
            Begin::New
        ));
        // Still running: a retry waits.
        assert!(matches!(
            begin(&table, "t", "k", &fp).await,
            Err(CrmError::IdempotencyInProgress)
        ));
        let response = StoredResponse {
            status: 201,
            body: "{}".into(),
            headers: vec![("etag".into(), "\"1\"".into())],
        };
        complete(&table, "t", "k", &fp, &response).await.unwrap();
        assert!(
            matches!(begin(&table, "t", "k", &fp).await.unwrap(), Begin::Replay(r) if r == response)
        );
        let other = fingerprint("POST", "/contacts", b"{\"a\":1}");
        assert!(matches!(
            begin(&table, "t", "k", &other).await,
            Err(CrmError::IdempotencyMismatch)
        ));
        // Another tenant's key of the same name is its own.
        assert!(matches!(
            begin(&table, "u", "k", &other).await.unwrap(),
            Begin::New
        ));
        // A server fault gives the key back.
        abort(&table, "u", "k").await.unwrap();
        assert!(matches!(
            begin(&table, "u", "k", &other).await.unwrap(),
            Begin::New
        ));
    }
}
