//! Threads by Message-ID (S6.4): one index item per message of a tenant, inbound or outbound,
//! `T#{tenant}#MSGID#{hash}` / `MSGID` → the message's thread and activity. A message whose
//! `In-Reply-To` or `References` names a recorded message joins that message's thread;
//! otherwise it starts one (its thread id is its own activity id). Lookups are key reads.
//!
//! Outbound mail records its Message-ID with [`Threads::record_outbound`], so that replies to
//! it thread to it.

use crate::CrmError;
use crate::store::{Condition, Item, Key, Table, WriteError, from_item, key, to_item};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use uuid::Uuid;

const MSGID_SK: &str = "MSGID";
/// Most parent ids looked up for one message (BatchGetItem takes 100 keys).
const MAX_PARENTS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// A recorded message of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadEntry {
    /// Normalised (see [`normalise`]).
    pub message_id: String,
    pub thread_id: Uuid,
    pub activity_id: Uuid,
    pub direction: Direction,
    pub recorded_at: DateTime<Utc>,
}

/// A Message-ID as compared: without angle brackets and white space, the domain part
/// lower-cased (the local part is case-sensitive). `None` when nothing is left.
pub fn normalise(raw: &str) -> Option<String> {
    let id: String = raw
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if id.is_empty() || id.len() > 998 {
        return None;
    }
    Some(match id.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => id,
    })
}

/// The index item's partition: the id is hashed (ids are long and hold any character).
pub fn msgid_pk(tenant: &str, normalised: &str) -> String {
    let digest = sha2::Sha256::digest(normalised.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("T#{tenant}#MSGID#{hex}")
}

#[derive(Clone, Debug)]
pub struct Threads {
    table: Table,
}

impl Threads {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// Forgets a recorded message id (its activity is erased).
    pub async fn forget(&self, tenant: &str, message_id: &str) -> Result<(), CrmError> {
        let Some(id) = normalise(message_id) else {
            return Ok(());
        };
        self.table
            .delete_many(vec![Key::new(msgid_pk(tenant, &id), MSGID_SK)])
            .await
    }

    /// The recorded message with this id, if any.
    pub async fn entry(
        &self,
        tenant: &str,
        message_id: &str,
    ) -> Result<Option<ThreadEntry>, CrmError> {
        let Some(id) = normalise(message_id) else {
            return Ok(None);
        };
        self.table
            .get_as(Key::new(msgid_pk(tenant, &id), MSGID_SK))
            .await
    }

    /// The first of `parents` (in the order given: In-Reply-To, then References newest first)
    /// that the tenant has recorded. One BatchGetItem.
    pub async fn find_parent(
        &self,
        tenant: &str,
        parents: &[&str],
    ) -> Result<Option<ThreadEntry>, CrmError> {
        let ids: Vec<String> = parents
            .iter()
            .filter_map(|p| normalise(p))
            .take(MAX_PARENTS)
            .collect();
        let mut keys: Vec<Key> = ids
            .iter()
            .map(|id| Key::new(msgid_pk(tenant, id), MSGID_SK))
            .collect();
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return Ok(None);
        }
        let found: Vec<ThreadEntry> = self
            .table
            .batch_get(keys, None)
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        Ok(ids
            .iter()
            .find_map(|id| found.iter().find(|e| &e.message_id == id))
            .cloned())
    }

    /// Records `message_id` as the message of `activity_id` in `thread_id`. Recording the same
    /// message for the same activity again is a no-op; a message already recorded for another
    /// activity is left as it is and that entry is returned (`Err`): the message is a duplicate.
    pub async fn record(
        &self,
        tenant: &str,
        entry: &ThreadEntry,
    ) -> Result<Result<(), ThreadEntry>, CrmError> {
        let pk = msgid_pk(tenant, &entry.message_id);
        let mut keys: Item = key(pk.clone(), MSGID_SK);
        keys.insert("entity".into(), crate::store::s("message_id"));
        let item = to_item(entry, keys)?;
        let same = Condition::eq(
            "activity_id",
            crate::store::s(entry.activity_id.to_string()),
        );
        match self
            .table
            .put_if(item, Condition::Or(vec![Condition::NotExists, same]))
            .await
        {
            Ok(()) => Ok(Ok(())),
            Err(WriteError::ConditionFailed) => {
                let existing: Option<ThreadEntry> =
                    self.table.get_as(Key::new(pk, MSGID_SK)).await?;
                existing
                    .map(Err)
                    .ok_or_else(|| CrmError::Internal("a Message-ID entry vanished".into()))
            }
            Err(WriteError::Other(e)) => Err(e),
        }
    }

    /// The thread a message joins: its first recorded parent's, else a new one (`own`).
    pub async fn thread_for(
        &self,
        tenant: &str,
        parents: &[&str],
        own: Uuid,
    ) -> Result<Uuid, CrmError> {
        Ok(self
            .find_parent(tenant, parents)
            .await?
            .map_or(own, |p| p.thread_id))
    }

    /// For outbound mail: records the Message-ID of a message sent as `activity_id`, replying
    /// to `parents` (its In-Reply-To / References, newest first), and answers its thread id.
    /// Safe to call again for the same message and activity.
    pub async fn record_outbound(
        &self,
        tenant: &str,
        message_id: &str,
        activity_id: Uuid,
        parents: &[&str],
    ) -> Result<Uuid, CrmError> {
        let Some(id) = normalise(message_id) else {
            return Err(CrmError::Internal(format!(
                "not a Message-ID: {message_id:?}"
            )));
        };
        let thread_id = self.thread_for(tenant, parents, activity_id).await?;
        let entry = ThreadEntry {
            message_id: id,
            thread_id,
            activity_id,
            direction: Direction::Outbound,
            recorded_at: crate::values::now(),
        };
        Ok(match self.record(tenant, &entry).await? {
            Ok(()) => thread_id,
            Err(existing) => existing.thread_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_compared_without_brackets_and_with_a_folded_domain() {
        assert_eq!(
            normalise(" <Abc.1@Mail.Example.COM> ").as_deref(),
            Some("Abc.1@mail.example.com")
        );
        assert_eq!(normalise("<>"), None);
        assert_eq!(normalise("no-at-sign").as_deref(), Some("no-at-sign"));
        assert_eq!(
            msgid_pk("acme", "a@b"),
            msgid_pk("acme", &normalise("<a@B>").unwrap())
        );
        assert_ne!(msgid_pk("acme", "a@b"), msgid_pk("beta", "a@b"));
    }

    #[tokio::test]
    async fn a_reply_joins_its_parents_thread_and_outbound_mail_is_threaded_too() {
        let threads = Threads::new(Table::in_memory());
        let first = Uuid::now_v7();
        let t = threads
            .record_outbound("acme", "<out-1@ses.test>", first, &[])
            .await
            .unwrap();
        assert_eq!(t, first, "a new thread is named by its first activity");
        // Again: the same thread, nothing changed.
        assert_eq!(
            threads
                .record_outbound("acme", "<out-1@ses.test>", first, &[])
                .await
                .unwrap(),
            first
        );
        let reply = Uuid::now_v7();
        let thread = threads
            .thread_for("acme", &["unknown@x", "out-1@SES.test"], reply)
            .await
            .unwrap();
        assert_eq!(thread, first);
        // Another tenant knows nothing of acme's messages.
        assert_eq!(
            threads
                .thread_for("beta", &["out-1@ses.test"], reply)
                .await
                .unwrap(),
            reply
        );
        // A message recorded for another activity is a duplicate.
        let entry = ThreadEntry {
            message_id: "out-1@ses.test".into(),
            thread_id: reply,
            activity_id: reply,
            direction: Direction::Inbound,
            recorded_at: crate::values::now(),
        };
        let dup = threads.record("acme", &entry).await.unwrap().unwrap_err();
        assert_eq!(dup.activity_id, first);
    }
}
