//! Workflows and their runs (S7.1, S7.2, S7.4): one run per contact, one tenant's, definitions
//! validated, failing step messages ending in the dead-letter queue.

use super::{contact, start_run, workflow};
use crm_e2e_tests::{Reply, Stack, json};

/// Grace enrolled in the Welcome workflow (a 5-minute wait): her id, the workflow's and the
/// run's reply.
async fn grace_enrolled(stack: &Stack, admin: &str) -> (String, String, Reply) {
    let contact_id = contact(stack, admin, "grace@example.com").await;
    let workflow_id = workflow(stack, admin, 5).await;
    let first = start_run(stack, admin, &workflow_id, &contact_id).await;
    assert_eq!(first.status, 201);
    (contact_id, workflow_id, first)
}

/// A contact is not enrolled twice in the same workflow: the second run is a conflict naming
/// the contact (S7.1).
#[tokio::test]
async fn s7_1_a_contact_is_not_enrolled_twice() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (contact_id, workflow_id, _) = grace_enrolled(&stack, &admin).await;
    let second = start_run(&stack, &admin, &workflow_id, &contact_id).await;
    assert_eq!(second.status, 409);
    assert_eq!(second.problem_field().0, "contact_id");
}

/// Workflows and their runs belong to one tenant: another gets 404 reading them or starting a
/// run (S7.1, S1.4).
#[tokio::test]
async fn s7_1_workflows_and_runs_are_tenant_scoped() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (contact_id, workflow_id, first) = grace_enrolled(&stack, &admin).await;

    let other = stack.token("other", "olga", "admin");
    assert_eq!(
        stack
            .get(&format!("/workflows/{workflow_id}"), &other)
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .get(
                &format!("/workflow-runs/{}", first.body["id"].as_str().unwrap()),
                &other
            )
            .await
            .status,
        404
    );
    assert_eq!(
        start_run(&stack, &other, &workflow_id, &contact_id)
            .await
            .status,
        404
    );
}

/// A workflow definition is validated: merge fields and step types named, writers only (S7.2).
#[tokio::test]
async fn s7_2_workflow_definitions_are_validated() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let member = stack.token("acme", "mo", "member");
    let bad = stack
        .call("POST", "/workflows", &admin, Some(json!({"name": "W", "steps": [{"type": "send_email", "subject": "Hi {{nickname}}", "body": "x"}]})))
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(
        bad.problem_field(),
        ("steps[0].subject".into(), "merge_field".into())
    );
    let unknown_step = stack
        .call(
            "POST",
            "/workflows",
            &admin,
            Some(json!({"name": "W", "steps": [{"type": "teleport"}]})),
        )
        .await;
    assert_eq!(unknown_step.status, 400);
    let ok = json!({"name": "W", "steps": [{"type": "wait", "minutes": 1}]});
    assert_eq!(
        stack
            .call("POST", "/workflows", &member, Some(ok))
            .await
            .status,
        403
    );
}

/// A step message the executor cannot handle comes back on every delivery until the queue's
/// maxReceiveCount moves it to the dead-letter queue (S7.4).
#[tokio::test]
async fn s7_4_failed_step_messages_come_back_and_end_in_the_dead_letter_queue() {
    let stack = Stack::start().await;
    let queue_url = stack.runtime.provisioned.resolved.refs["StepQueue"].clone();
    let dlq_url = stack.runtime.provisioned.resolved.refs["StepDeadLetterQueue"].clone();
    stack
        .runtime
        .aws
        .sqs
        .send_message()
        .queue_url(&queue_url)
        .message_body("not a step message")
        .send()
        .await
        .unwrap();

    // Each delivery reports the message in batchItemFailures; it comes back until the
    // queue's maxReceiveCount moves it to the dead-letter queue.
    let mut deliveries = 0;
    while let Some(batch) = stack.runtime.receive_step_batch().await.unwrap() {
        assert_eq!(stack.runtime.invoke_step_executor(batch).await.unwrap(), 1);
        deliveries += 1;
        assert!(deliveries <= 10, "the message never reached the DLQ");
    }
    assert_eq!(deliveries, 5, "maxReceiveCount of template.yaml");
    let dlq = stack
        .runtime
        .aws
        .sqs
        .receive_message()
        .queue_url(&dlq_url)
        .send()
        .await
        .unwrap();
    assert_eq!(dlq.messages().len(), 1);
    assert_eq!(dlq.messages()[0].body(), Some("not a step message"));
}
