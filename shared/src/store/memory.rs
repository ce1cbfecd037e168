//! The in-memory adapter of [`super::ItemStore`]: DynamoDB's model without the network, for
//! unit tests of the domain rules and for tools. It keeps DynamoDB's semantics where code could
//! come to rely on them, and the contract suite ([`super::contract`]) holds both adapters to
//! them:
//!
//! - sort keys are compared as strings; an index holds only the items that have both of its
//!   key attributes (sparse indexes), ordered by its sort key;
//! - a query that stops at its `Limit` returns a `last_key` even when nothing follows;
//! - a transaction is all or nothing, at most 100 writes on distinct items, and says which of
//!   its writes failed their condition.

use super::item::{Item, Key, text};
use super::port::{
    Condition, INDEXES, ItemStore, MAX_TRANSACTION_WRITES, Query, QueryPage, TransactError,
    WriteError, WriteOp,
};
use crate::CrmError;
use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::BoxFuture;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct MemoryItemStore {
    items: Mutex<BTreeMap<Key, Item>>,
}

impl MemoryItemStore {
    /// Every item, in key order (for tests that look at what was written).
    pub fn snapshot(&self) -> Vec<Item> {
        self.items.lock().expect("lock").values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.items.lock().expect("lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn number(v: &AttributeValue) -> Option<rust_decimal::Decimal> {
    match v {
        AttributeValue::N(n) => n.parse().ok(),
        _ => None,
    }
}

fn compare(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::N(_), AttributeValue::N(_)) => Some(number(a)?.cmp(&number(b)?)),
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.cmp(y)),
        (AttributeValue::Bool(x), AttributeValue::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn holds(condition: &Condition, item: Option<&Item>) -> bool {
    let attr = |a: &str| item.and_then(|i| i.get(a));
    match condition {
        Condition::Exists => item.is_some(),
        Condition::NotExists => item.is_none(),
        Condition::Eq(a, v) => attr(a).is_some_and(|x| compare(x, v) == Some(Ordering::Equal)),
        Condition::Lt(a, v) => attr(a).is_some_and(|x| compare(x, v) == Some(Ordering::Less)),
        Condition::In(a, vs) => {
            attr(a).is_some_and(|x| vs.iter().any(|v| compare(x, v) == Some(Ordering::Equal)))
        }
        Condition::And(cs) => cs.iter().all(|c| holds(c, item)),
        Condition::Or(cs) => cs.iter().any(|c| holds(c, item)),
    }
}

fn project(item: &Item, projection: &Option<Vec<String>>) -> Item {
    match projection {
        None => item.clone(),
        Some(attrs) => item
            .iter()
            .filter(|(k, _)| attrs.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

fn key_of(item: &Item) -> Result<Key, CrmError> {
    Key::of(item).ok_or_else(|| CrmError::Internal("an item without PK and SK".into()))
}

impl MemoryItemStore {
    fn run_query(&self, q: &Query) -> Result<QueryPage, CrmError> {
        if let Some(ix) = q.index {
            if !INDEXES.contains(&ix) {
                return Err(CrmError::Internal(format!("no index {ix}")));
            }
        }
        let (pk_attr, sk_attr) = q.key_attributes();
        let items = self.items.lock().expect("lock");
        // (sort key, table key) of every item of the partition, in the index's order.
        let mut rows: Vec<(String, Key, &Item)> = items
            .iter()
            .filter(|(_, item)| text(item, &pk_attr) == Some(q.pk.as_str()))
            .filter_map(|(k, item)| Some((text(item, &sk_attr)?.to_string(), k.clone(), item)))
            .filter(|(sk, _, _)| q.range.holds(sk))
            .collect();
        rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        if q.descending {
            rows.reverse();
        }
        if let Some(start) = &q.start {
            let position = (
                text(start, &sk_attr).unwrap_or_default().to_string(),
                key_of(start)?,
            );
            rows.retain(|(sk, k, _)| {
                let order = (sk, k).cmp(&(&position.0, &position.1));
                if q.descending {
                    order == Ordering::Less
                } else {
                    order == Ordering::Greater
                }
            });
        }
        let limit = q.limit.map_or(usize::MAX, |l| l.max(1) as usize);
        let taken: Vec<_> = rows.into_iter().take(limit).collect();
        let last_key = (taken.len() == limit).then(|| {
            let (sk, k, _) = taken.last().expect("a full page has a last item");
            let mut last = k.item();
            if q.index.is_some() {
                last.insert(pk_attr.clone(), AttributeValue::S(q.pk.clone()));
                last.insert(sk_attr.clone(), AttributeValue::S(sk.clone()));
            }
            last
        });
        Ok(QueryPage {
            scanned: taken.len(),
            items: taken
                .iter()
                .map(|(_, _, item)| project(item, &q.projection))
                .collect(),
            last_key,
        })
    }

    fn apply(items: &mut BTreeMap<Key, Item>, op: WriteOp) -> Result<(), CrmError> {
        match op {
            WriteOp::Put { item, .. } => {
                items.insert(key_of(&item)?, item);
            }
            WriteOp::Delete { key, .. } => {
                items.remove(&key);
            }
            WriteOp::Check { .. } => {}
            WriteOp::Add { key, add, set } => {
                let item = items.entry(key.clone()).or_insert_with(|| key.item());
                for (name, by) in add {
                    let now = match item.get(&name) {
                        Some(AttributeValue::N(v)) => v
                            .parse::<rust_decimal::Decimal>()
                            .map_err(CrmError::internal)?,
                        _ => rust_decimal::Decimal::ZERO,
                    };
                    let sum = (now + by).normalize();
                    item.insert(name, AttributeValue::N(sum.to_string()));
                }
                item.extend(set);
            }
        }
        Ok(())
    }
}

impl ItemStore for MemoryItemStore {
    fn get(&self, key: Key, _consistent: bool) -> BoxFuture<'_, Result<Option<Item>, CrmError>> {
        let found = self.items.lock().expect("lock").get(&key).cloned();
        Box::pin(async move { Ok(found) })
    }

    fn batch_get(
        &self,
        keys: Vec<Key>,
        projection: Option<Vec<String>>,
    ) -> BoxFuture<'_, Result<Vec<Item>, CrmError>> {
        let items = self.items.lock().expect("lock");
        let found = keys
            .iter()
            .filter_map(|k| items.get(k))
            .map(|i| project(i, &projection))
            .collect();
        Box::pin(async move { Ok(found) })
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<QueryPage, CrmError>> {
        let page = self.run_query(&query);
        Box::pin(async move { page })
    }

    fn put(
        &self,
        item: Item,
        condition: Option<Condition>,
    ) -> BoxFuture<'_, Result<(), WriteError>> {
        let result = (|| {
            let key = key_of(&item).map_err(WriteError::Other)?;
            let mut items = self.items.lock().expect("lock");
            if condition
                .as_ref()
                .is_some_and(|c| !holds(c, items.get(&key)))
            {
                return Err(WriteError::ConditionFailed);
            }
            items.insert(key, item);
            Ok(())
        })();
        Box::pin(async move { result })
    }

    fn delete(
        &self,
        key: Key,
        condition: Option<Condition>,
    ) -> BoxFuture<'_, Result<(), WriteError>> {
        let result = {
            let mut items = self.items.lock().expect("lock");
            if condition
                .as_ref()
                .is_some_and(|c| !holds(c, items.get(&key)))
            {
                Err(WriteError::ConditionFailed)
            } else {
                items.remove(&key);
                Ok(())
            }
        };
        Box::pin(async move { result })
    }

    fn transact(&self, writes: Vec<WriteOp>) -> BoxFuture<'_, Result<(), TransactError>> {
        let result = (|| {
            let invalid = |why: String| Err(TransactError::Other(CrmError::Internal(why)));
            if writes.is_empty() || writes.len() > MAX_TRANSACTION_WRITES {
                return invalid(format!(
                    "a transaction of {} writes (1 to {MAX_TRANSACTION_WRITES})",
                    writes.len()
                ));
            }
            let keys: Vec<Key> = writes
                .iter()
                .map(|w| {
                    w.key()
                        .ok_or_else(|| CrmError::Internal("a write without a key".into()))
                })
                .collect::<Result<_, _>>()
                .map_err(TransactError::Other)?;
            let mut distinct = keys.clone();
            distinct.sort();
            distinct.dedup();
            if distinct.len() != keys.len() {
                // DynamoDB: "Transaction request cannot include multiple operations on one item".
                return invalid("two writes of one transaction on the same item".into());
            }
            let mut items = self.items.lock().expect("lock");
            let codes: Vec<Option<String>> = writes
                .iter()
                .zip(&keys)
                .map(|(w, k)| {
                    let condition = match w {
                        WriteOp::Put { condition, .. } | WriteOp::Delete { condition, .. } => {
                            condition.as_ref()
                        }
                        WriteOp::Check { condition, .. } => Some(condition),
                        WriteOp::Add { .. } => None,
                    };
                    condition
                        .filter(|c| !holds(c, items.get(k)))
                        .map(|_| "ConditionalCheckFailed".to_string())
                })
                .collect();
            if codes.iter().any(Option::is_some) {
                return Err(TransactError::Cancelled(codes));
            }
            for w in writes {
                Self::apply(&mut items, w).map_err(TransactError::Other)?;
            }
            Ok(())
        })();
        Box::pin(async move { result })
    }

    fn write_many(
        &self,
        puts: Vec<Item>,
        deletes: Vec<Key>,
    ) -> BoxFuture<'_, Result<(), CrmError>> {
        let result = (|| {
            let mut items = self.items.lock().expect("lock");
            for item in puts {
                items.insert(key_of(&item)?, item);
            }
            for k in deletes {
                items.remove(&k);
            }
            Ok(())
        })();
        Box::pin(async move { result })
    }
}
