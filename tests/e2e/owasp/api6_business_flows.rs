//! API6:2023 Unrestricted Access to Sensitive Business Flows. The flows that could be abused
//! in bulk, imports and bulk email sends, are rate-limited per tenant (fixed windows,
//! `crm_shared::quotas`): the N+1th in a window is 429 with `Retry-After` and changes
//! nothing, and another tenant is unaffected. (Web form submissions have their own limit per
//! form and address: `tests/e2e/leads/forms.rs`.)

use super::{assert_rate_limited, use_quota};
use crm_e2e_tests::{Stack, json};
use crm_shared::quotas::{EMAILS, IMPORTS};

#[tokio::test]
async fn api6_imports_past_the_hourly_quota_are_429_and_create_nothing() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let other = stack.token("globex", "gina", "admin");
    // Two real imports, then the window's remaining slots used, then the last one real.
    for i in 0..2 {
        stack.start_import(&admin, &format!("leads-{i}.csv")).await;
    }
    use_quota(&stack, &IMPORTS, "acme", IMPORTS.limit - 1).await;
    stack.start_import(&admin, "last.csv").await;
    let before = stack.ids("/imports", &admin).await;
    assert_eq!(before.len(), 3);
    let body = json!({"file_name": "one-too-many.csv", "start": "on_upload"});
    let r = stack
        .call("POST", "/imports", &admin, Some(body.clone()))
        .await;
    assert_rate_limited(&r, IMPORTS.window_seconds, "the N+1th import in an hour");
    assert_eq!(
        stack.ids("/imports", &admin).await,
        before,
        "no import was recorded"
    );
    assert_eq!(
        IMPORTS
            .used(&stack.table(), "acme", chrono::Utc::now())
            .await
            .unwrap(),
        IMPORTS.limit,
        "a refused import takes no slot"
    );
    // Another tenant's imports go on.
    assert_eq!(
        stack
            .call("POST", "/imports", &other, Some(body))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn api6_bulk_sends_past_the_daily_quota_are_429_and_send_nothing() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let other = stack.token("globex", "gina", "admin");
    let mut contacts = Vec::new();
    for (tenant, token) in [("acme", &admin), ("globex", &other)] {
        let to = format!("bulk-{tenant}-{}@example.com", stack.prefix);
        let id = stack
            .create_contact(
                token,
                json!({"first_name": "B", "email": to, "lifecycle_status": "customer"}),
            )
            .await;
        contacts.push((id, to));
    }
    let bulk = json!({"subject": "News", "text": "Our news", "bulk": true});
    let (id, to) = &contacts[0];
    let path = format!("/contacts/{id}/messages");
    assert_eq!(
        stack
            .call("POST", &path, &admin, Some(bulk.clone()))
            .await
            .status,
        201
    );
    use_quota(&stack, &EMAILS, "acme", EMAILS.limit).await;
    let r = stack.call("POST", &path, &admin, Some(bulk.clone())).await;
    assert_rate_limited(
        &r,
        EMAILS.window_seconds,
        "a bulk send over the daily quota",
    );
    assert_eq!(
        stack.sent_emails_to(to).await.len(),
        1,
        "nothing more was sent"
    );
    let activities = stack
        .ids(&format!("/contacts/{id}/activities"), &admin)
        .await;
    assert_eq!(
        activities.len(),
        1,
        "no email activity for the refused send"
    );
    // Another tenant sends.
    let (id, to) = &contacts[1];
    let r = stack
        .call(
            "POST",
            &format!("/contacts/{id}/messages"),
            &other,
            Some(bulk),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(stack.sent_emails_to(to).await.len(), 1);
}
