//! Prefix search on name, email and company (S1.3): case and accent insensitive,
//! transliterated, every word matching, one tenant's only.

use super::names;
use crm_e2e_tests::{Stack, json};

fn url(q: &str) -> String {
    q.replace(' ', "%20")
        .replace('Ü', "%C3%9C")
        .replace('ü', "%C3%BC")
        .replace('@', "%40")
}

/// Jürgen Müller, Anna Mueller, Ada Lovelace (Analytical Engines), José García-López and
/// Muhammad Ali.
async fn people(stack: &Stack, admin: &str) {
    for body in [
        json!({"first_name": "Jürgen", "last_name": "Müller", "email": "jm@example.de"}),
        json!({"first_name": "Anna", "last_name": "Mueller"}),
        json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@engines.example", "company": "Analytical Engines"}),
        json!({"first_name": "José", "last_name": "García-López"}),
        json!({"first_name": "Muhammad", "last_name": "Ali"}),
    ] {
        stack.create_contact(admin, body).await;
    }
}

/// A name prefix is found whatever its case and accents, and in its German transliteration;
/// each contact once (S1.3).
#[tokio::test]
async fn s1_3_prefix_search_is_case_and_accent_insensitive_and_transliterated() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    people(&stack, &admin).await;
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
}

/// Search finds each part of a hyphenated name, an email and a company by prefix; several
/// words must all match (S1.3).
#[tokio::test]
async fn s1_3_search_matches_name_parts_email_and_company_and_every_word() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    people(&stack, &admin).await;
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
}

/// Bad search parameters are named; another tenant finds nothing (S1.3, S1.4).
#[tokio::test]
async fn s1_3_bad_search_parameters_are_named_and_another_tenant_finds_nothing() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    people(&stack, &admin).await;
    // Bad parameters are named.
    let r = stack.get("/contacts?q=%20%2B%20", &admin).await;
    assert_eq!((r.status, r.problem_field().0.as_str()), (422, "q"));
    let r = stack.get("/contacts?q=ada&sort=name", &admin).await;
    assert_eq!((r.status, r.problem_field().0.as_str()), (422, "sort"));
    // Another tenant finds nothing.
    let other = stack.token("globex", "gina", "admin");
    assert!(names(&stack, &other, "?q=mu").await.is_empty());
}
