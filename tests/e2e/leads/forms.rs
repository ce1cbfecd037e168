//! S8.2/S8.4: a public web form creates leads with UTM values through the contact creation of
//! the API, without a login; the honeypot creates nothing; the rate limit answers 429 with
//! Retry-After; a wrong or disabled key is 404.

use crm_e2e_tests::stack::{errors, pair};
use crm_e2e_tests::{Reply, Stack, json};
use serde_json::Value;

async fn submit(stack: &Stack, key: &str, body: Value) -> Reply {
    stack
        .send(
            stack
                .request("POST", &format!("/forms/{key}/submissions"), None)
                .json(&body),
        )
        .await
}

#[tokio::test]
async fn s8_2_a_web_form_creates_leads_with_utm_values_and_keeps_its_limits() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let member = stack.token("acme", "mia", "member");
    stack
        .put_user(&admin, "bob", json!({"role": "member"}))
        .await;
    let r = stack
        .call("PUT", "/lead-sources", &admin, Some(json!({"sources": [
            {"key": "web", "label": "Website", "kind": "web_form", "utm_source": "site", "utm_medium": "form", "utm_campaign": "always"}
        ]})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Only admins make forms; the source must be in the catalogue.
    let form = json!({"name": "Contact us", "lead_source": "web", "owner": "bob"});
    assert_eq!(
        stack
            .status("POST", "/web-forms", &member, Some(form.clone()))
            .await,
        403
    );
    let r = stack
        .call(
            "POST",
            "/web-forms",
            &admin,
            Some(json!({"name": "X", "lead_source": "tv"})),
        )
        .await;
    assert_eq!(errors(&r), vec![pair("lead_source", "one_of")]);
    let r = stack.call("POST", "/web-forms", &admin, Some(form)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let key = r.body["form_key"].as_str().unwrap().to_string();
    let form_id = r.body["id"].as_str().unwrap().to_string();
    assert!(
        key.starts_with("acme.") && key.len() == "acme.".len() + 64,
        "{key}"
    );
    assert_eq!(
        stack
            .get("/web-forms", &admin)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // 1: a lead with UTM values from the request (and the source's default for the rest).
    let r = submit(&stack, &key, json!({"name": "Ada Lovelace", "email": "ada@example.com",
        "company": "Engines", "message": "Call me", "utm_source": "newsletter", "utm_campaign": "spring"})).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body, json!({"status": "received"}));
    let leads = stack.list_all("/contacts?lead_source=web", &admin).await;
    assert_eq!(leads.len(), 1);
    let ada = stack
        .get(
            &format!("/contacts/{}", leads[0]["id"].as_str().unwrap()),
            &admin,
        )
        .await
        .body;
    assert_eq!(ada["lifecycle_status"], "lead");
    assert_eq!(ada["first_name"], "Ada");
    assert_eq!(ada["owner"], "bob");
    assert_eq!(ada["entry"]["path"], "web_form");
    assert_eq!(ada["entry"]["source"], "web");
    assert_eq!(ada["entry"]["utm_source"], "newsletter");
    assert_eq!(ada["entry"]["utm_medium"], "form");
    assert_eq!(ada["entry"]["utm_campaign"], "spring");

    // 2: the honeypot filled: a success, nothing created.
    let r = submit(
        &stack,
        &key,
        json!({"name": "Bot", "email": "bot@example.com", "website_url": "http://spam"}),
    )
    .await;
    assert_eq!(r.status, 202);
    assert_eq!(
        stack
            .list_all("/contacts?lead_source=web", &admin)
            .await
            .len(),
        1
    );
    // 3: anything but lead fields is refused, named.
    let r = submit(
        &stack,
        &key,
        json!({"name": "Eve", "owner": "eve", "lifecycle_status": "customer"}),
    )
    .await;
    assert_eq!(r.status, 422);
    let mut named = errors(&r);
    named.sort();
    assert_eq!(
        named,
        vec![
            pair("lifecycle_status", "unknown_field"),
            pair("owner", "unknown_field")
        ]
    );
    // 4: an address a contact has: the same answer, nothing said, nothing created.
    let r = submit(&stack, &key, json!({"email": "ada@example.com"})).await;
    assert_eq!(r.status, 202);
    // 5: another lead.
    assert_eq!(
        submit(&stack, &key, json!({"name": "Grace"})).await.status,
        202
    );
    assert_eq!(
        stack
            .list_all("/contacts?lead_source=web", &admin)
            .await
            .len(),
        2
    );
    // 6: over the limit (5 per address in 10 minutes).
    let r = submit(&stack, &key, json!({"name": "Alan"})).await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    let wait: i64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=600).contains(&wait), "{wait}");
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(
        stack
            .list_all("/contacts?lead_source=web", &admin)
            .await
            .len(),
        2
    );

    // A wrong key, another tenant's prefix, a disabled form: 404.
    let wrong = format!("acme.{}", "0".repeat(64));
    assert_eq!(
        submit(&stack, &wrong, json!({"name": "X"})).await.status,
        404
    );
    assert_eq!(
        submit(&stack, "nonsense", json!({"name": "X"}))
            .await
            .status,
        404
    );
    let other = key.replacen("acme.", "other-tenant.", 1);
    assert_eq!(
        submit(&stack, &other, json!({"name": "X"})).await.status,
        404
    );
    let r = stack
        .call(
            "PATCH",
            &format!("/web-forms/{form_id}"),
            &admin,
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(submit(&stack, &key, json!({"name": "X"})).await.status, 404);
    // Forms are the tenant's own.
    let foreign = stack.token("other-tenant", "intruder", "owner");
    assert_eq!(
        stack
            .status(
                "PATCH",
                &format!("/web-forms/{form_id}"),
                &foreign,
                Some(json!({"active": true}))
            )
            .await,
        404
    );
    assert_eq!(stack.get("/web-forms", &foreign).await.body, json!([]));
}
