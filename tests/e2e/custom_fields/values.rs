//! Custom field values (S3.2) through the ordinary create and PATCH: every type normalised and
//! stored, every rule named with its field, merge semantics, the history and the export.

use super::define_every_type;
use crm_e2e_tests::{Stack, errors, json, pair};
use serde_json::Value;

/// A contact with a value of every type (after [`define_every_type`]): the created contact
/// and the values it must show.
async fn contact_with_every_type(stack: &Stack, admin: &str) -> (Value, Value) {
    define_every_type(stack, admin).await;
    let referred = stack
        .create_contact(admin, json!({"first_name": "Ref"}))
        .await;
    let client = stack.create_client(admin, json!({"name": "ACME"})).await;
    let values = json!({
        "nickname": "  Ada  L ",
        "bio": "Line one\r\nLine two",
        "employees": "250",
        "score": "99.5",
        "budget": {"amount": "1234.5", "currency": "usd"},
        "renewal": "2027-01-31",
        "last_demo": "2026-11-29T14:30:00+01:00",
        "newsletter": true,
        "stage": "Qualified",
        "interests": ["erp", "crm"],
        "billing_email": "Billing@Example.COM",
        "mobile": "030 1234567",
        "homepage": "https://example.com/a",
        "account_manager": "alice",
        "referred_by": referred,
        "parent_account": client,
    });
    let r = stack
        .call(
            "POST",
            "/contacts",
            admin,
            Some(json!({"first_name": "Ada", "custom_fields": values})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let expected = json!({
        "nickname": "Ada L",
        "bio": "Line one\nLine two",
        "employees": 250,
        "score": "99.5",
        "budget": {"amount": "1234.50", "currency": "USD"},
        "renewal": "2027-01-31",
        "last_demo": "2026-11-29T13:30:00.000Z",
        "newsletter": true,
        "stage": "qualified",
        "interests": ["crm", "erp"],
        "billing_email": "billing@example.com",
        "mobile": "+49301234567",
        "homepage": "https://example.com/a",
        "account_manager": "alice",
        "referred_by": referred,
        "parent_account": client,
    });
    (r.body, expected)
}

/// A value of every type is normalised on create, shown in its plain shape without the
/// bookkeeping, and read back unchanged (S3.1, S3.2).
#[tokio::test]
async fn s3_1_s3_2_every_type_is_normalised_and_round_trips() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (contact, expected) = contact_with_every_type(&stack, &admin).await;
    assert_eq!(contact["custom_fields"], expected);
    assert!(
        contact.get("custom_terms").is_none(),
        "bookkeeping stays hidden"
    );
    let id = contact["id"].as_str().unwrap();
    let viewer = stack.token("acme", "vic", "viewer");
    let read = stack.get(&format!("/contacts/{id}"), &viewer).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["custom_fields"], expected, "stored unchanged");
}

/// Every rule of every type (lower bounds, scale, currency, format, type, option, item count,
/// unknown field) is named with its field, and a refused body writes nothing (S3.2).
#[tokio::test]
async fn s3_2_every_rule_is_named_with_its_field_and_nothing_is_written() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    define_every_type(&stack, &admin).await;
    // Every rule, each named with its field.
    let before = stack.list_all("/contacts", &admin).await.len();
    let broken = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "Bad", "custom_fields": {
                "nickname": "A",
                "bio": "x".repeat(501),
                "employees": 0,
                "score": "1.234",
                "budget": {"amount": "5", "currency": "GBP"},
                "renewal": "2019-12-31",
                "last_demo": "yesterday",
                "newsletter": "maybe",
                "stage": "lost",
                "interests": ["crm", "erp", "bi"],
                "billing_email": "not-an-email",
                "homepage": "ftp://example.com",
                "account_manager": "nobody",
                "referred_by": "0190a0a0-0000-7000-8000-000000000000",
                "parent_account": "not-a-uuid",
                "unknown": 1,
            }})),
        )
        .await;
    assert_eq!(broken.status, 422, "{:?}", broken.body);
    let errs = errors(&broken);
    for expected in [
        pair("custom_fields.nickname", "min_length"),
        pair("custom_fields.bio", "max_length"),
        pair("custom_fields.employees", "min"),
        pair("custom_fields.score", "scale"),
        pair("custom_fields.budget.currency", "currency"),
        pair("custom_fields.renewal", "min"),
        pair("custom_fields.last_demo", "format"),
        pair("custom_fields.newsletter", "type"),
        pair("custom_fields.stage", "option"),
        pair("custom_fields.interests", "max_items"),
        pair("custom_fields.billing_email", "format"),
        pair("custom_fields.homepage", "format"),
        pair("custom_fields.parent_account", "format"),
        pair("custom_fields.unknown", "unknown_field"),
    ] {
        assert!(errs.contains(&expected), "{expected:?} missing in {errs:?}");
    }
    assert_eq!(
        stack.list_all("/contacts", &admin).await.len(),
        before,
        "nothing written"
    );
}

/// The upper bounds of every type with one are named with their field, and a refused body
/// writes nothing (S3.2).
#[tokio::test]
async fn s3_2_upper_bounds_are_named_with_their_field_and_nothing_is_written() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    define_every_type(&stack, &admin).await;
    let before = stack.list_all("/contacts", &admin).await.len();
    // The upper bounds.
    let above = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "Big", "custom_fields": {
                "nickname": "A very long nickname indeed",
                "employees": 100001,
                "score": "100.01",
                "budget": {"amount": "-1", "currency": "EUR"},
            }})),
        )
        .await;
    assert_eq!(above.status, 422, "{:?}", above.body);
    assert_eq!(
        errors(&above),
        vec![
            pair("custom_fields.budget.amount", "min"),
            pair("custom_fields.employees", "max"),
            pair("custom_fields.nickname", "max_length"),
            pair("custom_fields.score", "max"),
        ]
    );
    assert_eq!(
        stack.list_all("/contacts", &admin).await.len(),
        before,
        "nothing written"
    );
}

/// On PATCH, a text's pattern is checked, then references that do not exist once the values
/// are valid, each named with its field (S3.2).
#[tokio::test]
async fn s3_2_patterns_and_missing_references_are_named_on_patch() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (contact, _) = contact_with_every_type(&stack, &admin).await;
    let id = contact["id"].as_str().unwrap();
    // The pattern; then references that do not exist (checked once the values are valid).
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &admin,
            Some(json!({"custom_fields": {"nickname": "Ada 2"}})),
        )
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(errors(&r), vec![pair("custom_fields.nickname", "pattern")]);
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &admin,
            Some(json!({"custom_fields": {"account_manager": "nobody",
                        "referred_by": "0190a0a0-0000-7000-8000-000000000000"}})),
        )
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(
        errors(&r),
        vec![
            pair("custom_fields.account_manager", "reference"),
            pair("custom_fields.referred_by", "reference"),
        ]
    );
}

/// A PATCH merges custom values (set one, clear one, keep the rest); the history names each
/// custom field that changed and the data export shows the same plain values (S3.2, S6.5).
#[tokio::test]
async fn s3_2_patch_merges_values_and_the_history_and_export_show_them() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (contact, _) = contact_with_every_type(&stack, &admin).await;
    let id = contact["id"].as_str().unwrap();
    // PATCH: merge semantics — set one, clear one, keep the rest.
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &admin,
            Some(json!({"custom_fields": {"score": "12.00", "bio": null}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["custom_fields"]["score"], "12.00");
    assert!(r.body["custom_fields"].get("bio").is_none());
    assert_eq!(r.body["custom_fields"]["stage"], "qualified");
    // The history names each custom field that changed.
    let history = stack.get(&format!("/contacts/{id}/history"), &admin).await;
    let changed: Vec<&str> = history.body["items"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(changed, vec!["custom_fields.bio", "custom_fields.score"]);
    // The data export shows the same plain values.
    let export = stack.get(&format!("/contacts/{id}/export"), &admin).await;
    assert_eq!(export.status, 200, "{:?}", export.body);
    assert_eq!(export.body["contact"]["custom_fields"]["score"], "12.00");
    assert_eq!(
        export.body["contact"]["custom_fields"]["budget"],
        json!({"amount": "1234.50", "currency": "USD"})
    );
    assert!(export.body["contact"].get("custom_terms").is_none());
}
