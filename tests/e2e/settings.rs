//! Tenant settings (S2.4): the base currency and the exchange rates for reporting, through the
//! gateway and tenant-api: defaults, who may change them, validation naming the rate, If-Match,
//! the base-currency rule, tenancy.

use crm_e2e_tests::{Reply, Stack, errors, json, pair};
use crm_shared::{audit, settings};

async fn patch(
    stack: &Stack,
    token: &str,
    if_match: Option<&str>,
    body: serde_json::Value,
) -> Reply {
    let mut req = stack.request("PATCH", "/settings", Some(token)).json(&body);
    if let Some(etag) = if_match {
        req = req.header("if-match", etag);
    }
    stack.send(req).await
}

#[tokio::test]
async fn s2_4_defaults_then_an_admin_sets_the_base_currency_and_rates() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let defaults = stack.call("GET", "/settings", &admin, None).await;
    assert_eq!(defaults.status, 200, "{:?}", defaults.body);
    assert_eq!(
        defaults.body,
        json!({"base_currency": "EUR", "exchange_rates": {}, "version": 0})
    );
    assert_eq!(defaults.header("etag"), Some("\"0\""));

    let saved = patch(
        &stack,
        &admin,
        Some("\"0\""),
        json!({"exchange_rates": {"usd": "0.9200", "GBP": "1.17", "JPY": "0.0061"}}),
    )
    .await;
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
    let merged = patch(
        &stack,
        &admin,
        Some("\"1\""),
        json!({"exchange_rates": {"USD": "0.93", "JPY": null}}),
    )
    .await;
    assert_eq!(merged.status, 200, "{:?}", merged.body);
    assert_eq!(
        merged.body["exchange_rates"],
        json!({"GBP": "1.17", "USD": "0.93"})
    );
    // A patch that changes nothing keeps the version.
    let same = patch(
        &stack,
        &admin,
        None,
        json!({"exchange_rates": {"USD": "0.930"}}),
    )
    .await;
    assert_eq!((same.status, same.body["version"].as_u64()), (200, Some(2)));

    // A new base currency: every kept rate restated in it, the new base's own rate cleared.
    let carried = patch(&stack, &admin, None, json!({"base_currency": "USD"})).await;
    assert_eq!(carried.status, 422, "{:?}", carried.body);
    assert_eq!(
        errors(&carried),
        vec![
            pair("exchange_rates.GBP", "restate_on_base_change"),
            pair("exchange_rates.USD", "not_base")
        ]
    );
    let rebased = patch(
        &stack,
        &admin,
        Some("\"2\""),
        json!({"base_currency": "usd", "exchange_rates": {"USD": null, "GBP": "1.27", "EUR": "1.0753"}}),
    )
    .await;
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
    let cleared = patch(
        &stack,
        &admin,
        None,
        json!({"base_currency": "CHF", "exchange_rates": null}),
    )
    .await;
    assert_eq!(cleared.status, 200, "{:?}", cleared.body);
    assert_eq!(cleared.body["exchange_rates"], json!({}));

    // An owner may change them too.
    let owner = stack.token("acme", "oscar", "owner");
    let by_owner = patch(
        &stack,
        &owner,
        None,
        json!({"exchange_rates": {"EUR": "0.95"}}),
    )
    .await;
    assert_eq!(
        (by_owner.status, by_owner.body["updated_by"].as_str()),
        (200, Some("oscar"))
    );

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

#[tokio::test]
async fn s2_4_members_read_but_only_owners_and_admins_write() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    assert_eq!(
        patch(&stack, &admin, None, json!({"base_currency": "GBP"}))
            .await
            .status,
        200
    );
    for role in ["manager", "member", "viewer"] {
        let token = stack.token("acme", "u", role);
        let read = stack.call("GET", "/settings", &token, None).await;
        assert_eq!(
            (read.status, read.body["base_currency"].as_str()),
            (200, Some("GBP")),
            "{role}"
        );
        let write = patch(&stack, &token, None, json!({"base_currency": "USD"})).await;
        assert_eq!(write.status, 403, "{role}");
        assert_eq!(
            write.header("content-type"),
            Some("application/problem+json")
        );
        // 403 whatever the body says.
        assert_eq!(
            patch(&stack, &token, None, json!({"nonsense": 1}))
                .await
                .status,
            403
        );
    }
    let portal = stack.token("acme", "p", "portal");
    assert_eq!(
        stack.call("GET", "/settings", &portal, None).await.status,
        403
    );
    assert_eq!(
        patch(&stack, &portal, None, json!({"base_currency": "USD"}))
            .await
            .status,
        403
    );
    let unchanged = stack.call("GET", "/settings", &admin, None).await;
    assert_eq!(
        (
            unchanged.body["base_currency"].as_str(),
            unchanged.body["version"].as_u64()
        ),
        (Some("GBP"), Some(1))
    );
}

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

    // Bad input changed nothing.
    let after = stack.call("GET", "/settings", &admin, None).await;
    assert_eq!(
        after.body,
        json!({"base_currency": "EUR", "exchange_rates": {}, "version": 0})
    );
}

#[tokio::test]
async fn s2_4_a_stale_if_match_is_refused() {
    let stack = Stack::start().await;
    let alice = stack.token("acme", "alice", "admin");
    let bob = stack.token("acme", "bob", "admin");
    let etag = stack
        .call("GET", "/settings", &alice, None)
        .await
        .header("etag")
        .unwrap()
        .to_string();
    assert_eq!(
        patch(
            &stack,
            &bob,
            Some(&etag),
            json!({"exchange_rates": {"USD": "0.92"}})
        )
        .await
        .status,
        200
    );
    let stale = patch(&stack, &alice, Some(&etag), json!({"base_currency": "CHF"})).await;
    assert_eq!(stale.status, 412, "{:?}", stale.body);
    assert_eq!(
        stale.problem_field(),
        ("If-Match".into(), "current_version".into())
    );
    assert_eq!(
        patch(&stack, &alice, Some("\"nope\""), json!({}))
            .await
            .status,
        400
    );
    let now = stack.call("GET", "/settings", &alice, None).await;
    assert_eq!(
        (now.body["base_currency"].as_str(), now.header("etag")),
        (Some("EUR"), Some("\"1\""))
    );
}

#[tokio::test]
async fn s2_4_each_tenant_has_its_own_settings() {
    let stack = Stack::start().await;
    let acme = stack.token("acme", "alice", "admin");
    let other = stack.token("other", "olga", "admin");
    assert_eq!(
        patch(
            &stack,
            &acme,
            None,
            json!({"base_currency": "USD", "exchange_rates": {"EUR": "1.08"}})
        )
        .await
        .status,
        200
    );
    let theirs = stack.call("GET", "/settings", &other, None).await;
    assert_eq!(
        theirs.body,
        json!({"base_currency": "EUR", "exchange_rates": {}, "version": 0})
    );
    // Their first save starts at their own version 0, not at acme's.
    let saved = patch(
        &stack,
        &other,
        Some("\"0\""),
        json!({"base_currency": "GBP"}),
    )
    .await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    assert_eq!(
        stack.call("GET", "/settings", &acme, None).await.body["base_currency"],
        "USD"
    );
}
