//! API5:2023 Broken Function Level Authorization. The role × route matrix: every route of
//! `template.yaml` × every role, against a real record of each kind (each role in a tenant of
//! its own, seeded alike, the role's user in the records' team), checked against the policy
//! table below. A route of the template without a row fails the suite (and a row without a
//! route: it went stale). A role that may not act gets 403 (404 where the thing does not
//! exist for it: portal users, or records it may not see), never 401 or 5xx; a role that may
//! act never gets 401, 403 or 5xx. A request whose body is refused as malformed (400) counts
//! as refused: it was read no further.

use super::{Seed, probe_body, seed_in, template_routes};
use crm_e2e_tests::{Stack, json};

/// The roles, in the order of a policy's letters.
pub const ROLES: [&str; 6] = ["owner", "admin", "manager", "member", "viewer", "portal"];

/// Per role (owner, admin, manager, member, viewer, portal): `A` may act (not 401, 403 or
/// 5xx), `F` 403, `H` 404 (it does not exist for the role), `P` a public route (no login).
pub const POLICY: &[(&str, &str, &str)] = &[
    // contacts (S1)
    ("POST", "/contacts", "AAAAFF"),
    ("GET", "/contacts", "AAAAAA"),
    ("GET", "/contacts/{id}", "AAAAAH"),
    ("PATCH", "/contacts/{id}", "AAAAFH"),
    ("DELETE", "/contacts/{id}", "AAAAFH"),
    ("GET", "/contacts/{id}/history", "AAAAAH"),
    ("GET", "/contacts/{id}/export", "AAAAAH"),
    ("POST", "/contacts/{id}/restore", "AAAAFH"),
    ("POST", "/contacts/{id}/erase", "AAFFFH"),
    ("GET", "/contacts/{id}/clients", "AAAAAH"),
    ("PUT", "/contacts/{id}/clients/{client_id}", "AAAAFH"),
    ("DELETE", "/contacts/{id}/clients/{client_id}", "AAAAFH"),
    ("POST", "/contacts/{id}/shares", "AAAAFH"),
    ("DELETE", "/contacts/{id}/shares/{principal}", "AAAAFH"),
    // clients (S2)
    ("POST", "/clients", "AAAAFF"),
    ("GET", "/clients", "AAAAAA"),
    ("GET", "/clients/{id}", "AAAAAH"),
    ("PATCH", "/clients/{id}", "AAAAFH"),
    ("DELETE", "/clients/{id}", "AAAAFH"),
    ("GET", "/clients/{id}/subsidiaries", "AAAAAH"),
    ("GET", "/clients/{id}/hierarchy", "AAAAAH"),
    ("GET", "/clients/{id}/contacts", "AAAAAH"),
    ("GET", "/clients/{id}/history", "AAAAAH"),
    ("POST", "/clients/{id}/shares", "AAAAFH"),
    ("DELETE", "/clients/{id}/shares/{principal}", "AAAAFH"),
    // activities (S6)
    ("POST", "/activities", "AAAAFF"),
    ("GET", "/activities", "AAAAAA"),
    ("GET", "/activities/{id}", "AAAAAH"),
    ("PATCH", "/activities/{id}", "AAAAFH"),
    ("DELETE", "/activities/{id}", "AAAAFH"),
    ("POST", "/activities/{id}/restore", "AAAAFH"),
    ("GET", "/activities/{id}/history", "AAAAAH"),
    ("POST", "/activities/{id}/shares", "AAAAFH"),
    ("DELETE", "/activities/{id}/shares/{principal}", "AAAAFH"),
    ("GET", "/contacts/{id}/activities", "AAAAAH"),
    ("GET", "/clients/{id}/activities", "AAAAAH"),
    ("GET", "/deals/{id}/activities", "AAAAAH"),
    ("GET", "/me/tasks", "AAAAAA"),
    // deals and pipelines (S4)
    ("POST", "/deals", "AAAAFF"),
    ("GET", "/deals", "AAAAAA"),
    ("GET", "/deals/{id}", "AAAAAH"),
    ("PATCH", "/deals/{id}", "AAAAFH"),
    ("DELETE", "/deals/{id}", "AAAAFH"),
    ("POST", "/deals/{id}/restore", "AAAAFH"),
    ("POST", "/deals/{id}/move", "AAAAFH"),
    ("GET", "/deals/{id}/history", "AAAAAH"),
    ("GET", "/deals/{id}/stage-history", "AAAAAH"),
    ("POST", "/deals/{id}/shares", "AAAAFH"),
    ("DELETE", "/deals/{id}/shares/{principal}", "AAAAFH"),
    ("GET", "/contacts/{id}/deals", "AAAAAH"),
    ("GET", "/clients/{id}/deals", "AAAAAH"),
    ("GET", "/pipelines", "AAAAAH"),
    ("POST", "/pipelines", "AAFFFH"),
    ("GET", "/pipelines/{id}", "AAAAAH"),
    ("PATCH", "/pipelines/{id}", "AAFFFH"),
    ("GET", "/pipelines/{id}/board", "AAAAAH"),
    ("GET", "/pipelines/{id}/forecast", "AAAAAH"),
    ("DELETE", "/pipelines/{id}/stages/{stage_id}", "AAFFFH"),
    ("POST", "/deals/{id}/attachments", "AAAAFH"),
    ("GET", "/deals/{id}/attachments", "AAAAAH"),
    ("GET", "/deals/{id}/attachments/{attachment_id}", "AAAAAH"),
    (
        "DELETE",
        "/deals/{id}/attachments/{attachment_id}",
        "AAAAFH",
    ),
    ("GET", "/jobs/{id}", "AAHHHH"),
    ("GET", "/deal-lost-reasons", "AAAAAH"),
    ("PUT", "/deal-lost-reasons", "AAFFFH"),
    // imports and exports (S5)
    ("POST", "/imports", "AAAAFF"),
    ("GET", "/imports/{id}", "AAAAAH"),
    ("GET", "/imports", "AAAAAH"),
    ("POST", "/imports/{id}/cancel", "AAAAFF"),
    ("GET", "/imports/{id}/errors", "AAAAAH"),
    ("GET", "/imports/{id}/preview", "AAAAAH"),
    ("POST", "/imports/{id}/start", "AAAAFF"),
    ("POST", "/exports", "AAAAAH"),
    ("GET", "/exports/{id}", "AAHHHH"),
    ("POST", "/imports/{id}/undo", "AAAAFF"),
    ("POST", "/import-templates", "AAAAFF"),
    ("GET", "/import-templates", "AAAAAH"),
    ("GET", "/import-templates/{id}", "AAAAAH"),
    ("PATCH", "/import-templates/{id}", "AAAAFF"),
    ("DELETE", "/import-templates/{id}", "AAAAFF"),
    // workflows (S7)
    ("POST", "/workflows", "AAAFFH"),
    ("GET", "/workflows/{id}", "AAAAAH"),
    ("POST", "/workflows/{id}/runs", "AAAAFH"),
    ("GET", "/workflow-runs/{id}", "AAAAAH"),
    ("GET", "/workflows", "AAAAAH"),
    ("PATCH", "/workflows/{id}", "AAAFFH"),
    ("GET", "/workflows/{id}/runs", "AAAAAH"),
    ("POST", "/workflow-runs/{id}/pause", "AAAAFH"),
    ("POST", "/workflow-runs/{id}/resume", "AAAAFH"),
    ("POST", "/workflow-runs/{id}/cancel", "AAAAFH"),
    ("GET", "/contacts/{id}/runs", "AAAAAH"),
    ("POST", "/workflows/{id}/enrollments", "AAAAFH"),
    ("POST", "/workflows/{id}/runs/pause", "AAAFFH"),
    ("POST", "/workflows/{id}/runs/resume", "AAAFFH"),
    ("POST", "/workflows/{id}/runs/cancel", "AAAFFH"),
    // the tenant's administration (S9)
    ("GET", "/settings", "AAAAAF"),
    ("PATCH", "/settings", "AAFFFF"),
    ("GET", "/me", "AAAAAA"),
    ("GET", "/users", "AAAAAH"),
    ("GET", "/users/{user_id}", "AAAAAH"),
    ("PUT", "/users/{user_id}", "AAFFFF"),
    ("GET", "/teams", "AAAAAH"),
    ("POST", "/teams", "AAFFFF"),
    ("GET", "/teams/{id}", "AAAAAH"),
    ("PATCH", "/teams/{id}", "AAFFFH"),
    // custom fields (S3)
    ("GET", "/custom-fields", "AAAAAF"),
    ("POST", "/custom-fields", "AAFFFF"),
    ("GET", "/custom-fields/{entity}/{key}", "AAAAAF"),
    ("PATCH", "/custom-fields/{entity}/{key}", "AAFFFF"),
    ("POST", "/custom-field-groups", "AAFFFF"),
    ("PATCH", "/custom-field-groups/{entity}/{key}", "AAFFFF"),
    // leads (S8)
    ("POST", "/outreach", "AAAAFF"),
    ("GET", "/outreach", "AAAAAA"),
    ("GET", "/outreach/{id}", "AAAAAH"),
    ("PATCH", "/outreach/{id}", "AAAAFH"),
    ("DELETE", "/outreach/{id}", "AAAAFH"),
    ("POST", "/outreach/{id}/restore", "AAAAFH"),
    ("GET", "/outreach/{id}/history", "AAAAAH"),
    ("GET", "/contacts/{id}/outreach", "AAAAAH"),
    ("GET", "/lead-sources", "AAAAAF"),
    ("PUT", "/lead-sources", "AAFFFF"),
    ("GET", "/web-forms", "AAFFFF"),
    ("POST", "/web-forms", "AAFFFF"),
    ("PATCH", "/web-forms/{id}", "AAFFFF"),
    ("POST", "/forms/{form_key}/submissions", "PPPPPP"),
    ("GET", "/me/notifications", "AAAAAA"),
    ("POST", "/me/notifications/{id}/read", "AHHHHH"),
    ("POST", "/me/notifications/read-all", "AAAAAA"),
    ("GET", "/me/notification-preferences", "AAAAAA"),
    ("PUT", "/me/notification-preferences", "AAAAAA"),
    ("GET", "/lead-assignment-rules", "AAAAAF"),
    ("PUT", "/lead-assignment-rules", "AAFFFF"),
    // email (S6.4)
    ("GET", "/openapi.json", "PPPPPP"),
    ("GET", "/inbound-messages", "AAFFFF"),
    ("POST", "/contacts/{id}/messages", "AAAAFH"),
    ("POST", "/deals/{id}/messages", "AAAAFH"),
    ("GET", "/email-templates", "AAAAAH"),
    ("POST", "/email-templates", "AAAAFH"),
    ("GET", "/email-templates/{id}", "AAAAAH"),
    ("PATCH", "/email-templates/{id}", "AAAAFH"),
    ("DELETE", "/email-templates/{id}", "AAAAFH"),
    ("GET", "/unsubscribe/{token}", "PPPPPP"),
    ("POST", "/unsubscribe/{token}", "PPPPPP"),
];

/// The policy letters of a route, if it has a row.
pub fn policy_of(method: &str, path: &str) -> Option<&'static str> {
    POLICY
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, letters)| *letters)
}

/// Every route of the template has a row, and every row a route.
#[tokio::test]
async fn api5_every_template_route_has_a_policy_row_and_every_row_a_route() {
    let stack = Stack::start().await;
    let routes = template_routes(&stack);
    let missing: Vec<String> = routes
        .iter()
        .filter(|(m, p, _)| policy_of(m, p).is_none())
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    assert!(
        missing.is_empty(),
        "routes of template.yaml without a row in the policy table: {missing:?}"
    );
    let stale: Vec<String> = POLICY
        .iter()
        .filter(|(m, p, _)| !routes.iter().any(|(rm, rp, _)| rm == m && rp == p))
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    assert!(
        stale.is_empty(),
        "rows for routes the template no longer has: {stale:?}"
    );
    for (m, p, authorized) in &routes {
        let letters = policy_of(m, p).unwrap();
        assert_eq!(letters.len(), ROLES.len(), "{m} {p}");
        assert_eq!(
            letters == "PPPPPP",
            !authorized,
            "{m} {p}: public in the policy exactly when the template has no authorizer"
        );
    }
}

/// Runs every route of the template as `role` against its own seeded tenant: the findings.
async fn run_role(stack: &Stack, i: usize, role: &str) -> Vec<String> {
    let tenant = format!("matrix-{role}");
    let seed: Seed = seed_in(stack, &tenant).await;
    let user = format!("{role}-user");
    // The role's user, in the records' team (an owner keeps the token's role: only an owner
    // grants it).
    if role != "owner" {
        let body = if role == "portal" {
            // A portal user of another client: the seeded records are not theirs.
            let client = stack
                .create_client(&seed.admin, json!({"name": "Portal Co"}))
                .await;
            json!({"role": role, "portal_client_id": client})
        } else {
            json!({"role": role, "teams": [seed.id("team")]})
        };
        let bob = stack.token(&tenant, "bob", "admin");
        stack.put_user(&bob, &user, body).await;
    }
    let token = stack.token(&tenant, &user, role);
    let mut routes = template_routes(stack);
    // Reads first, then changes, then removals: an allowed removal cannot hide a later check.
    routes.sort_by_key(|(m, p, _)| {
        (
            match m.as_str() {
                "GET" => 0,
                "PATCH" | "PUT" => 1,
                "POST" if p.ends_with("/erase") => 3,
                "POST" => 2,
                _ => 4,
            },
            p.clone(),
        )
    });
    let mut findings = Vec::new();
    for (method, template, _) in &routes {
        let expected = policy_of(method, template)
            .unwrap_or_else(|| panic!("{method} {template}: no policy row"))
            .as_bytes()[i];
        let path = seed.resolve(template).unwrap_or_else(|e| panic!("{e}"));
        // The custom field list names its entity.
        let path = if template == "/custom-fields" {
            format!("{path}?entity=contact")
        } else {
            path
        };
        // Every write sends a JSON body (an empty object where no probe body is known).
        let body = probe_body(method, template, &seed)
            .or_else(|| (method != "GET" && method != "DELETE").then(|| json!({})));
        let r = stack.call(method, &path, &token, body).await;
        // A body refused as malformed (400) never reached the policy or the record: nothing
        // was done, so it satisfies a refusal; a 422 would mean it was validated first.
        let unread = r.status == 400;
        let ok = match expected {
            b'A' | b'P' => !matches!(r.status, 401 | 403) && r.status < 500,
            b'F' => r.status == 403 || unread,
            b'H' => r.status == 404 || unread,
            other => panic!("unknown policy letter {}", other as char),
        };
        if !ok {
            findings.push(format!(
                "{role}: {method} {template} → {} (policy {}) {}",
                r.status,
                expected as char,
                r.body.to_string().chars().take(200).collect::<String>()
            ));
        }
    }
    findings
}

/// Every route × every role, against real records: what the policy table says.
#[tokio::test]
async fn api5_role_by_route_matrix_from_the_template() {
    let stack = Stack::start().await;
    let findings: Vec<String> = futures::future::join_all(
        ROLES
            .iter()
            .enumerate()
            .map(|(i, role)| run_role(&stack, i, role)),
    )
    .await
    .into_iter()
    .flatten()
    .collect();
    assert!(
        findings.is_empty(),
        "{} answers differ from the policy:\n{}",
        findings.len(),
        findings.join("\n")
    );
}
