//! Reading and writing a kind's records through the storage port.

use super::keys::{self, TOMBSTONE_SK};
use super::kind::{Kind, Record};
use super::write::{RECORD_KEYS, WriteFailure, WriteSet};
use crate::CrmError;
use crate::audit::AuditEntry;
use crate::custom_fields::FieldValue;
use crate::store::{Item, Key, Table, from_item};
use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use uuid::Uuid;

/// What remains of a record deleted for good beside its audit trail: enough to say what the
/// trail belongs to and who deleted it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tombstone {
    pub id: Uuid,
    pub name: String,
    pub deleted_at: crate::values::Timestamp,
    pub deleted_by: String,
    /// The record's last version.
    pub version: u64,
}

pub struct RecordStore<K: Kind> {
    pub table: Table,
    kind: PhantomData<fn() -> K>,
}

impl<K: Kind> Clone for RecordStore<K> {
    fn clone(&self) -> Self {
        Self::new(self.table.clone())
    }
}

/// A record from its item: the keys and index attributes taken off first (a record's own
/// fields may refuse unknown ones).
pub fn decode<K: Kind>(mut item: Item) -> Result<K::Record, CrmError> {
    item.retain(|k, _| !RECORD_KEYS.contains(&k.as_str()) && !k.starts_with("GSI"));
    from_item(item)
}

impl<K: Kind> RecordStore<K> {
    pub fn new(table: Table) -> Self {
        Self {
            table,
            kind: PhantomData,
        }
    }

    /// Removes a record for good, with nothing left: its item, claims' holders aside, its
    /// list and search entries and its whole partition (audit trail). For erasure (S1.2).
    pub async fn purge(&self, tenant: &str, record: &K::Record) -> Result<(), CrmError> {
        let mut keys = super::entries::entry_keys::<K>(tenant, record)?;
        let pk = keys::record_pk(tenant, K::schema(), record.id());
        keys.extend(
            self.table
                .query_all(crate::store::Query::partition(pk))
                .await?
                .iter()
                .filter_map(Key::of),
        );
        self.table.delete_many(keys).await
    }

    pub fn key(tenant: &str, id: Uuid) -> Key {
        let schema = K::schema();
        Key::new(keys::record_pk(tenant, schema, id), schema.record)
    }

    /// The record, live or in the trash.
    pub async fn get(&self, tenant: &str, id: Uuid) -> Result<Option<K::Record>, CrmError> {
        self.table
            .store()
            .get(Self::key(tenant, id), true)
            .await?
            .map(decode::<K>)
            .transpose()
    }

    /// The records with these ids that exist (one BatchGetItem per 100).
    pub async fn get_many(
        &self,
        tenant: &str,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, K::Record>, CrmError> {
        let keys = ids.iter().map(|id| Self::key(tenant, *id)).collect();
        self.table
            .batch_get(keys, None)
            .await?
            .into_iter()
            .map(|item| decode::<K>(item).map(|r| (r.id(), r)))
            .collect()
    }

    /// The stored custom field values of these records (for filters no index answers).
    pub async fn custom_values_of(
        &self,
        tenant: &str,
        ids: &[Uuid],
    ) -> Result<(HashMap<Uuid, BTreeMap<String, FieldValue>>, usize), CrmError> {
        #[derive(serde::Deserialize)]
        struct Stored {
            id: Uuid,
            #[serde(default)]
            custom_fields: BTreeMap<String, FieldValue>,
        }
        let keys = ids.iter().map(|id| Self::key(tenant, *id)).collect();
        let items = self
            .table
            .batch_get(keys, Some(&["id", "custom_fields"]))
            .await?;
        let read = items.len();
        let values = items
            .into_iter()
            .map(|item| from_item::<Stored>(item).map(|s| (s.id, s.custom_fields)))
            .collect::<Result<_, _>>()?;
        Ok((values, read))
    }

    pub async fn tombstone(&self, tenant: &str, id: Uuid) -> Result<Option<Tombstone>, CrmError> {
        self.table
            .get_as(Key::new(
                keys::record_pk(tenant, K::schema(), id),
                TOMBSTONE_SK,
            ))
            .await
    }

    /// Runs one record write.
    pub async fn write(&self, set: WriteSet) -> Result<(), WriteFailure> {
        set.check_size().map_err(WriteFailure::Error)?;
        match self.table.transact(set.writes.clone()).await {
            Ok(()) => Ok(()),
            Err(e) => Err(set.failure(e)),
        }
    }

    /// One page of the record's audit trail, newest first.
    pub async fn history(
        &self,
        tenant: &str,
        id: Uuid,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<AuditEntry>, Option<Item>), CrmError> {
        crate::audit::history(
            &self.table,
            keys::record_pk(tenant, K::schema(), id),
            limit,
            start,
        )
        .await
    }
}
