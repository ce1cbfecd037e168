//! API1:2023 Broken Object Level Authorization. Every route of the template that names a
//! record, with the victim's ids: another tenant's owner gets 404 on each, so does a member of
//! the victim's tenant on the routes of records visible per user, and the victim's records
//! read the same afterwards.

use super::{Seed, VICTIM, probe_body, seed, template_routes};
use crm_e2e_tests::Stack;

/// Routes naming something that is not a record of a tenant, and why they are not probed.
const NOT_RECORDS: [(&str, &str, &str); 1] = [(
    "PUT",
    "/users/{user_id}",
    "a user id names a member of the caller's own tenant: another tenant's owner adds one there",
)];

/// Public routes whose parameter is a capability, not an id: made-up values are 404.
const CAPABILITIES: [&str; 2] = ["/forms/{form_key}/submissions", "/unsubscribe/{token}"];

/// The collections whose records are visible per user (README "Who sees what"): a member
/// who is not the owner, not in its team and not shared with gets 404.
const PER_USER: [&str; 6] = [
    "/contacts/{",
    "/clients/{",
    "/activities/{",
    "/deals/{",
    "/outreach/{",
    "/me/notifications/{",
];

fn record_routes(stack: &Stack) -> Vec<(String, String)> {
    template_routes(stack)
        .into_iter()
        .filter(|(method, path, authorized)| {
            *authorized
                && path.contains('{')
                && !NOT_RECORDS.iter().any(|(m, p, _)| m == method && p == path)
        })
        .map(|(m, p, _)| (m, p))
        .collect()
}

/// Probes `routes` as `token`: every answer must be 404. Destructive methods go last so a
/// wrongly allowed DELETE cannot hide a later finding.
async fn probe_all(
    stack: &Stack,
    seed: &Seed,
    token: &str,
    who: &str,
    routes: &[(String, String)],
) {
    let mut routes = routes.to_vec();
    routes.sort_by_key(|(m, _)| match m.as_str() {
        "GET" => 0,
        "PATCH" | "PUT" => 1,
        "POST" => 2,
        _ => 3,
    });
    let mut failures = Vec::new();
    for (method, template) in &routes {
        let path = seed.resolve(template).unwrap_or_else(|e| panic!("{e}"));
        let body = probe_body(method, template, seed);
        let r = stack.call(method, &path, token, body).await;
        if r.status != 404 {
            failures.push(format!(
                "{who}: {method} {template} → {} {:?}",
                r.status, r.body
            ));
        }
    }
    assert!(failures.is_empty(), "not 404:\n{}", failures.join("\n"));
}

/// Another tenant's owner, on every route of the template naming a record (the route list
/// read from `template.yaml`), gets 404; the victim's records are unchanged.
#[tokio::test]
async fn api1_another_tenants_ids_are_404_on_every_record_route_and_change_nothing() {
    let stack = Stack::start().await;
    let seed = seed(&stack).await;
    let routes = record_routes(&stack);
    assert!(
        routes.len() > 80,
        "the template's record routes: {}",
        routes.len()
    );
    let before = seed.snapshot(&stack).await;
    let intruder = stack.token("globex", "gina", "owner");
    probe_all(&stack, &seed, &intruder, "another tenant's owner", &routes).await;
    assert_eq!(
        seed.snapshot(&stack).await,
        before,
        "the probes changed nothing"
    );
}

/// A member of the victim's tenant who does not see alice's records (not the owner, not in
/// its team, not shared with) gets 404 on every route of those records; nothing changes.
#[tokio::test]
async fn api1_another_users_ids_are_404_where_visibility_is_per_user() {
    let stack = Stack::start().await;
    let seed = seed(&stack).await;
    let routes: Vec<_> = record_routes(&stack)
        .into_iter()
        .filter(|(_, p)| PER_USER.iter().any(|prefix| p.starts_with(prefix)))
        // The links between two records: the member sees neither, so both are 404 too.
        .collect();
    assert!(
        routes.len() > 40,
        "per-user record routes: {}",
        routes.len()
    );
    let before = seed.snapshot(&stack).await;
    let mia = stack.token(VICTIM, "mia", "member");
    probe_all(
        &stack,
        &seed,
        &mia,
        "a member who does not see them",
        &routes,
    )
    .await;
    assert_eq!(
        seed.snapshot(&stack).await,
        before,
        "the probes changed nothing"
    );
}

/// Every route parameter of the template resolves to a seeded record kind (a new route
/// naming a new kind fails here until the seed has one), and public capability routes answer
/// made-up keys with 404.
#[tokio::test]
async fn api1_every_route_parameter_is_a_known_kind_and_capabilities_cannot_be_guessed() {
    let stack = Stack::start().await;
    let seed = seed(&stack).await;
    for (_, path, _) in template_routes(&stack) {
        seed.resolve(&path).unwrap_or_else(|e| panic!("{e}"));
    }
    let public: Vec<_> = template_routes(&stack)
        .into_iter()
        .filter(|(_, p, authorized)| !authorized && p.contains('{'))
        .map(|(_, p, _)| p)
        .collect();
    for path in &public {
        assert!(
            CAPABILITIES.contains(&path.as_str()),
            "{path}: a public route naming something; say why it is safe in CAPABILITIES"
        );
    }
    let form = seed.id("form_key");
    let guessed = format!("{VICTIM}.{}", "0".repeat(64));
    assert_ne!(form, guessed);
    let r = stack
        .send(
            stack
                .request("POST", &format!("/forms/{guessed}/submissions"), None)
                .json(&crm_e2e_tests::json!({"name": "x", "email": "x@example.com"})),
        )
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    for method in ["GET", "POST"] {
        let r = stack
            .send(stack.request(
                method,
                &format!("/unsubscribe/{}", seed.id("unsubscribe_token")),
                None,
            ))
            .await;
        assert_eq!(r.status, 404, "{method} a forged unsubscribe token");
    }
}
