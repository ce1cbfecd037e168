//! The full contact model (S1.1), search and filters (S1.3), end to end through the gateway.

use crm_e2e_tests::{Stack, json};
use serde_json::Value;

async fn contact(stack: &Stack, token: &str, body: Value) -> String {
    let r = stack.call("POST", "/contacts", token, Some(body)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// Display names of every contact listed by `GET /contacts{query}`, following cursors.
async fn names(stack: &Stack, token: &str, query: &str) -> Vec<String> {
    let items = stack.list_all(&format!("/contacts{query}"), token).await;
    items
        .iter()
        .map(|c| c["display_name"].as_str().unwrap().to_string())
        .collect()
}

fn url(q: &str) -> String {
    q.replace(' ', "%20")
        .replace('Ü', "%C3%9C")
        .replace('ü', "%C3%BC")
        .replace('@', "%40")
}

#[tokio::test]
async fn s1_1_the_full_contact_model_is_validated_and_normalised() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let r = stack
        .call(
            "POST",
            "/contacts",
            &admin,
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
    let id = c["id"].as_str().unwrap();

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
    let mut got: Vec<(String, String)> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_string(),
                e["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect();
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

#[tokio::test]
async fn s1_3_prefix_search_is_case_and_accent_insensitive_on_name_email_and_company() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    contact(
        &stack,
        &admin,
        json!({"first_name": "Jürgen", "last_name": "Müller", "email": "jm@example.de"}),
    )
    .await;
    contact(
        &stack,
        &admin,
        json!({"first_name": "Anna", "last_name": "Mueller"}),
    )
    .await;
    contact(&stack, &admin, json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@engines.example", "company": "Analytical Engines"})).await;
    contact(
        &stack,
        &admin,
        json!({"first_name": "José", "last_name": "García-López"}),
    )
    .await;
    contact(
        &stack,
        &admin,
        json!({"first_name": "Muhammad", "last_name": "Ali"}),
    )
    .await;

    for q in ["mül", "MÜL", "müller", "mul", "Muller"] {
        assert_eq!(
            names(&stack, &admin, &format!("?q={}", url(q))).await,
            vec!["Jürgen Müller"],
            "q={q}"
        );
    }
    // "mueller" finds both spellings: Müller is also indexed in its German transliteration.
    let mut both = names(&stack, &admin, "?q=mueller").await;
    both.sort();
    assert_eq!(both, vec!["Anna Mueller", "Jürgen Müller"]);
    let mut mu = names(&stack, &admin, "?q=mu").await;
    mu.sort();
    assert_eq!(
        mu,
        vec!["Anna Mueller", "Jürgen Müller", "Muhammad Ali"],
        "each contact once"
    );
    assert_eq!(
        names(&stack, &admin, "?q=garcia").await,
        vec!["José García-López"]
    );
    assert_eq!(
        names(&stack, &admin, "?q=lopez").await,
        vec!["José García-López"]
    );
    assert_eq!(
        names(&stack, &admin, &format!("?q={}", url("ada@eng"))).await,
        vec!["Ada Lovelace"]
    );
    assert_eq!(
        names(&stack, &admin, "?q=engines.ex").await,
        vec!["Ada Lovelace"]
    );
    assert_eq!(
        names(&stack, &admin, "?q=analyt").await,
        vec!["Ada Lovelace"]
    );
    // Several words must all match.
    assert_eq!(
        names(&stack, &admin, &format!("?q={}", url("ada love"))).await,
        vec!["Ada Lovelace"]
    );
    assert!(
        names(&stack, &admin, &format!("?q={}", url("ada müller")))
            .await
            .is_empty()
    );
    // Bad parameters are named.
    let r = stack
        .call("GET", "/contacts?q=%20%2B%20", &admin, None)
        .await;
    assert_eq!((r.status, r.problem_field().0.as_str()), (422, "q"));
    let r = stack
        .call("GET", "/contacts?q=ada&sort=name", &admin, None)
        .await;
    assert_eq!((r.status, r.problem_field().0.as_str()), (422, "sort"));
    // Another tenant finds nothing.
    let other = stack.token("globex", "gina", "admin");
    assert!(names(&stack, &other, "?q=mu").await.is_empty());
}

#[tokio::test]
async fn s1_3_filters_sorting_and_pagination() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let team = stack
        .call("POST", "/teams", &admin, Some(json!({"name": "Sales"})))
        .await;
    let team = team.body["id"].as_str().unwrap().to_string();
    stack
        .call(
            "PUT",
            "/users/bob",
            &admin,
            Some(json!({"role": "member", "teams": [team]})),
        )
        .await;
    let bob = stack.token("acme", "bob", "member");
    let client = stack
        .call("POST", "/clients", &admin, Some(json!({"name": "Initech"})))
        .await;
    let client = client.body["id"].as_str().unwrap().to_string();

    let zoe = contact(&stack, &admin, json!({"first_name": "Zoë", "tags": ["VIP"], "lifecycle_status": "customer", "lead_source": "referral", "last_contacted_at": "2026-01-10T00:00:00Z"})).await;
    contact(&stack, &admin, json!({"first_name": "Ben", "tags": ["vip", "Event"], "lifecycle_status": "lead", "lead_source": "event"})).await;
    contact(&stack, &bob, json!({"first_name": "Carl", "lifecycle_status": "customer", "last_contacted_at": "2026-11-20T00:00:00Z"})).await;
    let dora = contact(
        &stack,
        &admin,
        json!({"first_name": "Dora", "lead_source": "referral", "lifecycle_status": "prospect"}),
    )
    .await;
    contact(
        &stack,
        &admin,
        json!({"first_name": "Ede", "lifecycle_status": "inactive"}),
    )
    .await;
    stack
        .call(
            "PUT",
            &format!("/contacts/{dora}/clients/{client}"),
            &admin,
            Some(json!({"role": "billing"})),
        )
        .await;

    // Newest first by default; pages of 2 through cursors give every contact once.
    assert_eq!(
        names(&stack, &admin, "?limit=2").await,
        vec!["Ede", "Dora", "Carl", "Ben", "Zoë"]
    );
    assert_eq!(
        names(&stack, &admin, "?sort=name&limit=2").await,
        vec!["Ben", "Carl", "Dora", "Ede", "Zoë"]
    );
    assert_eq!(
        names(&stack, &admin, "?sort=-name").await,
        vec!["Zoë", "Ede", "Dora", "Carl", "Ben"]
    );
    // Dora changed last (linked to a client).
    assert_eq!(names(&stack, &admin, "?sort=-updated_at").await[0], "Dora");

    // Filters: tag (case-insensitive), status, lead source, owner, team, client, combined.
    assert_eq!(
        names(&stack, &admin, "?tag=VIP&sort=name").await,
        vec!["Ben", "Zoë"]
    );
    assert_eq!(
        names(&stack, &admin, "?status=customer&sort=name").await,
        vec!["Carl", "Zoë"]
    );
    assert_eq!(
        names(&stack, &admin, "?lead_source=referral&sort=name").await,
        vec!["Dora", "Zoë"]
    );
    assert_eq!(names(&stack, &admin, "?owner=bob").await, vec!["Carl"]);
    assert_eq!(
        names(&stack, &admin, &format!("?team={team}")).await,
        vec!["Carl"]
    );
    assert_eq!(
        names(&stack, &admin, &format!("?client={client}")).await,
        vec!["Dora"]
    );
    assert_eq!(
        names(&stack, &admin, "?tag=vip&status=customer").await,
        vec!["Zoë"]
    );
    // Last contact: a range, and the follow-up list (before a time, or never).
    assert_eq!(
        names(
            &stack,
            &admin,
            "?last_contacted_from=2026-11-01&sort=last_contacted_at"
        )
        .await,
        vec!["Carl"]
    );
    // Never contacted first (in creation order), then the oldest contact; Carl is recent.
    assert_eq!(
        names(
            &stack,
            &admin,
            "?not_contacted_since=2026-06-01&sort=last_contacted_at"
        )
        .await,
        vec!["Ben", "Dora", "Ede", "Zoë"]
    );
    // Created range: everything was created today, nothing yesterday.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        names(&stack, &admin, &format!("?created_from={today}"))
            .await
            .len(),
        5
    );
    assert!(
        names(&stack, &admin, "?created_to=2020-01-01")
            .await
            .is_empty()
    );
    // Bob (member of sales) sees his own contact only, also through filters.
    assert_eq!(names(&stack, &bob, "?status=customer").await, vec!["Carl"]);

    // Deleting takes a contact out of lists and search; restoring puts it back.
    stack
        .call("DELETE", &format!("/contacts/{zoe}"), &admin, None)
        .await;
    assert_eq!(names(&stack, &admin, "?tag=vip").await, vec!["Ben"]);
    assert!(names(&stack, &admin, "?q=zoe").await.is_empty());
    stack
        .call("POST", &format!("/contacts/{zoe}/restore"), &admin, None)
        .await;
    assert_eq!(names(&stack, &admin, "?q=zoe").await, vec!["Zoë"]);

    // Bad filter values are named with their rule; cursors are bound to their query.
    let r = stack
        .call(
            "GET",
            "/contacts?status=vip&created_from=yesterday&color=red",
            &admin,
            None,
        )
        .await;
    let mut fields: Vec<_> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    fields.sort();
    assert_eq!(
        (r.status, fields),
        (
            422,
            vec!["color".to_string(), "created_from".into(), "status".into()]
        )
    );
    let page = stack.call("GET", "/contacts?limit=1", &admin, None).await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let r = stack
        .call(
            "GET",
            &format!("/contacts?limit=1&status=lead&cursor={cursor}"),
            &admin,
            None,
        )
        .await;
    assert_eq!((r.status, r.problem_field().0.as_str()), (422, "cursor"));
}

#[tokio::test]
async fn s1_2_erase_leaves_nothing_findable() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = contact(&stack, &admin, json!({"first_name": "Erin", "last_name": "Erased", "email": "erin@example.com", "tags": ["gdpr"]})).await;
    assert_eq!(names(&stack, &admin, "?q=erin").await, vec!["Erin Erased"]);
    assert_eq!(
        stack
            .call("POST", &format!("/contacts/{id}/erase"), &admin, None)
            .await
            .status,
        204
    );
    for q in ["?q=erin", "?q=erased", "?q=erin%40example", "?tag=gdpr", ""] {
        assert!(names(&stack, &admin, q).await.is_empty(), "{q}");
    }
    assert_eq!(
        stack
            .call("GET", &format!("/contacts/{id}"), &admin, None)
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .call("GET", &format!("/contacts/{id}/history"), &admin, None)
            .await
            .status,
        404
    );
    // The address is free again.
    contact(&stack, &admin, json!({"email": "erin@example.com"})).await;
}
