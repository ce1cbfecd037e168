//! Imports under faults: throttling, 500s and `UnprocessedItems` in the middle of a chunk's
//! batch writes; a chunk that fails after part of a batch landed; a processor failing after
//! writing its rows but before recording its progress (the checkpoint's conditional write),
//! or after recording it but before sending the next chunk. Each failed message is delivered
//! again as SQS would, every message once more after it succeeded: the counts are exact, no
//! contact is imported twice and no row is lost.

use super::{Faults, items};
use crm_e2e_tests::{Stack, json};
use import_processor::ImportProcessor;
use std::collections::BTreeSet;
use std::time::Duration;

const ROWS: usize = 150;

/// Chunks of one 20-row batch each (a time budget spent at once), so faults land mid-import.
fn small_chunks(stack: &Stack) -> ImportProcessor {
    let mut processor = ImportProcessor::new(stack.runtime.deps("import-processor").unwrap())
        .expect("the import processor's configuration");
    processor.settings.rows_per_chunk = 40;
    processor.settings.batch_rows = 20;
    processor.settings.window_bytes = 2048;
    processor.settings.time_budget = Duration::ZERO;
    processor
}

/// `ROWS` contacts, every 50th with a broken email: the file and the emails that are good.
fn file() -> (String, BTreeSet<String>) {
    let mut csv = String::from("First name,Last name,Email\n");
    let mut good = BTreeSet::new();
    for i in 0..ROWS {
        let email = if i % 50 == 49 {
            format!("broken-{i}")
        } else {
            let e = format!("row{i}@example.com");
            good.insert(e.clone());
            e
        };
        csv.push_str(&format!("Name{i},Family{i},{email}\n"));
    }
    (csv, good)
}

/// Uploads the file and plans the import (its S3 notification delivered twice): the import's
/// id.
async fn planned(stack: &Stack, processor: &ImportProcessor, admin: &str, csv: &str) -> String {
    let (id, url) = stack.start_import(admin, "faults.csv").await;
    stack.upload_csv(&url, csv).await;
    let mut events = stack.runtime.receive_s3_events().await.unwrap();
    assert_eq!(events.len(), 1, "one ObjectCreated notification");
    let crm_local::S3Delivery { event, receipt, .. } = events.remove(0);
    for _ in 0..2 {
        processor.handle(event.clone()).await.unwrap();
    }
    stack.runtime.ack_s3_event(&receipt).await.unwrap();
    id
}

/// Delivers the import queue's messages until it is empty: a failed message again (as SQS
/// redelivers it), `before_redelivery` run once before the first redelivery, and every
/// message once more after it succeeded. The number of failed deliveries.
async fn drain(
    stack: &Stack,
    processor: &ImportProcessor,
    faults: &Faults,
    also: &[(&str, &str)],
) -> usize {
    let mut failed = 0;
    let mut messages = 0;
    while let Some(batch) = stack
        .runtime
        .receive_sqs_batch("ImportQueue")
        .await
        .unwrap()
    {
        loop {
            let response = processor.handle_chunks(batch.clone()).await;
            if response.batch_item_failures.is_empty() {
                break;
            }
            failed += 1;
            // The crash happened; what comes after runs as usual.
            faults.clear(also).await;
            assert!(failed < 20, "the chunk recovers");
        }
        let again = processor.handle_chunks(batch.clone()).await;
        assert!(again.batch_item_failures.is_empty(), "{again:?}");
        stack
            .runtime
            .ack_sqs_batch("ImportQueue", &batch)
            .await
            .unwrap();
        messages += 1;
        assert!(messages < 100, "the import ends");
    }
    failed
}

/// The import completed with exact counts, and the tenant holds each good row's contact once.
async fn assert_exact(stack: &Stack, admin: &str, id: &str, good: &BTreeSet<String>) {
    let import = stack.get(&format!("/imports/{id}"), admin).await.body;
    assert_eq!(import["status"], "completed", "{import}");
    let bad = (ROWS - good.len()) as u64;
    assert_eq!(
        (
            import["rows"].as_u64(),
            import["created"].as_u64(),
            import["failed"].as_u64(),
            import["skipped"].as_u64()
        ),
        (
            Some(ROWS as u64),
            Some(good.len() as u64),
            Some(bad),
            Some(0)
        ),
        "{import}"
    );
    let contacts = stack.list_all("/contacts?limit=200", admin).await;
    let emails: Vec<String> = contacts
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(emails.len(), good.len(), "no contact twice, none lost");
    assert_eq!(emails.into_iter().collect::<BTreeSet<_>>(), *good);
    // One record item, one email claim and one DONE marker per imported row, nothing more.
    let all = items(stack).await;
    let count = |f: &dyn Fn(&(String, String)) -> bool| all.iter().filter(|k| f(k)).count();
    assert_eq!(count(&|(_, sk)| sk == "CONTACT"), good.len());
    assert_eq!(count(&|(pk, _)| pk.contains("#EMAIL#")), good.len());
    assert_eq!(count(&|(_, sk)| sk.starts_with("DONE#")), good.len());
}

/// Throttling, 500s and UnprocessedItems on the chunks' BatchWriteItem calls: absorbed by the
/// SDK's retries and the batch writer's backoff; no chunk fails.
#[tokio::test]
async fn i14_5_throttling_500s_and_unprocessed_items_mid_chunk_are_absorbed() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let processor = small_chunks(&stack);
    let faults = Faults::new(&stack);
    let (csv, good) = file();
    let id = planned(&stack, &processor, &admin, &csv).await;
    faults
        .dynamodb(json!({"operations": ["BatchWriteItem"], "throttle": 8, "server_error": 8, "unprocessed": 8}))
        .await;
    let fired_before_drain = faults.fired("dynamodb", None).await;
    assert_eq!(fired_before_drain["throttle"], 0);
    assert_eq!(
        drain(&stack, &processor, &faults, &[]).await,
        0,
        "no chunk failed"
    );
    let fired = faults.fired("dynamodb", None).await;
    assert_eq!(
        (
            &fired["throttle"],
            &fired["server_error"],
            &fired["unprocessed"]
        ),
        (&json!(8), &json!(8), &json!(8)),
        "{fired}"
    );
    faults.clear(&[]).await;
    assert_exact(&stack, &admin, &id, &good).await;
}

/// A chunk whose batch write half landed (UnprocessedItems) and then failed for good (500s
/// past every retry): the message fails, its redelivery writes the same rows again with the
/// same ids.
#[tokio::test]
async fn i14_5_a_chunk_failing_after_a_partial_batch_write_is_redelivered_without_duplicates() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let processor = small_chunks(&stack);
    let faults = Faults::new(&stack);
    let (csv, good) = file();
    let id = planned(&stack, &processor, &admin, &csv).await;
    faults
        .dynamodb(json!({"operations": ["BatchWriteItem"], "unprocessed": 1}))
        .await;
    faults
        .dynamodb(json!({"operations": ["BatchWriteItem"], "server_error": 100000}))
        .await;
    let before = items(&stack).await.len();
    assert_eq!(
        drain(&stack, &processor, &faults, &[]).await,
        1,
        "one delivery failed"
    );
    assert!(items(&stack).await.len() > before);
    assert_exact(&stack, &admin, &id, &good).await;
}

/// The processor fails after writing a chunk's rows but before its progress is recorded (the
/// import's conditional write fails on every attempt), and once after recording it but
/// before the next chunk is sent (SQS fails on every attempt): each redelivery finds the rows
/// written or the checkpoint moved, and goes on.
#[tokio::test]
async fn i14_5_a_crash_between_rows_and_progress_or_progress_and_the_next_chunk_loses_nothing() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let processor = small_chunks(&stack);
    let faults = Faults::new(&stack);
    let (csv, good) = file();
    let id = planned(&stack, &processor, &admin, &csv).await;
    // The import item's own write: its SK is exactly "IMPORT".
    faults
        .dynamodb(
            json!({"operations": ["PutItem"], "match": "{\"S\":\"IMPORT\"}", "server_error": 4}),
        )
        .await;
    assert_eq!(drain(&stack, &processor, &faults, &[]).await, 1);
    assert_eq!(faults.fired("dynamodb", None).await["server_error"], 4);
    assert_exact(&stack, &admin, &id, &good).await;

    // Again, a fresh import of other rows, with the next chunk's send failing.
    let csv2 = csv.replace("@example.com", "@example.org");
    let good2: BTreeSet<String> = good.iter().map(|e| e.replace(".com", ".org")).collect();
    let id2 = planned(&stack, &processor, &admin, &csv2).await;
    let queue = stack.runtime.provisioned.resolved.refs["ImportQueue"].clone();
    let rule = json!({"operations": ["SendMessage"], "match": queue, "server_error": 3});
    faults.service("sqs", rule).await;
    let also = [("sqs", queue.as_str())];
    assert_eq!(drain(&stack, &processor, &faults, &also).await, 1);
    let import = stack.get(&format!("/imports/{id2}"), &admin).await.body;
    assert_eq!(import["status"], "completed", "{import}");
    assert_eq!(import["created"].as_u64(), Some(good2.len() as u64));
    let contacts = stack.list_all("/contacts?limit=200", &admin).await;
    assert_eq!(
        contacts.len(),
        good.len() + good2.len(),
        "no contact twice, none lost"
    );
    faults.clear(&also).await;
}
