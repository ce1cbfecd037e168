//! Suppressed addresses: a tenant's addresses that bounced permanently or complained. Every
//! send checks the list first; the `mail-events` function adds to it from SES notifications.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | suppressed address (reason, when, why, the SES message it came from) | `T#t#SUPPRESSED#{address}` | `SUPPRESSED` |

use crate::store::{Condition, Key, Table, WriteError, key, s, to_item};
use crate::{CrmError, FieldError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const SK: &str = "SUPPRESSED";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionReason {
    /// A permanent bounce.
    Bounce,
    /// The recipient marked a mail as spam.
    Complaint,
}

impl SuppressionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bounce => "bounce",
            Self::Complaint => "complaint",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Suppression {
    /// Lower-cased.
    pub address: String,
    pub reason: SuppressionReason,
    /// When the bounce or complaint happened.
    pub at: DateTime<Utc>,
    /// Why, as SES tells it (bounce type and subtype, diagnostic, feedback type).
    pub detail: String,
    /// The SES message id of the mail that bounced or was complained about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ses_message_id: Option<String>,
}

pub fn suppression_pk(tenant: &str, address: &str) -> String {
    format!("T#{tenant}#SUPPRESSED#{}", address.trim().to_lowercase())
}

/// The tenant's suppression of `address`, if any.
pub async fn find(
    table: &Table,
    tenant: &str,
    address: &str,
) -> Result<Option<Suppression>, CrmError> {
    table
        .get_as(Key::new(suppression_pk(tenant, address), SK))
        .await
}

/// Adds `entry` unless the address is suppressed already: `true` when this call added it (a
/// redelivered notification changes nothing).
pub async fn add(table: &Table, tenant: &str, entry: &Suppression) -> Result<bool, CrmError> {
    let mut keys = key(suppression_pk(tenant, &entry.address), SK);
    keys.insert("entity".into(), s("email_suppression"));
    keys.insert("tenant_id".into(), s(tenant));
    let item = to_item(entry, keys)?;
    match table.put_if(item, Condition::NotExists).await {
        Ok(()) => Ok(true),
        Err(WriteError::ConditionFailed) => Ok(false),
        Err(WriteError::Other(e)) => Err(e),
    }
}

/// The 409 a send to a suppressed address gets.
pub fn refusal(entry: &Suppression) -> CrmError {
    let detail = format!(
        "{} is suppressed after a {} on {} ({}); nothing was sent",
        entry.address,
        entry.reason.as_str(),
        entry.at.to_rfc3339(),
        entry.detail
    );
    CrmError::Conflict {
        detail: detail.clone(),
        errors: vec![FieldError::new("to", "suppressed", detail)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn s6_4_a_suppression_is_added_once_per_tenant() {
        let table = Table::in_memory();
        let entry = Suppression {
            address: "Ada@Example.com".into(),
            reason: SuppressionReason::Bounce,
            at: crate::values::now(),
            detail: "Permanent/General".into(),
            ses_message_id: Some("m1".into()),
        };
        assert!(add(&table, "acme", &entry).await.unwrap());
        assert!(!add(&table, "acme", &entry).await.unwrap());
        assert!(
            find(&table, "acme", "ada@example.com")
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            find(&table, "other", "ada@example.com")
                .await
                .unwrap()
                .is_none()
        );
    }
}
