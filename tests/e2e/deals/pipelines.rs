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

#[tokio::test]
async fn s4_1_a_deleted_stage_moves_its_deals_with_their_history_and_audit() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let pipeline = sales_pipeline(&stack).await;
    let (lead, proposal) = (stage(&pipeline, 0), stage(&pipeline, 1));
    let mut ids = Vec::new();
    for title in ["One", "Two"] {
        let body = json!({"title": title, "stage_id": proposal});
        ids.push(stack.create("/deals", &admin, body).await);
    }
    let path = format!(
        "/pipelines/{}/stages/{proposal}",
        pipeline["id"].as_str().unwrap()
    );
    let r = stack.call("DELETE", &path, &admin, None).await;
    assert_eq!(
        (r.status, errors(&r)),
        (422, vec![pair("move_to", "required")])
    );
    let mia = stack.token("acme", "mia", "member");
    let moved = format!("{path}?move_to={lead}");
    assert_eq!(stack.status("DELETE", &moved, &mia, None).await, 403);
    let r = stack.call("DELETE", &moved, &admin, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["moved"].as_u64(), r.body["continues"].as_bool()),
        (Some(2), Some(false))
    );
    assert_eq!(r.body["pipeline"]["stages"].as_array().unwrap().len(), 3);
    for id in &ids {
        let deal = stack.get(&format!("/deals/{id}"), &admin).await;
        assert_eq!(deal.body["stage_id"], lead.as_str());
        let history = stack
            .get(&format!("/deals/{id}/stage-history"), &admin)
            .await;
        assert_eq!(history.body[1]["from_stage_id"], proposal.as_str());
        let audit = stack.get(&format!("/deals/{id}/history"), &admin).await;
        assert_eq!(audit.body["items"][0]["changes"][0]["field"], "stage_id");
    }
    // Repeating the request finds no such stage any more.
    assert_eq!(stack.status("DELETE", &moved, &admin, None).await, 404);
}

#[tokio::test]
async fn s4_2_the_lost_reason_catalogue_is_the_tenants_and_admins_keep_it() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let body = json!({"reasons": [{"key": "price", "label": "Too expensive"}]});
    let r = stack
        .call("PUT", "/deal-lost-reasons", &admin, Some(body.clone()))
        .await;
    assert_eq!(
        (r.status, r.header("etag")),
        (200, Some("\"1\"")),
        "{:?}",
        r.body
    );
    let member = stack.token("acme", "mia", "member");
    assert_eq!(
        stack
            .status("PUT", "/deal-lost-reasons", &member, Some(body))
            .await,
        403
    );
    let r = stack.get("/deal-lost-reasons", &member).await;
    assert_eq!(r.body["reasons"][0]["key"], "price");
    let portal = stack.token("acme", "pat", "portal");
    assert_eq!(
        stack
            .status("GET", "/deal-lost-reasons", &portal, None)
            .await,
        404
    );
    let other = stack.token("other-tenant", "olga", "owner");
    assert_eq!(
        stack.get("/deal-lost-reasons", &other).await.body["reasons"],
        json!([])
    );
}
