//! The one typed value model of custom fields and the one validator every write path uses
//! (S3.2, S3.3): API create and PATCH, imports, workflow actions.
//!
//! [`validate`] turns a raw JSON value into a normalised [`FieldValue`] or reports every
//! broken rule; [`validate_values`] applies the `custom_fields` object of a create or PATCH
//! body to a record's stored values (merge-patch semantics, required, archived, visibility);
//! [`visible_values`] is what a caller reads.
//!
//! Besides the plain JSON shapes (see the module above), the validator takes the text form an
//! import file carries for integers (`"42"`) and booleans (`"true"`), a select option's label
//! instead of its id, and a single option id for a multi-select. It never takes a JSON float
//! for a decimal or an amount: the float may already have lost digits.

use super::definition::{FieldDefinition, FieldType, SelectOption};
use super::limits::*;
use crate::errors::FieldErrors;
use crate::values::currency::minor_digits;
use crate::values::decimal::{DecimalError, Exact};
use crate::values::email::normalize_email;
use crate::values::phone::Phone;
use crate::values::text::normalize_text;
use crate::{Caller, FieldError};
use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use uuid::Uuid;

mod checks;
pub(crate) use checks::{compile_pattern, validate_type};

/// A validated, normalised custom field value. Its serde form is self-describing
/// (`{"decimal": "12.50"}`) and is what storage keeps, so a stored value can be checked
/// against a changed definition; [`Self::to_json`] is the plain shape a client reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldValue {
    /// Text, long text, email (lower-cased), phone (E.164 when known), URL.
    Text(String),
    Integer(i64),
    Decimal(Exact),
    Currency(Money),
    Date(NaiveDate),
    /// UTC, millisecond precision.
    DateTime(DateTime<Utc>),
    Boolean(bool),
    /// A select field's option id.
    Select(String),
    /// A multi-select field's option ids, without repeats, in the definition's option order.
    MultiSelect(Vec<String>),
    User(String),
    Contact(Uuid),
    Client(Uuid),
}

pub use crate::values::money::Money;

/// A record a value points at; whether it exists and the writer may see it is the caller's
/// check (it needs storage).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reference {
    User(String),
    Contact(Uuid),
    Client(Uuid),
}

impl FieldValue {
    /// The plain JSON shape a web client sends and reads.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Text(s) | Self::Select(s) | Self::User(s) => Value::String(s.clone()),
            Self::Integer(n) => Value::from(*n),
            Self::Decimal(d) => Value::String(d.to_string()),
            Self::Currency(m) => serde_json::json!({
                "amount": m.amount.to_string(),
                "currency": m.currency,
            }),
            Self::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
            Self::DateTime(t) => Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true)),
            Self::Boolean(b) => Value::Bool(*b),
            Self::MultiSelect(ids) => Value::from(ids.clone()),
            Self::Contact(id) | Self::Client(id) => Value::String(id.to_string()),
        }
    }

    /// The records this value points at.
    pub fn references(&self) -> Vec<Reference> {
        match self {
            Self::User(u) => vec![Reference::User(u.clone())],
            Self::Contact(id) => vec![Reference::Contact(*id)],
            Self::Client(id) => vec![Reference::Client(*id)],
            _ => Vec::new(),
        }
    }
}

/// The values in the plain JSON shape, keyed by field key: a record's `custom_fields` as the
/// API returns it.
pub fn values_to_json(values: &BTreeMap<String, FieldValue>) -> Map<String, Value> {
    values
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json()))
        .collect()
}

/// The references a write introduces (set or changed, not kept as they were), with their
/// field keys: each must exist in the tenant and be visible to the writer, or the write is
/// refused with [`reference_error`].
pub fn changed_references(
    before: Option<&BTreeMap<String, FieldValue>>,
    after: &BTreeMap<String, FieldValue>,
) -> Vec<(String, Reference)> {
    after
        .iter()
        .filter(|(k, v)| before.and_then(|b| b.get(*k)) != Some(*v))
        .flat_map(|(k, v)| v.references().into_iter().map(move |r| (k.clone(), r)))
        .collect()
}

/// The error for a reference that does not exist or that the writer may not see: both read
/// the same, so the answer reveals nothing.
pub fn reference_error(key: &str) -> FieldError {
    FieldError::new(
        crate::errors::FieldPath::new("custom_fields")
            .field(key)
            .as_str(),
        "reference",
        "must refer to an existing record you can see",
    )
}

/// Validates and normalises one value against its definition; `field_path` names it in the
/// errors (`custom_fields.budget`). `null`, a blank string and an empty list are "no value":
/// an error `required` here; [`validate_values`] reads them as "clear".
pub fn validate(
    def: &FieldDefinition,
    raw: &Value,
    field_path: &str,
) -> Result<FieldValue, Vec<FieldError>> {
    match validate_type(&def.field_type, raw, field_path, None)? {
        Some(v) => Ok(v),
        None => Err(vec![required(field_path)]),
    }
}

fn required(path: &str) -> FieldError {
    FieldError::new(path, "required", "a value is required")
}

/// Applies the `custom_fields` object of a create or PATCH body to a record's values.
///
/// - `defs`: the definitions of the record's entity (all of them, archived included).
/// - Merge patch: a key that is absent keeps its value, `null` (or a blank string, an empty
///   list) clears it, a value sets it.
/// - A key with no definition, or one the caller may not see, is `unknown_field`: the error
///   does not reveal that a hidden field exists.
/// - Archived fields keep their values and may be cleared, but not set to a new value
///   (`archived`); sending the stored value back unchanged is accepted.
/// - Required (non-archived) fields: on create each one the caller sees must have a value
///   after defaults; on any write, clearing one is `required`. A field that became required
///   after a record was stored is not forced on unrelated PATCHes.
/// - On create, defaults fill every non-archived field without a value, hidden ones too (the
///   admin's default is not the caller's write).
///
/// Every broken rule is reported. References in the result are checked by the caller
/// ([`changed_references`]).
pub fn validate_values(
    defs: &[FieldDefinition],
    input: &Map<String, Value>,
    existing: Option<&BTreeMap<String, FieldValue>>,
    caller: &Caller,
    is_create: bool,
) -> Result<BTreeMap<String, FieldValue>, Vec<FieldError>> {
    let mut values = existing.cloned().unwrap_or_default();
    let mut errors = FieldErrors::new();
    let root = crate::errors::FieldPath::new("custom_fields");
    for (key, raw) in input {
        let path = root.field(key);
        let Some(def) = defs.iter().find(|d| &d.key == key && d.visible_to(caller)) else {
            errors.push(
                path,
                "unknown_field",
                "there is no custom field with this key",
            );
            continue;
        };
        let stored = values.get(key);
        match validate_type(&def.field_type, raw, path.as_str(), stored) {
            Err(errs) => errors.extend(errs),
            Ok(None) if def.required && !def.archived => errors.push(
                path,
                "required",
                "the field is required and cannot be cleared",
            ),
            Ok(None) => {
                values.remove(key);
            }
            Ok(Some(v)) if def.archived && stored != Some(&v) => errors.push(
                path,
                "archived",
                "the field is archived: its value can be cleared but not changed",
            ),
            Ok(Some(v)) => {
                values.insert(key.clone(), v);
            }
        }
    }
    if is_create {
        apply_defaults(defs, input, &mut values);
        for def in defs
            .iter()
            .filter(|d| d.required && !d.archived && d.visible_to(caller))
        {
            // A key the body named was either set or already reported.
            if !input.contains_key(&def.key) && !values.contains_key(&def.key) {
                errors.extend([required(root.field(&def.key).as_str())]);
            }
        }
    }
    errors.finish(values)
}

/// Defaults fill fields the create left without a value; a field the body cleared
/// explicitly (`null`) stays empty.
fn apply_defaults(
    defs: &[FieldDefinition],
    input: &Map<String, Value>,
    values: &mut BTreeMap<String, FieldValue>,
) {
    for def in defs.iter().filter(|d| !d.archived) {
        if let Some(default) = &def.default {
            if !values.contains_key(&def.key) && !input.contains_key(&def.key) {
                values.insert(def.key.clone(), default.clone());
            }
        }
    }
}

/// The values the caller may read: those of fields visible to them (archived fields
/// included: they keep their values). Values without a definition are left out.
pub fn visible_values(
    defs: &[FieldDefinition],
    values: &BTreeMap<String, FieldValue>,
    caller: &Caller,
) -> BTreeMap<String, FieldValue> {
    values
        .iter()
        .filter(|(k, _)| defs.iter().any(|d| &d.key == *k && d.visible_to(caller)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
