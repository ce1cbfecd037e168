//! The forecast (S4.4): open deals by expected-close month, weighted, in the base currency;
//! won and lost by the month they closed in; lost reasons counted — for the deals the caller
//! may see.

use super::{sales_pipeline, stage};
use chrono::{Datelike, Months, NaiveDate, Utc};
use crm_e2e_tests::stack::{errors, pair};
use crm_e2e_tests::{Stack, json};

fn month(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

#[tokio::test]
async fn s4_4_the_forecast_buckets_open_deals_by_month_and_counts_won_lost_and_reasons() {
    let stack = Stack::start().await;
    let pipeline = sales_pipeline(&stack).await;
    let forecast = format!("/pipelines/{}/forecast", pipeline["id"].as_str().unwrap());
    let admin = stack.token("acme", "alice", "admin");
    let sales = stack.create_team(&admin, "Sales").await;
    stack
        .put_user(&admin, "mia", json!({"role": "member", "teams": [sales]}))
        .await;
    let rates = json!({"exchange_rates": {"USD": "0.9"}});
    assert_eq!(
        stack
            .status("PATCH", "/settings", &admin, Some(rates))
            .await,
        200
    );
    let today = Utc::now().date_naive();
    let this = today.with_day(1).unwrap();
    let (next, third) = (this + Months::new(1), this + Months::new(2));
    let money = |amount: &str, currency: &str| json!({"amount": amount, "currency": currency});
    let mias = |title: &str, st: usize, value: serde_json::Value| json!({"title": title, "owner": "mia", "team": sales, "stage_id": stage(&pipeline, st), "value": value});
    // Next month: 1000 EUR at the Lead's 10 %, 500 USD at the Proposal's 60 %.
    let mut a = mias("A", 0, money("1000", "EUR"));
    a["expected_close"] = json!(next.with_day(15).unwrap());
    let mut b = mias("B", 1, money("500", "USD"));
    b["expected_close"] = json!(next);
    let mut bodies = vec![a, b];
    // The month after: Alice's private deal, hidden from Mia.
    bodies.push(json!({"title": "C", "team": sales, "visibility": "private", "stage_id": stage(&pipeline, 0),
                       "value": money("200", "EUR"), "expected_close": third}));
    for body in bodies {
        stack.create("/deals", &admin, body).await;
    }
    // Closed this month: one won, three lost (two for price).
    stack
        .create("/deals", &admin, mias("D", 2, money("300", "EUR")))
        .await;
    for (title, reason) in [("E", "price"), ("F", "price"), ("G", "timing")] {
        let mut body = mias(title, 3, money("50", "EUR"));
        body["lost_reason"] = json!(reason);
        stack.create("/deals", &admin, body).await;
    }
    let query = format!("{forecast}?from={}&to={}", month(this), month(third));
    let r = stack.get(&query, &admin).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let open: Vec<(String, i64, String, String)> = r.body["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["month"].as_str().unwrap().to_string(),
                m["open"]["count"].as_i64().unwrap(),
                m["open"]["total"]["amount"].as_str().unwrap().to_string(),
                m["open"]["weighted_total"]["amount"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    let row = |m: NaiveDate, n: i64, t: &str, w: &str| (month(m), n, t.to_string(), w.to_string());
    assert_eq!(
        open,
        [
            row(this, 0, "0.00", "0.00"),
            // 1000 + 500 × 0.9; 100 + 500 × 60 % × 0.9.
            row(next, 2, "1450.00", "370.00"),
            row(third, 1, "200.00", "20.00"),
        ]
    );
    assert_eq!(r.body["months"][0]["won"]["count"], 1);
    assert_eq!(
        (
            r.body["won"]["count"].as_i64(),
            r.body["won"]["total"]["amount"].as_str()
        ),
        (Some(1), Some("300.00"))
    );
    assert_eq!(
        (
            r.body["lost"]["count"].as_i64(),
            r.body["lost"]["total"]["amount"].as_str()
        ),
        (Some(3), Some("150.00"))
    );
    assert_eq!(
        r.body["lost_reasons"],
        json!([{"reason": "price", "count": 2}, {"reason": "timing", "count": 1}])
    );
    assert_eq!(r.body["rates_used"], json!({"USD": "0.9"}));
    // Mia does not see Alice's private deal.
    let mia = stack.token("acme", "mia", "member");
    let r = stack.get(&query, &mia).await;
    assert_eq!(r.body["months"][2]["open"]["count"], 0);
    assert_eq!(r.body["months"][1]["open"]["count"], 2);
    // Another tenant's owner and a portal user get 404.
    let other = stack.token("other-tenant", "olga", "owner");
    assert_eq!(stack.status("GET", &query, &other, None).await, 404);
    let portal = stack.token("acme", "pat", "portal");
    assert_eq!(stack.status("GET", &query, &portal, None).await, 404);
    // Months are checked.
    let bad = format!("{forecast}?from=2027-13&to=2026-01");
    let r = stack.get(&bad, &admin).await;
    assert_eq!((r.status, errors(&r)), (422, vec![pair("from", "month")]));
    let backwards = format!("{forecast}?from={}&to={}", month(next), month(this));
    assert_eq!(
        errors(&stack.get(&backwards, &admin).await),
        [pair("to", "after_from")]
    );
    let missing = stack.get(&forecast, &admin).await;
    assert_eq!(
        errors(&missing),
        [pair("from", "required"), pair("to", "required")]
    );
}
