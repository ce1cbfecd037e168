//! Exactly one effect per step and run (S7.4): every step message delivered twice, two
//! executors racing on the same messages, and a send that keeps failing: retried with backoff,
//! then the run `failed` with the error and the message in the dead-letter queue.

use super::{alice, enroll, entry, flow, history, person, run_of, subjects};
use crm_e2e_tests::{Stack, json};
use std::collections::BTreeMap;

/// How often each step id appears in the run's history.
fn step_counts(run: &serde_json::Value) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (step, kind, _) in history(run) {
        if kind != "control" && kind != "revision" {
            *counts.entry(step).or_default() += 1;
        }
    }
    counts
}

/// A run of every effectful step kind, waits between them so that each comes in its own step
/// message, with each message handed to the executor twice: one mail, one task, one tag
/// change, one field change, one notification and one deal move (S7.4).
#[tokio::test]
async fn s7_4_every_step_message_delivered_twice_has_one_effect() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let pipeline = crate::deals::sales_pipeline(&stack).await;
    let (ada, address) = person(&stack, &admin, json!({"first_name": "Ada"})).await;
    let deal = stack
        .create(
            "/deals",
            &admin,
            json!({"title": "Relaunch", "pipeline_id": pipeline["id"], "contact_ids": [ada]}),
        )
        .await;
    let wait = |id: &str| json!({"id": id, "type": "wait", "minutes": 5});
    let wf = flow(
        &stack,
        &admin,
        json!([
            {"id": "mail", "type": "send_email", "subject": "Hi {{first_name}}", "body": "Hello"},
            wait("w1"),
            {"id": "task", "type": "create_activity", "activity": {"type": "task", "subject": "Call"}},
            wait("w2"),
            {"id": "tag", "type": "add_tag", "tag": "warm"},
            {"id": "field", "type": "update_field", "field": "job_title", "value": "CTO"},
            wait("w3"),
            {"id": "notify", "type": "notify", "to": "owner", "message": "Ada is warm"},
            wait("w4"),
            {"id": "move", "type": "move_deal", "pipeline_id": pipeline["id"], "stage_id": crate::deals::stage(&pipeline, 1)}
        ]),
    )
    .await;
    let run_id = enroll(&stack, &admin, &wf, &ada).await;

    let executor = &stack.runtime.functions.step_executor;
    let mut messages = 0;
    for _ in 0..20 {
        while let Some(batch) = stack.runtime.receive_step_batch().await.unwrap() {
            for _ in 0..2 {
                let response = executor.handle(batch.clone()).await;
                assert!(response.batch_item_failures.is_empty(), "{response:?}");
            }
            stack
                .runtime
                .ack_sqs_batch("StepQueue", &batch)
                .await
                .unwrap();
            messages += batch.records.len();
        }
        let later = chrono::Utc::now() + chrono::Duration::minutes(10);
        if stack
            .runtime
            .fire_due_schedules(later)
            .await
            .unwrap()
            .is_empty()
        {
            break;
        }
    }
    assert_eq!(messages, 5, "the first step and four fired waits");

    let run = run_of(&stack, &admin, &run_id).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert!(
        step_counts(&run).values().all(|n| *n == 1),
        "each step once: {:?}",
        step_counts(&run)
    );
    assert_eq!(subjects(&stack, &address).await, ["Hi Ada"]);
    let timeline = stack
        .get(&format!("/contacts/{ada}/activities"), &admin)
        .await;
    let mut types: Vec<&str> = timeline.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(types, ["email", "task"]);
    let c = stack.get(&format!("/contacts/{ada}"), &admin).await.body;
    assert_eq!(
        (&c["tags"], &c["job_title"]),
        (&json!(["warm"]), &json!("CTO"))
    );
    let audit = stack.get(&format!("/contacts/{ada}/history"), &admin).await;
    let by_workflow = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["actor"] == format!("workflow:{wf}").as_str())
        .count();
    assert_eq!(by_workflow, 2, "the tag and the field, once each");
    let notes = stack.get("/me/notifications", &admin).await;
    let notes: Vec<_> = notes.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "workflow")
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let moves = stack
        .get(&format!("/deals/{deal}/stage-history"), &admin)
        .await;
    assert_eq!(
        moves.body.as_array().unwrap().len(),
        2,
        "created, moved once"
    );
}

/// Two executors handed the same step messages at the same time (as two Lambda instances
/// holding duplicates would be): one email and one activity per run. A worker that finds the
/// step being applied by the other reports the message failed, and its redelivery finds the
/// step done (S7.4).
#[tokio::test]
async fn s7_4_two_executors_racing_on_one_step_apply_it_once() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let wf = flow(
        &stack,
        &admin,
        json!([
            {"id": "mail", "type": "send_email", "subject": "Race {{first_name}}", "body": "Hello"},
            {"id": "note", "type": "create_activity", "activity": {"type": "note", "text": "Raced"}}
        ]),
    )
    .await;
    let mut people = Vec::new();
    for name in ["Ada", "Bob", "Cy", "Dee"] {
        let (c, address) = person(&stack, &admin, json!({"first_name": name})).await;
        let run = enroll(&stack, &admin, &wf, &c).await;
        people.push((c, address, run));
    }

    let executor = &stack.runtime.functions.step_executor;
    let mut raced = 0;
    while let Some(batch) = stack.runtime.receive_step_batch().await.unwrap() {
        raced += batch.records.len();
        let (a, b) = tokio::join!(
            executor.handle(batch.clone()),
            executor.handle(batch.clone())
        );
        // A message a worker reported failed comes back: deliver it again until it succeeds.
        let mut failed: Vec<String> = a
            .batch_item_failures
            .iter()
            .chain(&b.batch_item_failures)
            .map(|f| f.item_identifier.clone())
            .collect();
        for _ in 0..3 {
            if failed.is_empty() {
                break;
            }
            let mut again = batch.clone();
            again
                .records
                .retain(|r| failed.contains(r.message_id.as_ref().unwrap()));
            failed = executor
                .handle(again)
                .await
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect();
        }
        assert!(failed.is_empty(), "the redelivery succeeds");
        stack
            .runtime
            .ack_sqs_batch("StepQueue", &batch)
            .await
            .unwrap();
    }
    assert_eq!(raced, 4);

    for (contact, address, run) in &people {
        let run = run_of(&stack, &admin, run).await;
        assert_eq!(run["status"], "completed", "{run}");
        assert!(run["last_error"].is_null(), "{run}");
        assert_eq!(step_counts(&run).values().sum::<usize>(), 2, "{run}");
        assert_eq!(
            subjects(&stack, address).await.len(),
            1,
            "one mail to {address}"
        );
        let timeline = stack
            .get(&format!("/contacts/{contact}/activities"), &admin)
            .await;
        let mut types: Vec<&str> = timeline.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["type"].as_str().unwrap())
            .collect();
        types.sort();
        assert_eq!(types, ["email", "note"], "{address}");
    }
}

/// A send SES refuses every time is retried on each delivery (the error recorded on the run
/// meanwhile), and on the queue's last delivery the run becomes `failed` with the error in its
/// history while the message moves to the dead-letter queue (S7.4).
///
/// How SES is made to fail without touching production code: this test's stack sends from its
/// own sender (the `SesSenderEmail` parameter overridden, as a deployment would), and the test
/// deletes that identity from the local SES after provisioning; moto then refuses the send
/// ("Did not have authority to send from email …") as SES refuses an unverified sender.
#[tokio::test]
async fn s7_4_a_failing_send_is_retried_then_the_run_fails_and_the_message_is_dead_lettered() {
    let sender = format!(
        "crm-{}@unverified-sender.example.org",
        uuid::Uuid::now_v7().simple()
    );
    let stack = Stack::start_with(
        [("SesSenderEmail".to_string(), sender.clone())]
            .into_iter()
            .collect(),
    )
    .await;
    stack
        .runtime
        .aws
        .sesv2
        .delete_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .unwrap();
    let admin = alice(&stack).await;
    let (ada, address) = person(&stack, &admin, json!({"first_name": "Ada"})).await;
    let wf = flow(
        &stack,
        &admin,
        json!([{"id": "mail", "type": "send_email", "subject": "Hi", "body": "Hello"}]),
    )
    .await;
    let run_id = enroll(&stack, &admin, &wf, &ada).await;

    let mut deliveries = 0;
    while let Some(batch) = stack.runtime.receive_step_batch().await.unwrap() {
        assert_eq!(stack.runtime.invoke_step_executor(batch).await.unwrap(), 1);
        deliveries += 1;
        let run = run_of(&stack, &admin, &run_id).await;
        let error = run["last_error"].as_str().unwrap_or("");
        assert!(
            error.starts_with(&format!("attempt {deliveries}: ")) && error.contains("SendEmail"),
            "{run}"
        );
        if deliveries < 5 {
            assert_eq!(run["status"], "active", "retried: {run}");
        }
        assert!(deliveries <= 10, "the message never reached the DLQ");
    }
    assert_eq!(deliveries, 5, "the step queue's maxReceiveCount");

    let run = run_of(&stack, &admin, &run_id).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["finished_at"].is_string());
    let failed = entry(&run, "mail");
    assert_eq!(failed["result"], "failed");
    assert_eq!(failed["detail"], "after 5 attempts");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("SendEmail") && e.contains(&sender)),
        "{failed}"
    );
    let listed = stack
        .get(&format!("/workflows/{wf}/runs?status=failed"), &admin)
        .await;
    assert_eq!(listed.body["items"][0]["id"], run_id.as_str());

    let dlq_url = stack.runtime.provisioned.resolved.refs["StepDeadLetterQueue"].clone();
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
    let body: serde_json::Value = serde_json::from_str(dlq.messages()[0].body().unwrap()).unwrap();
    assert_eq!(body["run_id"], run_id.as_str());
    assert!(subjects(&stack, &address).await.is_empty(), "nothing sent");
}
