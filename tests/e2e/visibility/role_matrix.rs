//! Every role against every contact route, and another tenant's owner against them (S1.4).

use crm_e2e_tests::{Stack, json};
use serde_json::Value;

/// A route, its body, and the status expected for each of [`ROLES`].
type Row = (&'static str, &'static str, Option<Value>, [u16; 6]);

const ROLES: [&str; 6] = ["owner", "admin", "manager", "member", "viewer", "portal"];

/// Every contact route (`{id}` a contact, `{client}` a client), in the order they are tried;
/// `partners` is the team a contact is shared with.
fn routes(partners: &str) -> Vec<Row> {
    vec![
        (
            "POST",
            "/contacts",
            Some(json!({"first_name": "New"})),
            [201, 201, 201, 201, 403, 403],
        ),
        ("GET", "/contacts", None, [200, 200, 200, 200, 200, 200]),
        (
            "GET",
            "/contacts/{id}",
            None,
            [200, 200, 404, 404, 200, 404],
        ),
        (
            "GET",
            "/contacts/{id}/history",
            None,
            [200, 200, 404, 404, 200, 404],
        ),
        (
            "GET",
            "/contacts/{id}/export",
            None,
            [200, 200, 404, 404, 200, 404],
        ),
        (
            "GET",
            "/contacts/{id}/clients",
            None,
            [200, 200, 404, 404, 200, 404],
        ),
        (
            "PATCH",
            "/contacts/{id}",
            Some(json!({"job_title": "CFO"})),
            [200, 200, 404, 404, 403, 404],
        ),
        (
            "PUT",
            "/contacts/{id}/clients/{client}",
            Some(json!({"role": "billing"})),
            [200, 200, 404, 404, 403, 404],
        ),
        (
            "DELETE",
            "/contacts/{id}/clients/{client}",
            None,
            [204, 204, 404, 404, 403, 404],
        ),
        (
            "POST",
            "/contacts/{id}/shares",
            Some(json!({"team": partners})),
            [200, 200, 404, 404, 403, 404],
        ),
        (
            "DELETE",
            "/contacts/{id}",
            None,
            [204, 204, 404, 404, 403, 404],
        ),
        (
            "POST",
            "/contacts/{id}/restore",
            None,
            [200, 200, 404, 404, 403, 404],
        ),
        (
            "POST",
            "/contacts/{id}/erase",
            None,
            [204, 204, 404, 404, 403, 404],
        ),
        ("GET", "/clients", None, [200, 200, 200, 200, 200, 200]),
        (
            "GET",
            "/clients/{client}",
            None,
            [200, 200, 404, 404, 200, 404],
        ),
        (
            "PATCH",
            "/clients/{client}",
            Some(json!({"industry": "Software"})),
            [200, 200, 404, 404, 403, 404],
        ),
        ("GET", "/settings", None, [200, 200, 200, 200, 200, 403]),
        (
            "PATCH",
            "/settings",
            Some(json!({"base_currency": "EUR"})),
            [200, 200, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/teams",
            Some(json!({"name": "T"})),
            [201, 201, 403, 403, 403, 403],
        ),
        ("GET", "/teams", None, [200, 200, 200, 200, 200, 404]),
        (
            "PUT",
            "/users/zed",
            Some(json!({"role": "member"})),
            [200, 200, 403, 403, 403, 403],
        ),
        ("GET", "/users", None, [200, 200, 200, 200, 200, 404]),
    ]
}

/// Initech, and the Partners team: the admin's token, the client's id and the routes.
async fn matrix(stack: &Stack) -> (String, String, Vec<Row>) {
    let admin = stack.token("acme", "alice", "admin");
    let client = stack
        .create_client(&admin, json!({"name": "Initech"}))
        .await;
    let partners = stack.create_team(&admin, "Partners").await;
    (admin, client, routes(&partners))
}

/// Another tenant's owner: every route naming a record of this tenant answers 404, and lists
/// and search show nothing of it (S1.4).
#[tokio::test]
async fn s1_4_another_tenants_owner_gets_404_and_empty_lists_on_every_route() {
    let stack = Stack::start().await;
    let (admin, client, routes) = matrix(&stack).await;
    // Another tenant's owner: every route naming a record of this tenant answers 404, and
    // lists and search show nothing of it.
    let foreign = stack.token("globex", "gina", "owner");
    let id = stack
        .create_contact(
            &admin,
            json!({"first_name": "Matrix", "last_name": "Foreign"}),
        )
        .await;
    for (method, path, body, _) in routes.iter().filter(|r| r.1.contains('{')) {
        if path.starts_with("/users/") {
            continue; // a user id names a member of the caller's own tenant
        }
        let path = path.replace("{id}", &id).replace("{client}", &client);
        let r = stack.call(method, &path, &foreign, body.clone()).await;
        assert_eq!(
            r.status, 404,
            "foreign owner: {method} {path}: {:?}",
            r.body
        );
    }
    for q in ["", "?q=matrix", "?tag=x", &format!("?client={client}")] {
        let r = stack.get(&format!("/contacts{q}"), &foreign).await;
        assert_eq!(r.body["items"], json!([]), "{q}");
    }
    assert_eq!(
        stack.call("GET", "/clients", &foreign, None).await.body["items"],
        json!([])
    );
}

/// Every role against every contact route, on a contact owned by an admin outside any team:
/// what each role may do, and 404 where it may not see (S1.4, S9.4).
#[tokio::test]
async fn s1_4_role_by_route_matrix() {
    let stack = Stack::start().await;
    let (admin, client, routes) = matrix(&stack).await;
    for (i, role) in ROLES.iter().enumerate() {
        let token = stack.token("acme", &format!("{role}-user"), role);
        // A fresh contact per role, owned by the admin, in no team.
        let id = stack
            .create_contact(&admin, json!({"first_name": "Matrix", "last_name": role}))
            .await;
        for (method, path, body, expected) in &routes {
            let path = path.replace("{id}", &id).replace("{client}", &client);
            let r = stack.call(method, &path, &token, body.clone()).await;
            assert_eq!(
                r.status, expected[i],
                "{role}: {method} {path}: {:?}",
                r.body
            );
        }
    }
}
