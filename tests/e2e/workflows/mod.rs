//! Slice 3: workflow wait → EventBridge Scheduler → SQS → step executor → SES (S7.1, S7.2,
//! S7.4, S7.5), the contact observer's stream feed, the triggers and the sweep (S7.3, S7.4),
//! and the contact's data a workflow keeps: the export and the erasure (S1.2). Every step
//! kind, save-time validation, exactly-once effects, run control, goals and revisions run
//! through the local runtime: real schedules fired, real step messages delivered, the sent
//! mail read back from the local SES.

mod bulk;
mod contact_gone;
mod control;
mod exactly_once;
mod goals;
mod privacy;
mod revisions;
mod runs;
mod step_changes;
mod steps;
mod stream_feed;
mod sweep;
mod triggers;
mod validation;
mod wait_kinds;
mod waits;

use crm_e2e_tests::{Reply, Stack, json};
use serde_json::Value;

/// A contact Ada with this email: its id.
async fn contact(stack: &Stack, token: &str, email: &str) -> String {
    stack
        .create_contact(token, json!({"first_name": "Ada", "email": email}))
        .await
}

/// The Welcome workflow: wait `minutes`, then a merge-field email. Its id.
async fn workflow(stack: &Stack, token: &str, minutes: u32) -> String {
    stack
        .create(
            "/workflows",
            token,
            json!({
                "name": "Welcome",
                "steps": [
                    {"type": "wait", "minutes": minutes},
                    {"type": "send_email", "subject": "Welcome, {{first_name}}", "body": "Hello {{ display_name }}!"}
                ]
            }),
        )
        .await
}

/// Starts a run of a workflow for a contact (the reply).
async fn start_run(stack: &Stack, token: &str, workflow_id: &str, contact_id: &str) -> Reply {
    stack
        .call(
            "POST",
            &format!("/workflows/{workflow_id}/runs"),
            token,
            Some(json!({"contact_id": contact_id})),
        )
        .await
}

/// Alice, admin of `acme`, with a name and an address in the directory (the owner of the
/// contacts she creates): her token.
async fn alice(stack: &Stack) -> String {
    let admin = stack.token("acme", "alice", "admin");
    stack
        .put_user(
            &admin,
            "alice",
            json!({"role": "admin", "name": "Alice Admin", "email": format!("alice-{}@example.com", stack.prefix)}),
        )
        .await;
    admin
}

/// An address no other test mails: `{name}-{prefix}@example.com`.
fn address(stack: &Stack, name: &str) -> String {
    format!("{name}-{}@example.com", stack.prefix)
}

/// A contact from `body`, with a per-test address for `first_name`: (id, address).
async fn person(stack: &Stack, token: &str, mut body: Value) -> (String, String) {
    let first = body["first_name"].as_str().unwrap_or("x").to_lowercase();
    let email = address(stack, &first);
    body["email"] = json!(email);
    (stack.create_contact(token, body).await, email)
}

/// A workflow with these steps (and further fields of `extra`), which must be accepted: the
/// workflow.
async fn define(stack: &Stack, token: &str, steps: Value, extra: Value) -> Value {
    let mut body = json!({"name": "Flow", "steps": steps});
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    let r = stack.call("POST", "/workflows", token, Some(body)).await;
    assert_eq!(r.status, 201, "POST /workflows: {:?}", r.body);
    r.body
}

/// A workflow with these steps: its id.
async fn flow(stack: &Stack, token: &str, steps: Value) -> String {
    id(&define(stack, token, steps, json!({})).await)
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

/// Enrolls the contact (201): the run's id.
async fn enroll(stack: &Stack, token: &str, workflow_id: &str, contact_id: &str) -> String {
    let r = start_run(stack, token, workflow_id, contact_id).await;
    assert_eq!(
        r.status, 201,
        "POST /workflows/{workflow_id}/runs: {:?}",
        r.body
    );
    id(&r.body)
}

/// `GET /workflow-runs/{id}`: the run.
async fn run_of(stack: &Stack, token: &str, run_id: &str) -> Value {
    let r = stack.get(&format!("/workflow-runs/{run_id}"), token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// The run's history as (step id, kind, result).
fn history(run: &Value) -> Vec<(String, String, String)> {
    run["history"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            let text = |k: &str| h[k].as_str().unwrap_or("").to_string();
            (text("step_id"), text("kind"), text("result"))
        })
        .collect()
}

/// The history entry of step `step` (the last one).
fn entry<'a>(run: &'a Value, step: &str) -> &'a Value {
    run["history"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .find(|h| h["step_id"] == step)
        .unwrap_or_else(|| panic!("no history entry of {step}: {run}"))
}

/// How far ahead [`drive`] fires schedules: past every wait a workflow may hold.
const HORIZON_DAYS: i64 = 400;

/// Runs the step queue and fires every schedule due within [`HORIZON_DAYS`], again and again,
/// until nothing is left to do: how many step messages were delivered.
async fn drive(stack: &Stack) -> usize {
    let mut delivered = 0;
    for _ in 0..50 {
        let n = stack.runtime.deliver_step_messages().await.unwrap();
        delivered += n;
        let later = chrono::Utc::now() + chrono::Duration::days(HORIZON_DAYS);
        let fired = stack.runtime.fire_due_schedules(later).await.unwrap();
        if n == 0 && fired.is_empty() {
            return delivered;
        }
    }
    panic!("the runs never settle");
}

/// Fires the schedules due `minutes` from now and delivers the step queue.
async fn fire_after(stack: &Stack, minutes: i64) -> Vec<String> {
    let fired = stack
        .runtime
        .fire_due_schedules(chrono::Utc::now() + chrono::Duration::minutes(minutes))
        .await
        .unwrap();
    stack.runtime.deliver_step_messages().await.unwrap();
    fired
}

/// The schedule of the run's wait (`run-{id}-{seq}`): its `at(...)` instant (UTC), if it is
/// there.
async fn schedule_at(
    stack: &Stack,
    run_id: &str,
    seq: u64,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let group = stack.runtime.provisioned.resolved.refs["StepScheduleGroup"].clone();
    let schedule = stack
        .runtime
        .aws
        .scheduler
        .get_schedule()
        .group_name(group)
        .name(format!("run-{run_id}-{seq}"))
        .send()
        .await
        .ok()?;
    crm_local::scheduler::parse_at_expression(
        schedule.schedule_expression()?,
        schedule.schedule_expression_timezone(),
    )
}

/// Subjects of the mail the local SES accepted for `to`.
async fn subjects(stack: &Stack, to: &str) -> Vec<String> {
    stack
        .sent_emails_to(to)
        .await
        .into_iter()
        .map(|(subject, _)| subject)
        .collect()
}

/// The contact's tags.
async fn tags(stack: &Stack, token: &str, contact_id: &str) -> Vec<String> {
    let c = stack.get(&format!("/contacts/{contact_id}"), token).await;
    let mut tags: Vec<String> = c.body["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    tags.sort();
    tags
}

/// Defines the contact custom field `score` (an integer).
async fn score_field(stack: &Stack, admin: &str) {
    stack
        .create_field(
            admin,
            json!({"key": "score", "entity": "contact", "label": "Score", "type": {"kind": "integer"}}),
        )
        .await;
}
