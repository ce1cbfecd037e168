//! Admins manage users and teams (S9.4): the directory, not the token, decides a user's role,
//! teams and status from the next request on.

use crm_e2e_tests::{Stack, json};

/// Sales, and Bob in it as a member (his token says admin): the team's id and Bob's token.
async fn bob_in_sales(stack: &Stack, owner: &str, admin: &str) -> (String, String) {
    let sales = stack.create_team(owner, "Sales").await;
    // The token says admin; the directory decides from now on.
    let bob = stack.token("acme", "bob", "admin");
    stack
        .put_user(
            admin,
            "bob",
            json!({"role": "member", "teams": [sales], "name": "Bob"}),
        )
        .await;
    (sales, bob)
}

/// The directory decides a user's role and teams, whatever the token says: a member is refused
/// the administration (S9.4).
#[tokio::test]
async fn s9_4_the_directory_decides_the_role_and_teams_not_the_token() {
    let stack = Stack::start().await;
    let owner = stack.token("acme", "olga", "owner");
    let admin = stack.token("acme", "alice", "admin");
    let (sales, bob) = bob_in_sales(&stack, &owner, &admin).await;
    let me = stack.call("GET", "/me", &bob, None).await;
    assert_eq!(
        (me.body["role"].as_str(), me.body["teams"][0].as_str()),
        (Some("member"), Some(sales.as_str()))
    );
    assert_eq!(
        stack
            .status("POST", "/teams", &bob, Some(json!({"name": "X"})))
            .await,
        403
    );
    assert_eq!(
        stack
            .status("PUT", "/users/carol", &bob, Some(json!({"role": "member"})))
            .await,
        403
    );
}

/// A changed role applies on the next request: demoted to viewer, the next write is refused;
/// deactivated, nothing works any more (S9.4).
#[tokio::test]
async fn s9_4_a_demoted_or_deactivated_user_is_refused_on_the_next_request() {
    let stack = Stack::start().await;
    let owner = stack.token("acme", "olga", "owner");
    let admin = stack.token("acme", "alice", "admin");
    let (sales, bob) = bob_in_sales(&stack, &owner, &admin).await;
    // Demoted to viewer: the very next write is refused.
    assert_eq!(
        stack
            .status("POST", "/contacts", &bob, Some(json!({"first_name": "A"})))
            .await,
        201
    );
    stack
        .put_user(&admin, "bob", json!({"role": "viewer", "teams": [sales]}))
        .await;
    assert_eq!(
        stack
            .status("POST", "/contacts", &bob, Some(json!({"first_name": "B"})))
            .await,
        403
    );
    // Deactivated: nothing works any more, whatever the token says.
    stack
        .put_user(
            &admin,
            "bob",
            json!({"role": "viewer", "teams": [sales], "status": "deactivated"}),
        )
        .await;
    assert_eq!(stack.call("GET", "/contacts", &bob, None).await.status, 403);
}

/// Only an owner hands out the owner role; nobody demotes themselves; unknown teams and portal
/// users without a client are refused, naming the field (S9.4).
#[tokio::test]
async fn s9_4_owner_roles_self_demotion_unknown_teams_and_clientless_portal_users_are_refused() {
    let stack = Stack::start().await;
    let owner = stack.token("acme", "olga", "owner");
    let admin = stack.token("acme", "alice", "admin");
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
    stack
        .put_user(&owner, "carol", json!({"role": "owner"}))
        .await;
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
}

/// A team lists its members (a deactivated one too); teams and users belong to one tenant
/// (S9.4).
#[tokio::test]
async fn s9_4_teams_list_their_members_and_belong_to_one_tenant() {
    let stack = Stack::start().await;
    let owner = stack.token("acme", "olga", "owner");
    let admin = stack.token("acme", "alice", "admin");
    let (sales, _) = bob_in_sales(&stack, &owner, &admin).await;
    stack
        .put_user(
            &admin,
            "bob",
            json!({"role": "viewer", "teams": [sales], "status": "deactivated"}),
        )
        .await;
    stack
        .put_user(&owner, "carol", json!({"role": "owner"}))
        .await;
    let members = stack.get(&format!("/users?team={sales}"), &admin).await;
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
        stack.get(&format!("/teams/{sales}"), &other).await.status,
        404
    );
    assert_eq!(
        stack.call("GET", "/users/bob", &other, None).await.status,
        404
    );
}
