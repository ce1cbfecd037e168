//! Contact ↔ client links (S1.5): a contact belongs to several clients with a role at each, and
//! has at most one primary client. A link lives in the contact's partition (`CLIENT#{client}`:
//! the contact's clients, C5) and in GSI2 under the client (`T#t#CLIENT#{c}#CONTACTS`: the
//! client's contacts, C5). Link, contact and the previous primary link change in one transaction.

use crate::clients::{self, DynamoClients};
use crate::contacts::audit::AuditEntry;
use crate::contacts::{self, Contact, DynamoContacts, contact_pk};
use crate::errors::sdk_error;
use crate::store::cursor::{ListQuery, Page};
use crate::table::{GSI2, Item, Table, cancellation_codes, from_item, key, s, to_item};
use crate::{Caller, CrmError, Deps};
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkRole {
    /// The client's main contact.
    Primary,
    Billing,
    Technical,
    DecisionMaker,
    Executive,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClientLink {
    pub contact_id: Uuid,
    pub client_id: Uuid,
    pub role: LinkRole,
    /// Whether this client is the contact's primary client.
    pub primary: bool,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// Body of `PUT /contacts/{id}/clients/{client_id}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    pub role: LinkRole,
    /// Make this client the contact's primary client (the previous one stops being primary).
    #[serde(default)]
    pub primary: bool,
}

fn link_sk(client: Uuid) -> String {
    format!("CLIENT#{client}")
}

fn link_item(tenant: &str, link: &ClientLink) -> Result<Item, CrmError> {
    let mut keys = key(contact_pk(tenant, link.contact_id), link_sk(link.client_id));
    keys.insert(
        "GSI2PK".into(),
        s(format!("T#{tenant}#CLIENT#{}#CONTACTS", link.client_id)),
    );
    keys.insert("GSI2SK".into(), s(link.contact_id.to_string()));
    keys.insert("entity".into(), s("contact_client_link"));
    to_item(link, keys)
}

fn put_tx(table: &Table, item: Item) -> Result<TransactWriteItem, CrmError> {
    let put = Put::builder()
        .table_name(&table.name)
        .set_item(Some(item))
        .build()
        .map_err(CrmError::internal)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

async fn get_link(
    table: &Table,
    tenant: &str,
    contact: Uuid,
    client: Uuid,
) -> Result<Option<ClientLink>, CrmError> {
    table
        .get(contact_pk(tenant, contact), &link_sk(client))
        .await?
        .map(from_item)
        .transpose()
}

async fn transact(table: &Table, items: Vec<TransactWriteItem>) -> Result<(), CrmError> {
    match table
        .client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Item 0 is always the contact, guarded by its version.
        Err(e)
            if cancellation_codes(&e).is_some_and(|c| {
                c.first().and_then(|c| c.as_deref()) == Some("ConditionalCheckFailed")
            }) =>
        {
            Err(CrmError::PreconditionFailed)
        }
        Err(e) => Err(sdk_error("TransactWriteItems link", e)),
    }
}

/// Most clients one contact is linked to (each link is an index entry of the contact).
pub const MAX_LINKS_PER_CONTACT: usize = 20;

/// The contact after a link change: its client list and primary client.
fn with_links(
    contact: &Contact,
    clients: Vec<Uuid>,
    primary: Option<Uuid>,
    actor: &str,
) -> Contact {
    Contact {
        client_ids: clients,
        primary_client_id: primary,
        ..contact.next_version(actor)
    }
}

/// The contact write (record, index entries, audit entry) for a link change.
fn contact_write(
    repo: &DynamoContacts,
    tenant: &str,
    current: &Contact,
    next: &Contact,
    actor: &str,
) -> Result<Vec<TransactWriteItem>, CrmError> {
    let audit = AuditEntry::of_change(Some(current), Some(next), actor, None);
    Ok(repo.replace_items(tenant, current, next, &audit)?.items)
}

/// `PUT /contacts/{id}/clients/{client_id}`: creates or changes the link.
pub async fn set_link(
    deps: &Deps,
    caller: &Caller,
    contact_id: Uuid,
    client_id: Uuid,
    input: LinkInput,
) -> Result<ClientLink, CrmError> {
    let table = deps.table();
    let contacts_repo = DynamoContacts::new(table.clone());
    let contact = contacts::get(&contacts_repo, caller, contact_id).await?;
    clients::get(&DynamoClients::new(table.clone()), caller, client_id).await?;
    if !caller.role.can_write() {
        return Err(CrmError::Forbidden("this role cannot change links".into()));
    }
    let tenant = &caller.tenant_id;
    let link = ClientLink {
        contact_id,
        client_id,
        role: input.role,
        primary: input.primary,
        updated_at: crate::values::now(),
        updated_by: caller.user_id.clone(),
    };
    let was_primary = contact.primary_client_id == Some(client_id);
    let new_primary = match (input.primary, was_primary) {
        (true, _) => Some(client_id),
        (false, true) => None,
        (false, false) => contact.primary_client_id,
    };
    let mut clients = contact.client_ids.clone();
    if !clients.contains(&client_id) {
        if clients.len() >= MAX_LINKS_PER_CONTACT {
            return Err(CrmError::Validation(vec![crate::FieldError::new(
                "client_id",
                "max_items",
                format!("a contact is linked to at most {MAX_LINKS_PER_CONTACT} clients"),
            )]));
        }
        clients.push(client_id);
    }
    let next = with_links(&contact, clients, new_primary, &caller.user_id);
    let mut items = contact_write(&contacts_repo, tenant, &contact, &next, &caller.user_id)?;
    items.push(put_tx(&table, link_item(tenant, &link)?)?);
    if let Some(previous) = contact
        .primary_client_id
        .filter(|p| input.primary && *p != client_id)
    {
        if let Some(old) = get_link(&table, tenant, contact_id, previous).await? {
            items.push(put_tx(
                &table,
                link_item(
                    tenant,
                    &ClientLink {
                        primary: false,
                        ..old
                    },
                )?,
            )?);
        }
    }
    transact(&table, items).await?;
    Ok(link)
}

/// `DELETE /contacts/{id}/clients/{client_id}`.
pub async fn remove_link(
    deps: &Deps,
    caller: &Caller,
    contact_id: Uuid,
    client_id: Uuid,
) -> Result<(), CrmError> {
    let table = deps.table();
    let contacts_repo = DynamoContacts::new(table.clone());
    let contact = contacts::get(&contacts_repo, caller, contact_id).await?;
    if !caller.role.can_write() {
        return Err(CrmError::Forbidden("this role cannot change links".into()));
    }
    get_link(&table, &caller.tenant_id, contact_id, client_id)
        .await?
        .ok_or(CrmError::NotFound)?;
    let tenant = &caller.tenant_id;
    let primary = contact.primary_client_id.filter(|p| *p != client_id);
    let delete = Delete::builder()
        .table_name(&table.name)
        .set_key(Some(key(
            contact_pk(tenant, contact_id),
            link_sk(client_id),
        )))
        .build()
        .map_err(CrmError::internal)?;
    let clients = contact
        .client_ids
        .iter()
        .copied()
        .filter(|c| *c != client_id)
        .collect();
    let next = with_links(&contact, clients, primary, &caller.user_id);
    let mut items = contact_write(&contacts_repo, tenant, &contact, &next, &caller.user_id)?;
    items.push(TransactWriteItem::builder().delete(delete).build());
    transact(&table, items).await
}

/// `GET /contacts/{id}/clients`: the contact's clients with the role at each.
pub async fn clients_of_contact(
    deps: &Deps,
    caller: &Caller,
    contact_id: Uuid,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<ClientLink>, CrmError> {
    let table = deps.table();
    contacts::get(&DynamoContacts::new(table.clone()), caller, contact_id).await?;
    let query = ListQuery::new(&caller.tenant_id, format!("contact-clients:{contact_id}"));
    let start = query.start(cursor)?;
    let page = table
        .query_page(
            None,
            contact_pk(&caller.tenant_id, contact_id),
            Some("CLIENT#"),
            false,
            limit,
            start,
        )
        .await?;
    let mut links: Vec<ClientLink> = page.decode()?;
    if !caller.role.sees_everything() {
        // Only the clients the caller may see (one read per link of the page).
        let repo = DynamoClients::new(table.clone());
        let mut visible = Vec::with_capacity(links.len());
        for link in links {
            if clients::get(&repo, caller, link.client_id).await.is_ok() {
                visible.push(link);
            }
        }
        links = visible;
    }
    Ok(query.page(links, page.last_key))
}

/// `GET /clients/{id}/contacts`: the client's contacts with their role there.
pub async fn contacts_of_client(
    deps: &Deps,
    caller: &Caller,
    client_id: Uuid,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<ClientLink>, CrmError> {
    let table = deps.table();
    clients::get(&DynamoClients::new(table.clone()), caller, client_id).await?;
    let query = ListQuery::new(&caller.tenant_id, format!("client-contacts:{client_id}"));
    let start = query.start(cursor)?;
    let pk = format!("T#{}#CLIENT#{client_id}#CONTACTS", caller.tenant_id);
    let page = table
        .query_page(Some(GSI2), pk, None, false, limit, start)
        .await?;
    let mut links: Vec<ClientLink> = page.decode()?;
    if !caller.role.sees_everything() {
        // Only the contacts the caller may see (one read per link of the page).
        let repo = DynamoContacts::new(table.clone());
        let mut visible = Vec::with_capacity(links.len());
        for link in links {
            if contacts::get(&repo, caller, link.contact_id).await.is_ok() {
                visible.push(link);
            }
        }
        links = visible;
    }
    Ok(query.page(links, page.last_key))
}
