//! Required fields, defaults and archived fields (S3.3).

use crm_e2e_tests::{Stack, errors, json, pair};
use serde_json::Value;

/// A required select (`segment`, options made from labels) and an integer with a default
/// (`priority`).
async fn define_segment_and_priority(stack: &Stack, admin: &str) {
    stack
        .create_field(
            admin,
            json!({"key": "segment", "entity": "contact", "label": "Segment", "required": true,
                   "type": {"kind": "select", "options": [{"label": "SMB"}, {"label": "Enterprise"}]}}),
        )
        .await;
    stack
        .create_field(
            admin,
            json!({"key": "priority", "entity": "contact", "label": "Priority", "default": 3,
                   "type": {"kind": "integer", "min": 1, "max": 5}}),
        )
        .await;
}

/// A contact with `segment` SMB: the created contact.
async fn smb_contact(stack: &Stack, admin: &str) -> Value {
    let r = stack
        .call(
            "POST",
            "/contacts",
            admin,
            Some(json!({"first_name": "A", "custom_fields": {"segment": "SMB"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body
}

/// A required field is refused when missing on create or cleared on PATCH; option ids are made
/// from labels and a default fills in (S3.3).
#[tokio::test]
async fn s3_3_required_fields_are_refused_missing_or_cleared_and_defaults_fill_in() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    define_segment_and_priority(&stack, &admin).await;
    let missing = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "A"})),
        )
        .await;
    assert_eq!(missing.status, 422);
    assert_eq!(
        errors(&missing),
        vec![pair("custom_fields.segment", "required")]
    );
    let c = smb_contact(&stack, &admin).await;
    assert_eq!(
        c["custom_fields"],
        json!({"segment": "smb", "priority": 3}),
        "option ids made from labels; the default filled in"
    );
    let id = c["id"].as_str().unwrap();
    let cleared = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &admin,
            Some(json!({"custom_fields": {"segment": null}})),
        )
        .await;
    assert_eq!(cleared.status, 422);
    assert_eq!(
        errors(&cleared),
        vec![pair("custom_fields.segment", "required")]
    );
}

/// An archived field keeps its values and shows them, is no longer required, and is not newly
/// set (S3.3).
#[tokio::test]
async fn s3_3_an_archived_field_keeps_and_shows_its_values_but_is_not_required_or_set() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    define_segment_and_priority(&stack, &admin).await;
    let c = smb_contact(&stack, &admin).await;
    let id = c["id"].as_str().unwrap();
    // Archived: values kept and shown, no longer required, not newly set.
    let r = stack
        .call(
            "PATCH",
            "/custom-fields/contact/segment",
            &admin,
            Some(json!({"archived": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["migrated_records"], 0);
    stack
        .create_contact(&admin, json!({"first_name": "B"}))
        .await;
    let read = stack.get(&format!("/contacts/{id}"), &admin).await;
    assert_eq!(read.body["custom_fields"]["segment"], "smb");
    let set = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &admin,
            Some(json!({"custom_fields": {"segment": "enterprise"}})),
        )
        .await;
    assert_eq!(set.status, 422);
    assert_eq!(
        errors(&set),
        vec![pair("custom_fields.segment", "archived")]
    );
}

/// A definition change with a stale If-Match is refused (S3.3).
#[tokio::test]
async fn s3_3_a_stale_if_match_on_a_definition_change_is_refused() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    define_segment_and_priority(&stack, &admin).await;
    // A stale If-Match on a definition change is refused.
    let stale = stack
        .call_if_match(
            "PATCH",
            "/custom-fields/contact/priority",
            &admin,
            "\"7\"",
            Some(json!({"label": "Prio"})),
        )
        .await;
    assert_eq!(stale.status, 412);
}
