//! Bad settings refused (S2.4): each bad currency or rate named, unknown, read-only and
//! malformed bodies refused, nothing changed.

use super::patch;
use crm_e2e_tests::{Stack, errors, json, pair};

/// Nothing changed: the defaults.
async fn assert_unchanged(stack: &Stack, admin: &str) {
    // Bad input changed nothing.
    let after = stack.call("GET", "/settings", admin, None).await;
    assert_eq!(
        after.body,
        json!({"base_currency": "EUR", "exchange_rates": {}, "version": 0})
    );
}

/// A bad base currency or rate is refused as a problem naming the entry and its rule: not ISO
/// 4217, missing, not a positive decimal string, the base's own rate; nothing changes (S2.4).
#[tokio::test]
async fn s2_4_bad_currencies_and_rates_are_refused_naming_the_entry() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let bad_base = patch(&stack, &admin, None, json!({"base_currency": "EURO"})).await;
    assert_eq!(bad_base.status, 422);
    assert_eq!(
        bad_base.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(errors(&bad_base), vec![pair("base_currency", "iso_4217")]);
    assert_eq!(
        errors(&patch(&stack, &admin, None, json!({"base_currency": null})).await),
        vec![pair("base_currency", "required")]
    );

    let r = patch(
        &stack,
        &admin,
        None,
        json!({"exchange_rates": {
            "XYZ": "1", "USD": "0", "GBP": 1.17, "CHF": "1.0000000000001", "JPY": "-1", "EUR": "1"
        }}),
    )
    .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let got = errors(&r);
    for expected in [
        pair("exchange_rates.XYZ", "iso_4217"),
        pair("exchange_rates.USD", "rate"),
        pair("exchange_rates.GBP", "decimal_string"),
        pair("exchange_rates.CHF", "rate"),
        pair("exchange_rates.JPY", "rate"),
        pair("exchange_rates.EUR", "not_base"),
    ] {
        assert!(got.contains(&expected), "{expected:?} in {got:?}");
    }
    assert_eq!(
        errors(
            &patch(
                &stack,
                &admin,
                None,
                json!({"exchange_rates": {"EUR": "1"}})
            )
            .await
        ),
        vec![pair("exchange_rates.EUR", "not_base")]
    );
    assert_unchanged(&stack, &admin).await;
}

/// Unknown and read-only fields and malformed JSON are refused with 400; nothing changes
/// (S2.4).
#[tokio::test]
async fn s2_4_unknown_read_only_or_malformed_bodies_are_refused() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    // Unknown and read-only fields, malformed JSON: 400.
    for body in [
        json!({"version": 5}),
        json!({"updated_by": "mallory"}),
        json!({"tenant_id": "other"}),
        json!({"exchange_rates": ["USD"]}),
    ] {
        let r = patch(&stack, &admin, None, body.clone()).await;
        assert_eq!(r.status, 400, "{body} → {:?}", r.body);
    }
    let malformed = stack
        .send(
            stack
                .request("PATCH", "/settings", Some(&admin))
                .header("content-type", "application/json")
                .body("{\"base_currency\":"),
        )
        .await;
    assert_eq!(malformed.status, 400);
    assert_unchanged(&stack, &admin).await;
}
