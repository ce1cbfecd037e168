//! Custom fields of clients (S3.3, S3.5): validated beside the standard fields, shown, counted
//! when their definition changes, and client lists filtered and sorted by them.

use crm_e2e_tests::{Stack, errors, json, pair};
use serde_json::Value;
use std::collections::BTreeMap;

/// A required select `tier` (a, b) of clients.
async fn define_tier(stack: &Stack, admin: &str) {
    stack
        .create_field(
            admin,
            json!({"key": "tier", "entity": "client", "label": "Tier", "required": true,
                   "type": {"kind": "select", "options": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]}}),
        )
        .await;
}

/// A client's required custom field is refused when missing, and a broken value is named beside
/// the standard fields' errors (S3.3).
#[tokio::test]
async fn s3_3_client_fields_are_required_and_validated_beside_the_standard_fields() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    define_tier(&stack, &admin).await;
    let missing = stack
        .call("POST", "/clients", &admin, Some(json!({"name": "ACME"})))
        .await;
    assert_eq!(missing.status, 422, "{:?}", missing.body);
    assert_eq!(
        errors(&missing),
        vec![pair("custom_fields.tier", "required")]
    );
    let both = stack
        .call(
            "POST",
            "/clients",
            &admin,
            Some(json!({"name": "", "custom_fields": {"tier": "c"}})),
        )
        .await;
    assert_eq!(both.status, 422);
    let errs = errors(&both);
    assert!(errs.contains(&pair("name", "required")), "{errs:?}");
    assert!(
        errs.contains(&pair("custom_fields.tier", "option")),
        "{errs:?}"
    );
}

/// A client's custom values are normalised, shown in lists without the bookkeeping, patched,
/// and a definition change that would break one is refused with the count (S3.3).
#[tokio::test]
async fn s3_3_client_fields_show_patch_and_count_affected_clients() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    define_tier(&stack, &admin).await;
    let acme = stack
        .call(
            "POST",
            "/clients",
            &admin,
            Some(json!({"name": "ACME", "custom_fields": {"tier": "B"}})),
        )
        .await;
    assert_eq!(acme.status, 201, "{:?}", acme.body);
    assert_eq!(acme.body["custom_fields"], json!({"tier": "b"}));
    let listed = stack.list_all("/clients", &admin).await;
    assert_eq!(listed[0]["custom_fields"], json!({"tier": "b"}));
    assert!(listed[0].get("custom_terms").is_none());
    let id = acme.body["id"].as_str().unwrap();
    let r = stack
        .call(
            "PATCH",
            &format!("/clients/{id}"),
            &admin,
            Some(json!({"custom_fields": {"tier": "a"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["custom_fields"], json!({"tier": "a"}));
    let refused = stack
        .call(
            "PATCH",
            "/custom-fields/client/tier",
            &admin,
            Some(json!({"type": {"kind": "select", "options": [{"id": "b", "label": "B"}]}})),
        )
        .await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(refused.body["affected_records"], 1);
}

/// A multi-select `segment` and a currency `arr` of clients, and four clients: their names by
/// id.
async fn segmented_clients(stack: &Stack, admin: &str) -> BTreeMap<String, &'static str> {
    define_segment_and_arr(stack, admin).await;
    let mut id = BTreeMap::new();
    for (name, values) in [
        (
            "Alpha",
            json!({"segment": ["smb"], "arr": {"amount": "10000"}}),
        ),
        (
            "Beta",
            json!({"segment": ["mid", "ent"], "arr": {"amount": "250000"}}),
        ),
        (
            "Gamma",
            json!({"segment": ["ent"], "arr": {"amount": "90000"}}),
        ),
        ("Delta", json!({})),
    ] {
        let c = stack
            .create_client(admin, json!({"name": name, "custom_fields": values}))
            .await;
        id.insert(c, name);
    }
    id
}

async fn define_segment_and_arr(stack: &Stack, admin: &str) {
    stack
        .create_field(
            admin,
            json!({"key": "segment", "entity": "client", "label": "Segment",
                   "type": {"kind": "multi_select", "options": [{"id": "smb", "label": "SMB"}, {"id": "mid", "label": "Mid"}, {"id": "ent", "label": "Enterprise"}]}}),
        )
        .await;
    stack
        .create_field(
            admin,
            json!({"key": "arr", "entity": "client", "label": "ARR", "type": {"kind": "currency", "currencies": ["EUR"]}}),
        )
        .await;
}

/// The names of clients listed, in order.
fn names(id: &BTreeMap<String, &'static str>, items: Vec<Value>) -> Vec<&'static str> {
    items
        .iter()
        .map(|c| *id.get(c["id"].as_str().unwrap()).unwrap())
        .collect()
}

/// Client lists filter by custom fields with their operators, combined, page by page (S3.5).
#[tokio::test]
async fn s3_5_client_lists_filter_by_custom_fields() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = segmented_clients(&stack, &admin).await;
    let sorted_names = |items: Vec<Value>| {
        let mut n = names(&id, items);
        n.sort();
        n
    };
    for (query, expected) in [
        ("cf.segment[contains]=ent", vec!["Beta", "Gamma"]),
        ("cf.segment[in]=smb,ent", vec!["Alpha", "Beta", "Gamma"]),
        ("cf.arr[gte]=50000%20EUR", vec!["Beta", "Gamma"]),
        ("cf.arr[gte]=50000%20EUR&cf.segment=mid", vec!["Beta"]),
        (
            "cf.arr[lt]=100000%20EUR&cf.arr[gt]=5000%20EUR",
            vec!["Alpha", "Gamma"],
        ),
        ("cf.segment[empty]=true", vec!["Delta"]),
        ("cf.segment[ne]=smb", vec!["Beta", "Delta", "Gamma"]),
    ] {
        let found = stack
            .list_all(&format!("/clients?{query}&limit=1"), &admin)
            .await;
        assert_eq!(sorted_names(found), expected, "{query}");
    }
}

/// Client lists sort by a custom field both ways, the client without a value last; filtered
/// clients show their values in the plain shape, and only to whom may see them (S3.5).
#[tokio::test]
async fn s3_5_client_lists_sort_by_a_custom_field_and_show_plain_values_to_whom_may_see() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = segmented_clients(&stack, &admin).await;
    // Sorted by ARR, both ways; the client without a value last.
    let asc = stack.list_all("/clients?sort=cf.arr&limit=2", &admin).await;
    assert_eq!(names(&id, asc), vec!["Alpha", "Gamma", "Beta", "Delta"]);
    let desc = stack.list_all("/clients?sort=-cf.arr", &admin).await;
    assert_eq!(names(&id, desc), vec!["Beta", "Gamma", "Alpha", "Delta"]);
    // Shown in their plain shape, filtered by visibility like every list.
    let page = stack.get("/clients?cf.arr[gte]=200000%20EUR", &admin).await;
    assert_eq!(
        page.body["items"][0]["custom_fields"]["arr"],
        json!({"amount": "250000.00", "currency": "EUR"})
    );
    let member = stack.token("acme", "mia", "member");
    assert!(
        stack
            .list_all("/clients?cf.segment[in]=smb,mid,ent", &member)
            .await
            .is_empty(),
        "a member sees none of the admin's clients"
    );
}

/// Bad client list parameters are named with their rule (S3.5).
#[tokio::test]
async fn s3_5_bad_client_list_parameters_are_named() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    define_segment_and_arr(&stack, &admin).await;
    for (query, field, rule) in [
        ("cf.nope=1", "cf.nope", "unknown_field"),
        ("sort=name", "sort", "one_of"),
        ("bogus=1", "bogus", "unknown_parameter"),
    ] {
        let r = stack.get(&format!("/clients?{query}"), &admin).await;
        assert_eq!(r.status, 422, "{query}: {:?}", r.body);
        assert_eq!(errors(&r), vec![pair(field, rule)], "{query}");
    }
}
