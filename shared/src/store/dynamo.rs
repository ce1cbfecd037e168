//! The DynamoDB adapter of [`super::ItemStore`]: one table, through the AWS SDK.

use super::item::{Item, Key};
use super::port::{
    Condition, ItemStore, KeyRange, MAX_TRANSACTION_WRITES, Query, QueryPage, TransactError,
    WriteError, WriteOp,
};
use crate::CrmError;
use crate::errors::sdk_error;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, KeysAndAttributes, Put, PutRequest,
    TransactWriteItem, Update, WriteRequest,
};
use futures::StreamExt;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct DynamoItemStore {
    client: crate::sdk_client::SdkClient<aws_sdk_dynamodb::Client>,
    table: String,
}

impl DynamoItemStore {
    /// `client`: a built client or a handle built on first use.
    pub fn new(
        client: impl Into<crate::sdk_client::SdkClient<aws_sdk_dynamodb::Client>>,
        table: impl Into<String>,
    ) -> Self {
        Self {
            client: client.into(),
            table: table.into(),
        }
    }
}

/// Setting a write's condition on the SDK's builders, which share the three setters but no
/// trait.
trait Conditional: Sized {
    fn set_condition(self, condition: Option<&Condition>) -> Self;
}

macro_rules! conditional {
    ($($builder:ty),*) => {$(
        impl Conditional for $builder {
            fn set_condition(self, condition: Option<&Condition>) -> Self {
                let (text, e) = Expression::of(condition);
                self.set_condition_expression(text)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
            }
        }
    )*};
}

conditional!(
    aws_sdk_dynamodb::types::builders::PutBuilder,
    aws_sdk_dynamodb::types::builders::DeleteBuilder,
    aws_sdk_dynamodb::types::builders::ConditionCheckBuilder,
    aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder,
    aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder
);

/// A condition as an expression with its placeholder names and values.
#[derive(Default)]
struct Expression {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expression {
    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#a{}", self.names.len());
        self.names
            .insert(placeholder.clone(), attribute.to_string());
        placeholder
    }

    fn value(&mut self, v: &AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), v.clone());
        placeholder
    }

    fn render(&mut self, c: &Condition) -> String {
        match c {
            Condition::Exists => format!("attribute_exists({})", self.name("PK")),
            Condition::NotExists => format!("attribute_not_exists({})", self.name("PK")),
            Condition::Eq(a, v) => format!("{} = {}", self.name(a), self.value(v)),
            Condition::Lt(a, v) => format!("{} < {}", self.name(a), self.value(v)),
            Condition::In(a, vs) => {
                let name = self.name(a);
                let values: Vec<String> = vs.iter().map(|v| self.value(v)).collect();
                format!("{name} IN ({})", values.join(", "))
            }
            Condition::And(cs) => self.join(cs, " AND "),
            Condition::Or(cs) => self.join(cs, " OR "),
        }
    }

    fn join(&mut self, cs: &[Condition], op: &str) -> String {
        let parts: Vec<String> = cs.iter().map(|c| format!("({})", self.render(c))).collect();
        parts.join(op)
    }

    fn of(condition: Option<&Condition>) -> (Option<String>, Self) {
        let mut e = Self::default();
        let text = condition.map(|c| e.render(c));
        (text, e)
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

fn is_condition_failed<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|se| se.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

impl DynamoItemStore {
    async fn do_query(&self, q: Query) -> Result<QueryPage, CrmError> {
        // A range whose start sorts after its end holds nothing; DynamoDB would refuse the
        // key condition (ValidationException) rather than answer empty.
        if let KeyRange::Between(lo, hi) = &q.range {
            if lo > hi {
                return Ok(QueryPage {
                    items: Vec::new(),
                    last_key: None,
                    scanned: 0,
                });
            }
        }
        let (pk_attr, sk_attr) = q.key_attributes();
        let mut names = HashMap::from([("#pk".to_string(), pk_attr)]);
        let mut values = HashMap::from([(":pk".to_string(), AttributeValue::S(q.pk.clone()))]);
        let key_condition = match &q.range {
            KeyRange::All => "#pk = :pk".to_string(),
            KeyRange::Prefix(p) => {
                names.insert("#sk".into(), sk_attr);
                values.insert(":p".into(), AttributeValue::S(p.clone()));
                "#pk = :pk AND begins_with(#sk, :p)".to_string()
            }
            KeyRange::Between(lo, hi) => {
                names.insert("#sk".into(), sk_attr);
                values.insert(":lo".into(), AttributeValue::S(lo.clone()));
                values.insert(":hi".into(), AttributeValue::S(hi.clone()));
                "#pk = :pk AND #sk BETWEEN :lo AND :hi".to_string()
            }
        };
        let projection = q.projection.as_ref().map(|attrs| {
            attrs
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let placeholder = format!("#p{i}");
                    names.insert(placeholder.clone(), a.clone());
                    placeholder
                })
                .collect::<Vec<_>>()
                .join(", ")
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.map(str::to_string))
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .set_projection_expression(projection)
            .scan_index_forward(!q.descending)
            .set_limit(q.limit.map(|l| l.max(1)))
            .set_exclusive_start_key(q.start)
            .consistent_read(q.consistent && q.index.is_none())
            .send()
            .await
            .map_err(|e| dynamo_error("Query", e))?;
        Ok(QueryPage {
            scanned: out.scanned_count().max(0) as usize,
            items: out.items.unwrap_or_default(),
            last_key: out.last_evaluated_key,
        })
    }

    fn transact_item(&self, op: WriteOp) -> Result<TransactWriteItem, CrmError> {
        Ok(match op {
            WriteOp::Put { item, condition } => {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .set_condition(condition.as_ref())
                    .build()
                    .map_err(CrmError::internal)?;
                TransactWriteItem::builder().put(put).build()
            }
            WriteOp::Delete { key, condition } => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key.item()))
                    .set_condition(condition.as_ref())
                    .build()
                    .map_err(CrmError::internal)?;
                TransactWriteItem::builder().delete(delete).build()
            }
            WriteOp::Check { key, condition } => {
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key.item()))
                    .set_condition(Some(&condition))
                    .build()
                    .map_err(CrmError::internal)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
            WriteOp::Add { key, add, set } => {
                let mut names = HashMap::new();
                let mut values = HashMap::new();
                let mut adds = Vec::new();
                for (i, (name, by)) in add.into_iter().enumerate() {
                    names.insert(format!("#a{i}"), name);
                    values.insert(
                        format!(":a{i}"),
                        AttributeValue::N(by.normalize().to_string()),
                    );
                    adds.push(format!("#a{i} :a{i}"));
                }
                let mut sets = Vec::new();
                for (i, (name, value)) in set.into_iter().enumerate() {
                    names.insert(format!("#s{i}"), name);
                    values.insert(format!(":s{i}"), value);
                    sets.push(format!("#s{i} = :s{i}"));
                }
                let mut clauses = Vec::new();
                if !adds.is_empty() {
                    clauses.push(format!("ADD {}", adds.join(", ")));
                }
                if !sets.is_empty() {
                    clauses.push(format!("SET {}", sets.join(", ")));
                }
                let expression = clauses.join(" ");
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key.item()))
                    .update_expression(expression)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(Some(values))
                    .build()
                    .map_err(CrmError::internal)?;
                TransactWriteItem::builder().update(update).build()
            }
        })
    }
}

/// A conditional write's outcome: a failed condition is the caller's to interpret.
fn conditional_write<T, E, R>(
    op: &str,
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<(), WriteError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_condition_failed(&e) => Err(WriteError::ConditionFailed),
        Err(e) => Err(WriteError::Other(dynamo_error(op, e))),
    }
}

impl ItemStore for DynamoItemStore {
    fn get(&self, key: Key, consistent: bool) -> BoxFuture<'_, Result<Option<Item>, CrmError>> {
        Box::pin(async move {
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key.item()))
                .consistent_read(consistent)
                .send()
                .await
                .map_err(|e| dynamo_error("GetItem", e))?;
            Ok(out.item)
        })
    }

    fn batch_get(
        &self,
        keys: Vec<Key>,
        projection: Option<Vec<String>>,
    ) -> BoxFuture<'_, Result<Vec<Item>, CrmError>> {
        Box::pin(async move {
            let mut found = Vec::new();
            // BatchGetItem takes 100 keys a call.
            for chunk in keys.chunks(100) {
                let mut names = HashMap::new();
                let projection_text = projection.as_ref().map(|attrs| {
                    attrs
                        .iter()
                        .enumerate()
                        .map(|(i, a)| {
                            names.insert(format!("#p{i}"), a.clone());
                            format!("#p{i}")
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                let mut request = Some(
                    KeysAndAttributes::builder()
                        .set_keys(Some(chunk.iter().map(Key::item).collect()))
                        .set_projection_expression(projection_text)
                        .set_expression_attribute_names((!names.is_empty()).then_some(names))
                        .build()
                        .map_err(CrmError::internal)?,
                );
                for attempt in 0..8 {
                    let Some(req) = request.take() else { break };
                    let out = self
                        .client
                        .batch_get_item()
                        .request_items(&self.table, req)
                        .send()
                        .await
                        .map_err(|e| dynamo_error("BatchGetItem", e))?;
                    found.extend(
                        out.responses
                            .and_then(|mut r| r.remove(&self.table))
                            .unwrap_or_default(),
                    );
                    request = out
                        .unprocessed_keys
                        .and_then(|mut u| u.remove(&self.table))
                        .filter(|k| !k.keys().is_empty());
                    if request.is_some() {
                        if attempt == 7 {
                            return Err(CrmError::Internal(
                                "BatchGetItem left keys unprocessed".into(),
                            ));
                        }
                        tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                    }
                }
            }
            Ok(found)
        })
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<QueryPage, CrmError>> {
        Box::pin(self.do_query(query))
    }

    fn put(
        &self,
        item: Item,
        condition: Option<Condition>,
    ) -> BoxFuture<'_, Result<(), WriteError>> {
        Box::pin(async move {
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .set_condition(condition.as_ref())
                .send()
                .await;
            conditional_write("PutItem", result)
        })
    }

    fn delete(
        &self,
        key: Key,
        condition: Option<Condition>,
    ) -> BoxFuture<'_, Result<(), WriteError>> {
        Box::pin(async move {
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key.item()))
                .set_condition(condition.as_ref())
                .send()
                .await;
            conditional_write("DeleteItem", result)
        })
    }

    fn transact(&self, writes: Vec<WriteOp>) -> BoxFuture<'_, Result<(), TransactError>> {
        Box::pin(async move {
            if writes.len() > MAX_TRANSACTION_WRITES {
                return Err(TransactError::Other(CrmError::Internal(format!(
                    "a transaction of {} writes (at most {MAX_TRANSACTION_WRITES})",
                    writes.len()
                ))));
            }
            let items = writes
                .into_iter()
                .map(|w| self.transact_item(w))
                .collect::<Result<Vec<_>, _>>()
                .map_err(TransactError::Other)?;
            // One token for every send of this transaction, so that a send after one still
            // under way (TransactionInProgressException, once the SDK's quick retries are
            // spent) is the same transaction: it lands once, and a repeat after it landed
            // succeeds without writing (AWS keeps the token 10 minutes).
            let token = uuid::Uuid::now_v7().to_string();
            let mut resends = IN_PROGRESS_WAITS.iter();
            let result = loop {
                let result = self
                    .client
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
                    .client_request_token(&token)
                    .send()
                    .await;
                let in_progress = result.as_ref().err().is_some_and(|e| {
                    e.as_service_error()
                        .is_some_and(|se| se.is_transaction_in_progress_exception())
                });
                match resends.next() {
                    Some(wait) if in_progress => tokio::time::sleep(*wait).await,
                    _ => break result,
                }
            };
            match result {
                Ok(_) => Ok(()),
                Err(e) => {
                    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                    match e.as_service_error() {
                        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                            let codes: Vec<Option<String>> = c
                                .cancellation_reasons()
                                .iter()
                                .map(|r| r.code().filter(|c| *c != "None").map(str::to_string))
                                .collect();
                            // Cancelled for throttling alone: nothing was written; retry later.
                            let throttled = codes.iter().flatten().any(|c| c == "ThrottlingError")
                                && codes
                                    .iter()
                                    .flatten()
                                    .all(|c| c != "ConditionalCheckFailed");
                            if throttled {
                                return Err(TransactError::Other(unavailable(
                                    "TransactWriteItems cancelled: throttled",
                                )));
                            }
                            Err(TransactError::Cancelled(codes))
                        }
                        _ => Err(TransactError::Other(dynamo_error("TransactWriteItems", e))),
                    }
                }
            }
        })
    }

    fn write_many(
        &self,
        puts: Vec<Item>,
        deletes: Vec<Key>,
    ) -> BoxFuture<'_, Result<(), CrmError>> {
        Box::pin(async move {
            let mut requests = Vec::with_capacity(puts.len() + deletes.len());
            for item in puts {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(CrmError::internal)?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
            for k in deletes {
                let delete = DeleteRequest::builder()
                    .set_key(Some(k.item()))
                    .build()
                    .map_err(CrmError::internal)?;
                requests.push(WriteRequest::builder().delete_request(delete).build());
            }
            // 25 per BatchWriteItem (the AWS limit), several in flight.
            let batches: Vec<Vec<WriteRequest>> =
                requests.chunks(25).map(<[WriteRequest]>::to_vec).collect();
            futures::stream::iter(batches)
                .map(|batch| self.batch_write(batch))
                .buffer_unordered(BATCHES_IN_FLIGHT)
                .collect::<Vec<Result<(), CrmError>>>()
                .await
                .into_iter()
                .collect()
        })
    }
}

/// BatchWriteItem requests of one `write_many` in flight at once.
const BATCHES_IN_FLIGHT: usize = 8;
/// Attempts of one batch (unprocessed items and throttling), and the first backoff.
const BATCH_ATTEMPTS: u32 = 10;
const BATCH_BACKOFF: Duration = Duration::from_millis(25);

impl DynamoItemStore {
    /// One BatchWriteItem of at most 25 writes, until DynamoDB has processed all of them:
    /// `UnprocessedItems` and throttling are retried with exponential backoff and full jitter
    /// (AWS's advice for batch writes), up to [`BATCH_ATTEMPTS`].
    async fn batch_write(&self, mut requests: Vec<WriteRequest>) -> Result<(), CrmError> {
        for attempt in 0..BATCH_ATTEMPTS {
            let result = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests.clone())
                .send()
                .await;
            match result {
                Ok(out) => {
                    requests = out
                        .unprocessed_items
                        .and_then(|mut u| u.remove(&self.table))
                        .unwrap_or_default();
                    if requests.is_empty() {
                        return Ok(());
                    }
                }
                Err(e) if is_throttling(&e) => {}
                Err(e) => return Err(sdk_error("BatchWriteItem", e)),
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(CrmError::Internal(format!(
            "BatchWriteItem left {} writes unprocessed after {BATCH_ATTEMPTS} attempts",
            requests.len()
        )))
    }
}

/// What the caller is told when DynamoDB still throttles once the SDK's retries
/// (`aws_policy::DYNAMODB`) are spent: nothing was written, try again in a second.
fn unavailable(detail: impl Into<String>) -> CrmError {
    CrmError::Unavailable {
        detail: detail.into(),
        retry_after_secs: RETRY_AFTER_SECS,
    }
}

/// `Retry-After` for a throttled request: DynamoDB's capacity adapts within seconds.
const RETRY_AFTER_SECS: u64 = 1;
/// The waits before a transaction is sent again while AWS still runs an earlier send of it:
/// the SDK retries TransactionInProgressException as throttling, but its retries (50 ms up to
/// 1 s) are spent within a second, and AWS advises retrying for more than 5 s after the first
/// attempt. The waits add at most 3.5 s; an in-progress answer itself comes at once.
const IN_PROGRESS_WAITS: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// An SDK error of a DynamoDB call: throttling that outlasted the SDK's retries is
/// [`CrmError::Unavailable`] (503 with Retry-After; a throttled request wrote nothing), any
/// other failure (500s, timeouts: their writes may or may not have landed) is internal.
fn dynamo_error<E, R>(op: &str, e: aws_sdk_dynamodb::error::SdkError<E, R>) -> CrmError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let throttled = e
        .as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| {
            matches!(
                c,
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
            )
        });
    if throttled {
        tracing::warn!(operation = op, "DynamoDB throttled after the SDK's retries");
        return unavailable(format!("{op}: throttled; retry shortly"));
    }
    sdk_error(op, e)
}

/// A throttled request (the SDK's own retries already spent): worth another try later.
fn is_throttling<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| {
            matches!(
                c,
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
            )
        })
}

/// Exponential backoff with full jitter: a random wait below 25 ms × 2^attempt (capped at 5 s).
fn backoff(attempt: u32) -> Duration {
    let cap = (BATCH_BACKOFF * 2u32.pow(attempt.min(8))).min(Duration::from_secs(5));
    let jitter = (uuid::Uuid::now_v7().as_u128() % 1000) as u32; // its low bits are random
    cap * jitter / 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::item::{n, s};

    #[test]
    fn conditions_render_with_placeholders() {
        let c = Condition::Or(vec![
            Condition::NotExists,
            Condition::And(vec![
                Condition::eq("state", s("in_progress")),
                Condition::Lt("lease_until".into(), n(5)),
            ]),
        ]);
        let (text, e) = Expression::of(Some(&c));
        assert_eq!(
            text.as_deref(),
            Some("(attribute_not_exists(#a0)) OR ((#a1 = :v0) AND (#a2 < :v1))")
        );
        assert_eq!(e.names["#a2"], "lease_until");
        assert_eq!(e.values[":v1"], n(5));
        let (text, _) = Expression::of(Some(&Condition::In("status".into(), vec![s("a"), s("b")])));
        assert_eq!(text.as_deref(), Some("#a0 IN (:v0, :v1)"));
    }
}
