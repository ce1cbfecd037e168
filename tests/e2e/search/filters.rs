//! Contact lists filtered, sorted and paginated (S1.3), following deletes, restores and
//! erasure (S1.2).

use super::names;
use crm_e2e_tests::{Stack, json};

/// Sales with Bob (a member) in it, Initech, and five contacts (Zoë, Ben, Carl by Bob, Dora
/// linked to Initech, Ede) with tags, statuses, sources and last contacts.
struct Book {
    admin: String,
    bob: String,
    team: String,
    client: String,
    zoe: String,
}

async fn book(stack: &Stack) -> Book {
    let admin = stack.token("acme", "alice", "admin");
    let team = stack.create_team(&admin, "Sales").await;
    stack
        .put_user(&admin, "bob", json!({"role": "member", "teams": [team]}))
        .await;
    let bob = stack.token("acme", "bob", "member");
    let client = stack
        .create_client(&admin, json!({"name": "Initech"}))
        .await;

    let zoe = stack.create_contact(&admin, json!({"first_name": "Zoë", "tags": ["VIP"], "lifecycle_status": "customer", "lead_source": "referral", "last_contacted_at": "2026-01-10T00:00:00Z"})).await;
    stack.create_contact(&admin, json!({"first_name": "Ben", "tags": ["vip", "Event"], "lifecycle_status": "lead", "lead_source": "event"})).await;
    stack.create_contact(&bob, json!({"first_name": "Carl", "lifecycle_status": "customer", "last_contacted_at": "2026-11-20T00:00:00Z"})).await;
    let dora = stack
        .create_contact(
            &admin,
            json!({"first_name": "Dora", "lead_source": "referral", "lifecycle_status": "prospect"}),
        )
        .await;
    stack
        .create_contact(
            &admin,
            json!({"first_name": "Ede", "lifecycle_status": "inactive"}),
        )
        .await;
    stack
        .link_contact(&admin, &dora, &client, json!({"role": "billing"}))
        .await;
    Book {
        admin,
        bob,
        team,
        client,
        zoe,
    }
}

/// Lists are newest first by default, or sorted by name either way or by the last change;
/// pages of 2 through cursors give every contact once (S1.3).
#[tokio::test]
async fn s1_3_lists_are_newest_first_or_sorted_across_pages() {
    let stack = Stack::start().await;
    let Book { admin, .. } = book(&stack).await;
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
}

/// Lists filter by tag (case-insensitive), status, lead source, owner, team and client, alone
/// and combined; a member sees only their own through filters too (S1.3, S1.4).
#[tokio::test]
async fn s1_3_lists_filter_by_tag_status_source_owner_team_and_client() {
    let stack = Stack::start().await;
    let Book {
        admin,
        bob,
        team,
        client,
        ..
    } = book(&stack).await;
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
    // Bob (member of sales) sees his own contact only, also through filters.
    assert_eq!(names(&stack, &bob, "?status=customer").await, vec!["Carl"]);
}

/// Lists filter by the last contact (a range, and the follow-up list: before a time, or never)
/// and by the creation date (S1.3).
#[tokio::test]
async fn s1_3_lists_filter_by_last_contact_and_creation_date() {
    let stack = Stack::start().await;
    let Book { admin, .. } = book(&stack).await;
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
    // A range that ends before it starts is named, not answered empty (nor a 500).
    let reversed = stack
        .get(
            "/contacts?created_from=2026-02-01&created_to=2026-01-31",
            &admin,
        )
        .await;
    assert_eq!(
        (reversed.status, reversed.problem_field()),
        (422, ("created_from".to_string(), "range".to_string()))
    );
    // One day is a range: from and to the same date.
    assert_eq!(
        names(
            &stack,
            &admin,
            &format!("?created_from={today}&created_to={today}")
        )
        .await
        .len(),
        5
    );
}

/// Deleting takes a contact out of lists and search; restoring puts it back (S1.3, S1.2).
#[tokio::test]
async fn s1_3_deleting_takes_a_contact_out_of_lists_and_search_and_restoring_puts_it_back() {
    let stack = Stack::start().await;
    let Book { admin, zoe, .. } = book(&stack).await;
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
}

/// Bad filter values are named with their rule; cursors are bound to their query (S1.3).
#[tokio::test]
async fn s1_3_bad_filters_are_named_and_cursors_are_bound_to_their_query() {
    let stack = Stack::start().await;
    let Book { admin, .. } = book(&stack).await;
    // Bad filter values are named with their rule; cursors are bound to their query.
    let r = stack
        .get(
            "/contacts?status=vip&created_from=yesterday&color=red",
            &admin,
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
        .get(
            &format!("/contacts?limit=1&status=lead&cursor={cursor}"),
            &admin,
        )
        .await;
    assert_eq!((r.status, r.problem_field().0.as_str()), (400, "cursor"));
}

/// An erased contact leaves nothing findable (search, tags, lists, reads, history), and its
/// address is free again (S1.2).
#[tokio::test]
async fn s1_2_erase_leaves_nothing_findable() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = stack.create_contact(&admin, json!({"first_name": "Erin", "last_name": "Erased", "email": "erin@example.com", "tags": ["gdpr"]})).await;
    assert_eq!(names(&stack, &admin, "?q=erin").await, vec!["Erin Erased"]);
    assert_eq!(
        stack
            .status("POST", &format!("/contacts/{id}/erase"), &admin, None)
            .await,
        204
    );
    for q in ["?q=erin", "?q=erased", "?q=erin%40example", "?tag=gdpr", ""] {
        assert!(names(&stack, &admin, q).await.is_empty(), "{q}");
    }
    assert_eq!(
        stack.get(&format!("/contacts/{id}"), &admin).await.status,
        404
    );
    assert_eq!(
        stack
            .get(&format!("/contacts/{id}/history"), &admin)
            .await
            .status,
        404
    );
    // The address is free again.
    stack
        .create_contact(&admin, json!({"email": "erin@example.com"}))
        .await;
}
