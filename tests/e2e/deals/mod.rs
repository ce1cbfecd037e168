//! Deals and pipelines (S4.1, S4.2): pipelines and their stages through the gateway, stage
//! moves with their history written once under a retried Idempotency-Key, the status
//! following the stage, lists by stage and amount, and the deal lists of a contact and a
//! client following visibility, trash and restore.

mod attachments;
mod board;
mod forecast;
mod moves;
mod pipelines;
mod related;
mod stage_job;

use crm_e2e_tests::{Stack, json};
use serde_json::Value;

/// A pipeline Lead → Proposal → Won / Lost, created by an admin of `acme`.
pub async fn sales_pipeline(stack: &Stack) -> Value {
    let admin = stack.token("acme", "alice", "admin");
    let body = json!({"name": "Sales", "stages": [
        {"name": "Lead", "probability": "10"},
        {"name": "Proposal", "probability": "60", "rotting_days": 14},
        {"name": "Won", "kind": "won"},
        {"name": "Lost", "kind": "lost"}
    ]});
    let r = stack.call("POST", "/pipelines", &admin, Some(body)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body
}

/// The id of the pipeline's stage at `i`.
pub fn stage(pipeline: &Value, i: usize) -> String {
    pipeline["stages"][i]["id"].as_str().unwrap().to_string()
}
