//! Workflow benchmark (S7.4), `make bench-workflows`: N contacts (default 10,000,
//! `BENCH_WF_CONTACTS=…`) enrolled at once into a workflow [send_email, wait 1 minute,
//! add_tag], on the local stack (moto for SQS, Scheduler and SES; the local DynamoDB).
//!
//! 1. The tenant of the contacts benchmark (`population.rs`) is stored as the API stores it
//!    (batched puts, not API calls).
//! 2. Every contact is enrolled through `workflows::enroll::enroll`, 32 at a time:
//!    enrollments/s.
//! 3. `BENCH_WF_WORKERS` (default 4) executor instances take batches of 10 off the step queue
//!    as Lambda's poller hands them to the step executor, and run each message as it does
//!    (`execute_step_message`, the batch's messages concurrently, the attempt from the receive
//!    count, done messages deleted, failed ones delayed by its backoff) with the step
//!    executor's real effects (SQS, Scheduler, SES), but on a table of their own behind the
//!    meters (`write_meter.rs`): the email and the wait, then, as the schedules fire, the tag.
//!    Steps/s and schedules created per second.
//! 4. The schedules fire at their due time: an emulated EventBridge Scheduler takes each
//!    schedule the executor created and, at its `at(...)` second, reads it back (GetSchedule),
//!    sends its input to its target queue and deletes it (ActionAfterCompletion DELETE), as
//!    `LocalRuntime::fire_due_schedules` does for every due schedule of the group (which, run
//!    once early, would fire all 10,000 at once and leave no due time to measure from); a
//!    final `fire_due_schedules` pass finds none left. The time from each schedule's due time
//!    to its step's effect (the run's history entry after its wait), split into the emulated
//!    scheduler's delay, the wait in the queue and the executor's.
//! 5. Every write is counted per partition key and wall-clock second — the base table's `PK`
//!    and each index partition key the written item carries (`GSI1PK`…`GSI9PK`): the most
//!    writes per second to any one partition, and per run (where DynamoDB's 1,000 writes a
//!    second per partition would throttle first at AWS's speed).
//!
//! Needs `AWS_ENDPOINT_URL` (the Makefile starts the local stack). Figures, not pass/fail.

use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use chrono::Timelike;
use crm_e2e_tests::Stack;
use crm_shared::catalog::Catalog;
use crm_shared::contacts::ContactKind;
use crm_shared::custom_fields::store::FieldStore;
use crm_shared::email::{MailSettings, OutboundMail};
use crm_shared::records::{Kind, RecordQuery};
use crm_shared::store::Table;
use crm_shared::store::dynamo::DynamoItemStore;
use crm_shared::workflows::enroll::{EnrollRequest, Enrolled, enroll};
use crm_shared::workflows::{
    Attempt, AwsEffects, Enrollment, NewWorkflow, RunStatus, StepEffects, StepMessage, StepOutcome,
    WorkflowRun, execute_step_message,
};
use crm_shared::{Caller, CrmError, Role, Timestamp};
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// The contacts benchmark's DynamoDB helpers and tenant (only what this bench needs of them).
#[allow(dead_code)]
mod dynamo;
mod population;
use dynamo::ReadMeter;
mod write_meter;
use write_meter::{
    CountingStore, Hottest, Timings, WriteMeter, percentile, report_partitions, report_timings,
    shorten, unix_second,
};

const TENANT: &str = "bench";
/// The step queue's `maxReceiveCount` (template.yaml), as the step executor reads attempts.
const STEP_MAX_RECEIVE_COUNT: u32 = 5;

// ----- effects: counted, and the schedules handed to the emulated scheduler ---------------------

struct BenchEffects {
    inner: AwsEffects,
    /// Each schedule created: its name and due time, for the emulated scheduler.
    created: tokio::sync::mpsc::UnboundedSender<(String, Timestamp)>,
    /// Unix seconds of each schedule created, and the CreateSchedule call's time.
    schedule_calls: Mutex<Vec<(i64, Duration)>>,
    emails: AtomicUsize,
    timings: Timings,
}

impl StepEffects for BenchEffects {
    async fn enqueue_step(&self, message: &StepMessage) -> Result<(), CrmError> {
        let started = Instant::now();
        let result = self.inner.enqueue_step(message).await;
        self.timings.add("SQS SendMessage", started);
        result
    }

    async fn schedule_step(
        &self,
        message: &StepMessage,
        at: Timestamp,
    ) -> Result<String, CrmError> {
        let started = Instant::now();
        let name = self.inner.schedule_step(message, at).await?;
        self.timings.add("Scheduler CreateSchedule", started);
        self.schedule_calls
            .lock()
            .unwrap()
            .push((unix_second(), started.elapsed()));
        let _ = self.created.send((name.clone(), at));
        Ok(name)
    }

    async fn send_email(&self, mail: &OutboundMail) -> Result<String, CrmError> {
        self.emails.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let result = self.inner.send_email(mail).await;
        self.timings.add("SES SendEmail (raw)", started);
        result
    }

    fn mail_settings(&self) -> &MailSettings {
        self.inner.mail_settings()
    }
}

// ----- the emulated scheduler -------------------------------------------------------------------

/// Fires each schedule at its `at(...)` second as EventBridge Scheduler does (with the
/// flexible window off): GetSchedule, its input to its target queue, DeleteSchedule. Returns
/// when the channel closes and everything fired: the fire time of each schedule by name.
async fn emulated_scheduler(
    stack: Arc<Stack>,
    mut created: tokio::sync::mpsc::UnboundedReceiver<(String, Timestamp)>,
) -> HashMap<String, Timestamp> {
    let group = stack.runtime.provisioned.resolved.refs["StepScheduleGroup"].clone();
    let queue_url = stack.runtime.provisioned.resolved.refs["StepQueue"].clone();
    let limit = Arc::new(tokio::sync::Semaphore::new(16));
    let mut firing = tokio::task::JoinSet::new();
    while let Some((name, at)) = created.recv().await {
        let (stack, group, queue_url, limit) = (
            stack.clone(),
            group.clone(),
            queue_url.clone(),
            limit.clone(),
        );
        firing.spawn(async move {
            // The schedule's expression has whole seconds: it is due at the second's start.
            let due = at.with_nanosecond(0).unwrap_or(at);
            if let Ok(wait) = (due - chrono::Utc::now()).to_std() {
                tokio::time::sleep(wait).await;
            }
            let _permit = limit.acquire().await.unwrap();
            let scheduler = &stack.runtime.aws.scheduler;
            let schedule = scheduler
                .get_schedule()
                .group_name(&group)
                .name(&name)
                .send()
                .await
                .expect("GetSchedule");
            let input = schedule.target.and_then(|t| t.input).unwrap_or_default();
            stack
                .runtime
                .aws
                .sqs
                .send_message()
                .queue_url(&queue_url)
                .message_body(input)
                .send()
                .await
                .expect("SendMessage");
            let fired = chrono::Utc::now();
            scheduler
                .delete_schedule()
                .group_name(&group)
                .name(&name)
                .send()
                .await
                .expect("DeleteSchedule");
            (name, fired)
        });
    }
    let mut fired = HashMap::new();
    while let Some(done) = firing.join_next().await {
        let (name, at) = done.expect("a firing task");
        fired.insert(name, at);
    }
    fired
}

// ----- the executor's workers -------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    messages: AtomicUsize,
    steps: AtomicUsize,
    waiting: AtomicUsize,
    completed: AtomicUsize,
    stale: AtomicUsize,
    failed: AtomicUsize,
    /// When the last message left a run waiting.
    last_waiting: Mutex<Option<Instant>>,
    /// When each message after a wait (its run, its seq > 0) was taken off the queue.
    received: Mutex<HashMap<uuid::Uuid, Timestamp>>,
}

/// One executor instance: batches off the step queue, each message run by the step executor's
/// core, the batch's messages concurrently; done ones deleted, failed ones delayed by the
/// step executor's backoff. Stops when `runs` runs completed.
async fn worker(
    stack: Arc<Stack>,
    catalog: Arc<Catalog>,
    effects: Arc<BenchEffects>,
    tally: Arc<Tally>,
    runs: usize,
) {
    let queue_url = stack.runtime.provisioned.resolved.refs["StepQueue"].clone();
    let sqs = stack.runtime.aws.sqs.clone();
    while tally.completed.load(Ordering::SeqCst) < runs {
        let Some(batch) = stack
            .runtime
            .receive_step_batch()
            .await
            .expect("ReceiveMessage")
        else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let results = futures::future::join_all(batch.records.iter().map(|record| {
            let (catalog, effects, tally) = (catalog.clone(), effects.clone(), tally.clone());
            async move {
                let message: StepMessage =
                    serde_json::from_str(record.body.as_deref().unwrap_or("")).expect("a step");
                let received = record
                    .attributes
                    .get("ApproximateReceiveCount")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                let attempt = Attempt::of(received, STEP_MAX_RECEIVE_COUNT);
                if message.seq > 0 {
                    tally
                        .received
                        .lock()
                        .unwrap()
                        .insert(message.run_id, chrono::Utc::now());
                }
                (
                    attempt,
                    execute_step_message(&catalog, &*effects, &message, attempt).await,
                )
            }
        }))
        .await;
        let mut done = Vec::new();
        for (record, (attempt, result)) in batch.records.iter().zip(results) {
            tally.messages.fetch_add(1, Ordering::Relaxed);
            let receipt = record.receipt_handle.clone().unwrap_or_default();
            match result {
                Ok(outcome) => {
                    match outcome {
                        StepOutcome::Waiting => {
                            // The email and the wait.
                            tally.steps.fetch_add(2, Ordering::Relaxed);
                            tally.waiting.fetch_add(1, Ordering::SeqCst);
                            *tally.last_waiting.lock().unwrap() = Some(Instant::now());
                        }
                        StepOutcome::Completed => {
                            tally.steps.fetch_add(1, Ordering::Relaxed);
                            tally.completed.fetch_add(1, Ordering::SeqCst);
                        }
                        _ => {
                            tally.stale.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    done.push(
                        DeleteMessageBatchRequestEntry::builder()
                            .id(done.len().to_string())
                            .receipt_handle(receipt)
                            .build()
                            .expect("an entry"),
                    );
                }
                Err(error) => {
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!(
                        "  a step message failed (attempt {}): {error}",
                        attempt.number
                    );
                    sqs.change_message_visibility()
                        .queue_url(&queue_url)
                        .receipt_handle(receipt)
                        .visibility_timeout(attempt.backoff_seconds())
                        .send()
                        .await
                        .expect("ChangeMessageVisibility");
                }
            }
        }
        // Lambda's poller deletes a batch's done messages together.
        if !done.is_empty() {
            sqs.delete_message_batch()
                .queue_url(&queue_url)
                .set_entries(Some(done))
                .send()
                .await
                .expect("DeleteMessageBatch");
        }
    }
}

// ----- the tenant -------------------------------------------------------------------------------

/// The contacts benchmark's tenant (`population.rs`: names, owners, teams, tags, custom
/// fields spread as in a real tenant), stored as the API stores it: the contacts' ids.
async fn load_tenant(stack: &Stack, n: usize) -> Vec<uuid::Uuid> {
    let table_name = stack.runtime.provisioned.resolved.refs["CrmTable"].clone();
    let teams: Vec<uuid::Uuid> = (0..5).map(|_| crm_shared::values::new_id()).collect();
    let defs = population::custom_fields();
    let fields = FieldStore::new(stack.table());
    for def in &defs {
        fields
            .insert_definition(TENANT, def)
            .await
            .expect("definition");
    }
    population::load(&stack.runtime.aws.dynamodb, &table_name, n, &teams, &defs).await;
    // Their ids, from the contact list (an admin sees every one).
    let contacts = Catalog::new(stack.table()).contacts();
    let admin = Caller::new(TENANT, "admin", Role::Admin);
    let query = RecordQuery::parse(ContactKind::schema(), &BTreeMap::new()).expect("a query");
    let mut ids = Vec::with_capacity(n);
    let mut cursor: Option<String> = None;
    loop {
        let page = contacts
            .list(&admin, &query, 200, cursor.as_deref())
            .await
            .expect("a page of contacts");
        ids.extend(page.items.iter().map(|c| c.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return ids,
        }
    }
}

// ----- figures ----------------------------------------------------------------------------------

/// Prints the median, p95 and max of `values` (seconds), and returns them.
fn spread(name: &str, mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let figures = (
        percentile(&values, 50.0),
        percentile(&values, 95.0),
        values.last().copied().unwrap_or(f64::NAN),
    );
    println!(
        "  {name:<44} median {:>7.2} s   p95 {:>7.2} s   max {:>7.2} s   (n = {})",
        figures.0,
        figures.1,
        figures.2,
        values.len()
    );
    figures
}

/// The wait's due time (from its history entry: `{schedule} at {rfc3339}`) and the time of the
/// entry after it (the tag's effect).
fn due_and_effect(run: &WorkflowRun) -> Option<(String, Timestamp, Timestamp)> {
    let i = run.history.iter().position(|h| h.kind == "wait")?;
    let detail = run.history[i].detail.as_deref()?;
    let (schedule, at) = detail.split_once(" at ")?;
    let due = chrono::DateTime::parse_from_rfc3339(at).ok()?.to_utc();
    let effect = run.history.get(i + 1)?.at;
    Some((schedule.to_string(), due, effect))
}

async fn completed_runs(table: &Table, workflow: uuid::Uuid) -> Vec<WorkflowRun> {
    let mut runs = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (page, next) = crm_shared::workflows::store::runs_of_workflow(
            table,
            TENANT,
            workflow,
            Some(RunStatus::Completed),
            after.as_deref(),
            1000,
        )
        .await
        .expect("runs");
        runs.extend(page);
        match next {
            Some(n) => after = Some(n),
            None => return runs,
        }
    }
}

/// What EventBridge Scheduler promises in AWS, and what the sweep adds.
const ON_PAPER: &str = "\
In AWS, a wait's one-time schedule (at(...), flexible time window OFF) is invoked at its time,
typically within a minute of it (Scheduler does not promise the second), and delivers to its
target at least once: a failed delivery to the step queue is retried for up to 24 hours and
185 attempts by default (the schedule's RetryPolicy narrows that), then goes to the target's
dead-letter queue; ActionAfterCompletion DELETE removes the schedule once it has fired. A
duplicate delivery is harmless: the step message names the run's seq, so a second copy is
stale. What Scheduler cannot cover — a schedule that was never created, deleted behind the
system's back, or its message lost after the DLQ — the periodic sweep covers: every run whose
due time passed more than two minutes ago without progress is re-dispatched from the due
index (GSI3, sharded), and a run that is merely late is never run twice (the same seq and
effect records). So the bound locally measured above is Scheduler's own delay plus the queue
and executor's share; the worst case with a lost schedule is the due time + 2 minutes + the
sweep's period.";

#[tokio::main]
async fn main() {
    let n = dynamo::size("BENCH_WF_CONTACTS", 10_000);
    let workers = dynamo::size("BENCH_WF_WORKERS", 4);
    let bench_started = Instant::now();
    let stack = Arc::new(Stack::start().await);
    let deps = stack
        .runtime
        .deps("step-executor")
        .expect("the step executor's configuration");
    // The executor's own table, as the step executor builds it, behind the meters.
    let reads = ReadMeter::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        deps.aws
            .dynamodb
            .config()
            .to_builder()
            .interceptor(reads.clone())
            .build(),
    );
    let (meter, timings) = (WriteMeter::default(), Timings::default());
    let table = Table::new(CountingStore {
        inner: DynamoItemStore::new(client, deps.config.table_name().to_string()),
        meter: meter.clone(),
        timings: timings.clone(),
    });
    let (created_tx, created_rx) = tokio::sync::mpsc::unbounded_channel();
    let effects = Arc::new(BenchEffects {
        inner: deps.step_effects(),
        created: created_tx,
        schedule_calls: Mutex::new(Vec::new()),
        emails: AtomicUsize::new(0),
        timings: timings.clone(),
    });
    println!(
        "\nworkflow benchmark: {n} contacts enrolled at once into [send_email, wait 1 minute, add_tag]; \
         {workers} executor instances × batches of 10; local stack {} (DynamoDB {})",
        stack.runtime.endpoint_url,
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_else(|_| "through moto".into())
    );

    // 1. The tenant.
    let started = Instant::now();
    let contacts = load_tenant(&stack, n).await;
    assert_eq!(contacts.len(), n, "every contact listed");
    println!(
        "phase 1: stack provisioned, {n} contacts stored (batched puts) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let admin = Caller::new(TENANT, "admin", Role::Admin);
    let input: NewWorkflow = serde_json::from_value(serde_json::json!({
        "name": "Welcome",
        "steps": [
            {"type": "send_email", "subject": "Welcome, {{first_name}}", "body": "Hello {{ display_name }}!"},
            {"type": "wait", "minutes": 1},
            {"type": "add_tag", "tag": "welcomed"}
        ]
    }))
    .expect("a workflow");
    let workflow = crm_shared::workflows::create(&table, &admin, input)
        .await
        .expect("the workflow");
    meter.take();
    timings.take();
    reads.take();

    // 2. Enrollment.
    let started = Instant::now();
    let enrolled = futures::stream::iter(contacts.iter().copied())
        .map(|contact_id| {
            let request = EnrollRequest {
                contact_id,
                deal_id: None,
                enrollment: Enrollment {
                    by: "bulk".into(),
                    actor: "admin".into(),
                },
                run_id: crm_shared::values::new_id(),
            };
            let (table, effects, workflow) = (&table, &effects, &workflow);
            async move { enroll(table, &**effects, TENANT, workflow, request).await }
        })
        .buffer_unordered(32)
        .fold(0usize, |count, r| async move {
            count + usize::from(matches!(r.expect("enrollment"), Enrolled::Started(_)))
        })
        .await;
    let enroll_time = started.elapsed();
    assert_eq!(enrolled, n, "every contact enrolled once");
    let enrollments_per_s = n as f64 / enroll_time.as_secs_f64();
    println!(
        "phase 2: {n} enrolled (run + marker in one transaction, the first step on the queue), \
         32 at a time, in {:.1} s = {enrollments_per_s:.0} enrollments/s",
        enroll_time.as_secs_f64(),
    );
    let enroll_hot = report_partitions("enrollment writes", meter.take(), n as f64);
    let (requests, items) = reads.take();
    println!(
        "  reads per enrollment: {:.2} requests, {:.2} items",
        requests as f64 / n as f64,
        items as f64 / n as f64
    );
    report_timings("enrollment", timings.take(), n as f64);

    // 3 and 4. The executor, with the schedules firing when due.
    let scheduler = tokio::spawn(emulated_scheduler(stack.clone(), created_rx));
    let catalog = Arc::new(Catalog::new(table.clone()));
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (stack, catalog, effects, tally) = (
                stack.clone(),
                catalog.clone(),
                effects.clone(),
                tally.clone(),
            );
            tokio::spawn(worker(stack, catalog, effects, tally, n))
        })
        .collect();
    let mut first_pass = None;
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let (waiting, completed) = (
            tally.waiting.load(Ordering::SeqCst),
            tally.completed.load(Ordering::SeqCst),
        );
        eprintln!(
            "  {:>5.0} s: {waiting} runs past their email and wait, {completed} completed",
            started.elapsed().as_secs_f64()
        );
        if waiting >= n && first_pass.is_none() {
            first_pass = *tally.last_waiting.lock().unwrap();
        }
        if completed >= n {
            break;
        }
    }
    for h in handles {
        h.await.expect("a worker");
    }
    let executor_time = started.elapsed();
    let first_pass = first_pass
        .or(*tally.last_waiting.lock().unwrap())
        .map_or(executor_time, |t| t - started);
    drop(catalog);
    // The workers are done: with the effects gone, the scheduler ends once all has fired.
    let effects = Arc::into_inner(effects).expect("the workers are done");
    let BenchEffects {
        created,
        schedule_calls,
        emails,
        ..
    } = effects;
    drop(created);
    let fired = scheduler.await.expect("the scheduler");
    let messages = tally.messages.load(Ordering::Relaxed);
    let steps = tally.steps.load(Ordering::Relaxed);
    let steps_per_s = steps as f64 / executor_time.as_secs_f64();
    println!(
        "phase 3: first pass (email sent, wait scheduled) of {n} runs in {:.1} s = {:.0} runs/s, {:.0} steps/s",
        first_pass.as_secs_f64(),
        n as f64 / first_pass.as_secs_f64(),
        2.0 * n as f64 / first_pass.as_secs_f64()
    );
    println!(
        "phase 4: every run completed {:.1} s after the first pass began (the tags ran as the 1-minute \
         waits ended); {messages} step messages, {steps} steps = {steps_per_s:.0} steps/s overall \
         ({:.0} messages/s); {} stale, {} failed; {} emails sent",
        executor_time.as_secs_f64(),
        messages as f64 / executor_time.as_secs_f64(),
        tally.stale.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
        emails.load(Ordering::Relaxed)
    );
    let calls = schedule_calls.into_inner().unwrap();
    let mut per_second: HashMap<i64, usize> = HashMap::new();
    for (second, _) in &calls {
        *per_second.entry(*second).or_default() += 1;
    }
    let seconds = calls.iter().map(|c| c.0);
    let span = seconds.clone().max().unwrap_or(0) - seconds.min().unwrap_or(0) + 1;
    let schedules_per_s = calls.len() as f64 / span as f64;
    let peak_schedules = per_second.values().max().copied().unwrap_or(0);
    println!(
        "schedules: {} created in {span} s = {schedules_per_s:.0}/s (busiest second {peak_schedules})",
        calls.len(),
    );
    let executor_hot = report_partitions("executor writes (both passes)", meter.take(), n as f64);
    let (requests, items) = reads.take();
    println!(
        "  reads per run (both passes): {:.2} requests, {:.2} items",
        requests as f64 / n as f64,
        items as f64 / n as f64
    );
    report_timings("executor (both passes)", timings.take(), n as f64);

    // The local runtime's scheduler pass afterwards: nothing is left to fire.
    let started = Instant::now();
    let left = stack
        .runtime
        .fire_due_schedules(chrono::Utc::now() + chrono::Duration::seconds(61))
        .await
        .expect("fire_due_schedules");
    println!(
        "\nfire_due_schedules(now + 61 s) afterwards: {} fired in {:.2} s (each schedule fired at its time and was deleted)",
        left.len(),
        started.elapsed().as_secs_f64()
    );

    // Due → effect.
    let started = Instant::now();
    let runs = completed_runs(&table, workflow.id).await;
    let received = std::mem::take(&mut *tally.received.lock().unwrap());
    let (mut due_to_effect, mut due_to_fired, mut queued, mut executed) =
        (vec![], vec![], vec![], vec![]);
    for run in &runs {
        let Some((schedule, due, effect)) = due_and_effect(run) else {
            continue;
        };
        // The schedule's expression has whole seconds.
        let due = due.with_nanosecond(0).unwrap_or(due);
        let seconds = |d: chrono::TimeDelta| d.num_milliseconds() as f64 / 1000.0;
        due_to_effect.push(seconds(effect - due));
        if let (Some(at), Some(taken)) = (fired.get(&schedule), received.get(&run.id)) {
            due_to_fired.push(seconds(*at - due));
            queued.push(seconds(*taken - *at));
            executed.push(seconds(effect - *taken));
        }
    }
    println!(
        "\ndue → effect: {} completed runs read in {:.1} s; due = the schedule's at() second, \
         effect = the run's history entry after its wait (the tag)",
        runs.len(),
        started.elapsed().as_secs_f64()
    );
    let due_to_effect = spread("due → effect", due_to_effect);
    spread("  of which due → fired (emulated scheduler)", due_to_fired);
    spread("  of which fired → taken off the queue", queued);
    spread("  of which taken → effect (executor)", executed);

    let hottest = |h: &Hottest| match h {
        Some((attribute, key, max, per_run)) => format!(
            "{max}/s to {attribute} {} ({per_run:.2} writes per run: 1,000/s at {:.0} runs/s)",
            shorten(key),
            1000.0 / per_run
        ),
        None => "-".into(),
    };
    println!("\nfigures for {n} enrolled contacts (this machine, local stack):");
    println!("  enrollments/s                          {enrollments_per_s:.0}");
    println!(
        "  steps/s through the executor           {steps_per_s:.0} ({workers} instances × 10)"
    );
    println!(
        "  schedules created per second           {schedules_per_s:.0} (busiest second {peak_schedules})"
    );
    println!(
        "  most writes/s to one partition key     enrollment: {}",
        hottest(&enroll_hot)
    );
    println!(
        "                                         executor:   {}",
        hottest(&executor_hot)
    );
    println!(
        "  due → effect                           median {:.2} s, p95 {:.2} s, max {:.2} s",
        due_to_effect.0, due_to_effect.1, due_to_effect.2
    );
    println!("\n{ON_PAPER}");
    println!(
        "\nbench time {:.1} s",
        bench_started.elapsed().as_secs_f64()
    );
}
