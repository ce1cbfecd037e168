//! API3:2023 Broken Object Property Level Authorization. Read models never carry what the
//! caller may not see: no storage internals (tenant id, key attributes, index keys, TTLs,
//! search terms, optimistic-lock revisions) for anyone, and no custom field whose visibility
//! excludes the caller. Write models refuse what the caller may not set: the bookkeeping a
//! record keeps itself (id, tenant, version, created / updated / deleted by and at) is 400,
//! an owner or team outside the tenant 422, and either changes nothing.

use super::{Seed, VICTIM, seed};
use crm_e2e_tests::{Stack, json};
use serde_json::Value;

/// Keys no answer may hold, anywhere in it.
const INTERNAL: [&str; 7] = [
    "tenant_id",
    "PK",
    "SK",
    "custom_terms",
    "expires_at",
    "rev",
    "claims",
];

fn internal_keys(path: &str, v: &Value, found: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                // `GET /me` tells callers their own tenant; nothing else names one.
                let own_tenant = path == "/me" && k == "tenant_id";
                if !own_tenant && (INTERNAL.contains(&k.as_str()) || k.starts_with("GSI")) {
                    found.push(format!("{path}.{k}"));
                }
                internal_keys(&format!("{path}.{k}"), v, found);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                internal_keys(&format!("{path}[{i}]"), v, found);
            }
        }
        _ => {}
    }
}

/// Every read route of the seeded records and every list, as `token`: the answers (200s).
async fn reads(stack: &Stack, seed: &Seed, token: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (method, template, authorized) in super::template_routes(stack) {
        if method != "GET" || !authorized {
            continue;
        }
        let path = seed.resolve(&template).unwrap();
        let r = stack.get(&path, token).await;
        if r.status == 200 {
            out.push((template, r.body));
        }
    }
    out
}

#[tokio::test]
async fn api3_read_models_never_carry_internals_or_fields_hidden_from_the_caller() {
    let stack = Stack::start().await;
    let seed = seed(&stack).await;
    // A field only managers (and admins) see, set on the victim contact.
    stack
        .create_field(
            &seed.admin,
            json!({"key": "salary", "entity": "contact", "label": "Salary", "type": {"kind": "text"},
                   "visibility": {"kind": "restricted", "roles": ["manager"]}}),
        )
        .await;
    let contact = format!("/contacts/{}", seed.id("contact"));
    let r = stack
        .call(
            "PATCH",
            &contact,
            &seed.admin,
            Some(json!({"custom_fields": {"salary": "90k"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["custom_fields"]["salary"], "90k", "admins see it");
    let team = seed.id("team").to_string();
    let bob = stack.token(VICTIM, "bob", "admin");
    stack
        .put_user(&bob, "sam", json!({"role": "member", "teams": [team]}))
        .await;
    let callers = [
        ("admin", seed.admin.clone()),
        ("member", stack.token(VICTIM, "sam", "member")),
        ("viewer", stack.token(VICTIM, "vera", "viewer")),
        ("portal", stack.token(VICTIM, "pat", "portal")),
    ];
    for (role, token) in &callers {
        let answers = reads(&stack, &seed, token).await;
        assert!(
            answers.len() > 10 || *role == "portal",
            "{role} read {}",
            answers.len()
        );
        let mut found = Vec::new();
        for (path, body) in &answers {
            internal_keys(path, body, &mut found);
        }
        assert!(found.is_empty(), "{role} sees internals: {found:?}");
        if *role == "member" || *role == "viewer" {
            for (path, body) in &answers {
                assert!(
                    !body.to_string().contains("90k"),
                    "{role} sees the restricted field in {path}"
                );
            }
            let c = stack.get(&contact, token).await;
            assert_eq!(c.status, 200, "{role} sees the contact");
            assert!(
                c.body["custom_fields"].get("salary").is_none(),
                "{role}: {:?}",
                c.body
            );
        }
    }
}

/// 400 (or, for activities' per-type fields, 422) naming `field` as not settable.
fn refused_naming(r: &crm_e2e_tests::Reply, field: &str, what: &str) {
    assert!(
        matches!(r.status, 400 | 422),
        "{what} with {field}: {} {:?}",
        r.status,
        r.body
    );
    let (named, rule) = r.problem_field();
    assert_eq!(named, field, "{what}: {:?}", r.body);
    assert!(
        ["unknown_field", "read_only", "not_allowed", "immutable"].contains(&rule.as_str()),
        "{what} with {field}: rule {rule}"
    );
}

#[tokio::test]
async fn api3_write_models_refuse_bookkeeping_fields_and_foreign_owners_and_change_nothing() {
    let stack = Stack::start().await;
    let seed = seed(&stack).await;
    let admin = &seed.admin;
    // The fields a record keeps itself, each refused on create and on change.
    let forged = [
        ("id", json!("0190a000-0000-7000-8000-000000000000")),
        ("tenant_id", json!("globex")),
        ("version", json!(99)),
        ("created_at", json!("2000-01-01T00:00:00Z")),
        ("created_by", json!("mallory")),
        ("updated_at", json!("2000-01-01T00:00:00Z")),
        ("updated_by", json!("mallory")),
        ("deleted_at", json!("2000-01-01T00:00:00Z")),
        ("PK", json!("T#globex#CONTACT#x")),
        ("custom_terms", json!(["x"])),
    ];
    let kinds = [
        ("/contacts", "contact", json!({"first_name": "New"})),
        ("/clients", "client", json!({"name": "New Co"})),
        ("/deals", "deal", json!({"title": "New deal"})),
        (
            "/activities",
            "activity",
            json!({"type": "note", "text": "n", "contact_ids": [seed.id("contact")]}),
        ),
        (
            "/outreach",
            "outreach",
            json!({"contact_id": seed.id("contact"), "type": "call", "phone_number": "+49 30 1234567", "direction": "outbound"}),
        ),
    ];
    let before = seed.snapshot(&stack).await;
    for (collection, kind, valid) in &kinds {
        let ids_before = stack.ids(collection, admin).await;
        let record = format!("{collection}/{}", seed.id(kind));
        for (field, value) in &forged {
            let mut body = valid.clone();
            body[*field] = value.clone();
            let r = stack.call("POST", collection, admin, Some(body)).await;
            refused_naming(&r, field, &format!("POST {collection}"));
            let r = stack
                .call("PATCH", &record, admin, Some(json!({ *field: value })))
                .await;
            refused_naming(&r, field, &format!("PATCH {record}"));
        }
        // An owner or a team of another tenant (or nobody's) is not assignable.
        for (field, value) in [
            ("owner", json!("gina")),
            ("team", json!(uuid::Uuid::now_v7())),
        ] {
            let mut body = valid.clone();
            body[field] = value.clone();
            let r = stack.call("POST", collection, admin, Some(body)).await;
            assert_eq!(
                (r.status, r.problem_field().0.as_str()),
                (422, field),
                "POST {collection} with a foreign {field}: {:?}",
                r.body
            );
            let r = stack
                .call("PATCH", &record, admin, Some(json!({ field: value })))
                .await;
            assert_eq!(
                r.status, 422,
                "PATCH {record} with a foreign {field}: {:?}",
                r.body
            );
        }
        assert_eq!(
            stack.ids(collection, admin).await,
            ids_before,
            "{collection}: nothing created"
        );
    }
    // What the system keeps about a contact is not for the caller to set either.
    let contact = format!("/contacts/{}", seed.id("contact"));
    for field in ["last_contacted_at", "entry", "touch_counts"] {
        let r = stack
            .call(
                "PATCH",
                &contact,
                admin,
                Some(json!({ field: "2000-01-01T00:00:00Z" })),
            )
            .await;
        assert!(
            matches!(r.status, 400 | 422),
            "PATCH {field}: {} {:?}",
            r.status,
            r.body
        );
    }
    assert_eq!(seed.snapshot(&stack).await, before, "nothing changed");
}
