//! Contact ↔ client links (S1.5): a contact belongs to several clients with a role at each, and
//! has at most one primary client. A link lives in the contact's partition (`CLIENT#{client}`:
//! the contact's clients, C5) and in GSI2 under the client (`T#t#CLIENT#{c}#CONTACTS`: the
//! client's contacts, C5). Link, contact and the previous primary link change in one transaction.

use crate::access::{Action, Policy, Subject};
use crate::audit::AuditAction;
use crate::catalog::Catalog;
use crate::clients::ClientKind;
use crate::contacts::{Contact, ContactKind, Contacts};
use crate::records::{Kind, Records, keys::record_pk, next_version};
use crate::store::cursor::{ListQuery, Page};
use crate::store::{Item, Key, Query, WriteOp, key, s, to_item};
use crate::{Caller, CrmError};
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

fn contact_pk(tenant: &str, contact: Uuid) -> String {
    record_pk(tenant, ContactKind::schema(), contact)
}

pub fn link_item(tenant: &str, link: &ClientLink) -> Result<Item, CrmError> {
    let mut keys = key(contact_pk(tenant, link.contact_id), link_sk(link.client_id));
    keys.insert(
        "GSI2PK".into(),
        s(format!("T#{tenant}#CLIENT#{}#CONTACTS", link.client_id)),
    );
    keys.insert("GSI2SK".into(), s(link.contact_id.to_string()));
    keys.insert("entity".into(), s("contact_client_link"));
    to_item(link, keys)
}

async fn get_link(
    catalog: &Catalog,
    tenant: &str,
    contact: Uuid,
    client: Uuid,
) -> Result<Option<ClientLink>, CrmError> {
    catalog
        .table()
        .get_as(Key::new(contact_pk(tenant, contact), link_sk(client)))
        .await
}

/// Most clients one contact is linked to (each link is an index entry of the contact).
pub const MAX_LINKS_PER_CONTACT: usize = 20;

/// Writes the contact's new client list and primary client together with the link writes.
async fn write_links(
    contacts: &Contacts,
    caller: &Caller,
    contact: &Contact,
    clients: Vec<Uuid>,
    primary: Option<Uuid>,
    links: Vec<WriteOp>,
) -> Result<(), CrmError> {
    let next = Contact {
        client_ids: clients,
        primary_client_id: primary,
        ..next_version(contact, &caller.user_id)
    };
    let audit = Contacts::audit(
        AuditAction::Updated,
        Some(contact),
        Some(&next),
        &caller.user_id,
    )?;
    contacts
        .replace(&caller.tenant_id, contact, &next, &audit, links)
        .await
}

/// `PUT /contacts/{id}/clients/{client_id}`: creates or changes the link.
pub async fn set_link(
    catalog: &Catalog,
    caller: &Caller,
    contact_id: Uuid,
    client_id: Uuid,
    input: LinkInput,
) -> Result<ClientLink, CrmError> {
    let contacts = catalog.contacts();
    let contact = contacts.get(caller, contact_id).await?;
    catalog.clients().get(caller, client_id).await?;
    Policy::check(caller, Action::Write, Subject::Links)?;
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
            return Err(CrmError::validation(
                "client_id",
                "max_items",
                format!("a contact is linked to at most {MAX_LINKS_PER_CONTACT} clients"),
            ));
        }
        clients.push(client_id);
    }
    let mut writes = vec![WriteOp::put(link_item(tenant, &link)?)];
    if let Some(previous) = contact
        .primary_client_id
        .filter(|p| input.primary && *p != client_id)
    {
        if let Some(old) = get_link(catalog, tenant, contact_id, previous).await? {
            writes.push(WriteOp::put(link_item(
                tenant,
                &ClientLink {
                    primary: false,
                    ..old
                },
            )?));
        }
    }
    write_links(&contacts, caller, &contact, clients, new_primary, writes).await?;
    Ok(link)
}

/// `DELETE /contacts/{id}/clients/{client_id}`.
pub async fn remove_link(
    catalog: &Catalog,
    caller: &Caller,
    contact_id: Uuid,
    client_id: Uuid,
) -> Result<(), CrmError> {
    let contacts = catalog.contacts();
    let contact = contacts.get(caller, contact_id).await?;
    Policy::check(caller, Action::Write, Subject::Links)?;
    let tenant = &caller.tenant_id;
    get_link(catalog, tenant, contact_id, client_id)
        .await?
        .ok_or(CrmError::NotFound)?;
    let primary = contact.primary_client_id.filter(|p| *p != client_id);
    let clients = contact
        .client_ids
        .iter()
        .copied()
        .filter(|c| *c != client_id)
        .collect();
    let delete = WriteOp::delete(Key::new(contact_pk(tenant, contact_id), link_sk(client_id)));
    write_links(&contacts, caller, &contact, clients, primary, vec![delete]).await
}

/// Keeps the links whose other side the caller may see (one read per link of the page).
async fn visible_links<K: crate::records::Kind>(
    records: &Records<K>,
    caller: &Caller,
    links: Vec<ClientLink>,
    other: impl Fn(&ClientLink) -> Uuid,
) -> Result<Vec<ClientLink>, CrmError> {
    if caller.role.sees_everything() {
        return Ok(links);
    }
    let mut visible = Vec::with_capacity(links.len());
    for link in links {
        if records.get(caller, other(&link)).await.is_ok() {
            visible.push(link);
        }
    }
    Ok(visible)
}

/// `GET /contacts/{id}/clients`: the contact's clients with the role at each.
pub async fn clients_of_contact(
    catalog: &Catalog,
    caller: &Caller,
    contact_id: Uuid,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<ClientLink>, CrmError> {
    catalog.contacts().get(caller, contact_id).await?;
    let query = ListQuery::new(&caller.tenant_id, format!("contact-clients:{contact_id}"));
    let page = catalog
        .table()
        .query(
            Query::partition(contact_pk(&caller.tenant_id, contact_id))
                .prefix("CLIENT#")
                .limit(limit)
                .start(query.start(cursor)?),
        )
        .await?;
    let links = visible_links(
        &catalog.records::<ClientKind>(),
        caller,
        page.decode()?,
        |l| l.client_id,
    )
    .await?;
    Ok(query.page(links, page.last_key))
}

/// `GET /clients/{id}/contacts`: the client's contacts with their role there.
pub async fn contacts_of_client(
    catalog: &Catalog,
    caller: &Caller,
    client_id: Uuid,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<ClientLink>, CrmError> {
    catalog.clients().get(caller, client_id).await?;
    let query = ListQuery::new(&caller.tenant_id, format!("client-contacts:{client_id}"));
    let pk = format!("T#{}#CLIENT#{client_id}#CONTACTS", caller.tenant_id);
    let page = catalog
        .table()
        .query(
            Query::index("GSI2", pk)
                .limit(limit)
                .start(query.start(cursor)?),
        )
        .await?;
    let links = visible_links(&catalog.contacts(), caller, page.decode()?, |l| {
        l.contact_id
    })
    .await?;
    Ok(query.page(links, page.last_key))
}
