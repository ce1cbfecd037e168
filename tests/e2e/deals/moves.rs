//! Stage moves (S4.2): one stage history entry per move, in the deal's own transaction, none
//! for a retried Idempotency-Key; the status following the stage; the audit trail; lists by
//! stage, status, amount and expected close; deals' custom fields.

use super::{sales_pipeline, stage};
use crm_e2e_tests::stack::{errors, pair};
use crm_e2e_tests::{Stack, json};

#[tokio::test]
async fn s4_2_a_move_writes_one_history_entry_and_a_retried_key_writes_none() {
    let stack = Stack::start().await;
    let pipeline = sales_pipeline(&stack).await;
    let mia = stack.token("acme", "mia", "member");
    let deal = stack
        .create(
            "/deals",
            &mia,
            json!({"title": "Relaunch", "value": {"amount": "12000", "currency": "EUR"}}),
        )
        .await;
    let to_proposal = json!({"stage_id": stage(&pipeline, 1)});
    let send = || {
        stack
            .request("POST", &format!("/deals/{deal}/move"), Some(&mia))
            .header("idempotency-key", "move-1")
            .json(&to_proposal)
    };
    let first = stack.send(send()).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let again = stack.send(send()).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, first.body);
    // A PATCH of the stage is a move too.
    let won = stack
        .call(
            "PATCH",
            &format!("/deals/{deal}"),
            &mia,
            Some(json!({"stage_id": stage(&pipeline, 2)})),
        )
        .await;
    assert_eq!(
        (won.status, won.body["status"].as_str()),
        (200, Some("won"))
    );
    assert!(won.body["closed_at"].is_string());
    let history = stack
        .get(&format!("/deals/{deal}/stage-history"), &mia)
        .await;
    let moves: Vec<(Option<&str>, &str, &str)> = history
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["from_stage_id"].as_str(),
                h["to_stage_id"].as_str().unwrap(),
                h["actor"].as_str().unwrap(),
            )
        })
        .collect();
    let (lead, proposal, won_stage) = (
        stage(&pipeline, 0),
        stage(&pipeline, 1),
        stage(&pipeline, 2),
    );
    assert_eq!(
        moves,
        [
            (None, lead.as_str(), "mia"),
            (Some(lead.as_str()), proposal.as_str(), "mia"),
            (Some(proposal.as_str()), won_stage.as_str(), "mia"),
        ]
    );
    assert!(history.body[2]["seconds_in_previous_stage"].is_i64());
    // The audit trail has the stage and status changes, old → new.
    let audit = stack.get(&format!("/deals/{deal}/history"), &mia).await;
    let latest = &audit.body["items"][0]["changes"];
    let fields: Vec<&str> = latest
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"stage_id") && fields.contains(&"status"),
        "{latest}"
    );
    // Reopening names the open stage; a status against the named stage is refused.
    let r = stack
        .call(
            "PATCH",
            &format!("/deals/{deal}"),
            &mia,
            Some(json!({"status": "open"})),
        )
        .await;
    assert_eq!(
        (r.status, errors(&r)),
        (422, vec![pair("stage_id", "required")])
    );
    let r = stack
        .call(
            "POST",
            &format!("/deals/{deal}/move"),
            &mia,
            Some(json!({"stage_id": uuid::Uuid::now_v7()})),
        )
        .await;
    assert_eq!(
        (r.status, errors(&r)),
        (422, vec![pair("stage_id", "exists")])
    );
    let history = stack
        .get(&format!("/deals/{deal}/stage-history"), &mia)
        .await;
    assert_eq!(history.body.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn s4_2_deals_are_listed_by_stage_status_amount_and_expected_close() {
    let stack = Stack::start().await;
    let pipeline = sales_pipeline(&stack).await;
    let admin = stack.token("acme", "alice", "admin");
    let mut ids = Vec::new();
    for (title, amount, close, st) in [
        ("Small", "900.00", "2027-01-15", 0),
        ("Large", "125000", "2027-02-01", 1),
        ("Medium", "15000.5", "2027-03-10", 1),
        ("None", "", "", 0),
    ] {
        let mut body = json!({"title": title, "stage_id": stage(&pipeline, st)});
        if !amount.is_empty() {
            body["value"] = json!({"amount": amount, "currency": "EUR"});
            body["expected_close"] = json!(close);
        }
        ids.push(stack.create("/deals", &admin, body).await);
    }
    let titles = |r: crm_e2e_tests::Reply| -> Vec<String> {
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["title"].as_str().unwrap().to_string())
            .collect()
    };
    let in_proposal = format!("/deals?stage={}&sort=-amount", stage(&pipeline, 1));
    assert_eq!(
        titles(stack.get(&in_proposal, &admin).await),
        ["Large", "Medium"]
    );
    assert_eq!(
        titles(stack.get("/deals?sort=amount", &admin).await),
        ["None", "Small", "Medium", "Large"]
    );
    let q =
        "/deals?expected_close_from=2027-02-01&expected_close_to=2027-03-10&sort=expected_close";
    assert_eq!(titles(stack.get(q, &admin).await), ["Large", "Medium"]);
    assert_eq!(titles(stack.get("/deals?q=medi", &admin).await), ["Medium"]);
    let amounts = "/deals?amount_min=900.01&amount_max=15000.50&sort=-amount";
    assert_eq!(titles(stack.get(amounts, &admin).await), ["Medium"]);
    let from_900 = "/deals?amount_min=900&sort=amount";
    assert_eq!(
        titles(stack.get(from_900, &admin).await),
        ["Small", "Medium", "Large"]
    );
    let r = stack.get("/deals?amount_min=lots", &admin).await;
    assert_eq!(
        (r.status, errors(&r)),
        (422, vec![pair("amount_min", "decimal")])
    );
    stack
        .call(
            "PATCH",
            &format!("/deals/{}", ids[0]),
            &admin,
            Some(json!({"status": "lost", "lost_reason": "price"})),
        )
        .await;
    assert_eq!(
        titles(stack.get("/deals?status=lost", &admin).await),
        ["Small"]
    );
    assert_eq!(
        titles(stack.get("/deals?sort=title", &admin).await),
        ["Large", "Medium", "None", "Small"]
    );
    let r = stack.get("/deals?status=closed&sort=name", &admin).await;
    assert_eq!(r.status, 422);
    assert_eq!(
        errors(&r),
        [pair("status", "one_of"), pair("sort", "one_of")]
    );
}

#[tokio::test]
async fn s4_2_deals_custom_fields_are_required_validated_and_filtered() {
    let stack = Stack::start().await;
    sales_pipeline(&stack).await;
    let admin = stack.token("acme", "alice", "admin");
    let r = stack
        .create_field(
            &admin,
            json!({"entity": "deal", "key": "segment", "label": "Segment", "required": true,
                   "type": {"kind": "select", "options": [{"id": "smb", "label": "SMB"}, {"id": "enterprise", "label": "Enterprise"}]}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = stack
        .call(
            "POST",
            "/deals",
            &admin,
            Some(json!({"title": "No segment"})),
        )
        .await;
    assert_eq!(
        (r.status, errors(&r)),
        (422, vec![pair("custom_fields.segment", "required")])
    );
    let big = stack
        .create(
            "/deals",
            &admin,
            json!({"title": "Big", "custom_fields": {"segment": "enterprise"}}),
        )
        .await;
    stack
        .create(
            "/deals",
            &admin,
            json!({"title": "Small", "custom_fields": {"segment": "smb"}}),
        )
        .await;
    assert_eq!(
        stack.ids("/deals?cf.segment=enterprise", &admin).await,
        [big]
    );
}
