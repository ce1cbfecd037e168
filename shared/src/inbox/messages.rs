//! The inbound-message item: one per S3 object and tenant, written once when the object is
//! done with (processed or failed), on condition that it is new, so a redelivered event finds
//! it and does nothing. Messages for no tenant are kept under [`NO_TENANT`].
//!
//! | item | PK | SK | indexes |
//! |---|---|---|---|
//! | inbound message | `T#{t}#INBOUND#{id}` | `INBOUND` | GSI1 `T#{t}#INBOUND` / `{id}` (newest first) |

use super::parse::Mailbox;
use crate::access::{Action, Policy, Subject};
use crate::store::cursor::Page;
use crate::store::{Condition, Item, Key, Query, Table, WriteError, from_item, key, s, to_item};
use crate::{Caller, CrmError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const SK: &str = "INBOUND";
/// Characters of the text body kept as the preview.
pub const PREVIEW_CHARS: usize = 280;
/// The partition of messages no tenant was found for: `~` is not a character of tenant ids.
pub const NO_TENANT: &str = "~";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboundStatus {
    /// Read, matched and logged (or nothing to log on: see `note`).
    Processed,
    /// Not processed: `rule` and `reason` say why.
    Failed,
}

/// An attachment of an inbound message, stored in the inbox bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredAttachment {
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    /// Its key in the inbox bucket: `attachments/{tenant}/{message}/{n}`.
    pub object_key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboundMessage {
    pub id: Uuid,
    /// The stored message (the inbox bucket's object).
    pub object_key: String,
    pub size: i64,
    pub status: InboundStatus,
    /// For a failed message: `no_tenant`, `no_headers`, `no_from`, `too_large`, `empty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a processed message with nothing logged: why (no contact matched, a duplicate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Mailbox>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The start of the text body (the activity holds it whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<Uuid>,
    /// The inbound email activity the message is logged as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<Uuid>,
    /// The contacts it is logged on: the sender's first, then the recipients'.
    #[serde(default)]
    pub contact_ids: Vec<Uuid>,
    /// The lead the message created (auto-lead on, unknown sender).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<Uuid>,
    /// A message already logged (the same Message-ID): its activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<Uuid>,
    #[serde(default)]
    pub attachments: Vec<StoredAttachment>,
    pub received_at: DateTime<Utc>,
    pub processed_at: DateTime<Utc>,
}

impl InboundMessage {
    /// A message that was not processed.
    pub fn failed(
        id: Uuid,
        object_key: &str,
        size: i64,
        received_at: DateTime<Utc>,
        rule: &str,
        reason: &str,
    ) -> Self {
        Self {
            id,
            object_key: object_key.to_string(),
            size,
            status: InboundStatus::Failed,
            rule: Some(rule.to_string()),
            reason: Some(reason.to_string()),
            note: None,
            from: None,
            subject: None,
            message_id: None,
            preview: None,
            thread_id: None,
            activity_id: None,
            contact_ids: Vec::new(),
            lead_id: None,
            duplicate_of: None,
            attachments: Vec::new(),
            received_at,
            processed_at: crate::values::now(),
        }
    }
}

pub fn message_pk(tenant: &str, id: Uuid) -> String {
    format!("T#{tenant}#INBOUND#{id}")
}

fn of_activity_pk(tenant: &str, activity: Uuid) -> String {
    format!("T#{tenant}#INBOUNDOF#{activity}")
}

fn list_pk(tenant: &str) -> String {
    format!("T#{tenant}#INBOUND")
}

#[derive(Clone, Debug)]
pub struct InboundMessages {
    table: Table,
}

impl InboundMessages {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    pub async fn get(&self, tenant: &str, id: Uuid) -> Result<Option<InboundMessage>, CrmError> {
        self.table
            .get_as(Key::new(message_pk(tenant, id), SK))
            .await
    }

    /// Writes the message's outcome once: `false` when it was already written.
    pub async fn settle(&self, tenant: &str, message: &InboundMessage) -> Result<bool, CrmError> {
        let mut keys: Item = key(message_pk(tenant, message.id), SK);
        keys.insert("entity".into(), s("inbound_message"));
        keys.insert("GSI1PK".into(), s(list_pk(tenant)));
        keys.insert("GSI1SK".into(), s(message.id.to_string()));
        // Found from its activity when a contact is erased (S1.2).
        if let Some(activity) = message.activity_id {
            keys.insert("GSI2PK".into(), s(of_activity_pk(tenant, activity)));
            keys.insert("GSI2SK".into(), s(message.id.to_string()));
        }
        match self
            .table
            .put_if(to_item(message, keys)?, Condition::NotExists)
            .await
        {
            Ok(()) => Ok(true),
            Err(WriteError::ConditionFailed) => Ok(false),
            Err(WriteError::Other(e)) => Err(e),
        }
    }

    /// The messages logged as `activity` (one, or a copy per tenant's delivery).
    pub async fn of_activity(
        &self,
        tenant: &str,
        activity: Uuid,
    ) -> Result<Vec<InboundMessage>, CrmError> {
        self.table
            .query_all(crate::store::Query::index(
                "GSI2",
                of_activity_pk(tenant, activity),
            ))
            .await?
            .into_iter()
            .map(crate::store::from_item)
            .collect()
    }

    /// Removes a message's item for good (its stored objects are the caller's to delete).
    pub async fn forget(&self, tenant: &str, id: Uuid) -> Result<(), CrmError> {
        self.table
            .delete_many(vec![Key::new(message_pk(tenant, id), SK)])
            .await
    }

    /// The tenant's inbound messages, newest first, a page of `limit` from the key `after`.
    pub async fn page(
        &self,
        tenant: &str,
        limit: i32,
        after: Option<Uuid>,
    ) -> Result<(Vec<InboundMessage>, Option<Uuid>), CrmError> {
        let start = after.map(|id| {
            let mut k = key(message_pk(tenant, id), SK);
            k.insert("GSI1PK".into(), s(list_pk(tenant)));
            k.insert("GSI1SK".into(), s(id.to_string()));
            k
        });
        let page = self
            .table
            .query(
                Query::index("GSI1", list_pk(tenant))
                    .newest_first(true)
                    .limit(limit)
                    .start(start),
            )
            .await?;
        let items: Vec<InboundMessage> = page
            .items
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        let next = page.last_key.and_then(|_| items.last().map(|m| m.id));
        Ok((items, next))
    }

    /// `GET /inbound-messages`: owners and admins see their tenant's inbound mail log.
    pub async fn list(
        &self,
        caller: &Caller,
        limit: Option<u32>,
        after: Option<Uuid>,
    ) -> Result<Page<InboundMessage>, CrmError> {
        Policy::check(caller, Action::Write, Subject::Settings)?;
        let limit = limit.unwrap_or(50).clamp(1, 100) as i32;
        let (items, next) = self.page(&caller.tenant_id, limit, after).await?;
        Ok(Page {
            items,
            next_cursor: next.map(|id| id.to_string()),
        })
    }
}
