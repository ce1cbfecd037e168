//! Users, teams, roles and who sees what (S9.4, S1.4), end to end through the gateway.

use crm_e2e_tests::{Stack, json};
use serde_json::Value;

async fn team(stack: &Stack, admin: &str, name: &str) -> String {
    let r = stack
        .call("POST", "/teams", admin, Some(json!({"name": name})))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn user(stack: &Stack, admin: &str, id: &str, body: Value) {
    let r = stack
        .call("PUT", &format!("/users/{id}"), admin, Some(body))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn contact(stack: &Stack, token: &str, body: Value) -> String {
    let r = stack.call("POST", "/contacts", token, Some(body)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn get_status(stack: &Stack, token: String, id: String) -> u16 {
    stack
        .call("GET", &format!("/contacts/{id}"), &token, None)
        .await
        .status
}

/// The ids of every contact in `GET /contacts{query}` for `token`, following cursors.
async fn listed(stack: &Stack, token: &str, query: &str) -> Vec<String> {
    let items = stack.list_all(&format!("/contacts{query}"), token).await;
    items
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn s9_4_admins_manage_users_and_teams_and_a_changed_role_applies_on_the_next_request() {
    let stack = Stack::start().await;
    let owner = stack.token("acme", "olga", "owner");
    let admin = stack.token("acme", "alice", "admin");
    let sales = team(&stack, &owner, "Sales").await;
    // The token says admin; the directory decides from now on.
    let bob = stack.token("acme", "bob", "admin");
    user(
        &stack,
        &admin,
        "bob",
        json!({"role": "member", "teams": [sales], "name": "Bob"}),
    )
    .await;
    let me = stack.call("GET", "/me", &bob, None).await;
    assert_eq!(
        (me.body["role"].as_str(), me.body["teams"][0].as_str()),
        (Some("member"), Some(sales.as_str()))
    );
    assert_eq!(
        stack
            .call("POST", "/teams", &bob, Some(json!({"name": "X"})))
            .await
            .status,
        403
    );
    assert_eq!(
        stack
            .call("PUT", "/users/carol", &bob, Some(json!({"role": "member"})))
            .await
            .status,
        403
    );

    // Demoted to viewer: the very next write is refused.
    assert_eq!(
        stack
            .call("POST", "/contacts", &bob, Some(json!({"first_name": "A"})))
            .await
            .status,
        201
    );
    user(
        &stack,
        &admin,
        "bob",
        json!({"role": "viewer", "teams": [sales]}),
    )
    .await;
    assert_eq!(
        stack
            .call("POST", "/contacts", &bob, Some(json!({"first_name": "B"})))
            .await
            .status,
        403
    );
    // Deactivated: nothing works any more, whatever the token says.
    user(
        &stack,
        &admin,
        "bob",
        json!({"role": "viewer", "teams": [sales], "status": "deactivated"}),
    )
    .await;
    assert_eq!(stack.call("GET", "/contacts", &bob, None).await.status, 403);

    // Only an owner hands out the owner role; nobody demotes themselves.
    let r = stack
        .call(
            "PUT",
            "/users/carol",
            &admin,
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(r.status, 403);
    user(&stack, &owner, "carol", json!({"role": "owner"})).await;
    let r = stack
        .call(
            "PUT",
            "/users/alice",
            &admin,
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(r.status, 409);
    // Unknown teams and portal users without a client are refused, naming the field.
    let r = stack
        .call(
            "PUT",
            "/users/dan",
            &admin,
            Some(json!({"role": "member", "teams": [uuid::Uuid::now_v7()]})),
        )
        .await;
    assert_eq!((r.status, r.problem_field().0.as_str()), (422, "teams[0]"));
    let r = stack
        .call("PUT", "/users/pia", &admin, Some(json!({"role": "portal"})))
        .await;
    assert_eq!(
        (r.status, r.problem_field().0.as_str()),
        (422, "portal_client_id")
    );

    let members = stack
        .call("GET", &format!("/users?team={sales}"), &admin, None)
        .await;
    let ids: Vec<_> = members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("bob")]);
    // Teams are per tenant.
    let other = stack.token("globex", "gina", "admin");
    assert_eq!(
        stack
            .call("GET", &format!("/teams/{sales}"), &other, None)
            .await
            .status,
        404
    );
    assert_eq!(
        stack.call("GET", "/users/bob", &other, None).await.status,
        404
    );
}

#[tokio::test]
async fn s1_4_members_see_their_own_their_teams_shared_and_shared_with_them_managers_their_teams() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let sales = team(&stack, &admin, "Sales").await;
    let support = team(&stack, &admin, "Support").await;
    user(
        &stack,
        &admin,
        "mia",
        json!({"role": "member", "teams": [sales]}),
    )
    .await;
    user(
        &stack,
        &admin,
        "max",
        json!({"role": "member", "teams": [sales]}),
    )
    .await;
    user(
        &stack,
        &admin,
        "sam",
        json!({"role": "member", "teams": [support]}),
    )
    .await;
    user(
        &stack,
        &admin,
        "boss",
        json!({"role": "manager", "teams": [sales]}),
    )
    .await;
    user(&stack, &admin, "vic", json!({"role": "viewer"})).await;
    let (mia, max, sam, boss, vic) = (
        stack.token("acme", "mia", "member"),
        stack.token("acme", "max", "member"),
        stack.token("acme", "sam", "member"),
        stack.token("acme", "boss", "member"),
        stack.token("acme", "vic", "admin"),
    );

    // Mia's contacts land in her only team; one is team-visible, one private.
    let shared_in_team = contact(
        &stack,
        &mia,
        json!({"first_name": "Tina", "last_name": "Teamwork"}),
    )
    .await;
    let private = contact(
        &stack,
        &mia,
        json!({"first_name": "Pia", "last_name": "Private", "visibility": "private"}),
    )
    .await;
    let r = stack
        .call("GET", &format!("/contacts/{shared_in_team}"), &mia, None)
        .await;
    assert_eq!(
        (r.body["owner"].as_str(), r.body["team"].as_str()),
        (Some("mia"), Some(sales.as_str()))
    );
    let by_admin = contact(
        &stack,
        &admin,
        json!({"first_name": "Ada", "last_name": "Admin"}),
    )
    .await;

    let get = |token: &str, id: &str| get_status(&stack, token.to_string(), id.to_string());
    // Mia: her own two. Max (same team): the team-visible one. Sam (other team): none.
    assert_eq!(
        (get(&mia, &shared_in_team).await, get(&mia, &private).await),
        (200, 200)
    );
    assert_eq!(
        (get(&max, &shared_in_team).await, get(&max, &private).await),
        (200, 404)
    );
    assert_eq!(
        (get(&sam, &shared_in_team).await, get(&sam, &private).await),
        (404, 404)
    );
    // The manager of sales: every record of the team, private ones too.
    assert_eq!(
        (
            get(&boss, &shared_in_team).await,
            get(&boss, &private).await
        ),
        (200, 200)
    );
    assert_eq!(get(&boss, &by_admin).await, 404);
    // The viewer reads everything, changes nothing.
    assert_eq!(get(&vic, &private).await, 200);
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{private}"),
            &vic,
            Some(json!({"job_title": "CTO"})),
        )
        .await;
    assert_eq!(r.status, 403);
    // Invisible is 404 on every route, never 403.
    for (method, path) in [
        ("PATCH", format!("/contacts/{private}")),
        ("DELETE", format!("/contacts/{private}")),
        ("GET", format!("/contacts/{private}/history")),
        ("GET", format!("/contacts/{private}/export")),
        ("POST", format!("/contacts/{private}/erase")),
        ("POST", format!("/contacts/{private}/shares")),
    ] {
        let body = match method {
            "PATCH" => Some(json!({"job_title": "CTO"})),
            "POST" => Some(json!({"user": "sam"})),
            _ => None,
        };
        let r = stack.call(method, &path, &sam, body).await;
        assert_eq!(r.status, 404, "{method} {path}: {:?}", r.body);
    }

    // A team client's contacts: each sees only the contacts they may see.
    let client = stack
        .call(
            "POST",
            "/clients",
            &admin,
            Some(json!({"name": "Initech", "team": sales})),
        )
        .await;
    let client = client.body["id"].as_str().unwrap().to_string();
    for id in [&shared_in_team, &private] {
        let r = stack
            .call(
                "PUT",
                &format!("/contacts/{id}/clients/{client}"),
                &admin,
                Some(json!({"role": "billing"})),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let linked = |token: &str| {
        let path = format!("/clients/{client}/contacts");
        let token = token.to_string();
        let stack = &stack;
        async move {
            let r = stack.call("GET", &path, &token, None).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            r.body["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(
        (linked(&mia).await, linked(&max).await, linked(&boss).await),
        (2, 1, 2)
    );
    assert_eq!(
        stack
            .call("GET", &format!("/clients/{client}"), &sam, None)
            .await
            .status,
        404
    );

    // Lists and search show the same: no hint of what one may not see.
    let mut mine = listed(&stack, &mia, "").await;
    mine.sort();
    let mut expected = vec![shared_in_team.clone(), private.clone()];
    expected.sort();
    assert_eq!(mine, expected);
    assert_eq!(listed(&stack, &max, "").await, vec![shared_in_team.clone()]);
    assert!(listed(&stack, &sam, "").await.is_empty());
    assert!(listed(&stack, &sam, "?q=pri").await.is_empty());
    assert_eq!(listed(&stack, &max, "?q=pri").await, Vec::<String>::new());
    assert_eq!(listed(&stack, &boss, "?q=pri").await, vec![private.clone()]);
    assert_eq!(listed(&stack, &vic, "").await.len(), 3);
    assert_eq!(
        listed(&stack, &max, &format!("?client={client}")).await,
        vec![shared_in_team.clone()]
    );

    // Shared with Sam: he sees it (get, list, search) until it is unshared.
    let r = stack
        .call(
            "POST",
            &format!("/contacts/{private}/shares"),
            &mia,
            Some(json!({"user": "sam"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(get(&sam, &private).await, 200);
    assert_eq!(listed(&stack, &sam, "?q=pia").await, vec![private.clone()]);
    let history = stack
        .call("GET", &format!("/contacts/{private}/history"), &mia, None)
        .await;
    assert_eq!(history.body["items"][0]["action"], "shared");
    let r = stack
        .call(
            "DELETE",
            &format!("/contacts/{private}/shares/user:sam"),
            &mia,
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(get(&sam, &private).await, 404);
    assert!(listed(&stack, &sam, "").await.is_empty());
    // Shared with a team: every member of it sees it.
    stack
        .call(
            "POST",
            &format!("/contacts/{private}/shares"),
            &mia,
            Some(json!({"team": support})),
        )
        .await;
    assert_eq!(get(&sam, &private).await, 200);
    // Sharing with someone outside the tenant is refused.
    let r = stack
        .call(
            "POST",
            &format!("/contacts/{private}/shares"),
            &mia,
            Some(json!({"user": "ghost"})),
        )
        .await;
    assert_eq!((r.status, r.problem_field().0.as_str()), (422, "user"));

    // Moving Max out of sales takes his view away on the next request.
    user(
        &stack,
        &admin,
        "max",
        json!({"role": "member", "teams": [support]}),
    )
    .await;
    assert_eq!(get(&max, &shared_in_team).await, 404);
}

#[tokio::test]
async fn s9_5_portal_users_see_only_their_own_client_and_contact() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let client = stack
        .call("POST", "/clients", &admin, Some(json!({"name": "Initech"})))
        .await;
    let client = client.body["id"].as_str().unwrap().to_string();
    let other_client = stack
        .call("POST", "/clients", &admin, Some(json!({"name": "Globex"})))
        .await;
    let other_client = other_client.body["id"].as_str().unwrap().to_string();
    let own = contact(
        &stack,
        &admin,
        json!({"first_name": "Pat", "email": "pat@initech.example"}),
    )
    .await;
    let colleague = contact(&stack, &admin, json!({"first_name": "Quinn"})).await;
    user(
        &stack,
        &admin,
        "pat",
        json!({"role": "portal", "portal_client_id": client, "portal_contact_id": own}),
    )
    .await;
    let pat = stack.token("acme", "pat", "portal");

    assert_eq!(
        stack
            .call("GET", &format!("/contacts/{own}"), &pat, None)
            .await
            .status,
        200
    );
    assert_eq!(
        stack
            .call("GET", &format!("/contacts/{colleague}"), &pat, None)
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .call("GET", &format!("/clients/{client}"), &pat, None)
            .await
            .status,
        200
    );
    assert_eq!(
        stack
            .call("GET", &format!("/clients/{other_client}"), &pat, None)
            .await
            .status,
        404
    );
    assert_eq!(listed(&stack, &pat, "").await, vec![own.clone()]);
    let clients = stack.call("GET", "/clients", &pat, None).await;
    assert_eq!(clients.body["items"].as_array().unwrap().len(), 1);
    // Read-only, and nothing of the tenant's administration.
    assert_eq!(
        stack
            .call(
                "PATCH",
                &format!("/contacts/{own}"),
                &pat,
                Some(json!({"first_name": "P"}))
            )
            .await
            .status,
        403
    );
    assert_eq!(
        stack
            .call("POST", "/contacts", &pat, Some(json!({"first_name": "X"})))
            .await
            .status,
        403
    );
    assert_eq!(stack.call("GET", "/users", &pat, None).await.status, 404);
}

/// Every role against every contact route, on a contact owned by an admin outside any team:
/// what each role may do, and 404 where it may not see.
#[tokio::test]
async fn s1_4_role_by_route_matrix() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let client = stack
        .call("POST", "/clients", &admin, Some(json!({"name": "Initech"})))
        .await;
    let client = client.body["id"].as_str().unwrap().to_string();
    let roles = ["owner", "admin", "manager", "member", "viewer", "portal"];
    let partners = team(&stack, &admin, "Partners").await;
    // Expected status per route, in the order of `roles`.
    type Row = (&'static str, &'static str, Option<Value>, [u16; 6]);
    let routes: Vec<Row> = vec![
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
    ];
    // Another tenant's owner: every route naming a record of this tenant answers 404, and
    // lists and search show nothing of it.
    let foreign = stack.token("globex", "gina", "owner");
    let id = contact(
        &stack,
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
        let r = stack
            .call("GET", &format!("/contacts{q}"), &foreign, None)
            .await;
        assert_eq!(r.body["items"], json!([]), "{q}");
    }
    assert_eq!(
        stack.call("GET", "/clients", &foreign, None).await.body["items"],
        json!([])
    );

    for (i, role) in roles.iter().enumerate() {
        let token = stack.token("acme", &format!("{role}-user"), role);
        // A fresh contact per role, owned by the admin, in no team.
        let id = contact(
            &stack,
            &admin,
            json!({"first_name": "Matrix", "last_name": role}),
        )
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
