//! A wait step (S7.2): a one-time schedule on the step queue, fired when due, its message
//! delivered at least once but the email sent once; the emulated scheduler's kept schedules.

use super::{contact, start_run, workflow};
use crm_e2e_tests::Stack;

/// A run of the Welcome workflow (a 10-minute wait) whose wait step the executor has taken off
/// the queue.
struct Waiting {
    admin: String,
    email: String,
    run_path: String,
    started_at: chrono::DateTime<chrono::Utc>,
    /// The schedule group of the step schedules.
    group: String,
}

async fn waiting_run(stack: &Stack) -> Waiting {
    let admin = stack.token("acme", "alice", "admin");
    let email = format!("ada-{}@example.com", stack.prefix);
    let contact_id = contact(stack, &admin, &email).await;
    let workflow_id = workflow(stack, &admin, 10).await;

    let started_at = chrono::Utc::now();
    let run = start_run(stack, &admin, &workflow_id, &contact_id).await;
    assert_eq!(run.status, 201, "{:?}", run.body);
    let run_path = format!("/workflow-runs/{}", run.body["id"].as_str().unwrap());

    // The executor takes step 0 (wait) off the queue and creates the schedule.
    assert_eq!(stack.runtime.deliver_step_messages().await.unwrap(), 1);
    let group = stack.runtime.provisioned.resolved.refs["StepScheduleGroup"].clone();
    Waiting {
        admin,
        email,
        run_path,
        started_at,
        group,
    }
}

/// The names of the schedules in the group.
async fn schedule_names(stack: &Stack, group: &str) -> Vec<String> {
    let schedules = stack
        .runtime
        .aws
        .scheduler
        .list_schedules()
        .group_name(group)
        .send()
        .await
        .unwrap();
    schedules
        .schedules()
        .iter()
        .filter_map(|s| s.name.clone())
        .collect()
}

/// A wait step leaves the run waiting at the next step, behind a one-time schedule for the
/// wait's end targeting the step queue, deleted after it fires (S7.2).
#[tokio::test]
async fn s7_2_a_wait_becomes_a_one_time_schedule_on_the_step_queue() {
    let stack = Stack::start().await;
    let w = waiting_run(&stack).await;
    let waiting = stack.call("GET", &w.run_path, &w.admin, None).await;
    assert_eq!(waiting.body["status"], "waiting");
    assert_eq!(waiting.body["seq"], 1, "one step done: the wait");
    assert_eq!(waiting.body["done_steps"].as_array().unwrap().len(), 1);
    assert!(waiting.body["next_step"].is_string(), "the email is next");

    let names = schedule_names(&stack, &w.group).await;
    assert_eq!(names.len(), 1);
    let schedule = stack
        .runtime
        .aws
        .scheduler
        .get_schedule()
        .group_name(&w.group)
        .name(&names[0])
        .send()
        .await
        .unwrap();
    let at = crm_local::scheduler::parse_at_expression(
        schedule.schedule_expression().unwrap(),
        schedule.schedule_expression_timezone(),
    )
    .unwrap();
    let expected = w.started_at + chrono::Duration::minutes(10);
    assert!(
        (at - expected).num_seconds().abs() <= 5,
        "at({at}) ≈ now + 10 min ({expected})"
    );
    let target = schedule.target().unwrap();
    assert_eq!(
        target.arn(),
        stack.runtime.provisioned.resolved.arns["StepQueue"]
    );
    assert_eq!(
        schedule.action_after_completion().map(|a| a.as_str()),
        Some("DELETE")
    );
}

/// Before the wait's end nothing fires and nothing is sent (S7.2).
#[tokio::test]
async fn s7_2_a_schedule_not_yet_due_fires_nothing() {
    let stack = Stack::start().await;
    waiting_run(&stack).await;
    // Not due yet: nothing fires, nothing is sent.
    assert!(
        stack
            .runtime
            .fire_due_schedules(chrono::Utc::now())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(stack.runtime.receive_step_batch().await.unwrap().is_none());
}

/// At the wait's end the schedule fires into the step queue and is deleted (S7.2).
#[tokio::test]
async fn s7_2_the_due_schedule_fires_into_the_step_queue_and_is_deleted() {
    let stack = Stack::start().await;
    let w = waiting_run(&stack).await;
    let names = schedule_names(&stack, &w.group).await;
    // Ten minutes later the schedule fires into the step queue and is deleted.
    let fired = stack
        .runtime
        .fire_due_schedules(chrono::Utc::now() + chrono::Duration::minutes(11))
        .await
        .unwrap();
    assert_eq!(fired, names);
    assert!(schedule_names(&stack, &w.group).await.is_empty());
}

/// The fired step message, delivered twice, sends the email once with its merge fields filled
/// in, and completes the run (S7.2, S7.4).
#[tokio::test]
async fn s7_2_the_step_message_delivered_twice_sends_the_email_once() {
    let stack = Stack::start().await;
    let w = waiting_run(&stack).await;
    stack
        .runtime
        .fire_due_schedules(chrono::Utc::now() + chrono::Duration::minutes(11))
        .await
        .unwrap();
    // The step message is delivered twice: one email.
    let batch = stack
        .runtime
        .receive_step_batch()
        .await
        .unwrap()
        .expect("the fired schedule's message");
    assert_eq!(batch.records.len(), 1);
    let duplicate = batch.clone();
    assert_eq!(stack.runtime.invoke_step_executor(batch).await.unwrap(), 0);
    assert_eq!(
        stack
            .runtime
            .functions
            .step_executor
            .handle(duplicate)
            .await
            .batch_item_failures
            .len(),
        0
    );

    let sent = stack.sent_emails_to(&w.email).await;
    assert_eq!(
        sent,
        vec![("Welcome, Ada".to_string(), "Hello Ada!".to_string())]
    );
    let done = stack.call("GET", &w.run_path, &w.admin, None).await;
    assert_eq!(done.body["status"], "completed", "{:?}", done.body);
    let history: Vec<&str> = done.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["result"].as_str().unwrap())
        .collect();
    assert_eq!(history, vec!["scheduled", "sent"]);
}

/// A one-time schedule kept after completion (`ActionAfterCompletion::None`) fires once in the
/// emulated scheduler and is left disabled.
#[tokio::test]
async fn emulated_scheduler_fires_a_kept_one_time_schedule_once() {
    use aws_sdk_scheduler::types::{
        ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
    };
    let stack = Stack::start().await;
    let resolved = &stack.runtime.provisioned.resolved;
    let group = resolved.refs["StepScheduleGroup"].clone();
    let target = Target::builder()
        .arn(&resolved.arns["StepQueue"])
        .role_arn(&resolved.arns["SchedulerRole"])
        .input("kept")
        .build()
        .unwrap();
    let off = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .unwrap();
    let scheduler = &stack.runtime.aws.scheduler;
    scheduler
        .create_schedule()
        .name("kept")
        .group_name(&group)
        .schedule_expression("at(2020-01-01T00:00:00)")
        .schedule_expression_timezone("UTC")
        .flexible_time_window(off)
        .target(target)
        .action_after_completion(ActionAfterCompletion::None)
        .send()
        .await
        .unwrap();
    let now = chrono::Utc::now();
    assert_eq!(
        stack.runtime.fire_due_schedules(now).await.unwrap(),
        vec!["kept".to_string()]
    );
    assert!(
        stack
            .runtime
            .fire_due_schedules(now)
            .await
            .unwrap()
            .is_empty(),
        "fired once"
    );
    let kept = scheduler
        .get_schedule()
        .group_name(&group)
        .name("kept")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.state().map(|s| s.as_str()), Some("DISABLED"));
}
