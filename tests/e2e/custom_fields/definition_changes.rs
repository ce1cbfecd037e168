//! Type changes and changed rules of a field in use (S3.3): refused with the count of records
//! they would break, or safe, or converted.

use crm_e2e_tests::{Stack, errors, json, pair};
use serde_json::Value;

/// A text field `code` and two contacts, `12` and `abcdef`: their ids.
async fn codes(stack: &Stack, admin: &str) -> (String, String) {
    stack
        .create_field(
            admin,
            json!({"key": "code", "entity": "contact", "label": "Code", "type": {"kind": "text"}}),
        )
        .await;
    let twelve = stack
        .create_contact(
            admin,
            json!({"first_name": "A", "custom_fields": {"code": "12"}}),
        )
        .await;
    let word = stack
        .create_contact(
            admin,
            json!({"first_name": "B", "custom_fields": {"code": "abcdef"}}),
        )
        .await;
    (twelve, word)
}

fn to_integer() -> Value {
    json!({"type": {"kind": "integer"}})
}

/// A type change or a narrowed rule that would break stored values is refused with the count
/// of affected records (S3.3).
#[tokio::test]
async fn s3_3_a_type_change_or_narrowed_rule_breaking_values_is_refused_with_the_count() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    codes(&stack, &admin).await;
    let refused = stack
        .call(
            "PATCH",
            "/custom-fields/contact/code",
            &admin,
            Some(to_integer()),
        )
        .await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(refused.body["affected_records"], 1, "only `abcdef` breaks");
    assert!(errors(&refused).contains(&pair("type", "affected_records")));
    // Narrowing a rule is counted the same way.
    let narrowed = stack
        .call(
            "PATCH",
            "/custom-fields/contact/code",
            &admin,
            Some(json!({"type": {"kind": "text", "max_length": 3}})),
        )
        .await;
    assert_eq!(narrowed.status, 409);
    assert_eq!(narrowed.body["affected_records"], 1);
}

/// Widening a rule is safe: no record is read or changed (S3.3).
#[tokio::test]
async fn s3_3_widening_a_rule_migrates_no_record() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    codes(&stack, &admin).await;
    // Widening is safe: no record is read or changed.
    let widened = stack
        .call(
            "PATCH",
            "/custom-fields/contact/code",
            &admin,
            Some(json!({"type": {"kind": "text", "max_length": 500}})),
        )
        .await;
    assert_eq!(widened.status, 200, "{:?}", widened.body);
    assert_eq!(widened.body["migrated_records"], 0);
}

/// Once no value breaks, a type change converts the stored values, and the index follows the
/// new type (S3.3, S3.5).
#[tokio::test]
async fn s3_3_a_type_change_no_value_breaks_converts_the_values_and_the_index() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (twelve, word) = codes(&stack, &admin).await;
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{word}"),
            &admin,
            Some(json!({"custom_fields": {"code": null}})),
        )
        .await;
    assert_eq!(r.status, 200);
    let converted = stack
        .call(
            "PATCH",
            "/custom-fields/contact/code",
            &admin,
            Some(to_integer()),
        )
        .await;
    assert_eq!(converted.status, 200, "{:?}", converted.body);
    assert_eq!(converted.body["migrated_records"], 1);
    let c = stack.get(&format!("/contacts/{twelve}"), &admin).await;
    assert_eq!(c.body["custom_fields"]["code"], 12, "now an integer");
    // …and the index follows the new type: a numeric range finds it.
    assert_eq!(
        stack.ids("/contacts?cf.code[gte]=10", &admin).await,
        vec![twelve.clone()]
    );
}
