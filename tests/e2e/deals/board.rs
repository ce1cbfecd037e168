//! The board (S4.3): per stage the count, total and weighted total of exactly the deals the
//! caller may see, in the base currency, exact in mixed currencies (a missing rate named), and
//! the first page of cards.

use super::{sales_pipeline, stage};
use crm_e2e_tests::stack::{errors, pair};
use crm_e2e_tests::{Stack, json};
use serde_json::Value;

/// (count, total, weighted total) of each stage of a caller's board, in board order.
fn totals(board: &Value) -> Vec<(i64, String, String)> {
    board["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["count"].as_i64().unwrap(),
                s["total"]["amount"].as_str().unwrap().to_string(),
                s["weighted_total"]["amount"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn row(count: i64, total: &str, weighted: &str) -> (i64, String, String) {
    (count, total.into(), weighted.into())
}

#[tokio::test]
async fn s4_3_board_totals_count_exactly_the_deals_each_caller_sees() {
    let stack = Stack::start().await;
    let pipeline = sales_pipeline(&stack).await;
    let board = format!("/pipelines/{}/board", pipeline["id"].as_str().unwrap());
    let admin = stack.token("acme", "alice", "admin");
    let sales = stack.create_team(&admin, "Sales").await;
    stack
        .put_user(&admin, "mia", json!({"role": "member", "teams": [sales]}))
        .await;
    stack
        .put_user(&admin, "mona", json!({"role": "manager", "teams": [sales]}))
        .await;
    stack
        .put_user(&admin, "max", json!({"role": "member", "teams": []}))
        .await;
    let rates = json!({"exchange_rates": {"USD": "0.9"}});
    assert_eq!(
        stack
            .status("PATCH", "/settings", &admin, Some(rates))
            .await,
        200
    );
    let money = |amount: &str, currency: &str| json!({"amount": amount, "currency": currency});
    let ada = stack
        .create_contact(
            &admin,
            json!({"first_name": "Ada", "last_name": "Lovelace", "team": sales}),
        )
        .await;
    let initech = stack
        .create_client(&admin, json!({"name": "Initech", "team": sales}))
        .await;
    let deals = [
        // Mia's, team-visible, on the stage's 10 %.
        json!({"title": "Mia's", "owner": "mia", "team": sales, "stage_id": stage(&pipeline, 0),
               "value": money("1000.00", "EUR"), "contact_ids": [ada], "client_id": initech}),
        // Max's, private, in USD at its own 50 %: hidden from Mia and Mona.
        json!({"title": "Max's", "owner": "max", "visibility": "private", "stage_id": stage(&pipeline, 0),
               "value": money("500", "USD"), "probability": "50"}),
        // Alice's, private in Sales: the manager sees it, the member does not.
        json!({"title": "Alice's", "team": sales, "visibility": "private", "stage_id": stage(&pipeline, 1),
               "value": money("2000", "EUR")}),
        // Max's again, shared with Mia.
        json!({"title": "Shared", "owner": "max", "visibility": "private", "stage_id": stage(&pipeline, 1),
               "value": money("300", "EUR")}),
    ];
    let mut ids = Vec::new();
    for body in deals {
        ids.push(stack.create("/deals", &admin, body).await);
    }
    let share = json!({"user": "mia"});
    assert_eq!(
        stack
            .status(
                "POST",
                &format!("/deals/{}/shares", ids[3]),
                &admin,
                Some(share)
            )
            .await,
        200
    );
    let won_in_yen = json!({"title": "Yen", "owner": "mia", "team": sales, "stage_id": stage(&pipeline, 2),
                            "value": money("12345", "JPY")});
    stack.create("/deals", &admin, won_in_yen).await;
    // A currency without a rate is named, never guessed.
    let r = stack.get(&board, &admin).await;
    assert_eq!(
        (r.status, errors(&r)),
        (422, vec![pair("exchange_rates.JPY", "rate_missing")])
    );
    let rates = json!({"exchange_rates": {"JPY": "0.0061"}});
    assert_eq!(
        stack
            .status("PATCH", "/settings", &admin, Some(rates))
            .await,
        200
    );

    let r = stack.get(&board, &admin).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["rates_used"], json!({"JPY": "0.0061", "USD": "0.9"}));
    assert_eq!(
        totals(&r.body),
        [
            // 1000 + 500 × 0.9; 1000 × 10 % + 500 × 50 % × 0.9.
            row(2, "1450.00", "325.00"),
            // 2000 + 300 at 60 %.
            row(2, "2300.00", "1380.00"),
            // 12345 JPY × 0.0061 = 75.3045.
            row(1, "75.30", "75.30"),
            row(0, "0.00", "0.00"),
        ]
    );
    let mia = stack.token("acme", "mia", "member");
    let r = stack.get(&board, &mia).await;
    assert_eq!(
        totals(&r.body),
        [
            row(1, "1000.00", "100.00"),
            row(1, "300.00", "180.00"),
            row(1, "75.30", "75.30"),
            row(0, "0.00", "0.00")
        ]
    );
    let mona = stack.token("acme", "mona", "manager");
    let r = stack.get(&board, &mona).await;
    assert_eq!(
        totals(&r.body),
        [
            row(1, "1000.00", "100.00"),
            row(1, "2000.00", "1200.00"),
            row(1, "75.30", "75.30"),
            row(0, "0.00", "0.00")
        ]
    );
    // Each caller's counts are the deals its own list shows, stage by stage.
    for token in [&admin, &mia, &mona] {
        let board = stack.get(&board, token).await;
        for (i, s) in board.body["stages"].as_array().unwrap().iter().enumerate() {
            let listed = stack
                .ids(&format!("/deals?stage={}", stage(&pipeline, i)), token)
                .await;
            assert_eq!(s["count"].as_i64().unwrap() as usize, listed.len());
            assert_eq!(s["cards"].as_array().unwrap().len(), listed.len());
        }
    }
    // A card: the names the caller may see, days in stage, not rotting.
    let card = &stack.get(&board, &mia).await.body["stages"][0]["cards"][0];
    assert_eq!(card["title"], "Mia's");
    assert_eq!(card["client_name"], "Initech");
    assert_eq!(card["primary_contact_name"], "Ada Lovelace");
    assert_eq!(
        (card["amount"].as_str(), card["currency"].as_str()),
        (Some("1000.00"), Some("EUR"))
    );
    assert_eq!(
        (card["days_in_stage"].as_i64(), card["rotting"].as_bool()),
        (Some(0), Some(false))
    );
    // Moving and deleting change the totals at once.
    let r = stack
        .call(
            "POST",
            &format!("/deals/{}/move", ids[0]),
            &mia,
            Some(json!({"stage_id": stage(&pipeline, 1)})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        stack
            .status("DELETE", &format!("/deals/{}", ids[3]), &admin, None)
            .await,
        204
    );
    let r = stack.get(&board, &mia).await;
    assert_eq!(
        &totals(&r.body)[..2],
        [row(0, "0.00", "0.00"), row(1, "1000.00", "600.00")]
    );
    let portal = stack.token("acme", "pat", "portal");
    assert_eq!(stack.status("GET", &board, &portal, None).await, 404);
    let other = stack.token("other-tenant", "olga", "owner");
    assert_eq!(stack.status("GET", &board, &other, None).await, 404);
}
