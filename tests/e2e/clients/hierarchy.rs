//! The parent / subsidiary hierarchy of clients (S2.2): rolled up, cycles and missing parents
//! refused, parents kept while they have subsidiaries, one tenant's only.

use crm_e2e_tests::{Stack, json};

/// Group → (Group DE → Group Berlin, Group AT): their ids.
struct Tree {
    group: String,
    de: String,
    at: String,
    berlin: String,
}

async fn tree(stack: &Stack, admin: &str) -> Tree {
    let group = stack.create_client(admin, json!({"name": "Group"})).await;
    let de = stack
        .create_client(admin, json!({"name": "Group DE", "parent_id": group}))
        .await;
    let at = stack
        .create_client(admin, json!({"name": "Group AT", "parent_id": group}))
        .await;
    let berlin = stack
        .create_client(admin, json!({"name": "Group Berlin", "parent_id": de}))
        .await;
    Tree {
        group,
        de,
        at,
        berlin,
    }
}

/// A client's direct subsidiaries are listed, and its hierarchy rolls up every level (S2.2).
#[tokio::test]
async fn s2_2_subsidiaries_are_listed_and_the_hierarchy_rolls_up() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let Tree {
        group, de, berlin, ..
    } = tree(&stack, &admin).await;
    let subs = stack
        .get(&format!("/clients/{group}/subsidiaries"), &admin)
        .await;
    let mut names: Vec<&str> = subs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["Group AT", "Group DE"]);

    let tree = stack
        .get(&format!("/clients/{group}/hierarchy"), &admin)
        .await;
    assert_eq!(tree.status, 200, "{:?}", tree.body);
    assert_eq!(tree.body["client"]["id"], group.as_str());
    let children = tree.body["subsidiaries"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    let de_node = children
        .iter()
        .find(|c| c["client"]["id"] == de.as_str())
        .unwrap();
    assert_eq!(de_node["subsidiaries"][0]["client"]["id"], berlin.as_str());
}

/// A parent that would close a cycle (itself, or its own grandchild) or does not exist is
/// refused, naming the rule (S2.2).
#[tokio::test]
async fn s2_2_a_parent_closing_a_cycle_or_missing_is_refused() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let Tree {
        group, at, berlin, ..
    } = tree(&stack, &admin).await;
    // Making the group a subsidiary of its own grandchild would close a cycle.
    let cycle = stack
        .call(
            "PATCH",
            &format!("/clients/{group}"),
            &admin,
            Some(json!({"parent_id": berlin})),
        )
        .await;
    assert_eq!(cycle.status, 422);
    assert_eq!(
        cycle.problem_field(),
        ("parent_id".into(), "no_cycle".into())
    );
    let own = stack
        .call(
            "PATCH",
            &format!("/clients/{at}"),
            &admin,
            Some(json!({"parent_id": at})),
        )
        .await;
    assert_eq!(own.problem_field(), ("parent_id".into(), "no_cycle".into()));
    let missing = stack
        .call(
            "POST",
            "/clients",
            &admin,
            Some(json!({"name": "Orphan", "parent_id": uuid::Uuid::now_v7()})),
        )
        .await;
    assert_eq!(
        missing.problem_field(),
        ("parent_id".into(), "exists".into())
    );
}

/// A parent with subsidiaries is not deleted; moving the child out of it frees it (S2.2).
#[tokio::test]
async fn s2_2_a_parent_is_kept_until_its_subsidiaries_move() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let Tree { de, at, berlin, .. } = tree(&stack, &admin).await;
    // A parent with subsidiaries is not deleted; moving the child out of it frees it.
    assert_eq!(
        stack
            .status("DELETE", &format!("/clients/{de}"), &admin, None)
            .await,
        409
    );
    let moved = stack
        .call(
            "PATCH",
            &format!("/clients/{berlin}"),
            &admin,
            Some(json!({"parent_id": at})),
        )
        .await;
    assert_eq!(moved.status, 200);
    assert_eq!(
        stack
            .status("DELETE", &format!("/clients/{de}"), &admin, None)
            .await,
        204
    );
}

/// Another tenant sees none of the hierarchy, and cannot hang its clients below it (S2.2).
#[tokio::test]
async fn s2_2_another_tenant_sees_none_of_the_hierarchy_and_cannot_join_it() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let Tree { group, .. } = tree(&stack, &admin).await;
    // Another tenant sees none of it, and cannot hang its clients below them.
    let other = stack.token("other", "olga", "admin");
    assert_eq!(
        stack.get(&format!("/clients/{group}"), &other).await.status,
        404
    );
    assert_eq!(
        stack
            .get(&format!("/clients/{group}/hierarchy"), &other)
            .await
            .status,
        404
    );
    let foreign = stack
        .call(
            "POST",
            "/clients",
            &other,
            Some(json!({"name": "Intruder", "parent_id": group})),
        )
        .await;
    assert_eq!(
        foreign.problem_field(),
        ("parent_id".into(), "exists".into())
    );
}
