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

/// The size a benchmark loads: `var` from the environment, else `default`.
pub fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A fresh table named `{prefix}-…`, created from the template's definition, on the endpoint
/// in `BENCH_DYNAMODB_URL` (else `AWS_ENDPOINT_URL`): the clients, the table name, the endpoint.
pub async fn fresh_table(prefix: &str) -> (crm_shared::AwsClients, String, String) {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let table_name = format!("{prefix}-{}", &id[id.len() - 12..]);
    let endpoint = std::env::var("BENCH_DYNAMODB_URL")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .expect("set BENCH_DYNAMODB_URL or AWS_ENDPOINT_URL: run `make bench`");
    let aws = crm_local::local_clients(&endpoint, "eu-central-1").await;
    let template = crm_local::template::Template::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"),
    )
    .expect("template.yaml");
    crm_local::provision::create_table_only(&template, &aws, &table_name)
        .await
        .expect("creating the table");
    (aws, table_name, endpoint)
}
