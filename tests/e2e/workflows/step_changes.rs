//! The steps that change records (S7.2): a standard and a custom field through the contact
//! validator, tags added and removed, a deal of the contact moved to a stage (its stage
//! history shows the workflow), and if / else taking each branch on a tag or a custom field
//! comparison.

use super::{alice, drive, enroll, entry, flow, person, run_of, score_field, tags};
use crm_e2e_tests::{Stack, json};

/// `update_field` sets a standard field (`lifecycle_status`) and a custom one (`cf.score`),
/// `add_tag` / `remove_tag` change the tags; the contact's audit trail names the workflow
/// (S7.2).
#[tokio::test]
async fn s7_2_update_field_standard_and_custom_and_tags_added_and_removed() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    score_field(&stack, &admin).await;
    let (ada, _) = person(
        &stack,
        &admin,
        json!({"first_name": "Ada", "tags": ["trial", "vip"]}),
    )
    .await;
    let wf = flow(
        &stack,
        &admin,
        json!([
            {"id": "status", "type": "update_field", "field": "lifecycle_status", "value": "customer"},
            {"id": "score", "type": "update_field", "field": "cf.score", "value": 42},
            {"id": "add", "type": "add_tag", "tag": "onboarded"},
            {"id": "again", "type": "add_tag", "tag": "ONBOARDED"},
            {"id": "remove", "type": "remove_tag", "tag": "trial"}
        ]),
    )
    .await;
    let run = enroll(&stack, &admin, &wf, &ada).await;
    drive(&stack).await;
    let run = run_of(&stack, &admin, &run).await;
    assert_eq!(run["status"], "completed", "{run}");
    for step in ["status", "score", "add", "again", "remove"] {
        assert_eq!(entry(&run, step)["result"], "done", "{step}: {run}");
    }

    let c = stack.get(&format!("/contacts/{ada}"), &admin).await.body;
    assert_eq!(c["lifecycle_status"], "customer");
    assert_eq!(c["custom_fields"]["score"], 42, "{c}");
    assert_eq!(tags(&stack, &admin, &ada).await, ["onboarded", "vip"]);
    let audit = stack.get(&format!("/contacts/{ada}/history"), &admin).await;
    let actors: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["actor"].as_str())
        .collect();
    let by_workflow = format!("workflow:{wf}");
    assert_eq!(
        actors.iter().filter(|a| **a == by_workflow).count(),
        4,
        "status, score, add, remove (the second add changes nothing): {actors:?}"
    );
}

/// `move_deal` moves the contact's open deal of the pipeline to the stage; the deal's stage
/// history shows the move by the workflow. A contact without a deal there is skipped (S7.2).
#[tokio::test]
async fn s7_2_move_deal_moves_the_contacts_deal_and_its_history_shows_it() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let pipeline = crate::deals::sales_pipeline(&stack).await;
    let stage = |i| crate::deals::stage(&pipeline, i);
    let pipeline_id = pipeline["id"].as_str().unwrap().to_string();
    let (ada, _) = person(&stack, &admin, json!({"first_name": "Ada"})).await;
    let (bob, _) = person(&stack, &admin, json!({"first_name": "Bob"})).await;
    let deal = stack
        .create(
            "/deals",
            &admin,
            json!({"title": "Relaunch", "pipeline_id": pipeline_id, "stage_id": stage(0), "contact_ids": [ada]}),
        )
        .await;
    let wf = flow(
        &stack,
        &admin,
        json!([{"id": "move", "type": "move_deal", "pipeline_id": pipeline_id, "stage_id": stage(1)}]),
    )
    .await;
    let ada_run = enroll(&stack, &admin, &wf, &ada).await;
    let bob_run = enroll(&stack, &admin, &wf, &bob).await;
    drive(&stack).await;

    let run = run_of(&stack, &admin, &ada_run).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(entry(&run, "move")["result"], "done");
    let d = stack.get(&format!("/deals/{deal}"), &admin).await.body;
    assert_eq!(d["stage_id"], stage(1).as_str());
    let moves = stack
        .get(&format!("/deals/{deal}/stage-history"), &admin)
        .await;
    let moves = moves.body.as_array().unwrap();
    assert_eq!(moves.len(), 2, "{moves:?}");
    assert_eq!(moves[1]["from_stage_id"], stage(0).as_str());
    assert_eq!(moves[1]["to_stage_id"], stage(1).as_str());
    assert_eq!(moves[1]["actor"], format!("workflow:{wf}").as_str());

    let run = run_of(&stack, &admin, &bob_run).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(entry(&run, "move")["result"], "skipped", "no deal: {run}");
}

/// The branching workflow: on `condition`, tag `then-branch` or `else-branch`, then `after`.
fn branching(condition: serde_json::Value) -> serde_json::Value {
    json!([
        {"id": "if", "type": "if_else", "condition": condition,
         "then": [{"id": "t", "type": "add_tag", "tag": "then-branch"}],
         "else": [{"id": "e", "type": "add_tag", "tag": "else-branch"}]},
        {"id": "after", "type": "add_tag", "tag": "after"}
    ])
}

/// `if_else` on a tag takes `then` for a contact that has it and `else` for one that has not;
/// both go on after the branch (S7.2).
#[tokio::test]
async fn s7_2_if_else_on_a_tag_takes_each_branch() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let (vip, _) = person(
        &stack,
        &admin,
        json!({"first_name": "Vera", "tags": ["vip"]}),
    )
    .await;
    let (plain, _) = person(&stack, &admin, json!({"first_name": "Paul"})).await;
    let wf = flow(&stack, &admin, branching(json!({"tag": "vip"}))).await;
    let vip_run = enroll(&stack, &admin, &wf, &vip).await;
    let plain_run = enroll(&stack, &admin, &wf, &plain).await;
    drive(&stack).await;

    assert_eq!(
        tags(&stack, &admin, &vip).await,
        ["after", "then-branch", "vip"]
    );
    assert_eq!(tags(&stack, &admin, &plain).await, ["after", "else-branch"]);
    let run = run_of(&stack, &admin, &vip_run).await;
    assert_eq!(entry(&run, "if")["result"], "then");
    assert!(
        run["done_steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s != "e")
    );
    let run = run_of(&stack, &admin, &plain_run).await;
    assert_eq!(entry(&run, "if")["result"], "else");
    assert_eq!(run["status"], "completed");
}

/// `if_else` on a custom field comparison (`cf.score[gte]`) takes `then` at or above the
/// bound and `else` below it or without a value (S7.2, S3.5 operators).
#[tokio::test]
async fn s7_2_if_else_on_a_custom_field_comparison_takes_each_branch() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    score_field(&stack, &admin).await;
    let mut contacts = Vec::new();
    for (name, score) in [
        ("High", Some(80)),
        ("Edge", Some(50)),
        ("Low", Some(20)),
        ("None", None),
    ] {
        let mut body = json!({"first_name": name});
        if let Some(s) = score {
            body["custom_fields"] = json!({"score": s});
        }
        contacts.push(person(&stack, &admin, body).await.0);
    }
    let wf = flow(&stack, &admin, branching(json!({"cf.score[gte]": "50"}))).await;
    for c in &contacts {
        enroll(&stack, &admin, &wf, c).await;
    }
    drive(&stack).await;
    let mut branches = Vec::new();
    for c in &contacts {
        let t = tags(&stack, &admin, c).await;
        assert!(t.contains(&"after".to_string()), "{t:?}");
        branches.push(t.into_iter().find(|t| t.ends_with("-branch")).unwrap());
    }
    assert_eq!(
        branches,
        ["then-branch", "then-branch", "else-branch", "else-branch"]
    );
}

/// A wait inside a branch: the run waits at a step of `then`, and when the schedule fires it
/// finishes the branch and goes on after the if / else (S7.2).
#[tokio::test]
async fn s7_2_a_wait_inside_a_branch_resumes_in_the_branch_and_goes_on_after_it() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let (vip, address) = person(
        &stack,
        &admin,
        json!({"first_name": "Vera", "tags": ["vip"]}),
    )
    .await;
    let wf = flow(
        &stack,
        &admin,
        json!([
            {"id": "if", "type": "if_else", "condition": {"tag": "vip"},
             "then": [{"id": "pause", "type": "wait", "hours": 1},
                      {"id": "mail", "type": "send_email", "subject": "VIP {{first_name}}", "body": "Hi"}],
             "else": [{"id": "e", "type": "add_tag", "tag": "else-branch"}]},
            {"id": "after", "type": "add_tag", "tag": "after"}
        ]),
    )
    .await;
    let run = enroll(&stack, &admin, &wf, &vip).await;
    stack.runtime.deliver_step_messages().await.unwrap();
    let waiting = run_of(&stack, &admin, &run).await;
    assert_eq!(waiting["status"], "waiting");
    assert_eq!(waiting["next_step"], "mail");
    assert_eq!(tags(&stack, &admin, &vip).await, ["vip"]);

    assert_eq!(super::fire_after(&stack, 61).await.len(), 1);
    let done = run_of(&stack, &admin, &run).await;
    assert_eq!(done["status"], "completed", "{done}");
    let steps: Vec<&str> = done["done_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(steps, ["if", "pause", "mail", "after"]);
    assert_eq!(super::subjects(&stack, &address).await, ["VIP Vera"]);
    assert_eq!(tags(&stack, &admin, &vip).await, ["after", "vip"]);
}
