//! Portal users (S9.5): a client's own person, who sees only their client and contact, read-only.

use crm_e2e_tests::{Stack, json};

/// Initech and Globex, Pat (Initech's, a portal user with her own contact) and her colleague
/// Quinn: the clients, the contacts and Pat's token.
struct Portal {
    client: String,
    other_client: String,
    own: String,
    colleague: String,
    pat: String,
}

async fn portal(stack: &Stack) -> Portal {
    let admin = stack.token("acme", "alice", "admin");
    let client = stack
        .create_client(&admin, json!({"name": "Initech"}))
        .await;
    let other_client = stack.create_client(&admin, json!({"name": "Globex"})).await;
    let own = stack
        .create_contact(
            &admin,
            json!({"first_name": "Pat", "email": "pat@initech.example"}),
        )
        .await;
    let colleague = stack
        .create_contact(&admin, json!({"first_name": "Quinn"}))
        .await;
    stack
        .put_user(
            &admin,
            "pat",
            json!({"role": "portal", "portal_client_id": client, "portal_contact_id": own}),
        )
        .await;
    Portal {
        client,
        other_client,
        own,
        colleague,
        pat: stack.token("acme", "pat", "portal"),
    }
}

/// A portal user sees only their own client and contact, in reads and lists (S9.5).
#[tokio::test]
async fn s9_5_portal_users_see_only_their_own_client_and_contact() {
    let stack = Stack::start().await;
    let Portal {
        client,
        other_client,
        own,
        colleague,
        pat,
    } = portal(&stack).await;
    assert_eq!(
        stack.get(&format!("/contacts/{own}"), &pat).await.status,
        200
    );
    assert_eq!(
        stack
            .get(&format!("/contacts/{colleague}"), &pat)
            .await
            .status,
        404
    );
    assert_eq!(
        stack.get(&format!("/clients/{client}"), &pat).await.status,
        200
    );
    assert_eq!(
        stack
            .get(&format!("/clients/{other_client}"), &pat)
            .await
            .status,
        404
    );
    assert_eq!(stack.ids("/contacts", &pat).await, vec![own.clone()]);
    let clients = stack.call("GET", "/clients", &pat, None).await;
    assert_eq!(clients.body["items"].as_array().unwrap().len(), 1);
}

/// A portal user reads only: no change, no new contact, nothing of the tenant's administration
/// (S9.5).
#[tokio::test]
async fn s9_5_portal_users_are_read_only_and_see_no_administration() {
    let stack = Stack::start().await;
    let Portal { own, pat, .. } = portal(&stack).await;
    // Read-only, and nothing of the tenant's administration.
    assert_eq!(
        stack
            .status(
                "PATCH",
                &format!("/contacts/{own}"),
                &pat,
                Some(json!({"first_name": "P"}))
            )
            .await,
        403
    );
    assert_eq!(
        stack
            .status("POST", "/contacts", &pat, Some(json!({"first_name": "X"})))
            .await,
        403
    );
    assert_eq!(stack.call("GET", "/users", &pat, None).await.status, 404);
}
