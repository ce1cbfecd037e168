//! Who reads and writes the settings (S2.4): roles, If-Match, tenants.

use super::patch;
use crm_e2e_tests::{Stack, json};

/// Managers, members and viewers read the settings but may not change them (403 whatever the
/// body); a portal user neither reads nor writes; nothing changes (S2.4).
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

/// A save with a stale If-Match is refused naming the header, a foreign entity tag with 412
/// too (RFC 9110 §13.1.1), a value that is no entity tag with 400, and the other save stands
/// (S2.4).
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
        412
    );
    assert_eq!(
        patch(&stack, &alice, Some("nope"), json!({})).await.status,
        400
    );
    let now = stack.call("GET", "/settings", &alice, None).await;
    assert_eq!(
        (now.body["base_currency"].as_str(), now.header("etag")),
        (Some("EUR"), Some("\"1\""))
    );
}

/// Each tenant has its own settings and versions (S2.4, S1.4).
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
