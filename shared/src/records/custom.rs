//! Custom field values on records (S3.3): the one path every writer takes (API create and
//! PATCH, imports, definition migrations): load the entity's definitions, apply the body's
//! `custom_fields` ([`crate::custom_fields::validate_values`]), check that references exist
//! in the tenant and are visible to the writer, and work out the terms the record is indexed
//! under. Reads show only the fields the caller may see, in the plain JSON shape.

use crate::custom_fields::entries::{Terms, terms_of};
use crate::custom_fields::store::FieldStore;
use crate::custom_fields::{
    Entity, FieldDefinition, FieldValue, Reference, changed_references, reference_error,
    validate_values, values_to_json, visible_values,
};
use crate::directory::Directory;
use crate::{Caller, CrmError, FieldError};
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Whether a record a reference points at exists and the caller may see it: the port the
/// engine asks, implemented where the kinds are known (the catalog, above them).
pub trait ReferenceCheck: Send + Sync {
    fn visible<'a>(
        &'a self,
        caller: &'a Caller,
        reference: &'a Reference,
    ) -> BoxFuture<'a, Result<bool, CrmError>>;
}

/// A record's values after a write, with the terms they are indexed under.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WrittenValues {
    pub values: BTreeMap<String, FieldValue>,
    pub terms: Terms,
}

#[derive(Clone)]
pub struct CustomValues {
    pub fields: FieldStore,
    pub directory: Directory,
    pub references: Arc<dyn ReferenceCheck>,
}

impl CustomValues {
    /// Applies a create or PATCH body's `custom_fields` (`None`: the body had none) to the
    /// record's `existing` values (`None`: a create). `Ok(None)`: a PATCH without
    /// `custom_fields` changes nothing.
    pub async fn write(
        &self,
        caller: &Caller,
        entity: Entity,
        input: Option<&Map<String, Value>>,
        existing: Option<&BTreeMap<String, FieldValue>>,
    ) -> Result<Option<WrittenValues>, CrmError> {
        if input.is_none() && existing.is_some() {
            return Ok(None);
        }
        let defs = self.fields.definitions(&caller.tenant_id, entity).await?;
        self.write_with(&defs, caller, input, existing)
            .await
            .map(Some)
    }

    /// [`Self::write`] with the entity's definitions already loaded (an import loads them once
    /// for all its rows).
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
        let values = validate_values(defs, input.unwrap_or(&empty), existing, caller, is_create)
            .map_err(CrmError::Validation)?;
        self.check_references(caller, existing, &values).await?;
        let terms = terms_of(defs, &values);
        Ok(WrittenValues { values, terms })
    }

    /// Every reference a write sets must point at a record of the tenant the writer can see
    /// (users: a user of the tenant; the writer themself always counts).
    async fn check_references(
        &self,
        caller: &Caller,
        before: Option<&BTreeMap<String, FieldValue>>,
        after: &BTreeMap<String, FieldValue>,
    ) -> Result<(), CrmError> {
        let mut errors: Vec<FieldError> = Vec::new();
        for (key, reference) in changed_references(before, after) {
            let ok = match &reference {
                Reference::User(u) => {
                    u == &caller.user_id
                        || self.directory.user(&caller.tenant_id, u).await?.is_some()
                }
                other => self.references.visible(caller, other).await?,
            };
            let path = format!("custom_fields.{key}");
            if !ok && !errors.iter().any(|e| e.field == path) {
                errors.push(reference_error(&key));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CrmError::Validation(errors))
        }
    }

    /// The entity's definitions (archived included), for readers that filter values.
    pub async fn definitions(
        &self,
        caller: &Caller,
        entity: Entity,
    ) -> Result<Vec<FieldDefinition>, CrmError> {
        self.fields.definitions(&caller.tenant_id, entity).await
    }

    /// The values the caller may read, in the plain JSON shape.
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

/// Like [`present`] for any response holding records (a page, a tree, an export): every
/// object with `custom_fields` gets the caller's visible values in the plain shape.
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
