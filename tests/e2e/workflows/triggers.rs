//! Triggers fire from every path (S7.1, S7.3): the table's stream, delivered by the local
//! runtime as Lambda's event source mapping would, feeds the contact observer; each test
//! delivers it and reads the runs the workflow got.

use super::contact;
use crm_e2e_tests::{Stack, json};
use serde_json::Value;
use std::collections::BTreeSet;

/// A workflow with `trigger` and one effect step (tag the contact): its id.
async fn triggered(stack: &Stack, admin: &str, trigger: Value) -> String {
    stack
        .create(
            "/workflows",
            admin,
            json!({"name": "Welcome", "trigger": trigger, "steps": [{"type": "add_tag", "tag": "welcomed"}]}),
        )
        .await
}

/// Every run of the workflow.
async fn runs(stack: &Stack, admin: &str, workflow: &str) -> Vec<Value> {
    stack
        .list_all(&format!("/workflows/{workflow}/runs?limit=200"), admin)
        .await
}

async fn contact_runs(stack: &Stack, admin: &str, contact: &str) -> Vec<Value> {
    let r = stack.get(&format!("/contacts/{contact}/runs"), admin).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body.as_array().unwrap().clone()
}

/// Delivers the stream, then the step queue, until both are quiet.
async fn settle(stack: &Stack) {
    for _ in 0..10 {
        let changes = stack.runtime.deliver_stream_records().await.unwrap();
        let steps = stack.runtime.deliver_step_messages().await.unwrap();
        if changes == 0 && steps == 0 {
            return;
        }
    }
    panic!("the stream and the step queue never went quiet");
}

/// A contact created through the API enrolls once into a "contact created" workflow, and its
/// step runs; the stream records delivered again (at-least-once) enroll nobody twice; the
/// contact's later changes (the tag the step added) do not count as a creation (S7.3).
#[tokio::test]
async fn s7_3_a_contact_created_through_the_api_enrolls_once() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let workflow = triggered(&stack, &admin, json!({"type": "contact_created"})).await;
    let ada = contact(&stack, &admin, "ada@example.com").await;

    let report = stack.runtime.deliver_streams().await.unwrap();
    assert!(!report.delivered.is_empty());
    // The same records once more, as a retried batch would bring them.
    let again: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_value(json!({ "Records": report.delivered })).unwrap();
    let response = stack
        .runtime
        .functions
        .workflow_triggers
        .handle(again)
        .await;
    assert!(response.batch_item_failures.is_empty());
    settle(&stack).await;

    let runs = contact_runs(&stack, &admin, &ada).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["workflow_id"], workflow.as_str());
    assert_eq!(runs[0]["enrollment"]["by"], "contact_created");
    assert_eq!(runs[0]["status"], "completed");
    let tags = stack.get(&format!("/contacts/{ada}"), &admin).await.body["tags"].clone();
    assert_eq!(tags, json!(["welcomed"]));
}

/// A criteria trigger enrolls a contact created matching, and one changed to match — once:
/// a later change that keeps it matching enrolls nobody (S7.1).
#[tokio::test]
async fn s7_1_a_contact_newly_matching_criteria_enrolls_once() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let workflow = triggered(
        &stack,
        &admin,
        json!({"type": "criteria_matched", "criteria": {"tag": "vip"}}),
    )
    .await;
    let born_vip = stack
        .create_contact(&admin, json!({"first_name": "Vera", "tags": ["vip"]}))
        .await;
    let grace = contact(&stack, &admin, "grace@example.com").await;
    settle(&stack).await;
    assert_eq!(contact_runs(&stack, &admin, &born_vip).await.len(), 1);
    assert!(contact_runs(&stack, &admin, &grace).await.is_empty());

    let path = format!("/contacts/{grace}");
    let r = stack
        .call("PATCH", &path, &admin, Some(json!({"tags": ["vip"]})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    settle(&stack).await;
    let r = stack
        .call(
            "PATCH",
            &path,
            &admin,
            Some(json!({"job_title": "Admiral"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    settle(&stack).await;
    let graces = contact_runs(&stack, &admin, &grace).await;
    assert_eq!(graces.len(), 1, "{graces:?}");
    assert_eq!(graces[0]["enrollment"]["by"], "criteria_matched");
    assert_eq!(runs(&stack, &admin, &workflow).await.len(), 2);
}

/// An import of 1,000 contacts enrolls each once: 1,000 runs, none twice, though the import's
/// upload event and every chunk were delivered twice (S7.3).
#[tokio::test]
async fn s7_3_an_import_of_1000_contacts_makes_1000_runs_none_twice() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let workflow = triggered(&stack, &admin, json!({"type": "contact_created"})).await;
    let mut csv = String::from("first_name,email\n");
    for i in 0..1000 {
        csv.push_str(&format!("Person {i},person{i}@example.com\n"));
    }
    let (id, url) = stack.start_import(&admin, "people.csv").await;
    let processor = &stack.runtime.functions.import_processor;
    let import = stack.import_with(processor, &admin, &url, &id, &csv).await;
    assert_eq!(import["status"], "completed", "{import:?}");
    while stack.runtime.deliver_stream_records().await.unwrap() > 0 {}

    let all = runs(&stack, &admin, &workflow).await;
    let contacts: BTreeSet<&str> = all
        .iter()
        .map(|r| r["contact_id"].as_str().unwrap())
        .collect();
    assert_eq!(all.len(), 1000);
    assert_eq!(contacts.len(), 1000, "no contact twice");
}

/// A deal entering a stage enrolls its contact with the deal (S7.1).
#[tokio::test]
async fn s7_1_a_deal_entering_a_stage_enrolls_its_contact_with_the_deal() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let pipeline = stack
        .call(
            "POST",
            "/pipelines",
            &admin,
            Some(json!({"name": "Sales", "stages": [
            {"name": "Lead", "probability": 10}, {"name": "Proposal", "probability": 50},
            {"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}]})),
        )
        .await;
    assert_eq!(pipeline.status, 201, "{:?}", pipeline.body);
    let pipeline_id = pipeline.body["id"].as_str().unwrap().to_string();
    let stage = |i: usize| {
        pipeline.body["stages"][i]["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let workflow = triggered(
        &stack,
        &admin,
        json!({"type": "deal_stage_entered", "pipeline_id": pipeline_id, "stage_id": stage(1)}),
    )
    .await;
    let ada = contact(&stack, &admin, "ada@example.com").await;
    let deal = stack
        .create("/deals", &admin, json!({"title": "Engines", "pipeline_id": pipeline_id,
            "stage_id": stage(0), "contact_ids": [ada], "value": {"amount": "1000.00", "currency": "EUR"}}))
        .await;
    settle(&stack).await;
    assert!(
        runs(&stack, &admin, &workflow).await.is_empty(),
        "not in the stage yet"
    );

    let r = stack
        .call(
            "PATCH",
            &format!("/deals/{deal}"),
            &admin,
            Some(json!({"stage_id": stage(1)})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    settle(&stack).await;
    let all = runs(&stack, &admin, &workflow).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["contact_id"], ada.as_str());
    assert_eq!(all[0]["deal_id"], deal.as_str());
    assert_eq!(all[0]["enrollment"]["by"], "deal_stage_entered");
}

/// A contact put in the trash stops its runs at once: cancelled, reason contact_deleted (S7.5).
#[tokio::test]
async fn s7_5_a_trashed_contact_stops_its_runs() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let workflow = stack
        .create(
            "/workflows",
            &admin,
            json!({"name": "Slow", "steps": [
            {"type": "wait", "days": 3}, {"type": "add_tag", "tag": "late"}]}),
        )
        .await;
    let ada = contact(&stack, &admin, "ada@example.com").await;
    let run = super::start_run(&stack, &admin, &workflow, &ada).await;
    assert_eq!(run.status, 201);
    settle(&stack).await;
    assert_eq!(
        stack
            .status("DELETE", &format!("/contacts/{ada}"), &admin, None)
            .await,
        204
    );
    settle(&stack).await;
    let run = stack
        .get(
            &format!("/workflow-runs/{}", run.body["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(run.body["status"], "cancelled", "{:?}", run.body);
    assert_eq!(run.body["exit_reason"], "contact_deleted");
}

/// A lead from a public web form and a lead from inbound mail enroll into a "contact
/// created" workflow once each, though the form was sent twice and the mail's S3 event
/// delivered twice (S7.3).
#[tokio::test]
async fn s7_3_leads_from_a_web_form_and_from_inbound_mail_enroll_once() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    stack
        .put_user(&admin, "alice", json!({"role": "admin"}))
        .await;
    let workflow = triggered(&stack, &admin, json!({"type": "contact_created"})).await;

    let r = stack
        .call(
            "PUT",
            "/lead-sources",
            &admin,
            Some(json!({"sources": [
            {"key": "web", "label": "Website", "kind": "web_form"}]})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = stack
        .call(
            "POST",
            "/web-forms",
            &admin,
            Some(json!({"name": "Contact us", "lead_source": "web"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let key = r.body["form_key"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let sent = stack
            .send(
                stack
                    .request("POST", &format!("/forms/{key}/submissions"), None)
                    .json(&json!({"name": "Ada Lovelace", "email": "ada@example.com"})),
            )
            .await;
        assert_eq!(sent.status, 202, "{:?}", sent.body);
    }

    let r = stack
        .call(
            "PATCH",
            "/settings",
            &admin,
            Some(json!({"inbound_auto_lead": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    stack
        .runtime
        .aws
        .s3
        .put_object()
        .bucket(stack.runtime.provisioned.resolved.refs["InboxBucket"].clone())
        .key("inbound/grace-1")
        .body(
            include_bytes!("../../fixtures/mail/unknown-sender.eml")
                .to_vec()
                .into(),
        )
        .send()
        .await
        .unwrap();
    for delivery in stack.runtime.receive_s3_events().await.unwrap() {
        for _ in 0..2 {
            stack
                .runtime
                .functions
                .inbound_mail
                .handle(delivery.event.clone())
                .await
                .unwrap();
        }
        stack.runtime.ack_s3_event(&delivery.receipt).await.unwrap();
    }
    settle(&stack).await;

    let all = runs(&stack, &admin, &workflow).await;
    assert_eq!(all.len(), 2, "{all:?}");
    let mut entered = Vec::new();
    for run in &all {
        let c = stack
            .get(
                &format!("/contacts/{}", run["contact_id"].as_str().unwrap()),
                &admin,
            )
            .await;
        entered.push(c.body["entry"]["path"].as_str().unwrap().to_string());
    }
    entered.sort();
    assert_eq!(entered, ["inbound_email", "web_form"]);
}
