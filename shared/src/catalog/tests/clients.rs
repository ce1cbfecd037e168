//! The rules of clients on the in-memory store: the hierarchy, deletion with a tombstone and
//! the history it leaves (S2.2, S6.5).

use super::*;
use crate::clients::{Client, ClientFields, ClientPatch, Clients, hierarchy, subsidiaries};

fn clients() -> Clients {
    Catalog::new(Table::in_memory()).clients()
}

async fn create(clients: &Clients, name: &str, parent: Option<Uuid>) -> Client {
    let input = ClientFields {
        name: name.into(),
        parent_id: parent,
        ..Default::default()
    };
    clients.create(&admin(), input, None).await.unwrap()
}

fn reparent(parent: Uuid) -> ClientPatch {
    serde_json::from_value(serde_json::json!({ "parent_id": parent })).unwrap()
}

#[tokio::test]
async fn s2_2_a_hierarchy_rolls_up_and_refuses_cycles() {
    let clients = clients();
    let group = create(&clients, "Group", None).await;
    let east = create(&clients, "East", Some(group.id)).await;
    let shop = create(&clients, "Shop", Some(east.id)).await;
    let tree = hierarchy(&clients, &admin(), group.id).await.unwrap();
    assert_eq!(tree.subsidiaries[0].client.id, east.id);
    assert_eq!(tree.subsidiaries[0].subsidiaries[0].client.id, shop.id);
    let page = subsidiaries(&clients, &admin(), group.id, 10, None)
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![east.id]
    );
    let cycle = clients
        .patch(&admin(), group.id, reparent(shop.id), None, None)
        .await;
    let Err(CrmError::Validation(errors)) = cycle else {
        panic!("{cycle:?}")
    };
    assert_eq!(
        (errors[0].field.as_str(), errors[0].rule.as_str()),
        ("parent_id", "no_cycle")
    );
    let missing = reparent(Uuid::now_v7());
    let missing = clients.patch(&admin(), shop.id, missing, None, None).await;
    assert!(matches!(missing, Err(CrmError::Validation(_))));
    assert_eq!(
        clients.get(&admin(), group.id).await.unwrap(),
        group,
        "nothing changed"
    );
}

#[tokio::test]
async fn s2_2_a_client_with_subsidiaries_stays_and_a_deleted_one_leaves_its_history() {
    let clients = clients();
    let group = create(&clients, "Group", None).await;
    let east = create(&clients, "East", Some(group.id)).await;
    let refused = clients.delete(&admin(), group.id, None).await;
    assert!(
        matches!(refused, Err(CrmError::Conflict { .. })),
        "{refused:?}"
    );
    clients.delete(&admin(), east.id, Some(1)).await.unwrap();
    assert!(matches!(
        clients.get(&admin(), east.id).await,
        Err(CrmError::NotFound)
    ));
    // Removed for good, not trashed: its trail stays readable for admins, not for members.
    let trail = clients.history(&admin(), east.id, 10, None).await.unwrap();
    assert_eq!(trail.items.len(), 2);
    let member = Caller::new("acme", "bob", crate::Role::Member);
    let hidden = clients.history(&member, east.id, 10, None).await;
    assert!(matches!(hidden, Err(CrmError::NotFound)));
    clients.delete(&admin(), group.id, None).await.unwrap();
}
