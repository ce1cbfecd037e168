//! Run control of one run (S7.5): a paused run's schedule fires and nothing happens; resumed,
//! it keeps its wait's wake-up time, or goes on at once when that time has passed; a cancelled
//! run does nothing more, and its contact may enroll again only where the workflow allows it
//! and never while a run is in flight.

use super::{alice, drive, enroll, fire_after, flow, history, person, run_of, schedule_at};
use super::{start_run, subjects};
use crm_e2e_tests::{Stack, json};

/// A wait of ten minutes, then a mail.
fn wait_then_mail() -> serde_json::Value {
    json!([
        {"id": "wait", "type": "wait", "minutes": 10},
        {"id": "mail", "type": "send_email", "subject": "After the wait", "body": "Hello {{first_name}}"}
    ])
}

async fn control(stack: &Stack, token: &str, run: &str, action: &str) -> serde_json::Value {
    let r = stack
        .call(
            "POST",
            &format!("/workflow-runs/{run}/{action}"),
            token,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{action}: {:?}", r.body);
    r.body
}

/// Pausing a waiting run: its schedule fires, nothing is sent. Resumed, the run waits for the
/// same wake-up time (a schedule at the same instant), and when it fires the mail goes out
/// (S7.5).
#[tokio::test]
async fn s7_5_a_paused_run_sends_nothing_and_resumed_it_keeps_its_wake_up_time() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let (ada, address) = person(&stack, &admin, json!({"first_name": "Ada"})).await;
    let wf = flow(&stack, &admin, wait_then_mail()).await;
    let run = enroll(&stack, &admin, &wf, &ada).await;
    stack.runtime.deliver_step_messages().await.unwrap();
    let waiting = run_of(&stack, &admin, &run).await;
    let seq = waiting["seq"].as_u64().unwrap();
    let wake = schedule_at(&stack, &run, seq)
        .await
        .expect("the wait's schedule");

    let paused = control(&stack, &admin, &run, "pause").await;
    assert_eq!(paused["status"], "paused");
    assert_eq!(fire_after(&stack, 11).await.len(), 1, "the schedule fires");
    assert!(subjects(&stack, &address).await.is_empty(), "nothing sent");
    let still = run_of(&stack, &admin, &run).await;
    assert_eq!(still["status"], "paused");
    assert_eq!(still["seq"], seq, "no step taken");

    let resumed = control(&stack, &admin, &run, "resume").await;
    assert_eq!(resumed["status"], "waiting");
    assert_eq!(
        resumed["due_at"], waiting["due_at"],
        "the wake-up time is kept"
    );
    assert_eq!(
        schedule_at(&stack, &run, seq).await,
        Some(wake),
        "scheduled again"
    );
    assert_eq!(stack.runtime.deliver_step_messages().await.unwrap(), 0);
    assert!(
        subjects(&stack, &address).await.is_empty(),
        "not before it is due"
    );

    assert_eq!(fire_after(&stack, 11).await.len(), 1);
    assert_eq!(subjects(&stack, &address).await, ["After the wait"]);
    let done = run_of(&stack, &admin, &run).await;
    assert_eq!(done["status"], "completed", "{done}");
    let results: Vec<String> = history(&done).into_iter().map(|(_, _, r)| r).collect();
    assert_eq!(results, ["scheduled", "paused", "waiting", "sent"]);
}

/// A run paused before its due step (here the first, due at enrollment) does nothing while
/// paused; resumed after its due time it runs at once (S7.5).
#[tokio::test]
async fn s7_5_a_run_resumed_after_its_due_time_runs_at_once() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let (ada, address) = person(&stack, &admin, json!({"first_name": "Ada"})).await;
    let wf = flow(
        &stack,
        &admin,
        json!([{"id": "mail", "type": "send_email", "subject": "Now", "body": "Hi"}]),
    )
    .await;
    let run = enroll(&stack, &admin, &wf, &ada).await;
    assert_eq!(
        control(&stack, &admin, &run, "pause").await["status"],
        "paused"
    );
    drive(&stack).await;
    assert!(
        subjects(&stack, &address).await.is_empty(),
        "paused: nothing sent"
    );
    // Pausing again changes nothing.
    assert_eq!(
        control(&stack, &admin, &run, "pause").await["status"],
        "paused"
    );

    let resumed = control(&stack, &admin, &run, "resume").await;
    assert_eq!(resumed["status"], "active");
    assert_eq!(
        stack.runtime.deliver_step_messages().await.unwrap(),
        1,
        "at once"
    );
    assert_eq!(subjects(&stack, &address).await, ["Now"]);
    assert_eq!(run_of(&stack, &admin, &run).await["status"], "completed");
}

/// A cancelled run is `cancelled` for good: its schedule fires and nothing runs, it cannot be
/// resumed, and without re-enrollment its contact does not enroll again (S7.5).
#[tokio::test]
async fn s7_5_a_cancelled_run_does_nothing_more() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let (ada, address) = person(&stack, &admin, json!({"first_name": "Ada"})).await;
    let wf = flow(&stack, &admin, wait_then_mail()).await;
    let run = enroll(&stack, &admin, &wf, &ada).await;
    stack.runtime.deliver_step_messages().await.unwrap();

    let cancelled = control(&stack, &admin, &run, "cancel").await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["exit_reason"], "cancelled");
    assert!(cancelled["finished_at"].is_string());
    assert_eq!(fire_after(&stack, 11).await.len(), 1, "the schedule fires");
    drive(&stack).await;
    assert!(subjects(&stack, &address).await.is_empty(), "nothing sent");
    let after = run_of(&stack, &admin, &run).await;
    assert_eq!(after["status"], "cancelled");
    assert_eq!(after["seq"], cancelled["seq"]);
    for action in ["resume", "pause", "cancel"] {
        let r = stack
            .call(
                "POST",
                &format!("/workflow-runs/{run}/{action}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(r.status, 409, "{action} of a cancelled run: {:?}", r.body);
    }
    let again = start_run(&stack, &admin, &wf, &ada).await;
    assert_eq!(again.status, 409, "no re-enrollment: {:?}", again.body);
    assert_eq!(again.problem_field().0, "contact_id");
}

/// With `allow_reenrollment`, the contact of a cancelled run enrolls again, but never while
/// a run of the workflow is in flight (409) (S7.1, S7.5).
#[tokio::test]
async fn s7_5_after_a_cancel_the_contact_reenrolls_where_allowed_but_not_during_a_run() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let (ada, _) = person(&stack, &admin, json!({"first_name": "Ada"})).await;
    let wf = super::define(
        &stack,
        &admin,
        wait_then_mail(),
        json!({"allow_reenrollment": true}),
    )
    .await;
    let wf = super::id(&wf);
    let first = enroll(&stack, &admin, &wf, &ada).await;
    let during = start_run(&stack, &admin, &wf, &ada).await;
    assert_eq!(during.status, 409, "a run is in flight: {:?}", during.body);
    assert_eq!(during.problem_field().0, "contact_id");

    control(&stack, &admin, &first, "cancel").await;
    let second = enroll(&stack, &admin, &wf, &ada).await;
    assert_ne!(second, first);
    assert_eq!(
        start_run(&stack, &admin, &wf, &ada).await.status,
        409,
        "the second run is in flight"
    );
    let runs = stack.get(&format!("/contacts/{ada}/runs"), &admin).await;
    let statuses: Vec<&str> = runs
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["cancelled", "active"]);
}
