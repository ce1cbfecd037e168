//! The contact observer's feed (S7.3) and the sweep's schedule (S7.4) through the local runtime's
//! emulation of AWS: the table's DynamoDB stream delivered to `workflow-triggers` as Lambda's
//! event source mapping would (filtered to contacts, deals and activities), and the rate
//! schedule that invokes the step executor's sweep every minute.

use super::contact;
use crm_e2e_tests::{Stack, json};
use serde_json::Value;

/// The `entity` of a delivered record's item (new image, else old).
fn entity(record: &Value) -> &str {
    let d = &record["dynamodb"];
    d["NewImage"]["entity"]["S"]
        .as_str()
        .or(d["OldImage"]["entity"]["S"].as_str())
        .unwrap_or("")
}

/// A contact created through the API reaches the observer as an INSERT with its item; the
/// contact's other items (audit entry, unique-email claim, index entries) are filtered out; a
/// second delivery has nothing new.
#[tokio::test]
async fn s7_3_a_created_contact_reaches_the_observer_through_the_stream() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = contact(&stack, &admin, "ada@example.com").await;

    let report = stack
        .runtime
        .deliver_streams()
        .await
        .expect("stream delivery");
    assert!(!report.delivered.is_empty());
    let entities: Vec<&str> = report.delivered.iter().map(entity).collect();
    assert!(
        entities
            .iter()
            .all(|e| ["contact", "deal", "activity"].contains(e)),
        "only contacts, deals and activities reach the observer: {entities:?}"
    );
    assert!(
        report.filtered_out > 0,
        "the contact's other items are filtered out"
    );
    assert_eq!(report.discarded, 0);

    let created = report
        .delivered
        .iter()
        .find(|r| r["eventName"] == "INSERT" && entity(r) == "contact")
        .expect("the contact's INSERT");
    let pk = created["dynamodb"]["Keys"]["PK"]["S"].as_str().unwrap();
    assert!(pk.starts_with("T#acme#") && pk.ends_with(&id), "{pk}");
    assert_eq!(
        created["dynamodb"]["NewImage"]["PK"],
        created["dynamodb"]["Keys"]["PK"]
    );
    assert!(created["dynamodb"].get("OldImage").is_none());
    assert_eq!(created["eventSource"], "aws:dynamodb");
    assert_eq!(
        created["eventSourceARN"].as_str(),
        stack
            .runtime
            .provisioned
            .resolved
            .arns
            .get("CrmTable.StreamArn")
            .map(String::as_str)
    );
    // Exactly what Lambda sends: the handler's event type reads it.
    let record: aws_lambda_events::event::dynamodb::EventRecord =
        serde_json::from_value(created.clone()).expect("a DynamoDB stream record");
    let change = workflow_triggers::item_change(record).expect("an item change");
    assert_eq!(
        change.kind,
        crm_shared::workflows::observe::ChangeKind::Insert
    );
    assert!(change.old.is_none() && change.new.is_some());

    assert_eq!(stack.runtime.deliver_stream_records().await.unwrap(), 0);
}

/// The sweep's rate schedule fires one minute after the runtime started, once per minute: it
/// invokes the step executor with `{"sweep": {}}` (S7.4).
#[tokio::test]
async fn s7_4_the_sweep_schedule_fires_once_a_period() {
    let stack = Stack::start().await;
    let now = chrono::Utc::now();
    assert_eq!(
        stack.runtime.fire_rate_schedules(now).await.unwrap(),
        Vec::<String>::new(),
        "not before a minute has passed"
    );
    let later = now + chrono::TimeDelta::seconds(61);
    assert_eq!(
        stack.runtime.fire_rate_schedules(later).await.unwrap(),
        ["StepSweepSchedule"]
    );
    assert_eq!(
        stack.runtime.fire_rate_schedules(later).await.unwrap(),
        Vec::<String>::new(),
        "not twice for the same time"
    );
    // The schedule's input is the step executor's sweep: it answers with the sweep's report.
    let answer = stack
        .runtime
        .functions
        .invoke_event("step-executor", json!({"sweep": {}}))
        .await
        .expect("the step executor takes events")
        .expect("a sweep");
    assert!(
        answer["overdue"].is_u64() && answer["redispatched"].is_u64(),
        "{answer}"
    );
}
