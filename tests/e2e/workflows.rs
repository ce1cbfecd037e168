//! Slice 3: workflow wait → EventBridge Scheduler → SQS → step executor → SES (S7.2, S7.4).

use crm_e2e_tests::{Stack, json};

async fn contact(stack: &Stack, token: &str, email: &str) -> String {
    let r = stack
        .call(
            "POST",
            "/contacts",
            token,
            Some(json!({"first_name": "Ada", "email": email})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn workflow(stack: &Stack, token: &str, minutes: u32) -> String {
    let r = stack
        .call(
            "POST",
            "/workflows",
            token,
            Some(json!({
                "name": "Welcome",
                "steps": [
                    {"type": "wait", "minutes": minutes},
                    {"type": "send_email", "subject": "Welcome, {{first_name}}", "body": "Hello {{ display_name }}!"}
                ]
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn s7_2_a_wait_becomes_a_one_time_schedule_and_the_email_is_sent_once() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let email = format!("ada-{}@example.com", stack.prefix);
    let contact_id = contact(&stack, &admin, &email).await;
    let workflow_id = workflow(&stack, &admin, 10).await;

    let started_at = chrono::Utc::now();
    let run = stack
        .call(
            "POST",
            &format!("/workflows/{workflow_id}/runs"),
            &admin,
            Some(json!({"contact_id": contact_id})),
        )
        .await;
    assert_eq!(run.status, 201, "{:?}", run.body);
    let run_path = format!("/workflow-runs/{}", run.body["id"].as_str().unwrap());

    // The executor takes step 0 (wait) off the queue and creates the schedule.
    assert_eq!(stack.runtime.deliver_step_messages().await.unwrap(), 1);
    let waiting = stack.call("GET", &run_path, &admin, None).await;
    assert_eq!(waiting.body["status"], "waiting");
    assert_eq!(waiting.body["current_step"], 1);

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
    let names: Vec<String> = schedules
        .schedules()
        .iter()
        .filter_map(|s| s.name.clone())
        .collect();
    assert_eq!(names.len(), 1);
    let schedule = stack
        .runtime
        .aws
        .scheduler
        .get_schedule()
        .group_name(&group)
        .name(&names[0])
        .send()
        .await
        .unwrap();
    let at = crm_local::scheduler::parse_at_expression(
        schedule.schedule_expression().unwrap(),
        schedule.schedule_expression_timezone(),
    )
    .unwrap();
    let expected = started_at + chrono::Duration::minutes(10);
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

    // Ten minutes later the schedule fires into the step queue and is deleted.
    let fired = stack
        .runtime
        .fire_due_schedules(chrono::Utc::now() + chrono::Duration::minutes(11))
        .await
        .unwrap();
    assert_eq!(fired, names);
    let left = stack
        .runtime
        .aws
        .scheduler
        .list_schedules()
        .group_name(&group)
        .send()
        .await
        .unwrap();
    assert!(left.schedules().is_empty());

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

    let sent = stack.sent_emails_to(&email).await;
    assert_eq!(
        sent,
        vec![("Welcome, Ada".to_string(), "Hello Ada!".to_string())]
    );
    let done = stack.call("GET", &run_path, &admin, None).await;
    assert_eq!(done.body["status"], "completed", "{:?}", done.body);
    let history: Vec<&str> = done.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["result"].as_str().unwrap())
        .collect();
    assert_eq!(history, vec!["scheduled", "sent"]);
}

#[tokio::test]
async fn s7_1_a_contact_is_not_enrolled_twice_and_runs_are_tenant_scoped() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let contact_id = contact(&stack, &admin, "grace@example.com").await;
    let workflow_id = workflow(&stack, &admin, 5).await;
    let path = format!("/workflows/{workflow_id}/runs");
    let first = stack
        .call(
            "POST",
            &path,
            &admin,
            Some(json!({"contact_id": contact_id})),
        )
        .await;
    assert_eq!(first.status, 201);
    let second = stack
        .call(
            "POST",
            &path,
            &admin,
            Some(json!({"contact_id": contact_id})),
        )
        .await;
    assert_eq!(second.status, 409);
    assert_eq!(second.problem_field().0, "contact_id");

    let other = stack.token("other", "olga", "admin");
    assert_eq!(
        stack
            .call("GET", &format!("/workflows/{workflow_id}"), &other, None)
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .call(
                "GET",
                &format!("/workflow-runs/{}", first.body["id"].as_str().unwrap()),
                &other,
                None
            )
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .call(
                "POST",
                &path,
                &other,
                Some(json!({"contact_id": contact_id}))
            )
            .await
            .status,
        404
    );
}

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

#[tokio::test]
async fn s1_2_the_export_holds_the_contact_its_history_and_its_workflow_runs() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let contact_id = contact(&stack, &admin, "ada@example.com").await;
    stack
        .call(
            "PATCH",
            &format!("/contacts/{contact_id}"),
            &admin,
            Some(json!({"company": "ACME"})),
        )
        .await;
    let workflow_id = workflow(&stack, &admin, 5).await;
    let run = stack
        .call(
            "POST",
            &format!("/workflows/{workflow_id}/runs"),
            &admin,
            Some(json!({"contact_id": contact_id})),
        )
        .await;
    // Another contact's data stays out of the export.
    let other_contact = contact(&stack, &admin, "grace@example.com").await;
    stack
        .call(
            "POST",
            &format!("/workflows/{workflow_id}/runs"),
            &admin,
            Some(json!({"contact_id": other_contact})),
        )
        .await;

    let export = stack
        .call(
            "GET",
            &format!("/contacts/{contact_id}/export"),
            &admin,
            None,
        )
        .await;
    assert_eq!(export.status, 200, "{:?}", export.body);
    assert_eq!(export.body["contact"]["id"], contact_id.as_str());
    assert_eq!(export.body["contact"]["company"], "ACME");
    let actions: Vec<&str> = export.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["created", "updated"]);
    let runs = export.body["workflow_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["id"], run.body["id"]);

    let other = stack.token("other", "olga", "admin");
    assert_eq!(
        stack
            .call(
                "GET",
                &format!("/contacts/{contact_id}/export"),
                &other,
                None
            )
            .await
            .status,
        404
    );
}

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
    stack
        .runtime
        .aws
        .scheduler
        .create_schedule()
        .name("kept")
        .group_name(&group)
        .schedule_expression("at(2020-01-01T00:00:00)")
        .schedule_expression_timezone("UTC")
        .flexible_time_window(
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Off)
                .build()
                .unwrap(),
        )
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
    let kept = stack
        .runtime
        .aws
        .scheduler
        .get_schedule()
        .group_name(&group)
        .name("kept")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.state().map(|s| s.as_str()), Some("DISABLED"));
}

#[tokio::test]
async fn s1_2_erase_leaves_nothing_about_the_contact() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    // A viewer sees the contact but may not erase it.
    let viewer = stack.token("acme", "vic", "viewer");
    let ada = contact(&stack, &admin, "ada.erased@example.com").await;
    stack
        .call(
            "PATCH",
            &format!("/contacts/{ada}"),
            &admin,
            Some(json!({"company": "Analytical Engines"})),
        )
        .await;
    let grace = contact(&stack, &admin, "grace@example.com").await;
    let workflow_id = workflow(&stack, &admin, 5).await;
    for id in [&ada, &grace] {
        let r = stack
            .call(
                "POST",
                &format!("/workflows/{workflow_id}/runs"),
                &admin,
                Some(json!({"contact_id": id})),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    stack.runtime.deliver_step_messages().await.unwrap();
    let client = stack
        .call("POST", "/clients", &admin, Some(json!({"name": "Initech"})))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let linked = stack
        .call(
            "PUT",
            &format!("/contacts/{ada}/clients/{client}"),
            &admin,
            Some(json!({"role": "billing", "primary": true})),
        )
        .await;
    assert_eq!(linked.status, 200);

    assert_eq!(
        stack
            .call("POST", &format!("/contacts/{ada}/erase"), &viewer, None)
            .await
            .status,
        403
    );
    assert_eq!(
        stack
            .call("POST", &format!("/contacts/{ada}/erase"), &admin, None)
            .await
            .status,
        204
    );

    for path in [
        format!("/contacts/{ada}"),
        format!("/contacts/{ada}/history"),
        format!("/contacts/{ada}/export"),
    ] {
        assert_eq!(
            stack.call("GET", &path, &admin, None).await.status,
            404,
            "{path}"
        );
    }
    assert_eq!(
        stack
            .call("POST", &format!("/contacts/{ada}/restore"), &admin, None)
            .await
            .status,
        404
    );
    let listed = stack.call("GET", "/contacts", &admin, None).await;
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![grace.as_str()]);

    // Nothing left in the table names or describes her, but the erasure marker (no personal data).
    let table = stack.runtime.provisioned.resolved.refs["CrmTable"].clone();
    let items = stack
        .runtime
        .aws
        .dynamodb
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let about_ada: Vec<String> = items
        .iter()
        .map(|item| format!("{item:?}"))
        .filter(|text| {
            text.contains(&ada) || text.contains("ada.erased") || text.contains("Analytical")
        })
        .collect();
    assert_eq!(about_ada.len(), 1, "{about_ada:#?}");
    assert!(about_ada[0].contains("contact_erasure") && about_ada[0].contains("alice"));
    assert_eq!(
        stack
            .call("GET", &format!("/clients/{client}/contacts"), &admin, None)
            .await
            .body["items"],
        json!([])
    );
    // Grace's run is untouched.
    let export = stack
        .call("GET", &format!("/contacts/{grace}/export"), &admin, None)
        .await;
    assert_eq!(export.body["workflow_runs"].as_array().unwrap().len(), 1);
}
