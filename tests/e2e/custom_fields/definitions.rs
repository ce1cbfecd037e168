//! Defining custom fields (S3.1, S3.2): who may, duplicate and broken definitions named, every
//! entity, listed in definition order.

use super::{define_every_type, every_type, keys};
use crm_e2e_tests::{Stack, errors, json, pair};

/// Only owners and admins define fields, a member is refused and nothing is stored; a
/// duplicate key and a broken definition are named with their field and rule (S3.1, S3.2).
#[tokio::test]
async fn s3_1_s3_2_only_admins_define_fields_and_bad_definitions_are_named() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let member = stack.token("acme", "mia", "member");

    // Only owners and admins define; a member is refused and nothing is stored.
    let denied = stack.define_field(&member, every_type()[0].clone()).await;
    assert_eq!(denied.status, 403, "{:?}", denied.body);
    let listed = stack.get("/custom-fields?entity=contact", &member).await;
    assert_eq!(keys(&listed.body, "fields"), Vec::<String>::new());
    define_every_type(&stack, &admin).await;
    let dup = stack.define_field(&admin, every_type()[0].clone()).await;
    assert_eq!(dup.status, 422, "{:?}", dup.body);
    assert_eq!(errors(&dup), vec![pair("key", "unique")]);
    // A broken definition names its field and rule.
    let bad = stack
        .define_field(
            &admin,
            json!({"key": "Bad Key", "entity": "contact", "label": "",
                   "type": {"kind": "integer", "min": 5, "max": 1}}),
        )
        .await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    let errs = errors(&bad);
    assert!(errs.contains(&pair("key", "format")), "{errs:?}");
    assert!(errs.contains(&pair("label", "required")), "{errs:?}");
}

/// Fields of every entity are listed to every role in definition order; deals have no records
/// yet, but their fields can be defined now (S3.1).
#[tokio::test]
async fn s3_1_fields_are_defined_per_entity_and_listed_in_definition_order() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let member = stack.token("acme", "mia", "member");
    define_every_type(&stack, &admin).await;
    // Deals have no records yet, but their fields can be defined now.
    stack
        .create_field(
            &admin,
            json!({"key": "probability", "entity": "deal", "label": "Probability",
                   "type": {"kind": "integer", "min": 0, "max": 100}}),
        )
        .await;
    let deal_fields = stack.get("/custom-fields?entity=deal", &member).await;
    assert_eq!(deal_fields.body["fields"][0]["key"], "probability");
    let listed = stack.get("/custom-fields?entity=contact", &member).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let keys = keys(&listed.body, "fields");
    assert_eq!(keys.len(), 16, "{keys:?}");
    assert_eq!(keys[0], "nickname", "in definition order");
}
