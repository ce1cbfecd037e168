//! Custom field values on records (S3.3): the one path every writer of a contact or client
//! takes (API create and PATCH, definition migrations; imports and workflow actions later):
//! load the entity's definitions, apply the body's `custom_fields` with [`validate_values`],
//! check that references exist in the tenant and are visible to the writer, and work out the
//! terms the record is indexed under. Reads filter values to the fields the caller may see.

use super::definition::{Entity, FieldDefinition};
use super::entries::{Terms, terms_of};
use super::store::FieldStore;
use super::value::{
    FieldValue, Reference, changed_references, reference_error, validate_values, values_to_json,
    visible_values,
};
use crate::clients::DynamoClients;
use crate::contacts::{ContactRepository, DynamoContacts};
use crate::directory::Directory;
use crate::table::Table;
use crate::{Caller, CrmError, FieldError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A record's values after a write, with the terms they are indexed under.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WrittenValues {
    pub values: BTreeMap<String, FieldValue>,
    pub terms: Terms,
}

#[derive(Clone, Debug)]
pub struct CustomValues {
    store: FieldStore,
    table: Table,
}

impl CustomValues {
    pub fn new(table: Table) -> Self {
        Self {
            store: FieldStore::new(table.store()),
            table,
        }
    }

    pub fn store(&self) -> &FieldStore {
        &self.store
    }

    /// Applies a create or PATCH body's `custom_fields` (`None`: the body had none) to the
    /// record's `existing` values. `Ok(None)`: a PATCH without `custom_fields` changes nothing.
    pub async fn write(
        &self,
        caller: &Caller,
        entity: Entity,
        input: Option<&Map<String, Value>>,
        existing: Option<&BTreeMap<String, FieldValue>>,
    ) -> Result<Option<WrittenValues>, CrmError> {
        let is_create = existing.is_none();
        if input.is_none() && !is_create {
            return Ok(None);
        }
        let defs = self.store.definitions(&caller.tenant_id, entity).await?;
        self.write_with(&defs, caller, input, existing)
            .await
            .map(Some)
    }

    /// [`Self::write`] with the entity's definitions already loaded (an import loads them
    /// once for all its rows).
    pub async fn write_with(
        &self,
        defs: &[FieldDefinition],
        caller: &Caller,
        input: Option<&Map<String, Value>>,
        existing: Option<&BTreeMap<String, FieldValue>>,
    ) -> Result<WrittenValues, CrmError> {
        let is_create = existing.is_none();
        if defs.is_empty() && input.is_none_or(Map::is_empty) {
            return Ok(WrittenValues {
                values: existing.cloned().unwrap_or_default(),
                terms: Terms::new(),
            });
        }
        let empty = Map::new();
        let values = validate_values(&defs, input.unwrap_or(&empty), existing, caller, is_create)
            .map_err(CrmError::Validation)?;
        self.check_references(caller, existing, &values).await?;
        let terms = terms_of(defs, &values);
        Ok(WrittenValues { values, terms })
    }

    /// Every reference a write sets must point at a record of the tenant the writer can see
    /// (users: an existing user; the writer themself always counts).
    async fn check_references(
        &self,
        caller: &Caller,
        before: Option<&BTreeMap<String, FieldValue>>,
        after: &BTreeMap<String, FieldValue>,
    ) -> Result<(), CrmError> {
        let tenant = &caller.tenant_id;
        let mut errors = Vec::new();
        for (key, reference) in changed_references(before, after) {
            let ok = match &reference {
                Reference::User(u) => {
                    u == &caller.user_id
                        || Directory::new(self.table.store())
                            .user(tenant, u)
                            .await?
                            .is_some()
                }
                Reference::Contact(id) => DynamoContacts::new(self.table.clone())
                    .get(tenant, *id)
                    .await?
                    .is_some_and(|c| c.deleted_at.is_none() && caller.sees(&c.access())),
                Reference::Client(id) => DynamoClients::new(self.table.clone())
                    .get(tenant, *id)
                    .await?
                    .is_some_and(|c| caller.sees(&c.access())),
            };
            if !ok
                && !errors
                    .iter()
                    .any(|e: &crate::FieldError| e.field.ends_with(&key))
            {
                errors.push(reference_error(&key));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CrmError::Validation(errors))
        }
    }

    /// The definitions of an entity, for readers that filter values themselves.
    pub async fn definitions(
        &self,
        caller: &Caller,
        entity: Entity,
    ) -> Result<Vec<FieldDefinition>, CrmError> {
        self.store.definitions(&caller.tenant_id, entity).await
    }

    /// The values the caller may read, in the plain JSON shape (`custom_fields` of a response).
    pub async fn visible_json(
        &self,
        caller: &Caller,
        entity: Entity,
        values: &BTreeMap<String, FieldValue>,
    ) -> Result<Map<String, Value>, CrmError> {
        if values.is_empty() {
            return Ok(Map::new());
        }
        let defs = self.definitions(caller, entity).await?;
        Ok(values_to_json(&visible_values(&defs, values, caller)))
    }
}

/// Standard and custom field errors reported together, in one problem.
pub fn join_validation<T>(
    fields: Result<T, Vec<FieldError>>,
    custom: Result<Option<WrittenValues>, CrmError>,
) -> Result<(T, Option<WrittenValues>), CrmError> {
    match (fields, custom) {
        (Ok(f), Ok(c)) => Ok((f, c)),
        (Err(mut a), Err(CrmError::Validation(b))) => {
            a.extend(b);
            Err(CrmError::Validation(a))
        }
        (Err(a), Ok(_)) => Err(CrmError::Validation(a)),
        (_, Err(e)) => Err(e),
    }
}

/// A record serialised for a response: `custom_fields` replaced by the values the caller may
/// read in their plain JSON shape, the index bookkeeping (`custom_terms`) left out.
pub fn present<T: serde::Serialize>(
    record: &T,
    visible: Map<String, Value>,
) -> Result<Value, CrmError> {
    let mut json = serde_json::to_value(record).map_err(CrmError::internal)?;
    if let Some(obj) = json.as_object_mut() {
        obj.remove("custom_terms");
        obj.insert("custom_fields".into(), Value::Object(visible));
    }
    Ok(json)
}

/// Like [`present`] for any response holding records (a page, a tree): every object with
/// `custom_fields` gets the caller's visible values in the plain shape.
pub fn present_nested(json: &mut Value, defs: &[FieldDefinition], caller: &Caller) {
    match json {
        Value::Object(obj) => {
            obj.remove("custom_terms");
            if let Some(Value::Object(stored)) = obj.get("custom_fields") {
                let visible: Map<String, Value> = stored
                    .iter()
                    .filter(|(k, _)| defs.iter().any(|d| &d.key == *k && d.visible_to(caller)))
                    .map(|(k, v)| {
                        let plain = serde_json::from_value::<FieldValue>(v.clone())
                            .map_or_else(|_| v.clone(), |f| f.to_json());
                        (k.clone(), plain)
                    })
                    .collect();
                obj.insert("custom_fields".into(), Value::Object(visible));
            }
            for (k, v) in obj.iter_mut() {
                if k != "custom_fields" {
                    present_nested(v, defs, caller);
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                present_nested(v, defs, caller);
            }
        }
        _ => {}
    }
}
