//! The step executor under faults: SES failing (throttled, then 500s past the SDK's retries),
//! the run's conditional write failing or timing out after the email was sent and the tag
//! added, EventBridge Scheduler failing to create a wait's schedule; each step message
//! delivered again after its failure and once more after it succeeded. One email, one tag
//! change, one schedule; the run advances once.

use super::Faults;
use crm_e2e_tests::{Stack, json};
use serde_json::Value;

/// Alice (admin, in the directory), a contact with a per-test address: (token, contact id,
/// address).
async fn setup(stack: &Stack) -> (String, String, String) {
    let admin = stack.token("acme", "alice", "admin");
    let me = json!({"role": "admin", "name": "Alice Admin", "email": format!("alice-{}@example.com", stack.prefix)});
    stack.put_user(&admin, "alice", me).await;
    let address = format!("ada-{}@example.com", stack.prefix);
    let contact = stack
        .create_contact(&admin, json!({"first_name": "Ada", "email": address}))
        .await;
    (admin, contact, address)
}

/// A workflow of these steps with the contact enrolled: the run's id.
async fn enrolled(stack: &Stack, admin: &str, contact: &str, steps: Value) -> String {
    let wf = stack
        .create(
            "/workflows",
            admin,
            json!({"name": "Faults", "steps": steps}),
        )
        .await;
    stack
        .create(
            &format!("/workflows/{wf}/runs"),
            admin,
            json!({"contact_id": contact}),
        )
        .await
}

/// Delivers the step queue's messages until it is empty: a failed message again once
/// `recover` ran (the fault is over), every message once more after it succeeded. The
/// number of failed deliveries.
async fn drain(stack: &Stack, faults: &Faults, also: &[(&str, &str)]) -> usize {
    let executor = &stack.runtime.functions.step_executor;
    let mut failed = 0;
    while let Some(batch) = stack.runtime.receive_step_batch().await.unwrap() {
        while !executor
            .handle(batch.clone())
            .await
            .batch_item_failures
            .is_empty()
        {
            failed += 1;
            faults.clear(also).await;
            assert!(failed < 10, "the step recovers");
        }
        let again = executor.handle(batch.clone()).await;
        assert!(again.batch_item_failures.is_empty(), "{again:?}");
        stack
            .runtime
            .ack_sqs_batch("StepQueue", &batch)
            .await
            .unwrap();
    }
    failed
}

async fn run_of(stack: &Stack, admin: &str, run: &str) -> Value {
    stack
        .get(&format!("/workflow-runs/{run}"), admin)
        .await
        .body
}

/// How often each step id is in the run's history.
fn steps_done(run: &Value) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for h in run["history"].as_array().into_iter().flatten() {
        *counts
            .entry(h["step_id"].as_str().unwrap_or("").to_string())
            .or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

/// The contact's tags and how many audit entries the workflow wrote on it.
async fn tag_changes(stack: &Stack, admin: &str, contact: &str) -> (Value, usize) {
    let tags = stack.get(&format!("/contacts/{contact}"), admin).await.body["tags"].clone();
    let history = stack
        .get(&format!("/contacts/{contact}/history"), admin)
        .await;
    let by_workflow = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["actor"].as_str().unwrap_or("").starts_with("workflow:"))
        .count();
    (tags, by_workflow)
}

/// SES throttles once, then answers 500 on the remaining attempts: the message fails with
/// nothing sent and the step's effect released; redelivered, one email; delivered again,
/// nothing more.
#[tokio::test]
async fn i14_5_ses_failing_then_recovering_sends_one_email() {
    let stack = Stack::start().await;
    let (admin, contact, address) = setup(&stack).await;
    let faults = Faults::new(&stack);
    let steps = json!([{"id": "mail", "type": "send_email", "subject": "Hi {{first_name}}", "body": "Hello"}]);
    let run = enrolled(&stack, &admin, &contact, steps).await;
    let rule =
        json!({"operations": ["SendEmail"], "match": address, "throttle": 1, "server_error": 2});
    faults.service("ses", rule).await;
    let also = [("ses", address.as_str())];
    assert_eq!(drain(&stack, &faults, &also).await, 1);
    assert_eq!(stack.sent_emails_to(&address).await.len(), 1, "one email");
    let run = run_of(&stack, &admin, &run).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(steps_done(&run), [("mail".to_string(), 1)]);
}

/// The email is sent, then the run's conditional write fails on every attempt (the crash
/// between claiming a step's effect and advancing the run): the message fails; its
/// redelivery finds the email's effect applied, only advances the run and adds the tag once. Then a wait
/// whose run write times out once: the SDK's retry lands it, the late attempt finds the run
/// moved on.
#[tokio::test]
async fn i14_5_a_run_write_failing_after_the_effects_applies_each_once() {
    let stack = Stack::start().await;
    let (admin, contact, address) = setup(&stack).await;
    let faults = Faults::new(&stack);
    let steps = json!([
        {"id": "mail", "type": "send_email", "subject": "Hi {{first_name}}", "body": "Hello"},
        {"id": "tag", "type": "add_tag", "tag": "warm"},
        {"id": "w", "type": "wait", "minutes": 5},
        {"id": "tag2", "type": "add_tag", "tag": "hot"}
    ]);
    let run = enrolled(&stack, &admin, &contact, steps).await;
    // The run item's own writes: its SK is exactly "RUN".
    faults
        .dynamodb(json!({"operations": ["PutItem", "TransactWriteItems"], "match": "{\"S\":\"RUN\"}", "server_error": 1000}))
        .await;
    assert!(drain(&stack, &faults, &[]).await >= 1);
    assert_eq!(stack.sent_emails_to(&address).await.len(), 1, "one email");
    let (tags, changes) = tag_changes(&stack, &admin, &contact).await;
    assert_eq!((tags, changes), (json!(["warm"]), 1), "one tag change");
    let state = run_of(&stack, &admin, &run).await;
    assert_eq!(state["status"], "waiting", "{state}");

    faults
        .dynamodb(json!({"operations": ["PutItem", "TransactWriteItems"], "match": "{\"S\":\"RUN\"}", "delay": 1, "delay_ms": 4000}))
        .await;
    let later = chrono::Utc::now() + chrono::Duration::minutes(10);
    assert_eq!(
        stack.runtime.fire_due_schedules(later).await.unwrap().len(),
        1
    );
    assert_eq!(
        drain(&stack, &faults, &[]).await,
        0,
        "the SDK retried the timed-out write"
    );
    assert_eq!(faults.fired("dynamodb", None).await["delay"], 1);
    let state = run_of(&stack, &admin, &run).await;
    assert_eq!(state["status"], "completed", "{state}");
    let done = steps_done(&state);
    assert!(
        done.iter().all(|(_, n)| *n == 1),
        "each step once: {done:?}"
    );
    let (tags, changes) = tag_changes(&stack, &admin, &contact).await;
    assert_eq!((tags, changes), (json!(["warm", "hot"]), 2));
    assert_eq!(stack.sent_emails_to(&address).await.len(), 1);
    faults.clear(&[]).await;
}

/// EventBridge Scheduler throttles and fails a wait's schedule on every attempt: the message
/// fails; redelivered, one schedule is created; delivered again, the existing schedule
/// counts as created (no second); fired, the email goes once.
#[tokio::test]
async fn i14_5_scheduler_failing_then_recovering_creates_one_schedule() {
    let stack = Stack::start().await;
    let (admin, contact, address) = setup(&stack).await;
    let faults = Faults::new(&stack);
    let steps = json!([
        {"id": "w", "type": "wait", "minutes": 5},
        {"id": "mail", "type": "send_email", "subject": "Later", "body": "Hello"}
    ]);
    let run = enrolled(&stack, &admin, &contact, steps).await;
    let rule =
        json!({"operations": ["CreateSchedule"], "match": run, "throttle": 1, "server_error": 2});
    faults.service("scheduler", rule).await;
    let also = [("scheduler", run.as_str())];
    assert_eq!(drain(&stack, &faults, &also).await, 1);
    let group = stack.runtime.provisioned.resolved.refs["StepScheduleGroup"].clone();
    let schedules = stack
        .runtime
        .aws
        .scheduler
        .list_schedules()
        .group_name(&group)
        .send()
        .await
        .unwrap();
    let mine: Vec<_> = schedules
        .schedules()
        .iter()
        .filter(|s| s.name().unwrap_or("").contains(&run))
        .collect();
    assert_eq!(mine.len(), 1, "one schedule");
    assert_eq!(run_of(&stack, &admin, &run).await["status"], "waiting");
    let later = chrono::Utc::now() + chrono::Duration::minutes(10);
    assert_eq!(
        stack.runtime.fire_due_schedules(later).await.unwrap().len(),
        1
    );
    assert_eq!(drain(&stack, &faults, &also).await, 0);
    assert_eq!(stack.sent_emails_to(&address).await.len(), 1);
    let state = run_of(&stack, &admin, &run).await;
    assert_eq!(state["status"], "completed", "{state}");
}
