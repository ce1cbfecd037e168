//! Contact lists filtered and sorted by custom fields (S3.5): every operator of every type,
//! combined with the standard filters, across pages, bad filters named, following changes.

use super::define_every_type;
use crm_e2e_tests::{Stack, errors, json, pair};
use std::collections::BTreeMap;

/// [`define_every_type`] and a text `notes`.
async fn define_fields(stack: &Stack, admin: &str) {
    define_every_type(stack, admin).await;
    stack
        .create_field(
            admin,
            json!({"key": "notes", "entity": "contact", "label": "Notes", "type": {"kind": "text"}}),
        )
        .await;
}

/// [`define_fields`] and four contacts with their values: their ids by first name.
async fn rows(stack: &Stack, admin: &str) -> BTreeMap<&'static str, String> {
    define_fields(stack, admin).await;
    let rows = [
        // name, status, custom values
        (
            "Anna",
            "lead",
            json!({"employees": 10, "score": "10.5", "budget": {"amount": "100", "currency": "EUR"},
                   "renewal": "2027-01-01", "last_demo": "2026-01-01T10:00:00Z", "newsletter": true,
                   "stage": "new", "interests": ["crm"], "nickname": "Big Fish",
                   "bio": "Likes sailing and chess", "billing_email": "anna@north.example"}),
        ),
        (
            "Ben",
            "customer",
            json!({"employees": 200, "score": "55", "budget": {"amount": "100", "currency": "USD"},
                   "renewal": "2028-06-30", "newsletter": false, "stage": "won",
                   "interests": ["crm", "erp"], "nickname": "Small Fish"}),
        ),
        (
            "Cleo",
            "customer",
            json!({"employees": 3000, "score": "99.99", "budget": {"amount": "2500.50", "currency": "EUR"},
                   "stage": "qualified", "interests": ["bi", "erp"],
                   "billing_email": "cleo@south.example"}),
        ),
        (
            "Dan",
            "lead",
            // More words than the index keeps: the last ones are found through the overflow.
            json!({"notes": "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda my nu xi omicron pi rho sigma tau zebra"}),
        ),
    ];
    let mut id = BTreeMap::new();
    for (name, status, values) in rows {
        let c = stack
            .create_contact(
                admin,
                json!({"first_name": name, "lifecycle_status": status, "custom_fields": values}),
            )
            .await;
        id.insert(name, c);
    }
    id
}

/// The first names of contacts found, sorted.
fn names(id: &BTreeMap<&'static str, String>, found: Vec<String>) -> Vec<&'static str> {
    let mut out: Vec<&str> = found
        .iter()
        .map(|f| {
            *id.iter()
                .find(|(_, v)| *v == f)
                .map(|(k, _)| k)
                .expect("a known contact")
        })
        .collect();
    out.sort();
    out
}

/// Every operator of every type finds the right contacts, alone, combined with the standard
/// filters and with each other; page by page nothing is missed or repeated (S3.5).
#[tokio::test]
async fn s3_5_every_operator_finds_the_right_contacts_across_pages() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = rows(&stack, &admin).await;
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("cf.employees=200", vec!["Ben"]),
        ("cf.employees[ne]=200", vec!["Anna", "Cleo", "Dan"]),
        ("cf.employees[lt]=200", vec!["Anna"]),
        ("cf.employees[lte]=200", vec!["Anna", "Ben"]),
        ("cf.employees[gt]=200", vec!["Cleo"]),
        ("cf.employees[gte]=200", vec!["Ben", "Cleo"]),
        ("cf.employees[in]=10,3000", vec!["Anna", "Cleo"]),
        ("cf.score[gte]=55.00", vec!["Ben", "Cleo"]),
        ("cf.score[lt]=10.51", vec!["Anna"]),
        ("cf.budget[gte]=100%20EUR", vec!["Anna", "Cleo"]),
        ("cf.budget=100%20USD", vec!["Ben"]),
        ("cf.renewal[gt]=2027-06-01", vec!["Ben"]),
        ("cf.last_demo[lte]=2026-06-01T00:00:00Z", vec!["Anna"]),
        ("cf.newsletter=false", vec!["Ben"]),
        ("cf.newsletter[empty]=true", vec!["Cleo", "Dan"]),
        ("cf.stage=Qualified", vec!["Cleo"]),
        ("cf.stage[in]=new,won", vec!["Anna", "Ben"]),
        ("cf.interests[contains]=erp", vec!["Ben", "Cleo"]),
        ("cf.interests[in]=crm,erp", vec!["Anna", "Ben", "Cleo"]),
        ("cf.interests=erp", vec!["Ben", "Cleo"]),
        ("cf.nickname=big%20FISH", vec!["Anna"]),
        ("cf.nickname[contains]=fish", vec!["Anna", "Ben"]),
        ("cf.nickname[contains]=sma%20fi", vec!["Ben"]),
        ("cf.bio[contains]=chess", vec!["Anna"]),
        ("cf.notes[contains]=zebra", vec!["Dan"]),
        ("cf.notes[contains]=alpha%20zeb", vec!["Dan"]),
        ("cf.billing_email[contains]=south", vec!["Cleo"]),
        ("cf.stage[empty]=false", vec!["Anna", "Ben", "Cleo"]),
        ("cf.stage[empty]=true", vec!["Dan"]),
        // Combined with standard filters and with each other.
        ("cf.employees[gte]=100&status=customer", vec!["Ben", "Cleo"]),
        (
            "cf.interests[contains]=erp&status=customer&cf.score[gt]=60",
            vec!["Cleo"],
        ),
        ("status=lead&cf.stage[ne]=new", vec!["Dan"]),
    ];
    for (query, expected) in cases {
        // A page size of 1 walks every cursor: nothing is missed or repeated across pages.
        let found = stack
            .ids(&format!("/contacts?{query}&limit=1"), &admin)
            .await;
        let mut unique = found.clone();
        unique.dedup();
        assert_eq!(unique.len(), found.len(), "{query}: repeated {found:?}");
        assert_eq!(names(&id, found), expected, "{query}");
    }
}

/// Lists sort by a custom field both ways, records without a value after the others, and a
/// multi-valued field lists each record once (S3.5).
#[tokio::test]
async fn s3_5_contacts_sort_by_a_custom_field_both_ways_without_a_value_last() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = rows(&stack, &admin).await;
    // Sorting by a custom field, both ways; records without a value come after the others.
    let by_score = stack.ids("/contacts?sort=cf.score&limit=2", &admin).await;
    assert_eq!(
        by_score,
        vec![
            id["Anna"].clone(),
            id["Ben"].clone(),
            id["Cleo"].clone(),
            id["Dan"].clone()
        ]
    );
    let by_score_desc = stack
        .ids("/contacts?sort=-cf.score&status=customer", &admin)
        .await;
    assert_eq!(by_score_desc, vec![id["Cleo"].clone(), id["Ben"].clone()]);
    let by_score_desc = stack
        .ids("/contacts?sort=-cf.score&cf.score[lt]=90", &admin)
        .await;
    assert_eq!(by_score_desc, vec![id["Ben"].clone(), id["Anna"].clone()]);
    // A multi-valued field sorted: each record once.
    let by_interest = stack
        .ids("/contacts?sort=cf.interests&limit=1", &admin)
        .await;
    assert_eq!(by_interest.len(), 4, "{by_interest:?}");
    assert_eq!(by_interest[3], id["Dan"], "the one without a value last");
}

/// A bad custom field filter or sort is named with its rule (S3.5).
#[tokio::test]
async fn s3_5_bad_custom_field_filters_are_named_with_their_rule() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    define_fields(&stack, &admin).await;
    // Bad filters are named with their rule.
    for (query, field, rule) in [
        ("cf.bio[gt]=a", "cf.bio[gt]", "operator"),
        ("cf.employees[gte]=many", "cf.employees[gte]", "type"),
        (
            "cf.employees[between]=1",
            "cf.employees[between]",
            "operator",
        ),
        ("cf.nope=1", "cf.nope", "unknown_field"),
        ("cf.stage=lost", "cf.stage", "option"),
        ("sort=cf.nope", "sort", "unknown_field"),
    ] {
        let r = stack.get(&format!("/contacts?{query}"), &admin).await;
        assert_eq!(r.status, 422, "{query}: {:?}", r.body);
        assert_eq!(errors(&r), vec![pair(field, rule)], "{query}");
    }
}

/// Custom field filters follow changes and deletes (S3.5).
#[tokio::test]
async fn s3_5_custom_field_filters_follow_changes_and_deletes() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = rows(&stack, &admin).await;
    // Filters follow changes and deletes.
    let ben = &id["Ben"];
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{ben}"),
            &admin,
            Some(json!({"custom_fields": {"employees": 5}})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        names(
            &id,
            stack.ids("/contacts?cf.employees[lt]=100", &admin).await
        ),
        vec!["Anna", "Ben"]
    );
    let r = stack
        .call("DELETE", &format!("/contacts/{ben}"), &admin, None)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        names(
            &id,
            stack.ids("/contacts?cf.employees[lt]=100", &admin).await
        ),
        vec!["Anna"]
    );
}
