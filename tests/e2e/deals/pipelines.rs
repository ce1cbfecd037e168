//! Pipelines and stages (S4.1): who changes them, the won / lost rule, exact probabilities,
//! renaming and reordering stages without losing them.

use super::{sales_pipeline, stage};
use crm_e2e_tests::stack::{errors, pair};
use crm_e2e_tests::{Stack, json};

#[tokio::test]
async fn s4_1_owners_and_admins_change_pipelines_everyone_but_portal_users_reads_them() {
    let stack = Stack::start().await;
    let pipeline = sales_pipeline(&stack).await;
    let id = pipeline["id"].as_str().unwrap();
    assert_eq!(pipeline["stages"][1]["probability"], "60");
    assert_eq!(pipeline["stages"][2]["probability"], "100");
    let body = json!({"name": "Renewals", "stages": [
        {"name": "Open", "probability": "50"}, {"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}
    ]});
    let expected = [
        ("owner", 201, 200),
        ("admin", 201, 200),
        ("manager", 403, 200),
        ("member", 403, 200),
        ("viewer", 403, 200),
        ("portal", 404, 404),
    ];
    for (role, create, read) in expected {
        let token = stack.token("acme", &format!("{role}-user"), role);
        let r = stack
            .call("POST", "/pipelines", &token, Some(body.clone()))
            .await;
        assert_eq!(r.status, create, "{role} POST: {:?}", r.body);
        let r = stack
            .call("GET", &format!("/pipelines/{id}"), &token, None)
            .await;
        assert_eq!(r.status, read, "{role} GET");
    }
    let other = stack.token("other-tenant", "olga", "owner");
    assert_eq!(
        stack
            .status("GET", &format!("/pipelines/{id}"), &other, None)
            .await,
        404
    );
    let r = stack.call("GET", "/pipelines", &other, None).await;
    assert_eq!(r.body, json!([]));
}

#[tokio::test]
async fn s4_1_a_pipeline_needs_exactly_one_won_and_one_lost_stage_and_exact_probabilities() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let body = json!({"name": "Broken", "stages": [
        {"name": "Lead", "probability": 12.5},
        {"name": "Maybe", "probability": "12.345"},
        {"name": "Won", "kind": "won"},
        {"name": "Won too", "kind": "won"}
    ]});
    let r = stack.call("POST", "/pipelines", &admin, Some(body)).await;
    // A fractional JSON number is not an exact decimal: the body is refused whole.
    assert_eq!(r.status, 400, "{:?}", r.body);
    let body = json!({"name": "Broken", "stages": [
        {"name": "Maybe", "probability": "12.345"},
        {"name": "Won", "kind": "won"},
        {"name": "Won too", "kind": "won"}
    ]});
    let r = stack.call("POST", "/pipelines", &admin, Some(body)).await;
    assert_eq!(r.status, 422);
    assert_eq!(
        errors(&r),
        [
            pair("stages[0].probability", "scale"),
            pair("stages", "won_and_lost")
        ]
    );
    assert_eq!(
        stack.call("GET", "/pipelines", &admin, None).await.body,
        json!([])
    );
}

#[tokio::test]
async fn s4_1_stages_are_renamed_reordered_and_added_but_not_dropped_by_a_patch() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let pipeline = sales_pipeline(&stack).await;
    let path = format!("/pipelines/{}", pipeline["id"].as_str().unwrap());
    let keep = |i: usize, name: &str| json!({"id": stage(&pipeline, i), "name": name});
    let stages = json!([
        {"name": "Discovery", "probability": "5"},
        keep(1, "Offer"), keep(0, "Lead"), keep(2, "Won"), keep(3, "Lost")
    ]);
    let r = stack
        .call_if_match(
            "PATCH",
            &path,
            &admin,
            "\"1\"",
            Some(json!({"stages": stages})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let names: Vec<&str> = r.body["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Discovery", "Offer", "Lead", "Won", "Lost"]);
    assert_eq!(r.body["stages"][1]["id"], stage(&pipeline, 1).as_str());
    assert_eq!(r.body["stages"][1]["rotting_days"], 14);
    assert_eq!(r.header("etag"), Some("\"2\""));
    let dropped = json!({"stages": [keep(0, "Lead"), keep(2, "Won"), keep(3, "Lost")]});
    let r = stack.call("PATCH", &path, &admin, Some(dropped)).await;
    assert_eq!(r.status, 422);
    assert!(
        errors(&r).contains(&pair("stages", "stage_removed")),
        "{:?}",
        r.body
    );
    let stale = stack
        .call_if_match("PATCH", &path, &admin, "\"1\"", Some(json!({"name": "X"})))
        .await;
    assert_eq!(stale.status, 412);
}
