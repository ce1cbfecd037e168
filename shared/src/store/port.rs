//! The one storage port: a table of items in DynamoDB's model (partition and sort keys, global
//! secondary indexes, conditional writes, transactions). Domain code talks to [`Table`]; two
//! adapters implement [`ItemStore`]: DynamoDB ([`super::dynamo`]) and memory
//! ([`super::memory`]), held to the same contract ([`super::contract`]).
//!
//! Failures come back typed: a condition that did not hold is [`WriteError::ConditionFailed`],
//! a cancelled transaction says which of its writes failed ([`TransactError::Cancelled`]), so a
//! caller can tell "the email is taken" from "someone changed the record meanwhile".

use super::item::{Item, Key};
use crate::CrmError;
use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::BoxFuture;
use std::sync::Arc;

/// The global secondary indexes of the table (`template.yaml` defines the same): each keyed by
/// `{name}PK` / `{name}SK`.
pub const INDEXES: [&str; 9] = [
    "GSI1", "GSI2", "GSI3", "GSI4", "GSI5", "GSI6", "GSI7", "GSI8", "GSI9",
];

/// DynamoDB allows 100 writes per transaction.
pub const MAX_TRANSACTION_WRITES: usize = 100;

/// Which sort keys of a partition a query reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRange {
    All,
    /// Sort keys starting with this prefix.
    Prefix(String),
    /// Sort keys from `.0` to `.1`, both included.
    Between(String, String),
}

impl KeyRange {
    /// Whether a sort key lies in the range.
    pub fn holds(&self, sk: &str) -> bool {
        match self {
            Self::All => true,
            Self::Prefix(p) => sk.starts_with(p.as_str()),
            Self::Between(lo, hi) => lo.as_str() <= sk && sk <= hi.as_str(),
        }
    }

    /// Where a reader that already passed sort key `pos` (reading ascending or not) goes on
    /// in this range: from its start, after `pos`, or nowhere (the range lies behind it).
    pub fn resume(&self, pos: &str, descending: bool) -> Resume {
        // Where the range starts, and whether `pos` lies within it or below its end.
        let (lo, within_or_below) = match self {
            Self::All => return Resume::After,
            Self::Prefix(p) => (p.as_str(), pos.starts_with(p.as_str()) || pos < p.as_str()),
            Self::Between(lo, hi) => (lo.as_str(), pos <= hi.as_str()),
        };
        let below = pos < lo;
        match (descending, below, within_or_below) {
            (false, true, _) | (true, false, false) => Resume::FromStart,
            (_, false, true) => Resume::After,
            (false, false, false) | (true, true, _) => Resume::Done,
        }
    }
}

/// See [`KeyRange::resume`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    FromStart,
    After,
    Done,
}

/// One page of one partition of the table or of an index.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// `None`: the table (`PK` / `SK`); else one of [`INDEXES`].
    pub index: Option<&'static str>,
    pub pk: String,
    pub range: KeyRange,
    pub descending: bool,
    /// Items to read at most (DynamoDB's `Limit`).
    pub limit: Option<i32>,
    /// Where the previous page stopped (its `last_key`).
    pub start: Option<Item>,
    /// A strongly consistent read (the table only; index reads are eventually consistent).
    pub consistent: bool,
    /// Only these attributes (and nothing else) of each item.
    pub projection: Option<Vec<String>>,
}

impl Query {
    /// The whole partition `pk` of the table, in sort key order.
    pub fn partition(pk: impl Into<String>) -> Self {
        Self {
            index: None,
            pk: pk.into(),
            range: KeyRange::All,
            descending: false,
            limit: None,
            start: None,
            consistent: true,
            projection: None,
        }
    }

    /// The partition `pk` of index `index`.
    pub fn index(index: &'static str, pk: impl Into<String>) -> Self {
        Self {
            index: Some(index),
            consistent: false,
            ..Self::partition(pk)
        }
    }

    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        Self {
            range: KeyRange::Prefix(prefix.into()),
            ..self
        }
    }

    pub fn range(self, range: KeyRange) -> Self {
        Self { range, ..self }
    }

    pub fn newest_first(self, descending: bool) -> Self {
        Self { descending, ..self }
    }

    pub fn limit(self, limit: i32) -> Self {
        Self {
            limit: Some(limit),
            ..self
        }
    }

    pub fn start(self, start: Option<Item>) -> Self {
        Self { start, ..self }
    }

    pub fn project(self, attributes: &[&str]) -> Self {
        Self {
            projection: Some(attributes.iter().map(|a| a.to_string()).collect()),
            ..self
        }
    }

    /// The attribute names of the partition and sort key this query reads.
    pub fn key_attributes(&self) -> (String, String) {
        match self.index {
            None => ("PK".into(), "SK".into()),
            Some(ix) => (format!("{ix}PK"), format!("{ix}SK")),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryPage {
    pub items: Vec<Item>,
    /// Where to continue; `None` when the partition (or range) is done.
    pub last_key: Option<Item>,
    /// Items the store read for this page (what DynamoDB charges for).
    pub scanned: usize,
}

impl QueryPage {
    /// The page's items as records.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, CrmError> {
        self.items
            .iter()
            .cloned()
            .map(super::item::from_item)
            .collect()
    }
}

/// A condition on the item a write replaces (evaluated on the stored item, or on none).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// An item with this key exists.
    Exists,
    /// No item with this key exists.
    NotExists,
    /// The attribute equals the value.
    Eq(String, AttributeValue),
    /// The attribute is less than the value (numbers by value, strings lexically).
    Lt(String, AttributeValue),
    /// The attribute equals one of the values.
    In(String, Vec<AttributeValue>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
}

impl Condition {
    pub fn eq(attribute: &str, value: AttributeValue) -> Self {
        Self::Eq(attribute.to_string(), value)
    }

    /// The item's `version` is `v`: optimistic concurrency for versioned records.
    pub fn version(v: u64) -> Self {
        Self::Eq("version".into(), super::item::n(v))
    }
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    /// Writes nothing; the transaction fails unless the condition holds.
    Check { key: Key, condition: Condition },
    /// Adds exact numbers to attributes of an item, creating the item and an absent attribute
    /// at 0, and sets the `set` attributes: counters kept in a record's own transaction
    /// (DynamoDB `UpdateItem … ADD`, atomic under concurrent writers).
    Add {
        key: Key,
        add: Vec<(String, rust_decimal::Decimal)>,
        set: Item,
    },
}

impl WriteOp {
    pub fn put(item: Item) -> Self {
        Self::Put {
            item,
            condition: None,
        }
    }

    /// Creates the item unless one with its key exists.
    pub fn put_new(item: Item) -> Self {
        Self::Put {
            item,
            condition: Some(Condition::NotExists),
        }
    }

    pub fn put_if(item: Item, condition: Condition) -> Self {
        Self::Put {
            item,
            condition: Some(condition),
        }
    }

    pub fn delete(key: Key) -> Self {
        Self::Delete {
            key,
            condition: None,
        }
    }

    pub fn delete_if(key: Key, condition: Condition) -> Self {
        Self::Delete {
            key,
            condition: Some(condition),
        }
    }

    /// The key of the item the write touches.
    pub fn key(&self) -> Option<Key> {
        match self {
            Self::Put { item, .. } => Key::of(item),
            Self::Delete { key, .. } | Self::Check { key, .. } | Self::Add { key, .. } => {
                Some(key.clone())
            }
        }
    }
}

/// A single conditional write that did not happen.
#[derive(Debug)]
pub enum WriteError {
    ConditionFailed,
    Other(CrmError),
}

impl From<WriteError> for CrmError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::ConditionFailed => CrmError::Internal("a write's condition failed".into()),
            WriteError::Other(e) => e,
        }
    }
}

/// Why a transaction wrote nothing.
#[derive(Debug)]
pub enum TransactError {
    /// Cancelled; per write, in order, the reason it failed (`ConditionalCheckFailed`, …) or
    /// `None` for the writes that were fine.
    Cancelled(Vec<Option<String>>),
    Other(CrmError),
}

impl TransactError {
    /// Whether write `i` failed its condition.
    pub fn failed_at(&self, i: usize) -> bool {
        match self {
            Self::Cancelled(codes) => {
                codes.get(i).and_then(|c| c.as_deref()) == Some("ConditionalCheckFailed")
            }
            Self::Other(_) => false,
        }
    }

    /// As an error, naming `what` was written.
    pub fn into_error(self, what: &str) -> CrmError {
        match self {
            Self::Cancelled(codes) => CrmError::Internal(format!("{what} cancelled: {codes:?}")),
            Self::Other(e) => e,
        }
    }
}

/// What a table of items does; implemented for DynamoDB and for memory.
pub trait ItemStore: Send + Sync + std::fmt::Debug {
    fn get(&self, key: Key, consistent: bool) -> BoxFuture<'_, Result<Option<Item>, CrmError>>;
    /// The items with these keys that exist, in no particular order (retries what the store
    /// leaves unprocessed).
    fn batch_get(
        &self,
        keys: Vec<Key>,
        projection: Option<Vec<String>>,
    ) -> BoxFuture<'_, Result<Vec<Item>, CrmError>>;
    fn query(&self, query: Query) -> BoxFuture<'_, Result<QueryPage, CrmError>>;
    fn put(
        &self,
        item: Item,
        condition: Option<Condition>,
    ) -> BoxFuture<'_, Result<(), WriteError>>;
    fn delete(
        &self,
        key: Key,
        condition: Option<Condition>,
    ) -> BoxFuture<'_, Result<(), WriteError>>;
    /// All writes or none; at most [`MAX_TRANSACTION_WRITES`], each on another item.
    fn transact(&self, writes: Vec<WriteOp>) -> BoxFuture<'_, Result<(), TransactError>>;
    /// Puts and deletes these items, unconditionally and not atomically (BatchWriteItem: a
    /// write costs half what it costs in a transaction); absent deletes are fine. What the
    /// store leaves unprocessed or throttles is retried with backoff.
    fn write_many(&self, puts: Vec<Item>, deletes: Vec<Key>)
    -> BoxFuture<'_, Result<(), CrmError>>;
}

/// The table domain code reads and writes: a cheap handle on an [`ItemStore`].
#[derive(Clone, Debug)]
pub struct Table(Arc<dyn ItemStore>);

impl Table {
    pub fn new(store: impl ItemStore + 'static) -> Self {
        Self(Arc::new(store))
    }

    /// A table in memory, for tests and tools: the same contract as DynamoDB.
    pub fn in_memory() -> Self {
        Self::new(super::memory::MemoryItemStore::default())
    }

    pub fn store(&self) -> &dyn ItemStore {
        self.0.as_ref()
    }

    /// The item `pk` / `sk`, read consistently.
    pub async fn get(
        &self,
        pk: impl Into<String>,
        sk: impl Into<String>,
    ) -> Result<Option<Item>, CrmError> {
        self.0.get(Key::new(pk, sk), true).await
    }

    /// The item at `key`, decoded.
    pub async fn get_as<T: serde::de::DeserializeOwned>(
        &self,
        key: Key,
    ) -> Result<Option<T>, CrmError> {
        self.0
            .get(key, true)
            .await?
            .map(super::item::from_item)
            .transpose()
    }

    pub async fn batch_get(
        &self,
        keys: Vec<Key>,
        projection: Option<&[&str]>,
    ) -> Result<Vec<Item>, CrmError> {
        self.0
            .batch_get(
                keys,
                projection.map(|p| p.iter().map(|a| a.to_string()).collect()),
            )
            .await
    }

    pub async fn query(&self, query: Query) -> Result<QueryPage, CrmError> {
        self.0.query(query).await
    }

    /// Every item a query reads, page after page: for the bounded per-record reads (one
    /// contact's data, one run's steps, an entity's field definitions).
    pub async fn query_all(&self, query: Query) -> Result<Vec<Item>, CrmError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .0
                .query(Query {
                    start,
                    ..query.clone()
                })
                .await?;
            items.extend(page.items);
            match page.last_key {
                Some(k) => start = Some(k),
                None => return Ok(items),
            }
        }
    }

    /// Writes an item unconditionally.
    pub async fn put(&self, item: Item) -> Result<(), CrmError> {
        self.0.put(item, None).await.map_err(CrmError::from)
    }

    /// Writes an item if `condition` holds.
    /// Writes `item` if it is new (`expected: None`) or its stored `version` is `expected`;
    /// else `PreconditionFailed` (optimistic concurrency for versioned items).
    pub async fn put_versioned(&self, item: Item, expected: Option<u64>) -> Result<(), CrmError> {
        let condition = match expected {
            None => Condition::NotExists,
            Some(v) => Condition::version(v),
        };
        match self.put_if(item, condition).await {
            Ok(()) => Ok(()),
            Err(WriteError::ConditionFailed) => Err(CrmError::PreconditionFailed),
            Err(WriteError::Other(e)) => Err(e),
        }
    }

    pub async fn put_if(&self, item: Item, condition: Condition) -> Result<(), WriteError> {
        self.0.put(item, Some(condition)).await
    }

    pub async fn delete_if(
        &self,
        key: Key,
        condition: Option<Condition>,
    ) -> Result<(), WriteError> {
        self.0.delete(key, condition).await
    }

    pub async fn transact(&self, writes: Vec<WriteOp>) -> Result<(), TransactError> {
        self.0.transact(writes).await
    }

    pub async fn delete_many(&self, keys: Vec<Key>) -> Result<(), CrmError> {
        self.0.write_many(Vec::new(), keys).await
    }

    pub async fn put_many(&self, items: Vec<Item>) -> Result<(), CrmError> {
        self.0.write_many(items, Vec::new()).await
    }

    /// Deletes a lease-holding claim (idempotency key, step effect) that is still
    /// `in_progress`, so that a retry can take it; a finished claim is left alone.
    pub async fn release_claim(&self, key: Key) -> Result<(), CrmError> {
        let in_progress = Condition::eq("state", super::item::s("in_progress"));
        match self.0.delete(key, Some(in_progress)).await {
            Ok(()) | Err(WriteError::ConditionFailed) => Ok(()),
            Err(WriteError::Other(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_resumes_only_in_ranges_not_yet_passed() {
        let r = KeyRange::Prefix("b#".into());
        assert_eq!(r.resume("a#1", false), Resume::FromStart);
        assert_eq!(r.resume("b#1", false), Resume::After);
        assert_eq!(r.resume("c#1", false), Resume::Done);
        assert_eq!(r.resume("c#1", true), Resume::FromStart);
        assert_eq!(r.resume("a#1", true), Resume::Done);
    }
}
