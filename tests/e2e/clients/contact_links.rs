//! Contacts linked to clients (S1.5): several clients with roles, one primary, links keeping a
//! client from being deleted, bad links refused.

use crm_e2e_tests::{Stack, json};

/// Ada linked to Initech (billing, primary) and Globex (technical).
struct Links {
    ada: String,
    initech: String,
    globex: String,
}

impl Links {
    fn link(&self, client: &str) -> String {
        format!("/contacts/{}/clients/{client}", self.ada)
    }
}

async fn ada_linked(stack: &Stack, admin: &str) -> Links {
    let ada = stack
        .create_contact(admin, json!({"first_name": "Ada"}))
        .await;
    let initech = stack.create_client(admin, json!({"name": "Initech"})).await;
    let globex = stack.create_client(admin, json!({"name": "Globex"})).await;
    stack
        .link_contact(
            admin,
            &ada,
            &initech,
            json!({"role": "billing", "primary": true}),
        )
        .await;
    stack
        .link_contact(admin, &ada, &globex, json!({"role": "technical"}))
        .await;
    Links {
        ada,
        initech,
        globex,
    }
}

/// The primary client of Ada, if any.
async fn primary_client(stack: &Stack, admin: &str, ada: &str) -> serde_json::Value {
    stack.get(&format!("/contacts/{ada}"), admin).await.body["primary_client_id"].clone()
}

/// A contact links to several clients, each with a role, one of them primary; the links are
/// listed from both sides (S1.5).
#[tokio::test]
async fn s1_5_a_contact_links_to_several_clients_with_roles_and_one_primary() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let Links {
        ada,
        initech,
        globex: _,
    } = ada_linked(&stack, &admin).await;
    assert_eq!(primary_client(&stack, &admin, &ada).await, initech.as_str());

    let mine = stack.get(&format!("/contacts/{ada}/clients"), &admin).await;
    let mut roles: Vec<(String, bool)> = mine.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["role"].as_str().unwrap().to_string(),
                l["primary"].as_bool().unwrap(),
            )
        })
        .collect();
    roles.sort();
    assert_eq!(
        roles,
        vec![
            ("billing".to_string(), true),
            ("technical".to_string(), false)
        ]
    );
    let theirs = stack
        .get(&format!("/clients/{initech}/contacts"), &admin)
        .await;
    assert_eq!(theirs.body["items"][0]["contact_id"], ada.as_str());
}

/// Making Globex primary demotes Initech. Ada linked to both, Globex now primary.
async fn globex_primary(stack: &Stack, admin: &str) -> Links {
    let links = ada_linked(stack, admin).await;
    // One primary client: making Globex primary demotes Initech.
    stack
        .call(
            "PUT",
            &links.link(&links.globex),
            admin,
            Some(json!({"role": "technical", "primary": true})),
        )
        .await;
    links
}

/// One primary client: making another client primary demotes the first (S1.5).
#[tokio::test]
async fn s1_5_making_another_client_primary_demotes_the_first() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let Links {
        ada,
        initech,
        globex,
    } = globex_primary(&stack, &admin).await;
    assert_eq!(primary_client(&stack, &admin, &ada).await, globex.as_str());
    let initech_link = stack
        .get(&format!("/clients/{initech}/contacts"), &admin)
        .await;
    assert_eq!(initech_link.body["items"][0]["primary"], false);
}

/// A client with linked contacts is not deleted; unlinking frees it and clears the contact's
/// primary client (S1.5).
#[tokio::test]
async fn s1_5_a_linked_client_is_kept_until_unlinked_and_unlinking_clears_the_primary() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let links = globex_primary(&stack, &admin).await;
    let (ada, globex) = (&links.ada, &links.globex);
    // A client with linked contacts is not deleted; unlinking frees it and clears the primary.
    assert_eq!(
        stack
            .status("DELETE", &format!("/clients/{globex}"), &admin, None)
            .await,
        409
    );
    assert_eq!(
        stack
            .status("DELETE", &links.link(globex), &admin, None)
            .await,
        204
    );
    assert!(
        stack
            .get(&format!("/contacts/{ada}"), &admin)
            .await
            .body
            .get("primary_client_id")
            .is_none()
    );
    assert_eq!(
        stack
            .get(&format!("/clients/{globex}/contacts"), &admin)
            .await
            .body["items"],
        json!([])
    );
    assert_eq!(
        stack
            .status("DELETE", &format!("/clients/{globex}"), &admin, None)
            .await,
        204
    );
}

/// A link with a bad role, to a missing client, by a viewer or by another tenant is refused
/// (S1.5, S1.4).
#[tokio::test]
async fn s1_5_bad_links_are_refused_by_input_record_role_and_tenant() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let links = ada_linked(&stack, &admin).await;
    let initech = &links.initech;
    let link = |client: &str| links.link(client);
    // Bad input, missing records, roles and tenants.
    let role = |r: &str| Some(json!({ "role": r }));
    assert_eq!(
        stack
            .status("PUT", &link(initech), &admin, role("boss"))
            .await,
        400
    );
    assert_eq!(
        stack
            .status(
                "PUT",
                &link(&uuid::Uuid::now_v7().to_string()),
                &admin,
                role("other")
            )
            .await,
        404
    );
    let viewer = stack.token("acme", "vic", "viewer");
    assert_eq!(
        stack
            .status("PUT", &link(initech), &viewer, role("other"))
            .await,
        403
    );
    let other = stack.token("other", "olga", "admin");
    assert_eq!(
        stack
            .status("PUT", &link(initech), &other, role("other"))
            .await,
        404
    );
    assert_eq!(
        stack
            .get(&format!("/clients/{initech}/contacts"), &other)
            .await
            .status,
        404
    );
}
