//! API4:2023 Unrestricted Resource Consumption. Every request is bounded: bodies over 1 MiB
//! are 413 before any handler reads them, pages hold 1–200 items, a list takes at most 10
//! custom field filters, strings have maximum lengths, and exports and emails have quotas per
//! tenant (429 with `Retry-After`; imports: API6). Each refusal changes nothing.

use super::{assert_rate_limited, use_quota};
use api_kit::limits::MAX_BODY_BYTES;
use crm_e2e_tests::{Stack, json};
use crm_shared::quotas::{EMAILS, EXPORTS};

#[tokio::test]
async fn api4_bodies_over_the_cap_are_413_on_every_function_and_change_nothing() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = stack
        .create_contact(&admin, json!({"first_name": "Ada"}))
        .await;
    let padding = "x".repeat(MAX_BODY_BYTES);
    let huge = json!({"first_name": "Huge", "notes": padding});
    for (method, path) in [
        ("POST", "/contacts".to_string()),
        ("PATCH", format!("/contacts/{id}")),
        ("POST", "/clients".to_string()),
        ("POST", "/deals".to_string()),
        ("POST", "/activities".to_string()),
        ("POST", "/imports".to_string()),
        ("POST", "/workflows".to_string()),
        ("PATCH", "/settings".to_string()),
        ("POST", "/custom-fields".to_string()),
        ("POST", "/outreach".to_string()),
        ("POST", "/email-templates".to_string()),
    ] {
        let r = stack.call(method, &path, &admin, Some(huge.clone())).await;
        assert_eq!(r.status, 413, "{method} {path}: {:?}", r.body);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    // No login needed to be refused: the public form route too.
    let r = stack
        .send(
            stack
                .request("POST", "/forms/acme.00/submissions", None)
                .json(&huge),
        )
        .await;
    assert_eq!(r.status, 413, "{:?}", r.body);
    assert_eq!(stack.ids("/contacts", &admin).await, vec![id.clone()]);
    let c = stack.get(&format!("/contacts/{id}"), &admin).await.body;
    assert_eq!(c["first_name"], "Ada");
    assert_eq!(c["version"], 1);
    // Just under the cap is read (and refused for what it says, not for its size).
    let under = "x".repeat(MAX_BODY_BYTES - 100);
    let r = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": under})),
        )
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
}

#[tokio::test]
async fn api4_page_sizes_filter_counts_and_string_lengths_are_bounded() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    for list in [
        "/contacts",
        "/clients",
        "/deals",
        "/activities",
        "/outreach",
        "/imports",
    ] {
        for limit in ["0", "201", "1000000", "-1"] {
            let r = stack.get(&format!("{list}?limit={limit}"), &admin).await;
            assert!(
                matches!(r.status, 400 | 422),
                "{list}?limit={limit}: {} {:?}",
                r.status,
                r.body
            );
            assert_eq!(r.header("content-type"), Some("application/problem+json"));
        }
        assert_eq!(
            stack.get(&format!("{list}?limit=200"), &admin).await.status,
            200
        );
    }
    // At most 10 custom field filters on a list.
    let filters: Vec<String> = (0..11).map(|i| format!("cf.f{i}=x")).collect();
    let r = stack
        .get(&format!("/contacts?{}", filters.join("&")), &admin)
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    // Strings: names 100 characters, a company 200; one more is refused, naming the field.
    let r = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "a".repeat(101)})),
        )
        .await;
    assert_eq!(
        (r.status, r.problem_field().0),
        (422, "first_name".to_string())
    );
    let r = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "A", "company": "c".repeat(201)})),
        )
        .await;
    assert_eq!(
        (r.status, r.problem_field().0),
        (422, "company".to_string())
    );
    assert!(
        stack.ids("/contacts", &admin).await.is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn api4_exports_and_emails_have_per_tenant_quotas_with_retry_after() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let other = stack.token("globex", "gina", "admin");
    // Exports: the window's quota used up → 429, no job; another tenant exports.
    use_quota(&stack, &EXPORTS, "acme", EXPORTS.limit).await;
    let body = json!({"entity": "contacts"});
    let r = stack
        .call("POST", "/exports", &admin, Some(body.clone()))
        .await;
    assert_rate_limited(&r, EXPORTS.window_seconds, "the 31st export in an hour");
    assert_eq!(
        stack
            .call("POST", "/exports", &other, Some(body))
            .await
            .status,
        202
    );
    assert!(
        stack
            .runtime
            .receive_sqs_batch("JobQueue")
            .await
            .unwrap()
            .is_some(),
        "globex's export job"
    );
    // Emails: the day's last slot sends, the next is refused and sends nothing.
    let to = format!("quota-{}@example.com", stack.prefix);
    let id = stack
        .create_contact(
            &admin,
            json!({"first_name": "Q", "email": to, "lifecycle_status": "customer"}),
        )
        .await;
    use_quota(&stack, &EMAILS, "acme", EMAILS.limit - 1).await;
    let send = json!({"subject": "Hello", "text": "Hi"});
    let path = format!("/contacts/{id}/messages");
    let r = stack.call("POST", &path, &admin, Some(send.clone())).await;
    assert_eq!(r.status, 201, "the day's last email: {:?}", r.body);
    let r = stack.call("POST", &path, &admin, Some(send)).await;
    assert_rate_limited(&r, EMAILS.window_seconds, "an email over the day's quota");
    assert_eq!(
        stack.sent_emails_to(&to).await.len(),
        1,
        "one email went out"
    );
}
