//! The full contact model (S1.1): several emails, phones and addresses, normalised and
//! validated, the display name and primary email kept right after every change.

use super::names;
use crm_e2e_tests::{Reply, Stack, errors, json};

/// Jürgen Müller with every part of the model, written as a user might: the reply.
async fn create_jurgen(stack: &Stack, admin: &str) -> Reply {
    let r = stack
        .call(
            "POST",
            "/contacts",
            admin,
            Some(json!({
                "first_name": "Jürgen", "last_name": "Müller",
                "emails": [
                    {"address": "J.Mueller@Example.COM", "label": "work"},
                    {"address": "juergen@home.example", "label": "home", "primary": true}
                ],
                "phones": [
                    {"number": "030 1234567", "label": "work"},
                    {"number": "+1 (415) 555-2671", "label": "mobile", "primary": true},
                    {"number": "555 1234"}
                ],
                "addresses": [{"label": "work", "street": "Unter den Linden 1", "postal_code": "10117", "city": "Berlin", "country": "de"}],
                "social_profiles": [{"network": "linkedin", "url": "https://www.linkedin.com/in/jm"}],
                "website": "https://mueller.example",
                "birthday": "1980-02-29",
                "tags": ["VIP", "vip", "Newsletter"],
                "job_title": "CTO", "company": "Müller & Söhne",
                "lead_source": "referral", "lifecycle_status": "prospect",
                "last_contacted_at": "2026-01-15T10:00:00Z"
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r
}

/// The full model is normalised: the primary email first and the contact's `email`, addresses
/// lower-cased, phones in E.164 where a country is known, tags unique; owned by its creator
/// and visible to the team (S1.1).
#[tokio::test]
async fn s1_1_the_full_contact_model_is_normalised() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let r = create_jurgen(&stack, &admin).await;
    let c = &r.body;
    // The primary address comes first and is the contact's `email`; all are lower-cased.
    assert_eq!(c["email"], "juergen@home.example");
    assert_eq!(c["emails"][1]["address"], "j.mueller@example.com");
    assert_eq!(c["emails"][1]["primary"], false);
    // Phones: E.164 where a country is known (the +1 prefix, the address country DE).
    assert_eq!(c["phones"][0]["e164"], "+14155552671");
    assert_eq!(c["phones"][1]["e164"], "+49301234567");
    assert_eq!(c["addresses"][0]["country"], "DE");
    assert_eq!(
        c["tags"],
        json!(["VIP", "Newsletter"]),
        "tags are case-insensitively unique"
    );
    assert_eq!(
        (c["owner"].as_str(), c["visibility"].as_str()),
        (Some("alice"), Some("team"))
    );
    assert_eq!(c["display_name"], "Jürgen Müller");
}

/// The display name stays right after every change (without names, the company), and `email`
/// replaces the primary address keeping the others (S1.1).
#[tokio::test]
async fn s1_1_the_display_name_and_primary_email_follow_every_change() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let created = create_jurgen(&stack, &admin).await;
    let id = created.body["id"].as_str().unwrap();
    // Display name stays right after every change: without names, the company.
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &admin,
            Some(json!({"first_name": null, "last_name": null})),
        )
        .await;
    assert_eq!(r.body["display_name"], "Müller & Söhne");
    // `email` replaces the primary address and keeps the others.
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &admin,
            Some(json!({"email": "jm@new.example"})),
        )
        .await;
    let emails: Vec<_> = r.body["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["address"].clone())
        .collect();
    assert_eq!(
        emails,
        vec![json!("jm@new.example"), json!("j.mueller@example.com")]
    );
}

/// Every secondary address is unique in the tenant too (S1.1).
#[tokio::test]
async fn s1_1_every_email_address_is_unique_in_the_tenant() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    create_jurgen(&stack, &admin).await;
    // Every secondary address is unique in the tenant too.
    let r = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "X", "emails": [{"address": "J.MUELLER@example.com"}]})),
        )
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
}

/// Each broken rule of the model is named with its path (S1.1).
#[tokio::test]
async fn s1_1_each_broken_rule_is_named_with_its_path() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    // Each broken rule is named with its path.
    let r = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({
                "first_name": "Bad",
                "phones": [{"number": "12"}, {"number": "+49 30 1", "primary": true}],
                "emails": [{"address": "a@b.co", "primary": true}, {"address": "c@d.co", "primary": true}],
                "website": "not a url", "birthday": "2999-01-01", "lifecycle_status": "lead",
                "lead_source": "Web Form"
            })),
        )
        .await;
    assert_eq!(r.status, 422);
    let mut got = errors(&r);
    got.sort();
    for expected in [
        ("birthday", "range"),
        ("emails", "one_primary"),
        ("lead_source", "format"),
        ("phones[0].number", "format"),
        ("website", "url"),
    ] {
        assert!(
            got.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} in {got:?}"
        );
    }
}

/// Bookkeeping fields in a body are refused on create and PATCH (mass assignment), and nothing
/// is written (S1.1).
#[tokio::test]
async fn s1_1_bookkeeping_fields_in_a_body_are_refused_and_nothing_is_written() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let created = create_jurgen(&stack, &admin).await;
    let id = created.body["id"].as_str().unwrap();
    // Mass assignment: bookkeeping fields in a body are refused, and nothing is written.
    for field in [
        "id",
        "version",
        "created_at",
        "updated_by",
        "tenant_id",
        "deleted_at",
        "client_ids",
        "shared_with",
    ] {
        let mut body = json!({"first_name": "Mallory"});
        body[field] = json!("x");
        let r = stack
            .call("POST", "/contacts", &admin, Some(body.clone()))
            .await;
        assert_eq!(
            (r.status, r.problem_field().1.as_str()),
            (400, "unknown_field"),
            "{field}"
        );
        let r = stack
            .call("PATCH", &format!("/contacts/{id}"), &admin, Some(body))
            .await;
        assert_eq!(r.status, 400, "{field}");
    }
    assert!(names(&stack, &admin, "?q=mallory").await.is_empty());
}
