//! Goals, checked before each step (S7.5): criteria matched (a tag given during a wait), a deal
//! of the contact won, the contact replied by inbound email. When the wait's schedule fires,
//! the run completes with `goal_met` and the mail after the wait is never sent.

use super::{alice, define, enroll, fire_after, id, person, run_of, subjects};
use crm_e2e_tests::{Stack, json};

/// A workflow with `goal`: wait ten minutes, then mail. Its id.
async fn nurture(stack: &Stack, admin: &str, goal: serde_json::Value) -> String {
    let wf = define(
        stack,
        admin,
        json!([
            {"id": "wait", "type": "wait", "minutes": 10},
            {"id": "mail", "type": "send_email", "subject": "Still interested?", "body": "Hi {{first_name}}"}
        ]),
        json!({"goal": goal}),
    )
    .await;
    id(&wf)
}

/// Two contacts enrolled in the workflow, each waiting: (contact, address, run) each.
async fn two_waiting(stack: &Stack, admin: &str, wf: &str) -> [(String, String, String); 2] {
    let mut out = Vec::new();
    for name in ["Ada", "Bob"] {
        let (c, address) = person(stack, admin, json!({"first_name": name})).await;
        let run = enroll(stack, admin, wf, &c).await;
        out.push((c, address, run));
    }
    stack.runtime.deliver_step_messages().await.unwrap();
    out.try_into().unwrap()
}

/// After the wait: the run of the contact that met the goal completed with `goal_met` and no
/// mail; the other's mail sent.
async fn assert_goal_met_only_for_the_first(
    stack: &Stack,
    admin: &str,
    both: &[(String, String, String); 2],
) {
    assert_eq!(fire_after(stack, 11).await.len(), 2);
    let [(_, met_address, met_run), (_, other_address, other_run)] = both;
    let met = run_of(stack, admin, met_run).await;
    assert_eq!(met["status"], "completed", "{met}");
    assert_eq!(met["exit_reason"], "goal_met", "{met}");
    assert!(
        met["done_steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s != "mail"),
        "{met}"
    );
    assert!(
        subjects(stack, met_address).await.is_empty(),
        "no mail after the goal"
    );
    let other = run_of(stack, admin, other_run).await;
    assert_eq!(other["status"], "completed");
    assert!(other["exit_reason"].is_null(), "{other}");
    assert_eq!(subjects(stack, other_address).await, ["Still interested?"]);
}

/// Goal `criteria_matched` (tag `customer`): tagged during the wait, the contact leaves the
/// run when the schedule fires (S7.5).
#[tokio::test]
async fn s7_5_goal_criteria_matched_during_a_wait_ends_the_run() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let wf = nurture(
        &stack,
        &admin,
        json!({"type": "criteria_matched", "criteria": {"tag": "customer"}}),
    )
    .await;
    let both = two_waiting(&stack, &admin, &wf).await;
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{}", both[0].0),
            &admin,
            Some(json!({"tags": ["customer"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_goal_met_only_for_the_first(&stack, &admin, &both).await;
}

/// Goal `deal_won`: a deal of the contact won during the wait ends the run (S7.5).
#[tokio::test]
async fn s7_5_goal_deal_won_ends_the_run() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let pipeline = crate::deals::sales_pipeline(&stack).await;
    let wf = nurture(&stack, &admin, json!({"type": "deal_won"})).await;
    let both = two_waiting(&stack, &admin, &wf).await;
    let mut deals = Vec::new();
    for (contact, _, _) in &both {
        deals.push(
            stack
                .create(
                    "/deals",
                    &admin,
                    json!({"title": "Deal", "pipeline_id": pipeline["id"], "contact_ids": [contact]}),
                )
                .await,
        );
    }
    // Ada's is won; Bob's only moves on.
    for (deal, stage) in [(&deals[0], 2), (&deals[1], 1)] {
        let r = stack
            .call(
                "POST",
                &format!("/deals/{deal}/move"),
                &admin,
                Some(json!({"stage_id": crate::deals::stage(&pipeline, stage)})),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    assert_goal_met_only_for_the_first(&stack, &admin, &both).await;
}

/// Goal `replied`: an inbound email from the contact logged during the wait ends the run; an
/// outbound one does not count (S7.5).
#[tokio::test]
async fn s7_5_goal_replied_ends_the_run_on_an_inbound_email() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let wf = nurture(&stack, &admin, json!({"type": "replied"})).await;
    let both = two_waiting(&stack, &admin, &wf).await;
    let [(ada, ada_address, _), (bob, bob_address, _)] = &both;
    for body in [
        json!({"type": "email", "direction": "inbound", "from": ada_address,
               "subject": "Re: hello", "contact_ids": [ada]}),
        json!({"type": "email", "direction": "outbound", "from": "alice@acme.example",
               "to": [bob_address], "subject": "Hello again", "contact_ids": [bob]}),
    ] {
        let r = stack.call("POST", "/activities", &admin, Some(body)).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    assert_goal_met_only_for_the_first(&stack, &admin, &both).await;
}

/// The goal is checked before every step, not only after waits: a step that makes the
/// contact meet it ends the run before the next step (S7.5).
#[tokio::test]
async fn s7_5_a_goal_met_by_a_step_ends_the_run_before_the_next() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let wf = define(
        &stack,
        &admin,
        json!([
            {"id": "tag", "type": "add_tag", "tag": "customer"},
            {"id": "mail", "type": "send_email", "subject": "Buy now", "body": "Hi"}
        ]),
        json!({"goal": {"type": "criteria_matched", "criteria": {"tag": "customer"}}}),
    )
    .await;
    let (ada, address) = person(&stack, &admin, json!({"first_name": "Ada"})).await;
    let run = enroll(&stack, &admin, &id(&wf), &ada).await;
    super::drive(&stack).await;
    let run = run_of(&stack, &admin, &run).await;
    assert_eq!(
        (&run["status"], &run["exit_reason"]),
        (&json!("completed"), &json!("goal_met")),
        "{run}"
    );
    assert_eq!(run["done_steps"], json!(["tag"]));
    assert!(subjects(&stack, &address).await.is_empty());
}
