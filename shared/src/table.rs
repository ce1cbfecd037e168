//! The one DynamoDB table. Key design (every key starts with the tenant):
//!
//! | item                 | PK                              | SK            | GSI1PK / GSI1SK                  | GSI2PK / GSI2SK |
//! |----------------------|---------------------------------|---------------|----------------------------------|-----------------|
//! | contact              | `T#{t}#CONTACT#{id}`            | `CONTACT`     | `T#{t}#CONTACTS` / `{id}`        | –               |
//! | email uniqueness     | `T#{t}#EMAIL#{email}`           | `EMAIL`       | –                                | –               |
//! | import               | `T#{t}#IMPORT#{id}`             | `IMPORT`      | `T#{t}#IMPORTS` / `{id}`         | –               |
//! | import row outcome   | `T#{t}#IMPORT#{id}`             | `ROW#{n:08}`  | –                                | –               |
//! | workflow             | `T#{t}#WORKFLOW#{id}`           | `WORKFLOW`    | `T#{t}#WORKFLOWS` / `{id}`       | –               |
//! | workflow run         | `T#{t}#RUN#{id}`                | `RUN`         | `T#{t}#WORKFLOW#{wf}#RUNS` / `{id}` | `T#{t}#CONTACT#{c}#RUNS` / `{id}` |
//! | step effect marker   | `T#{t}#RUN#{id}`                | `EFFECT#{n:04}` | –                              | –               |
//! | idempotency record   | `T#{t}#IDEMPOTENCY#{key}`       | `IDEMPOTENCY` | –                                | –               |
//! | custom field def / group | `T#{t}#CFDEF`               | `F#{entity}#{key}` / `G#…` | –                     | –               |
//! | custom field value entry | `T#{t}#CF#{entity}#{key}#{shard}` | `{term}#{id}` | –                        | –               |
//!
//! Ids are UUIDv7, so a GSI1SK of `{id}` sorts by creation time.

use crate::CrmError;
use crate::errors::sdk_error;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

pub const GSI1: &str = "GSI1";
pub const GSI2: &str = "GSI2";

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Primary key of an item.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("PK".to_string(), s(pk)), ("SK".to_string(), s(sk))])
}

/// Serialises a record and adds its keys.
pub fn to_item<T: serde::Serialize>(record: &T, keys: Item) -> Result<Item, CrmError> {
    let mut item: Item = serde_dynamo::to_item(record).map_err(CrmError::internal)?;
    item.extend(keys);
    Ok(item)
}

/// A list-of-strings attribute (`None` when absent or of another type).
pub fn string_list(item: &Item, name: &str) -> Option<Vec<String>> {
    match item.get(name) {
        Some(AttributeValue::L(l)) => Some(
            l.iter()
                .filter_map(|v| match v {
                    AttributeValue::S(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    }
}

pub fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, CrmError> {
    serde_dynamo::from_item(item).map_err(CrmError::internal)
}

#[derive(Clone, Debug)]
pub struct Table {
    pub client: aws_sdk_dynamodb::Client,
    pub name: String,
    /// The same table behind the storage port, for the code that moved onto it.
    store: crate::store::Table,
}

/// One page of a query: the items and the key to continue from.
pub struct QueryPage {
    pub items: Vec<Item>,
    pub last_key: Option<Item>,
}

impl QueryPage {
    /// The page's items as records.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, CrmError> {
        self.items.iter().cloned().map(from_item).collect()
    }
}

impl Table {
    pub fn new(client: aws_sdk_dynamodb::Client, name: String) -> Self {
        let store = crate::store::Table::new(crate::store::dynamo::DynamoItemStore::new(
            client.clone(),
            name.clone(),
        ));
        Self {
            client,
            name,
            store,
        }
    }

    /// The table behind the storage port.
    pub fn store(&self) -> crate::store::Table {
        self.store.clone()
    }

    pub async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, CrmError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(out.item)
    }

    /// Writes an item unconditionally.
    pub async fn put(&self, item: Item, what: &str) -> Result<(), CrmError> {
        self.client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error(what, e))?;
        Ok(())
    }

    /// One page of a partition: of the table (`index` None, key `PK`/`SK`) or of an index
    /// (`GSI1` → `GSI1PK`/`GSI1SK`), optionally only the sort keys starting with `sk_prefix`.
    pub async fn query_page(
        &self,
        index: Option<&str>,
        pk: String,
        sk_prefix: Option<&str>,
        newest_first: bool,
        limit: i32,
        start: Option<Item>,
    ) -> Result<QueryPage, CrmError> {
        let key_prefix = index.unwrap_or("");
        let mut query = self
            .client
            .query()
            .table_name(&self.name)
            .set_index_name(index.map(str::to_string))
            .expression_attribute_names("#pk", format!("{key_prefix}PK"))
            .expression_attribute_values(":pk", s(pk))
            .scan_index_forward(!newest_first)
            .limit(limit)
            .set_exclusive_start_key(start)
            // Index reads are eventually consistent; the table's own partition reads are not.
            .consistent_read(index.is_none());
        query = match sk_prefix {
            None => query.key_condition_expression("#pk = :pk"),
            Some(prefix) => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", format!("{key_prefix}SK"))
                .expression_attribute_values(":prefix", s(prefix)),
        };
        let out = query.send().await.map_err(|e| sdk_error("Query", e))?;
        Ok(QueryPage {
            items: out.items.unwrap_or_default(),
            last_key: out.last_evaluated_key,
        })
    }
}

impl Table {
    /// A transaction item that creates `item` only if no item has its key yet.
    pub fn put_if_absent(
        &self,
        item: Item,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, CrmError> {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(CrmError::internal)?;
        Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .put(put)
            .build())
    }

    /// Deletes a lease-holding claim (idempotency key, step effect) that is still
    /// `in_progress`, so that a retry can take it; a finished claim is left alone.
    pub async fn release_claim(&self, key: Item, what: &str) -> Result<(), CrmError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.name)
            .set_key(Some(key))
            .condition_expression("#state = :in_progress")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":in_progress", s("in_progress"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(sdk_error(what, e)),
        }
    }
}

impl Table {
    /// Deletes the items with these keys, 25 per BatchWriteItem (the AWS limit), retrying
    /// what DynamoDB leaves unprocessed. Deleting an absent item is not an error.
    pub async fn delete_all(&self, keys: Vec<Item>) -> Result<(), CrmError> {
        use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
        for chunk in keys.chunks(25) {
            let mut requests = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder()
                        .set_key(Some(k.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(CrmError::internal)
                })
                .collect::<Result<Vec<_>, _>>()?;
            for attempt in 0..8 {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.name, requests)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchWriteItem", e))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.name))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt == 7 {
                    return Err(CrmError::Internal(
                        "BatchWriteItem left items unprocessed".into(),
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
        }
        Ok(())
    }

    /// Every item of a partition (optionally only sort keys with a prefix), for the bounded
    /// per-record reads: one contact's data, one run's steps.
    pub async fn query_all(
        &self,
        index: Option<&str>,
        pk: String,
        sk_prefix: Option<&str>,
    ) -> Result<Vec<Item>, CrmError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .query_page(index, pk.clone(), sk_prefix, false, 500, start)
                .await?;
            items.extend(page.items);
            match page.last_key {
                Some(k) => start = Some(k),
                None => return Ok(items),
            }
        }
    }
}

/// The primary key of an item read from the table or an index.
pub fn primary_key(item: &Item) -> Item {
    item.iter()
        .filter(|(k, _)| *k == "PK" || *k == "SK")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// True when a write failed only because its condition did not hold.
pub fn is_condition_failed<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|se| se.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

/// For a cancelled transaction: the cancellation code of each of its items, in order.
pub fn cancellation_codes(
    e: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
    >,
) -> Option<Vec<Option<String>>> {
    match e.as_service_error()? {
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(
            c.cancellation_reasons()
                .iter()
                .map(|r| r.code().filter(|c| *c != "None").map(str::to_string))
                .collect(),
        ),
        _ => None,
    }
}
