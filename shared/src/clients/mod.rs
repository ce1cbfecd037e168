//! Client companies (S2): master data, communication preferences, currency and billing terms,
//! and the parent / subsidiary hierarchy (cycles refused), as a kind of the record engine.
//! A deleted client is gone for good; a tombstone keeps its audit trail readable for owners
//! and admins.

mod fields;
mod patch;

pub use fields::*;
pub use patch::ClientPatch;

use crate::access::visibility::{PortalView, Principal};
use crate::custom_fields::FieldValue;
use crate::custom_fields::entries::Terms;
use crate::records::{Deletion, Kind, Records, Schema, Stamp};
use crate::store::{Item, KeyRange, Query, s};
use crate::{Caller, CrmError, FieldError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Deepest parent chain accepted (a client, its parent, …).
pub const MAX_HIERARCHY_DEPTH: usize = 10;
/// Most clients returned by one hierarchy roll-up.
pub const MAX_ROLLUP_CLIENTS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Client {
    pub id: Uuid,
    #[serde(flatten)]
    pub fields: ClientFields,
    /// Users and teams the client is shared with (S9.4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<Principal>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub version: u64,
    /// Custom field values (S3.3) in their stored form; responses show the caller's visible
    /// ones in the plain shape.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub custom_fields: BTreeMap<String, FieldValue>,
    /// The terms the values are indexed under (`custom_fields::entries`); never shown.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(ignore)]
    pub custom_terms: Terms,
}

crate::record_bookkeeping!(
    Client,
    portal = PortalView::OwnClient,
    assignment = fields,
    trash = false
);

impl Client {
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

static SCHEMA: Schema = Schema {
    deletion: Deletion::Tombstone,
    portal: PortalView::OwnClient,
    ..Schema::new("client", "CLIENT", "clients")
};

/// Clients as a kind of the record engine.
pub struct ClientKind;

/// The clients of a tenant: the engine's use cases for [`ClientKind`].
pub type Clients = Records<ClientKind>;

/// The partition (GSI1) of the clients named `name`, case and accents folded.
pub fn name_pk(tenant: &str, name: &str) -> String {
    format!(
        "T#{tenant}#CLIENTNAME#{}",
        crate::values::search::fold(name)
    )
}

/// The ids of the clients named `name` (case and accents folded), up to `limit`, whoever
/// may see them (the caller filters).
pub async fn ids_named(
    clients: &Clients,
    tenant: &str,
    name: &str,
    limit: i32,
) -> Result<Vec<Uuid>, CrmError> {
    let page = clients
        .ctx
        .table
        .query(Query::index("GSI1", name_pk(tenant, name)).limit(limit))
        .await?;
    Ok(page
        .items
        .iter()
        .filter_map(|i| crate::store::item::text(i, "GSI1SK")?.parse().ok())
        .collect())
}

/// The partition of a client's direct subsidiaries (GSI2).
fn subsidiaries_pk(tenant: &str, parent: Uuid) -> String {
    format!("T#{tenant}#CLIENT#{parent}#SUBS")
}

impl Kind for ClientKind {
    type Record = Client;
    /// A client list shows whole clients.
    type Summary = Client;
    type New = ClientFields;
    type Patch = ClientPatch;

    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn create(input: ClientFields, stamp: &Stamp) -> Result<Client, Vec<FieldError>> {
        let fields = input.validate()?;
        Ok(Client {
            id: stamp.id,
            fields,
            shared_with: Vec::new(),
            created_at: stamp.at,
            created_by: stamp.actor.clone(),
            updated_at: stamp.at,
            updated_by: stamp.actor.clone(),
            version: 1,
            custom_fields: BTreeMap::new(),
            custom_terms: Terms::new(),
        })
    }

    fn patch(current: &Client, patch: ClientPatch) -> Result<Client, CrmError> {
        let fields = patch
            .apply(current.fields.clone())
            .validate()
            .map_err(CrmError::Validation)?;
        Ok(Client {
            fields,
            ..current.clone()
        })
    }

    fn summary(c: &Client) -> Client {
        c.clone()
    }

    fn facets(_: &Client) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    fn sort_keys(_: &Client) -> [Option<String>; crate::records::keys::SORT_SLOTS] {
        Default::default()
    }

    /// A client with a parent is listed under it (GSI2): its subsidiaries. Every client is
    /// found by its folded name (GSI1): imports match and link clients by name.
    fn record_attributes(tenant: &str, c: &Client) -> Item {
        let mut item = Item::from([
            ("GSI1PK".to_string(), s(name_pk(tenant, &c.fields.name))),
            ("GSI1SK".to_string(), s(c.id.to_string())),
        ]);
        if let Some(parent) = c.fields.parent_id {
            item.insert("GSI2PK".to_string(), s(subsidiaries_pk(tenant, parent)));
            item.insert("GSI2SK".to_string(), s(c.id.to_string()));
        }
        item
    }

    fn title(c: &Client) -> String {
        c.fields.name.clone()
    }

    /// A parent must exist, not close a cycle, and not make the chain too deep.
    async fn check_write(
        clients: &Clients,
        caller: &Caller,
        before: Option<&Client>,
        after: &mut Client,
    ) -> Result<(), CrmError> {
        if before.is_some_and(|b| b.fields.parent_id == after.fields.parent_id) {
            return Ok(());
        }
        let tenant = &caller.tenant_id;
        let mut next = after.fields.parent_id;
        let mut depth = 0;
        while let Some(p) = next {
            if p == after.id {
                return Err(CrmError::validation(
                    "parent_id",
                    "no_cycle",
                    "a client cannot be its own parent or ancestor",
                ));
            }
            depth += 1;
            if depth > MAX_HIERARCHY_DEPTH {
                return Err(CrmError::validation(
                    "parent_id",
                    "max_depth",
                    format!("a hierarchy is at most {MAX_HIERARCHY_DEPTH} levels deep"),
                ));
            }
            let Some(parent) = clients.store.get(tenant, p).await? else {
                return Err(CrmError::validation(
                    "parent_id",
                    "exists",
                    "no such client",
                ));
            };
            next = parent.fields.parent_id;
        }
        Ok(())
    }

    /// A client with subsidiaries or linked contacts stays (move or unlink them first).
    async fn check_delete(clients: &Clients, caller: &Caller, c: &Client) -> Result<(), CrmError> {
        let tenant = &caller.tenant_id;
        if !subsidiaries_page(clients, tenant, c.id, 1, None)
            .await?
            .0
            .is_empty()
        {
            return Err(CrmError::Conflict {
                detail: "the client has subsidiaries; move or delete them first".into(),
                errors: vec![FieldError::new(
                    "id",
                    "no_subsidiaries",
                    "the client has subsidiaries",
                )],
            });
        }
        let linked = clients
            .ctx
            .table
            .query(Query::index("GSI2", format!("T#{tenant}#CLIENT#{}#CONTACTS", c.id)).limit(1))
            .await?;
        if !linked.items.is_empty() {
            return Err(CrmError::Conflict {
                detail: "contacts are linked to the client; unlink them first".into(),
                errors: vec![FieldError::new(
                    "id",
                    "no_linked_contacts",
                    "contacts are linked to the client",
                )],
            });
        }
        Ok(())
    }
}

/// One page of a client's direct subsidiaries, as stored.
async fn subsidiaries_page(
    clients: &Clients,
    tenant: &str,
    parent: Uuid,
    limit: i32,
    start: Option<Item>,
) -> Result<(Vec<Client>, Option<Item>), CrmError> {
    let page = clients
        .ctx
        .table
        .query(
            Query::index("GSI2", subsidiaries_pk(tenant, parent))
                .range(KeyRange::All)
                .limit(limit)
                .start(start),
        )
        .await?;
    let items = page
        .items
        .into_iter()
        .map(crate::records::store::decode::<ClientKind>)
        .collect::<Result<_, _>>()?;
    Ok((items, page.last_key))
}

/// Direct subsidiaries of a client the caller may see, paginated (C8).
pub async fn subsidiaries(
    clients: &Clients,
    caller: &Caller,
    id: Uuid,
    limit: i32,
    cursor: Option<&str>,
) -> Result<crate::store::cursor::Page<Client>, CrmError> {
    clients.get(caller, id).await?;
    let query = crate::store::cursor::ListQuery::new(
        &caller.tenant_id,
        format!("client-subsidiaries:{id}"),
    );
    let (mut items, last) =
        subsidiaries_page(clients, &caller.tenant_id, id, limit, query.start(cursor)?).await?;
    items.retain(|c| caller.sees(&crate::records::Record::access(c)));
    Ok(query.page(items, last))
}

/// A client with all its subsidiaries below it (S2.2 roll-up).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientTree {
    pub client: Client,
    #[schema(no_recursion)]
    pub subsidiaries: Vec<ClientTree>,
}

/// The roll-up of a client: its whole subtree, at most `MAX_ROLLUP_CLIENTS` clients (bounded by
/// the depth limit, so never the tenant's size).
pub async fn hierarchy(
    clients: &Clients,
    caller: &Caller,
    id: Uuid,
) -> Result<ClientTree, CrmError> {
    let root = clients.get(caller, id).await?;
    let tenant = &caller.tenant_id;
    // Breadth-first: collect (client, parent index) pairs, then fold into the tree.
    let mut nodes: Vec<(Client, Option<usize>)> = vec![(root, None)];
    let mut frontier = vec![0usize];
    while let Some(index) = frontier.pop() {
        let parent_id = nodes[index].0.id;
        let mut start = None;
        loop {
            let (children, last) =
                subsidiaries_page(clients, tenant, parent_id, 200, start).await?;
            // A subsidiary the caller may not see is left out, with what lies below it.
            for child in children
                .into_iter()
                .filter(|c| caller.sees(&crate::records::Record::access(c)))
            {
                if nodes.len() >= MAX_ROLLUP_CLIENTS {
                    return Err(CrmError::validation(
                        "id",
                        "rollup_size",
                        format!("the hierarchy has more than {MAX_ROLLUP_CLIENTS} clients"),
                    ));
                }
                nodes.push((child, Some(index)));
                frontier.push(nodes.len() - 1);
            }
            match last {
                Some(k) => start = Some(k),
                None => break,
            }
        }
    }
    let mut trees: Vec<Option<ClientTree>> = nodes
        .iter()
        .map(|(c, _)| {
            Some(ClientTree {
                client: c.clone(),
                subsidiaries: vec![],
            })
        })
        .collect();
    for i in (1..nodes.len()).rev() {
        let parent = nodes[i].1.expect("non-root has a parent");
        let tree = trees[i].take().expect("each node folds once");
        trees[parent]
            .as_mut()
            .expect("parents fold after children")
            .subsidiaries
            .insert(0, tree);
    }
    Ok(trees[0].take().expect("the root"))
}

#[cfg(test)]
mod tests;
