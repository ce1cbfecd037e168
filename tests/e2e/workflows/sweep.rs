//! The sweep (S7.4): its rate schedule fires every minute; a run whose wake-up schedule was
//! lost is re-dispatched once it is two minutes overdue, and a step that is merely late still
//! runs once.

use super::{alice, enroll, flow, history, person, run_of};
use crm_e2e_tests::{Stack, json};

/// A run waiting a minute before tagging its contact: (token, run id, schedule name).
async fn waiting(stack: &Stack) -> (String, String, String) {
    let admin = alice(stack).await;
    let (contact, _) = person(stack, &admin, json!({})).await;
    let workflow = flow(
        stack,
        &admin,
        json!([{"type": "wait", "minutes": 1}, {"type": "add_tag", "tag": "late"}]),
    )
    .await;
    let run = enroll(stack, &admin, &workflow, &contact).await;
    stack.runtime.deliver_step_messages().await.unwrap();
    let waiting = run_of(stack, &admin, &run).await;
    assert_eq!(waiting["status"], "waiting", "{waiting}");
    (admin, run.clone(), format!("run-{run}-1"))
}

fn tagged(run: &serde_json::Value) -> usize {
    history(run)
        .iter()
        .filter(|(_, kind, _)| kind == "add_tag")
        .count()
}

/// A schedule deleted behind the system's back: the sweep within its period after the two
/// minutes of grace re-dispatches the run, which then goes on (S7.4).
#[tokio::test]
async fn s7_4_the_sweep_recovers_a_run_whose_schedule_was_lost() {
    let stack = Stack::start().await;
    let (admin, run, schedule) = waiting(&stack).await;
    let group = stack.runtime.provisioned.resolved.refs["StepScheduleGroup"].clone();
    stack
        .runtime
        .aws
        .scheduler
        .delete_schedule()
        .group_name(&group)
        .name(&schedule)
        .send()
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let minutes = |m: i64| now + chrono::TimeDelta::minutes(m);

    // Due in a minute, overdue by less than the grace at minute 2: the sweep leaves it.
    assert_eq!(
        stack.runtime.fire_rate_schedules(minutes(2)).await.unwrap(),
        ["StepSweepSchedule"]
    );
    assert_eq!(stack.runtime.deliver_step_messages().await.unwrap(), 0);
    assert_eq!(run_of(&stack, &admin, &run).await["status"], "waiting");

    // Minute 4: more than two minutes overdue, within the sweep's period after that.
    assert_eq!(
        stack.runtime.fire_rate_schedules(minutes(4)).await.unwrap(),
        ["StepSweepSchedule"]
    );
    assert_eq!(stack.runtime.deliver_step_messages().await.unwrap(), 1);
    let done = run_of(&stack, &admin, &run).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(tagged(&done), 1);
}

/// A step that is merely late — its schedule fires after the sweep re-dispatched it — runs
/// once: the second message finds the run moved on (S7.4).
#[tokio::test]
async fn s7_4_a_late_step_redispatched_by_the_sweep_runs_once() {
    let stack = Stack::start().await;
    let (admin, run, _) = waiting(&stack).await;
    let at = chrono::Utc::now() + chrono::TimeDelta::minutes(4);
    stack.runtime.fire_rate_schedules(at).await.unwrap();
    let fired = stack.runtime.fire_due_schedules(at).await.unwrap();
    assert_eq!(fired.len(), 1, "the late schedule fires too");
    // Both messages are on the queue; each is delivered.
    stack.runtime.deliver_step_messages().await.unwrap();
    let done = run_of(&stack, &admin, &run).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(tagged(&done), 1, "one effect: {:?}", history(&done));
    let contact = done["contact_id"].as_str().unwrap();
    let tags = stack
        .get(&format!("/contacts/{contact}"), &admin)
        .await
        .body["tags"]
        .clone();
    assert_eq!(tags, json!(["late"]));
}
