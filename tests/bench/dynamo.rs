//! What the benchmarks do with DynamoDB directly: count what it reports (requests, items
//! read) and load items in batches.

use aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts what DynamoDB reports: requests, and items read (`ScannedCount`, or 1 per GetItem hit).
#[derive(Debug, Default, Clone)]
pub struct ReadMeter {
    requests: Arc<AtomicUsize>,
    items: Arc<AtomicUsize>,
}

impl ReadMeter {
    pub fn take(&self) -> (usize, usize) {
        (
            self.requests.swap(0, Ordering::SeqCst),
            self.items.swap(0, Ordering::SeqCst),
        )
    }
}

impl Intercept for ReadMeter {
    fn name(&self) -> &'static str {
        "ReadMeter"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Ok(output)) = context.inner().output_or_error() {
            if let Some(q) = output.downcast_ref::<QueryOutput>() {
                self.requests.fetch_add(1, Ordering::SeqCst);
                self.items
                    .fetch_add(q.scanned_count().max(0) as usize, Ordering::SeqCst);
            } else if let Some(b) = output.downcast_ref::<BatchGetItemOutput>() {
                self.requests.fetch_add(1, Ordering::SeqCst);
                let n: usize = b.responses().map_or(0, |r| r.values().map(Vec::len).sum());
                self.items.fetch_add(n, Ordering::SeqCst);
            } else if let Some(g) = output.downcast_ref::<GetItemOutput>() {
                self.requests.fetch_add(1, Ordering::SeqCst);
                self.items
                    .fetch_add(usize::from(g.item().is_some()), Ordering::SeqCst);
            }
        }
        Ok(())
    }
}

/// Writes the items (at most 25) with BatchWriteItem, again until none is left unprocessed.
pub async fn write_batch(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    batch: Vec<crm_shared::store::Item>,
) -> usize {
    let n = batch.len();
    let mut requests: Vec<WriteRequest> = batch
        .into_iter()
        .map(|item| {
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build()
        })
        .collect();
    while !requests.is_empty() {
        let out = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .expect("BatchWriteItem");
        requests = out
            .unprocessed_items
            .and_then(|mut u| u.remove(table))
            .unwrap_or_default();
    }
    n
}
