//! Revisions (S7.1): editing the steps of an active workflow makes a new `revision` (the
//! record's `version` drives the ETag). A waiting run finishes on its own revision, or, with
//! `move_runs`, continues at its next step in the new one: a removed step is never executed,
//! nor a step added before the run's place.

use super::{alice, enroll, entry, fire_after, flow, person, run_of, subjects, tags};
use crm_e2e_tests::{Reply, Stack, json};

/// Revision 1: wait, mail A, mail B.
fn first_revision() -> serde_json::Value {
    json!([
        {"id": "w", "type": "wait", "minutes": 10},
        {"id": "a", "type": "send_email", "subject": "Old A", "body": "a"},
        {"id": "b", "type": "send_email", "subject": "Old B", "body": "b"}
    ])
}

/// Revision 2: a tag step before the wait, the wait, B changed, C new; A removed.
fn second_revision() -> serde_json::Value {
    json!([
        {"id": "x", "type": "add_tag", "tag": "added-before"},
        {"id": "w", "type": "wait", "minutes": 10},
        {"id": "b", "type": "send_email", "subject": "New B", "body": "b"},
        {"id": "c", "type": "send_email", "subject": "New C", "body": "c"}
    ])
}

/// Ada enrolled and waiting in a workflow of the first revision: (workflow, Ada, her address,
/// her run).
async fn ada_waiting(stack: &Stack, admin: &str) -> (String, String, String, String) {
    let wf = flow(stack, admin, first_revision()).await;
    let (ada, address) = person(stack, admin, json!({"first_name": "Ada"})).await;
    let run = enroll(stack, admin, &wf, &ada).await;
    stack.runtime.deliver_step_messages().await.unwrap();
    assert_eq!(run_of(stack, admin, &run).await["next_step"], "a");
    (wf, ada, address, run)
}

async fn edit(stack: &Stack, admin: &str, wf: &str, body: serde_json::Value) -> Reply {
    let r = stack
        .call("PATCH", &format!("/workflows/{wf}"), admin, Some(body))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r
}

/// Without `move_runs`, a waiting run finishes on the revision it started on (mails A and B
/// as they were), while a run started after the edit executes the new one; `revision` counts
/// step edits, `version` every edit, and the ETag follows `version` (S7.1).
#[tokio::test]
async fn s7_1_a_waiting_run_finishes_on_its_own_revision() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let (wf, ada, ada_address, ada_run) = ada_waiting(&stack, &admin).await;

    let edited = edit(&stack, &admin, &wf, json!({"steps": second_revision()})).await;
    assert_eq!(
        (&edited.body["revision"], &edited.body["version"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(edited.header("etag"), Some("\"2\""));
    let renamed = edit(&stack, &admin, &wf, json!({"name": "Renamed"})).await;
    assert_eq!(
        (&renamed.body["revision"], &renamed.body["version"]),
        (&json!(2), &json!(3)),
        "a rename is no new revision"
    );
    assert_eq!(renamed.header("etag"), Some("\"3\""));
    let stale = stack
        .call_if_match(
            "PATCH",
            &format!("/workflows/{wf}"),
            &admin,
            "\"2\"",
            Some(json!({"name": "X"})),
        )
        .await;
    assert_eq!(stale.status, 412);

    let (bob, bob_address) = person(&stack, &admin, json!({"first_name": "Bob"})).await;
    let bob_run = enroll(&stack, &admin, &wf, &bob).await;
    stack.runtime.deliver_step_messages().await.unwrap();
    fire_after(&stack, 11).await;

    let mut old = subjects(&stack, &ada_address).await;
    old.sort();
    assert_eq!(old, ["Old A", "Old B"]);
    let run = run_of(&stack, &admin, &ada_run).await;
    assert_eq!(
        (&run["status"], &run["revision"]),
        (&json!("completed"), &json!(1))
    );
    assert!(tags(&stack, &admin, &ada).await.is_empty());

    let mut new = subjects(&stack, &bob_address).await;
    new.sort();
    assert_eq!(new, ["New B", "New C"]);
    let run = run_of(&stack, &admin, &bob_run).await;
    assert_eq!(
        (&run["status"], &run["revision"]),
        (&json!("completed"), &json!(2))
    );
    assert_eq!(tags(&stack, &admin, &bob).await, ["added-before"]);
}

/// With `move_runs: true`, the waiting run moves to the new revision at its next step: its
/// next step (A) was removed, so it goes on at the first step after it that remains (B, as
/// changed), then C; the step added before its place is not executed (S7.1).
#[tokio::test]
async fn s7_1_with_move_runs_a_waiting_run_continues_at_its_next_step_in_the_new_revision() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let (wf, ada, address, run_id) = ada_waiting(&stack, &admin).await;

    let edited = edit(
        &stack,
        &admin,
        &wf,
        json!({"steps": second_revision(), "move_runs": true}),
    )
    .await;
    assert_eq!(edited.body["revision"], 2);
    assert_eq!(edited.body["move_runs"], true);
    fire_after(&stack, 11).await;

    let mut sent = subjects(&stack, &address).await;
    sent.sort();
    assert_eq!(sent, ["New B", "New C"], "A was removed: never sent");
    let run = run_of(&stack, &admin, &run_id).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["revision"], 2);
    let moved = run["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["kind"] == "revision")
        .expect("the move is in the history");
    assert_eq!(moved["result"], "moved");
    assert_eq!(moved["detail"], "revision 1 → 2");
    let done: Vec<&str> = run["done_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(done, ["w", "b", "c"]);
    assert_eq!(entry(&run, "b")["result"], "sent");
    assert!(
        tags(&stack, &admin, &ada).await.is_empty(),
        "x is behind the run"
    );
}
