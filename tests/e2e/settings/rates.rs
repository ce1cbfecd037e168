//! The base currency and the exchange rates set (S2.4): defaults, normalised, merge patches,
//! a new base with the rates restated, every save audited.

use super::patch;
use crm_e2e_tests::{Reply, Stack, errors, json, pair};
use crm_shared::{audit, settings};

/// The first save of the rates (the reply).
async fn save_rates(stack: &Stack, admin: &str) -> Reply {
    patch(
        stack,
        admin,
        Some("\"0\""),
        json!({"exchange_rates": {"usd": "0.9200", "GBP": "1.17", "JPY": "0.0061"}}),
    )
    .await
}

/// After [`save_rates`]: a merge patch and a patch changing nothing (the replies).
async fn merge_rates(stack: &Stack, admin: &str) -> (Reply, Reply) {
    // Merge patch: one rate set, one cleared, the rest kept.
    let merged = patch(
        stack,
        admin,
        Some("\"1\""),
        json!({"exchange_rates": {"USD": "0.93", "JPY": null}}),
    )
    .await;
    // A patch that changes nothing keeps the version.
    let same = patch(
        stack,
        admin,
        None,
        json!({"exchange_rates": {"USD": "0.930"}}),
    )
    .await;
    (merged, same)
}

/// The rates saved ([`save_rates`]) and merged ([`merge_rates`]).
async fn set_rates(stack: &Stack, admin: &str) {
    save_rates(stack, admin).await;
    merge_rates(stack, admin).await;
}

/// After [`set_rates`]: a new base currency without the rates restated, then with them, then
/// with the rates cleared: their replies.
async fn rebase(stack: &Stack, admin: &str) -> (Reply, Reply, Reply) {
    let carried = patch(stack, admin, None, json!({"base_currency": "USD"})).await;
    let rebased = patch(
        stack,
        admin,
        Some("\"2\""),
        json!({"base_currency": "usd", "exchange_rates": {"USD": null, "GBP": "1.27", "EUR": "1.0753"}}),
    )
    .await;
    // Or cleared altogether.
    let cleared = patch(
        stack,
        admin,
        None,
        json!({"base_currency": "CHF", "exchange_rates": null}),
    )
    .await;
    (carried, rebased, cleared)
}

/// After [`rebase`]: a rate set by an owner (the reply).
async fn by_owner(stack: &Stack) -> Reply {
    let owner = stack.token("acme", "oscar", "owner");
    patch(
        stack,
        &owner,
        None,
        json!({"exchange_rates": {"EUR": "0.95"}}),
    )
    .await
}

/// Every tenant starts with the base currency EUR and no rates, at version 0 (S2.4).
#[tokio::test]
async fn s2_4_settings_default_to_eur_without_rates() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let defaults = stack.call("GET", "/settings", &admin, None).await;
    assert_eq!(defaults.status, 200, "{:?}", defaults.body);
    assert_eq!(
        defaults.body,
        json!({"base_currency": "EUR", "exchange_rates": {}, "version": 0})
    );
    assert_eq!(defaults.header("etag"), Some("\"0\""));
}

/// An admin sets exchange rates, normalised (codes upper-cased, decimals trimmed) and stored
/// unchanged; a merge patch sets one, clears one and keeps the rest; a no-op keeps the version
/// (S2.4).
#[tokio::test]
async fn s2_4_an_admin_sets_rates_normalised_and_merge_patched() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let saved = save_rates(&stack, &admin).await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    assert_eq!(saved.header("etag"), Some("\"1\""));
    assert_eq!(
        saved.body["exchange_rates"],
        json!({"GBP": "1.17", "JPY": "0.0061", "USD": "0.92"})
    );
    assert_eq!(
        (
            saved.body["version"].as_u64(),
            saved.body["updated_by"].as_str()
        ),
        (Some(1), Some("alice"))
    );
    let read = stack.call("GET", "/settings", &admin, None).await;
    assert_eq!(read.body, saved.body, "stored and returned unchanged");

    // Merge patch: one rate set, one cleared, the rest kept.
    let (merged, same) = merge_rates(&stack, &admin).await;
    assert_eq!(merged.status, 200, "{:?}", merged.body);
    assert_eq!(
        merged.body["exchange_rates"],
        json!({"GBP": "1.17", "USD": "0.93"})
    );
    // A patch that changes nothing keeps the version.
    assert_eq!((same.status, same.body["version"].as_u64()), (200, Some(2)));
}

/// A new base currency needs every kept rate restated in it and the new base's own rate
/// cleared, or the rates cleared altogether (S2.4).
#[tokio::test]
async fn s2_4_a_new_base_currency_needs_every_rate_restated_or_cleared() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    set_rates(&stack, &admin).await;
    let (carried, rebased, cleared) = rebase(&stack, &admin).await;
    // A new base currency: every kept rate restated in it, the new base's own rate cleared.
    assert_eq!(carried.status, 422, "{:?}", carried.body);
    assert_eq!(
        errors(&carried),
        vec![
            pair("exchange_rates.GBP", "restate_on_base_change"),
            pair("exchange_rates.USD", "not_base")
        ]
    );
    assert_eq!(rebased.status, 200, "{:?}", rebased.body);
    assert_eq!(
        (
            rebased.body["base_currency"].as_str(),
            rebased.body["exchange_rates"].clone(),
            rebased.body["version"].as_u64()
        ),
        (
            Some("USD"),
            json!({"EUR": "1.0753", "GBP": "1.27"}),
            Some(3)
        )
    );
    // Or cleared altogether.
    assert_eq!(cleared.status, 200, "{:?}", cleared.body);
    assert_eq!(cleared.body["exchange_rates"], json!({}));
}

/// An owner may change the settings too (S2.4).
#[tokio::test]
async fn s2_4_an_owner_may_change_them_too() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    set_rates(&stack, &admin).await;
    rebase(&stack, &admin).await;
    // An owner may change them too.
    let by_owner = by_owner(&stack).await;
    assert_eq!(
        (by_owner.status, by_owner.body["updated_by"].as_str()),
        (200, Some("oscar"))
    );
}

/// Every save leaves an audit entry beside the settings, newest first, with who, the version
/// and the changes; a no-op leaves none (S2.4, S6.5).
#[tokio::test]
async fn s2_4_every_save_leaves_an_audit_entry_newest_first() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    set_rates(&stack, &admin).await;
    rebase(&stack, &admin).await;
    by_owner(&stack).await;
    // Every save left an audit entry beside the settings (S6.5), newest first; the no-op none.
    let table = stack.table();
    let (entries, _) = audit::history(&table, settings::settings_pk("acme"), 50, None)
        .await
        .unwrap();
    let actors: Vec<&str> = entries.iter().map(|e| e.actor.as_str()).collect();
    assert_eq!(actors, vec!["oscar", "alice", "alice", "alice", "alice"]);
    let versions: Vec<u64> = entries.iter().map(|e| e.version).collect();
    assert_eq!(versions, vec![5, 4, 3, 2, 1]);
    let rebase = &entries[2];
    assert_eq!(
        rebase
            .changes
            .iter()
            .map(|c| (c.field.as_str(), c.old.clone(), c.new.clone()))
            .collect::<Vec<_>>(),
        vec![
            ("base_currency", Some(json!("EUR")), Some(json!("USD"))),
            (
                "exchange_rates",
                Some(json!({"GBP": "1.17", "USD": "0.93"})),
                Some(json!({"EUR": "1.0753", "GBP": "1.27"}))
            ),
        ]
    );
}
