//! The catalogue of record kinds: where the engine's ports that need every kind are
//! implemented, and where functions get their kinds' use cases from.
//!
//! - [`KindReferences`]: whether a custom field's reference (a contact, a client) points at a
//!   record the writer may see (the engine's [`ReferenceCheck`]);
//! - [`Catalog`] as [`RecordValues`]: a custom field definition change converts stored values
//!   record by record, whatever their kind.

use crate::clients::{ClientKind, Clients};
use crate::contacts::{ContactKind, Contacts};
use crate::custom_fields::admin::RecordValues;
use crate::custom_fields::{Entity, FieldDefinition, FieldValue, Reference};
use crate::deals::{DealKind, Deals, Pipelines};
use crate::records::{Context, Kind, Record, RecordStore, Records, ReferenceCheck};
use crate::store::Table;
use crate::{Caller, CrmError};
use futures::future::BoxFuture;
use std::sync::Arc;
use uuid::Uuid;

/// References to contacts and clients: the record exists, is live and the caller sees it.
pub struct KindReferences {
    table: Table,
}

async fn visible<K: Kind>(table: &Table, caller: &Caller, id: Uuid) -> Result<bool, CrmError> {
    Ok(RecordStore::<K>::new(table.clone())
        .get(&caller.tenant_id, id)
        .await?
        .is_some_and(|r| r.deleted_at().is_none() && caller.sees(&r.access())))
}

impl ReferenceCheck for KindReferences {
    fn visible<'a>(
        &'a self,
        caller: &'a Caller,
        reference: &'a Reference,
    ) -> BoxFuture<'a, Result<bool, CrmError>> {
        Box::pin(async move {
            match reference {
                Reference::Contact(id) => visible::<ContactKind>(&self.table, caller, *id).await,
                Reference::Client(id) => visible::<ClientKind>(&self.table, caller, *id).await,
                // Users are the directory's; the engine checks them itself.
                Reference::User(_) => Ok(true),
            }
        })
    }
}

/// Every kind's use cases over one table, built once per cold start.
#[derive(Clone)]
pub struct Catalog {
    pub ctx: Context,
}

impl Catalog {
    pub fn new(table: Table) -> Self {
        let references = Arc::new(KindReferences {
            table: table.clone(),
        });
        Self {
            ctx: Context::new(table, references),
        }
    }

    pub fn table(&self) -> &Table {
        &self.ctx.table
    }

    pub fn contacts(&self) -> Contacts {
        Records::new(self.ctx.clone())
    }

    pub fn clients(&self) -> Clients {
        Records::new(self.ctx.clone())
    }

    pub fn activities(&self) -> crate::activities::Activities {
        Records::new(self.ctx.clone())
    }

    pub fn deals(&self) -> Deals {
        Records::new(self.ctx.clone())
    }

    pub fn pipelines(&self) -> Pipelines {
        Pipelines::new(self.ctx.table.clone())
    }

    pub fn records<K: Kind>(&self) -> Records<K> {
        Records::new(self.ctx.clone())
    }
}

impl RecordValues for Catalog {
    fn set_value<'a>(
        &'a self,
        caller: &'a Caller,
        entity: Entity,
        record: Uuid,
        def: &'a FieldDefinition,
        value: Option<FieldValue>,
    ) -> BoxFuture<'a, Result<(), CrmError>> {
        Box::pin(async move {
            match entity {
                Entity::CONTACT => {
                    self.contacts()
                        .set_custom_value(caller, record, def, value)
                        .await
                }
                Entity::CLIENT => {
                    self.clients()
                        .set_custom_value(caller, record, def, value)
                        .await
                }
                Entity::DEAL => {
                    self.records::<DealKind>()
                        .set_custom_value(caller, record, def, value)
                        .await
                }
                // Kinds without records yet have no values to convert.
                _ => Ok(()),
            }
        })
    }
}

#[cfg(test)]
mod tests;
