//! A run whose contact goes away stops cleanly (S7.5): deleted (to the trash), the run is
//! `cancelled` with `contact_deleted` at its next step; erased, the run goes with the contact
//! and its pending schedule fires into nothing — no error, no retry, no mail.

use super::{alice, enroll, fire_after, flow, person, run_of, subjects};
use crm_e2e_tests::{Stack, json};

/// Ada and Grace waiting in a workflow (wait, mail, tag): their (id, address, run) each.
async fn both_waiting(stack: &Stack, admin: &str) -> Vec<(String, String, String)> {
    let wf = flow(
        stack,
        admin,
        json!([
            {"id": "wait", "type": "wait", "minutes": 10},
            {"id": "mail", "type": "send_email", "subject": "Hello {{first_name}}", "body": "Hi"},
            {"id": "tag", "type": "add_tag", "tag": "mailed"}
        ]),
    )
    .await;
    let mut out = Vec::new();
    for name in ["Ada", "Grace"] {
        let (c, address) = person(stack, admin, json!({"first_name": name})).await;
        let run = enroll(stack, admin, &wf, &c).await;
        out.push((c, address, run));
    }
    stack.runtime.deliver_step_messages().await.unwrap();
    out
}

/// No message is left on the step queue or in its dead-letter queue.
async fn queues_are_empty(stack: &Stack) {
    assert!(stack.runtime.receive_step_batch().await.unwrap().is_none());
    let dlq = stack.runtime.provisioned.resolved.refs["StepDeadLetterQueue"].clone();
    let dead = stack
        .runtime
        .aws
        .sqs
        .receive_message()
        .queue_url(dlq)
        .send()
        .await
        .unwrap();
    assert!(dead.messages().is_empty(), "nothing dead-lettered");
}

/// A contact moved to the trash while its run waits: at the next step the run is cancelled
/// with `contact_deleted`, nothing is sent; the other contact's run goes on (S7.5).
#[tokio::test]
async fn s7_5_a_run_whose_contact_is_deleted_is_cancelled_at_its_next_step() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let people = both_waiting(&stack, &admin).await;
    let (ada, ada_address, ada_run) = &people[0];
    assert_eq!(
        stack
            .status("DELETE", &format!("/contacts/{ada}"), &admin, None)
            .await,
        204
    );
    assert_eq!(fire_after(&stack, 11).await.len(), 2);
    queues_are_empty(&stack).await;

    let run = run_of(&stack, &admin, ada_run).await;
    assert_eq!(run["status"], "cancelled", "{run}");
    assert_eq!(run["exit_reason"], "contact_deleted");
    assert!(run["finished_at"].is_string());
    assert!(
        run["done_steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s != "mail")
    );
    assert!(subjects(&stack, ada_address).await.is_empty());

    let (_, grace_address, grace_run) = &people[1];
    assert_eq!(
        run_of(&stack, &admin, grace_run).await["status"],
        "completed"
    );
    assert_eq!(subjects(&stack, grace_address).await, ["Hello Grace"]);
}

/// A contact erased while its run waits takes the run with it (the run is personal data);
/// the wait's schedule still fires, and its message is taken without error, retry or mail.
/// The other contact's run is untouched (S7.5, S1.2).
#[tokio::test]
async fn s7_5_a_run_whose_contact_is_erased_stops_cleanly() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let people = both_waiting(&stack, &admin).await;
    let (ada, ada_address, ada_run) = &people[0];
    assert_eq!(
        stack
            .status("POST", &format!("/contacts/{ada}/erase"), &admin, None)
            .await,
        204
    );
    assert_eq!(
        stack
            .get(&format!("/workflow-runs/{ada_run}"), &admin)
            .await
            .status,
        404,
        "the run went with the contact"
    );
    let fired = stack
        .runtime
        .fire_due_schedules(chrono::Utc::now() + chrono::Duration::minutes(11))
        .await
        .unwrap();
    assert_eq!(fired.len(), 2, "Ada's schedule fires too");
    assert_eq!(
        stack.runtime.deliver_step_messages().await.unwrap(),
        2,
        "both messages taken, none failed"
    );
    queues_are_empty(&stack).await;
    assert!(subjects(&stack, ada_address).await.is_empty());

    let (_, grace_address, grace_run) = &people[1];
    assert_eq!(
        run_of(&stack, &admin, grace_run).await["status"],
        "completed"
    );
    assert_eq!(subjects(&stack, grace_address).await, ["Hello Grace"]);
}
