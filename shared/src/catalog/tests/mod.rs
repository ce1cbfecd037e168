//! The rules of the kinds, on the in-memory store (no AWS endpoint): contacts, clients and
//! custom field values through the use cases the catalogue wires, as the functions get them.

use super::*;
use crate::Role;
use crate::store::Table;

mod clients;
mod contacts;
mod custom_fields;
mod deal_attachments;
mod deal_board;
mod deals;

fn admin() -> Caller {
    Caller::new("acme", "alice", Role::Admin)
}

/// A pipeline Lead (10 %) → Proposal (62.5 %, rotting after 14 days) → Won / Lost, created by
/// an admin: where the deals of these tests stand.
async fn sales_pipeline(catalog: &Catalog) -> crate::deals::Pipeline {
    let input = serde_json::from_value(serde_json::json!({"name": "Sales", "stages": [
        {"name": "Lead", "probability": "10"},
        {"name": "Proposal", "probability": "62.5", "rotting_days": 14},
        {"name": "Won", "kind": "won"},
        {"name": "Lost", "kind": "lost"}
    ]}))
    .unwrap();
    catalog.pipelines().create(&admin(), input).await.unwrap()
}

/// An in-memory tenant with a team "Sales": its catalogue, its directory and the team's id.
async fn tenant_with_sales_team() -> (Catalog, crate::directory::Directory, Uuid) {
    let table = Table::in_memory();
    let dir = crate::directory::Directory::new(table.clone());
    let team = crate::directory::NewTeam {
        name: "Sales".into(),
        description: None,
    };
    let sales = crate::directory::create_team(&dir, &admin(), team)
        .await
        .unwrap()
        .id;
    (Catalog::new(table), dir, sales)
}
