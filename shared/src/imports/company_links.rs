//! Contacts related to clients by their company cell (S5.2, `link_clients`): a company names
//! the one client the importer sees under that name (case and accents folded, the clients'
//! name index); a name no client has becomes a new client when the import says
//! `create_missing` (one per name and import: its id is derived from both, so every batch and
//! every redelivery of the import finds or writes the same client); a name several clients
//! share links nothing rather than guess. A new contact is written with the link (its client
//! list and primary client, then the link item); an existing contact an import updates gets the
//! link before the update, so the update stays the change the undo puts back.

use super::LinkClients;
use super::client_rows::visible_namesakes;
use super::rows::imported_audit;
use crate::catalog::Catalog;
use crate::clients::{Client, ClientFields, ClientKind};
use crate::links::{ClientLink, LinkInput, LinkRole, link_item};
use crate::records::bulk::BulkOutcome;
use crate::values::search::fold;
use crate::values::{Timestamp, derived_id};
use crate::{Caller, CrmError};
use std::collections::HashMap;
use uuid::Uuid;

/// The clients of a batch's company names.
pub(super) struct CompanyClients {
    by_name: HashMap<String, Uuid>,
}

impl CompanyClients {
    /// Finds (and, with `create_missing`, creates) the client of every company name.
    pub(super) async fn resolve(
        catalog: &Catalog,
        importer: &Caller,
        import: Uuid,
        link: LinkClients,
        import_at: Timestamp,
        companies: &[&str],
    ) -> Result<Self, CrmError> {
        let mut by_name = HashMap::new();
        if link == LinkClients::None {
            return Ok(Self { by_name });
        }
        let mut raw_of: HashMap<String, &str> = HashMap::new();
        for company in companies {
            let folded = fold(company);
            if !folded.is_empty() {
                raw_of.entry(folded).or_insert(company.trim());
            }
        }
        let names: Vec<&String> = raw_of.keys().collect();
        let clients = catalog.clients();
        let found = visible_namesakes(&clients, importer, &names).await?;
        let mut missing = Vec::new();
        for (name, ids) in found {
            match ids.as_slice() {
                [id] => {
                    by_name.insert(name, *id);
                }
                [] if link == LinkClients::CreateMissing => missing.push(name),
                _ => {}
            }
        }
        let mut new: Vec<Client> = Vec::new();
        for name in missing {
            let input = ClientFields {
                name: raw_of[&name].to_string(),
                owner: Some(importer.user_id.clone()),
                ..ClientFields::default()
            };
            let client = match clients.prepare(importer, input, None, None).await {
                Ok(prepared) => Client {
                    id: derived_id(import_at, &[import.as_bytes(), name.as_bytes(), b"company"]),
                    created_at: import_at,
                    updated_at: import_at,
                    ..prepared
                },
                // A company cell that is no valid client name (too long) links nothing.
                Err(CrmError::Validation(_)) => continue,
                Err(e) => return Err(e),
            };
            new.push(client);
        }
        let records = new
            .iter()
            .map(|c| {
                Ok((
                    c.clone(),
                    imported_audit::<ClientKind>(c, importer, import, import_at)?,
                ))
            })
            .collect::<Result<Vec<_>, CrmError>>()?;
        let outcomes = clients.insert_many(&importer.tenant_id, &records).await?;
        for (client, outcome) in new.iter().zip(outcomes) {
            if outcome == BulkOutcome::Created {
                by_name.insert(fold(&client.fields.name), client.id);
            }
        }
        Ok(Self { by_name })
    }

    /// The client of a company cell.
    pub(super) fn of(&self, company: Option<&str>) -> Option<Uuid> {
        self.by_name.get(&fold(company?)).copied()
    }
}

/// The link item of a new contact to its company's client (its primary client).
pub(super) fn new_link(
    importer: &Caller,
    contact: Uuid,
    client: Uuid,
    at: Timestamp,
) -> Result<crate::store::Item, CrmError> {
    link_item(
        &importer.tenant_id,
        &ClientLink {
            contact_id: contact,
            client_id: client,
            role: LinkRole::Other,
            primary: true,
            updated_at: at,
            updated_by: importer.user_id.clone(),
        },
    )
}

/// Links an existing contact to its company's client unless it is linked already (primary
/// when it has no primary client). A contact that cannot take another link keeps its links.
pub(super) async fn link_existing(
    catalog: &Catalog,
    importer: &Caller,
    contact: Uuid,
    client: Uuid,
) -> Result<(), CrmError> {
    let current = match catalog.contacts().get(importer, contact).await {
        Ok(current) => current,
        Err(CrmError::NotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    if current.client_ids.contains(&client) {
        return Ok(());
    }
    let input = LinkInput {
        role: LinkRole::Other,
        primary: current.primary_client_id.is_none(),
    };
    match crate::links::set_link(catalog, importer, contact, client, input).await {
        Ok(_) | Err(CrmError::Validation(_) | CrmError::NotFound | CrmError::Forbidden(_)) => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}
