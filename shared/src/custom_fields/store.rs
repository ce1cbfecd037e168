//! Where custom field definitions and groups live: one partition per tenant,
//! `T#{t}#CFDEF`, with one item per field (`F#{entity}#{key}`) and per group
//! (`G#{entity}#{key}`). An entity's definitions are one Query (at most
//! [`super::limits::MAX_FIELDS_PER_ENTITY`] items); each field is its own item so that a select
//! with 200 options never pushes a whole schema past DynamoDB's 400 KB item limit.
//!
//! Definitions change with a condition on their version (optimistic concurrency); keys are
//! unique per entity because the key is the item's sort key (`attribute_not_exists`).

use super::definition::{Entity, FieldDefinition, FieldGroup};
use crate::CrmError;
use crate::store::{Condition, Item, Key, Query, Table, WriteError, from_item, key, to_item};

pub fn definitions_pk(tenant: &str) -> String {
    format!("T#{tenant}#CFDEF")
}

fn field_sk(entity: Entity, key: &str) -> String {
    format!("F#{}#{key}", entity.as_str())
}

fn group_sk(entity: Entity, key: &str) -> String {
    format!("G#{}#{key}", entity.as_str())
}

/// An entity's custom field definitions and groups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    pub fields: Vec<FieldDefinition>,
    pub groups: Vec<FieldGroup>,
}

#[derive(Clone, Debug)]
pub struct FieldStore {
    table: Table,
}

impl FieldStore {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The entity's definitions (archived ones included), ordered by group order, then field
    /// order and key.
    pub async fn definitions(
        &self,
        tenant: &str,
        entity: Entity,
    ) -> Result<Vec<FieldDefinition>, CrmError> {
        let items = self
            .table
            .query_all(
                Query::partition(definitions_pk(tenant)).prefix(format!("F#{}#", entity.as_str())),
            )
            .await?;
        let mut fields = items
            .into_iter()
            .map(from_item::<FieldDefinition>)
            .collect::<Result<Vec<_>, _>>()?;
        fields.sort_by(|a, b| (a.order, &a.key).cmp(&(b.order, &b.key)));
        Ok(fields)
    }

    pub async fn groups(&self, tenant: &str, entity: Entity) -> Result<Vec<FieldGroup>, CrmError> {
        let items = self
            .table
            .query_all(
                Query::partition(definitions_pk(tenant)).prefix(format!("G#{}#", entity.as_str())),
            )
            .await?;
        let mut groups = items
            .into_iter()
            .map(from_item::<FieldGroup>)
            .collect::<Result<Vec<_>, _>>()?;
        groups.sort_by(|a, b| (a.order, &a.key).cmp(&(b.order, &b.key)));
        Ok(groups)
    }

    pub async fn schema(&self, tenant: &str, entity: Entity) -> Result<Schema, CrmError> {
        let (fields, groups) = futures::try_join!(
            self.definitions(tenant, entity),
            self.groups(tenant, entity)
        )?;
        Ok(Schema { fields, groups })
    }

    pub async fn definition(
        &self,
        tenant: &str,
        entity: Entity,
        key: &str,
    ) -> Result<Option<FieldDefinition>, CrmError> {
        self.table
            .get_as(Key::new(definitions_pk(tenant), field_sk(entity, key)))
            .await
    }

    /// Stores a new field; `Conflict` naming `key` when the entity has one with this key.
    pub async fn insert_definition(
        &self,
        tenant: &str,
        def: &FieldDefinition,
    ) -> Result<(), CrmError> {
        let item = definition_item(tenant, def)?;
        self.put_conditional(item, Condition::NotExists)
            .await
            .map_err(|e| match e {
                Refused::Condition => CrmError::Conflict {
                    detail: "a field with this key exists already".into(),
                    errors: vec![crate::FieldError::new(
                        "key",
                        "unique",
                        "a field with this key exists already",
                    )],
                },
                Refused::Other(e) => e,
            })
    }

    /// Replaces the field at version `expected`; `PreconditionFailed` when it moved on.
    pub async fn replace_definition(
        &self,
        tenant: &str,
        expected: u64,
        def: &FieldDefinition,
    ) -> Result<(), CrmError> {
        let item = definition_item(tenant, def)?;
        self.put_conditional(item, Condition::version(expected))
            .await
            .map_err(|e| match e {
                Refused::Condition => CrmError::PreconditionFailed,
                Refused::Other(e) => e,
            })
    }

    pub async fn insert_group(&self, tenant: &str, group: &FieldGroup) -> Result<(), CrmError> {
        let item = to_item(
            group,
            key(definitions_pk(tenant), group_sk(group.entity, &group.key)),
        )?;
        self.put_conditional(item, Condition::NotExists)
            .await
            .map_err(|e| match e {
                Refused::Condition => CrmError::Conflict {
                    detail: "a group with this key exists already".into(),
                    errors: vec![crate::FieldError::new(
                        "key",
                        "unique",
                        "a group with this key exists already",
                    )],
                },
                Refused::Other(e) => e,
            })
    }

    /// Replaces an existing group (layout: the last writer wins); `NotFound` when it is gone.
    pub async fn replace_group(&self, tenant: &str, group: &FieldGroup) -> Result<(), CrmError> {
        let item = to_item(
            group,
            key(definitions_pk(tenant), group_sk(group.entity, &group.key)),
        )?;
        self.put_conditional(item, Condition::Exists)
            .await
            .map_err(|e| match e {
                Refused::Condition => CrmError::NotFound,
                Refused::Other(e) => e,
            })
    }

    async fn put_conditional(&self, item: Item, condition: Condition) -> Result<(), Refused> {
        match self.table.put_if(item, condition).await {
            Ok(()) => Ok(()),
            Err(WriteError::ConditionFailed) => Err(Refused::Condition),
            Err(WriteError::Other(e)) => Err(Refused::Other(e)),
        }
    }
}

enum Refused {
    Condition,
    Other(CrmError),
}

fn definition_item(tenant: &str, def: &FieldDefinition) -> Result<Item, CrmError> {
    to_item(
        def,
        key(definitions_pk(tenant), field_sk(def.entity, &def.key)),
    )
}
