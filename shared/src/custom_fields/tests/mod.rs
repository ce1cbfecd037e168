//! Unit tests of custom fields: every type and rule, merge-patch semantics, required /
//! archived / visibility, definition validation, change assessment and index terms.

use super::*;
use crate::{Caller, FieldError, Role};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;

mod changes;
mod definitions;
mod index;
mod records;
mod values;

pub(super) fn def_json(body: Value) -> FieldDefinition {
    let new: NewFieldDefinition = serde_json::from_value(body).expect("a definition body");
    new.validate(&[], &[]).expect("a valid definition")
}

/// A contact field `f` of the given type (`{"kind": …}`).
pub(super) fn field(ty: Value) -> FieldDefinition {
    def_json(json!({"key": "f", "entity": "contact", "label": "F", "type": ty}))
}

fn ok(def: &FieldDefinition, raw: Value) -> FieldValue {
    validate(def, &raw, "custom_fields.f").unwrap_or_else(|e| panic!("{raw} refused: {e:?}"))
}

/// The rules broken, as `field rule` strings.
fn rules(def: &FieldDefinition, raw: Value) -> Vec<String> {
    match validate(def, &raw, "custom_fields.f") {
        Ok(v) => panic!("{raw} accepted as {v:?}"),
        Err(errors) => describe(&errors),
    }
}

fn describe(errors: &[FieldError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| format!("{} {}", e.field, e.rule))
        .collect()
}

fn admin() -> Caller {
    Caller::new("t1", "admin", Role::Admin)
}

fn member(teams: Vec<Uuid>) -> Caller {
    Caller {
        teams,
        ..Caller::new("t1", "mia", Role::Member)
    }
}

fn team(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().expect("an object").clone()
}

fn select_def() -> FieldDefinition {
    field(json!({"kind": "select", "options": [
        {"label": "In Progress"},
        {"id": "done", "label": "Done"},
        {"id": "old", "label": "Old", "archived": true}
    ]}))
}
