//! Who sees which contact (S1.4): members see their own, their team's shared ones and those
//! shared with them; managers their teams'; viewers everything, read-only; 404 for the rest,
//! in every route, list and search.

use crm_e2e_tests::{Stack, json};

/// The status of `GET /contacts/{id}` for `token`.
async fn get_status(stack: &Stack, token: String, id: String) -> u16 {
    stack.get(&format!("/contacts/{id}"), &token).await.status
}

/// Sales (Mia, Max, manager Boss) and Support (Sam), a viewer Vic; Mia's team-visible and
/// private contacts, and one of the admin's outside any team.
struct Office {
    admin: String,
    sales: String,
    support: String,
    mia: String,
    max: String,
    sam: String,
    boss: String,
    vic: String,
    shared_in_team: String,
    private: String,
    by_admin: String,
}

async fn office(stack: &Stack) -> Office {
    let admin = stack.token("acme", "alice", "admin");
    let sales = stack.create_team(&admin, "Sales").await;
    let support = stack.create_team(&admin, "Support").await;
    for (user, body) in [
        ("mia", json!({"role": "member", "teams": [sales]})),
        ("max", json!({"role": "member", "teams": [sales]})),
        ("sam", json!({"role": "member", "teams": [support]})),
        ("boss", json!({"role": "manager", "teams": [sales]})),
        ("vic", json!({"role": "viewer"})),
    ] {
        stack.put_user(&admin, user, body).await;
    }
    let (mia, max, sam, boss, vic) = (
        stack.token("acme", "mia", "member"),
        stack.token("acme", "max", "member"),
        stack.token("acme", "sam", "member"),
        stack.token("acme", "boss", "member"),
        stack.token("acme", "vic", "admin"),
    );
    // Mia's contacts land in her only team; one is team-visible, one private.
    let shared_in_team = stack
        .create_contact(&mia, json!({"first_name": "Tina", "last_name": "Teamwork"}))
        .await;
    let private = stack
        .create_contact(
            &mia,
            json!({"first_name": "Pia", "last_name": "Private", "visibility": "private"}),
        )
        .await;
    let by_admin = stack
        .create_contact(&admin, json!({"first_name": "Ada", "last_name": "Admin"}))
        .await;
    Office {
        admin,
        sales,
        support,
        mia,
        max,
        sam,
        boss,
        vic,
        shared_in_team,
        private,
        by_admin,
    }
}

/// A member's contacts land in their only team: they see their own, the team the team-visible
/// one, another team none (S1.4).
#[tokio::test]
async fn s1_4_members_see_their_own_and_their_teams_team_visible_contacts() {
    let stack = Stack::start().await;
    let o = office(&stack).await;
    let (shared_in_team, private) = (&o.shared_in_team, &o.private);
    let r = stack
        .get(&format!("/contacts/{shared_in_team}"), &o.mia)
        .await;
    assert_eq!(
        (r.body["owner"].as_str(), r.body["team"].as_str()),
        (Some("mia"), Some(o.sales.as_str()))
    );
    let get = |token: &str, id: &str| get_status(&stack, token.to_string(), id.to_string());
    // Mia: her own two. Max (same team): the team-visible one. Sam (other team): none.
    assert_eq!(
        (
            get(&o.mia, shared_in_team).await,
            get(&o.mia, private).await
        ),
        (200, 200)
    );
    assert_eq!(
        (
            get(&o.max, shared_in_team).await,
            get(&o.max, private).await
        ),
        (200, 404)
    );
    assert_eq!(
        (
            get(&o.sam, shared_in_team).await,
            get(&o.sam, private).await
        ),
        (404, 404)
    );
}

/// A team's manager sees every record of the team, private ones too, and nothing outside it; a
/// viewer reads everything and changes nothing (S1.4).
#[tokio::test]
async fn s1_4_managers_see_their_teams_records_and_viewers_read_everything_read_only() {
    let stack = Stack::start().await;
    let o = office(&stack).await;
    let (shared_in_team, private) = (&o.shared_in_team, &o.private);
    let get = |token: &str, id: &str| get_status(&stack, token.to_string(), id.to_string());
    // The manager of sales: every record of the team, private ones too.
    assert_eq!(
        (
            get(&o.boss, shared_in_team).await,
            get(&o.boss, private).await
        ),
        (200, 200)
    );
    assert_eq!(get(&o.boss, &o.by_admin).await, 404);
    // The viewer reads everything, changes nothing.
    assert_eq!(get(&o.vic, private).await, 200);
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{private}"),
            &o.vic,
            Some(json!({"job_title": "CTO"})),
        )
        .await;
    assert_eq!(r.status, 403);
}

/// A contact one may not see is 404 on every route, never 403 (S1.4).
#[tokio::test]
async fn s1_4_an_invisible_contact_is_404_on_every_route() {
    let stack = Stack::start().await;
    let o = office(&stack).await;
    let private = &o.private;
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
        let r = stack.call(method, &path, &o.sam, body).await;
        assert_eq!(r.status, 404, "{method} {path}: {:?}", r.body);
    }
}

/// A team client's contacts: each sees only the contacts they may see, and the client filter
/// of the list the same (S1.4, S1.5).
#[tokio::test]
async fn s1_4_a_team_clients_contacts_show_each_only_those_they_may_see() {
    let stack = Stack::start().await;
    let o = office(&stack).await;
    // A team client's contacts: each sees only the contacts they may see.
    let client = stack
        .create_client(&o.admin, json!({"name": "Initech", "team": o.sales}))
        .await;
    for id in [&o.shared_in_team, &o.private] {
        stack
            .link_contact(&o.admin, id, &client, json!({"role": "billing"}))
            .await;
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
        (
            linked(&o.mia).await,
            linked(&o.max).await,
            linked(&o.boss).await
        ),
        (2, 1, 2)
    );
    assert_eq!(
        stack
            .get(&format!("/clients/{client}"), &o.sam)
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .ids(&format!("/contacts?client={client}"), &o.max)
            .await,
        vec![o.shared_in_team.clone()]
    );
}

/// Lists and search show the same as the reads: no hint of what one may not see (S1.4, S1.3).
#[tokio::test]
async fn s1_4_lists_and_search_show_no_hint_of_what_one_may_not_see() {
    let stack = Stack::start().await;
    let o = office(&stack).await;
    let (shared_in_team, private) = (&o.shared_in_team, &o.private);
    // Lists and search show the same: no hint of what one may not see.
    let mut mine = stack.ids("/contacts", &o.mia).await;
    mine.sort();
    let mut expected = vec![shared_in_team.clone(), private.clone()];
    expected.sort();
    assert_eq!(mine, expected);
    assert_eq!(
        stack.ids("/contacts", &o.max).await,
        vec![shared_in_team.clone()]
    );
    assert!(stack.ids("/contacts", &o.sam).await.is_empty());
    assert!(stack.ids("/contacts?q=pri", &o.sam).await.is_empty());
    assert_eq!(
        stack.ids("/contacts?q=pri", &o.max).await,
        Vec::<String>::new()
    );
    assert_eq!(
        stack.ids("/contacts?q=pri", &o.boss).await,
        vec![private.clone()]
    );
    assert_eq!(stack.ids("/contacts", &o.vic).await.len(), 3);
}

/// A contact shared with a user is seen by them (get, list, search) until it is unshared; the
/// share is in the history (S1.4, S6.5).
#[tokio::test]
async fn s1_4_a_contact_shared_with_a_user_is_seen_until_unshared() {
    let stack = Stack::start().await;
    let o = office(&stack).await;
    let (private, mia, sam) = (&o.private, &o.mia, &o.sam);
    let get = |token: &str, id: &str| get_status(&stack, token.to_string(), id.to_string());
    // Shared with Sam: he sees it (get, list, search) until it is unshared.
    stack
        .share_contact(mia, private, json!({"user": "sam"}))
        .await;
    assert_eq!(get(sam, private).await, 200);
    assert_eq!(
        stack.ids("/contacts?q=pia", sam).await,
        vec![private.clone()]
    );
    let history = stack
        .get(&format!("/contacts/{private}/history"), mia)
        .await;
    assert_eq!(history.body["items"][0]["action"], "shared");
    let r = stack
        .call(
            "DELETE",
            &format!("/contacts/{private}/shares/user:sam"),
            mia,
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(get(sam, private).await, 404);
    assert!(stack.ids("/contacts", sam).await.is_empty());
}

/// A contact shared with a team is seen by every member of it; sharing with someone outside
/// the tenant is refused (S1.4).
#[tokio::test]
async fn s1_4_a_contact_shared_with_a_team_is_seen_by_its_members_and_only_within_the_tenant() {
    let stack = Stack::start().await;
    let o = office(&stack).await;
    let (private, mia) = (&o.private, &o.mia);
    // Shared with a team: every member of it sees it.
    stack
        .share_contact(mia, private, json!({"team": o.support}))
        .await;
    assert_eq!(
        get_status(&stack, o.sam.clone(), private.clone()).await,
        200
    );
    // Sharing with someone outside the tenant is refused.
    let r = stack
        .call(
            "POST",
            &format!("/contacts/{private}/shares"),
            mia,
            Some(json!({"user": "ghost"})),
        )
        .await;
    assert_eq!((r.status, r.problem_field().0.as_str()), (422, "user"));
}

/// Moving a member out of a team takes their view of its records away on the next request
/// (S1.4, S9.4).
#[tokio::test]
async fn s1_4_moving_a_member_out_of_a_team_takes_the_view_away_on_the_next_request() {
    let stack = Stack::start().await;
    let o = office(&stack).await;
    assert_eq!(
        get_status(&stack, o.max.clone(), o.shared_in_team.clone()).await,
        200
    );
    // Moving Max out of sales takes his view away on the next request.
    stack
        .put_user(
            &o.admin,
            "max",
            json!({"role": "member", "teams": [o.support]}),
        )
        .await;
    assert_eq!(
        get_status(&stack, o.max.clone(), o.shared_in_team.clone()).await,
        404
    );
}
