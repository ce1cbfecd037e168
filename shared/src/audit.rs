//! The audit trail of any record (S6.5): who changed which field from what to what, and when.
//!
//! Entity-independent: a record is diffed as its serialized JSON, top-level key by top-level key.
//! Entries live in the record's own partition (`{record pk}` / `AUDIT#{uuidv7}`), are written in
//! the same `TransactWriteItems` as the change they describe, are never updated, and read newest
//! first (UUIDv7 sort keys are creation order).
//!
//! The JSON shape is the one of `contacts::audit::AuditEntry`, so that contacts can move onto
//! this module without changing their API. The OpenAPI schemas are named `audit.AuditEntry`, …,
//! so that the two do not shadow each other in the merged document until then.

use crate::CrmError;
use crate::store::{Item, key, s, to_item};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use uuid::Uuid;

/// Sort-key prefix of the audit entries in a record's partition.
pub const AUDIT_SK_PREFIX: &str = "AUDIT#";

/// The bookkeeping keys of a record that are not changes of their own: they change with every
/// write (`version`, `updated_*`), never (`id`, `created_*`), or are the entry's own `actor`,
/// `at` and `version` already.
pub const META_FIELDS: &[&str] = &[
    "id",
    "version",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = audit::AuditAction)]
pub enum AuditAction {
    Created,
    Updated,
    /// Deleted, or moved to the trash.
    Deleted,
    /// Taken out of the trash.
    Restored,
    /// Shared with a team or a user.
    Shared,
    /// A share withdrawn.
    Unshared,
    /// Personal data removed for good (GDPR); the entry names the fields, never their values.
    Erased,
}

/// One changed field: `None` stands for "absent" (no record, or the field not set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = audit::FieldChange)]
pub struct FieldChange {
    pub field: String,
    /// Any JSON value (a string, a number, an object, …).
    pub old: Option<Value>,
    /// Any JSON value (a string, a number, an object, …).
    pub new: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = audit::AuditEntry)]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// The user who made the change.
    pub actor: String,
    pub action: AuditAction,
    /// Where the change came from when not the API, e.g. `import:{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub changes: Vec<FieldChange>,
    /// The record's version after the change (the last version, for a delete).
    pub version: u64,
}

/// The sort key of an audit entry.
pub fn audit_sk(id: Uuid) -> String {
    format!("{AUDIT_SK_PREFIX}{id}")
}

/// Prepares a serialised record for diffing: each custom field value becomes a field of its
/// own, `custom_fields.{key}`, in its plain JSON shape (so a change names the custom field, and
/// a reader can be shown only the fields they may see); the index bookkeeping is left out.
pub fn expand_custom_fields(record: &mut Value) {
    let Some(obj) = record.as_object_mut() else {
        return;
    };
    obj.remove("custom_terms");
    if let Some(Value::Object(values)) = obj.remove("custom_fields") {
        for (key, stored) in values {
            let plain = serde_json::from_value::<crate::custom_fields::FieldValue>(stored.clone())
                .map_or(stored, |v| v.to_json());
            obj.insert(format!("{CUSTOM_FIELD_PREFIX}{key}"), plain);
        }
    }
}

/// The prefix of a custom field's changes in an audit entry.
pub const CUSTOM_FIELD_PREFIX: &str = "custom_fields.";

/// Leaves out the changes of custom fields the reader may not see (`visible(key)` false).
pub fn hide_custom_fields(entries: &mut [AuditEntry], visible: impl Fn(&str) -> bool) {
    for e in entries {
        e.changes.retain(|c| {
            c.field
                .strip_prefix(CUSTOM_FIELD_PREFIX)
                .is_none_or(&visible)
        });
    }
}

/// A value that stands for "absent": no value, or JSON `null`.
fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

fn field<'a>(record: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    present(record.and_then(|r| r.get(name)))
}

/// The field-by-field difference of two serialized records; `None` stands for "no record".
///
/// Compares the top-level keys of the two objects, in sorted order, except those in `ignore`;
/// nested objects and arrays are compared (and reported) as whole values; a `null` or absent
/// key is `None`. A value that is not an object is compared whole, as the field `""` (the
/// whole document, as in a JSON pointer).
pub fn diff_json(old: Option<&Value>, new: Option<&Value>, ignore: &[&str]) -> Vec<FieldChange> {
    let old = present(old);
    let new = present(new);
    let is_record = |v: Option<&Value>| v.is_none_or(Value::is_object);
    if !is_record(old) || !is_record(new) {
        return if old == new {
            vec![]
        } else {
            vec![FieldChange {
                field: String::new(),
                old: old.cloned(),
                new: new.cloned(),
            }]
        };
    }
    let names: BTreeSet<&str> = [old, new]
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|o| o.keys().map(String::as_str))
        .filter(|name| !ignore.contains(name))
        .collect();
    names
        .into_iter()
        .filter_map(|name| {
            let (before, after) = (field(old, name), field(new, name));
            (before != after).then(|| FieldChange {
                field: name.to_string(),
                old: before.cloned(),
                new: after.cloned(),
            })
        })
        .collect()
}

impl AuditEntry {
    pub fn new(action: AuditAction, changes: Vec<FieldChange>, actor: &str, version: u64) -> Self {
        Self {
            id: crate::values::new_id(),
            at: crate::values::now(),
            actor: actor.to_string(),
            action,
            source: None,
            changes,
            version,
        }
    }

    /// The entry of a change from `before` to `after` (`None`: no record), diffed without
    /// `META_FIELDS`.
    pub fn of_records<T: Serialize>(
        action: AuditAction,
        before: Option<&T>,
        after: Option<&T>,
        actor: &str,
        version: u64,
    ) -> Result<Self, CrmError> {
        Self::of_records_ignoring(action, before, after, actor, version, &[])
    }

    /// [`Self::of_records`] leaving out more top-level fields (`ignore`) besides the
    /// bookkeeping: fields derived from others, which change with them.
    pub fn of_records_ignoring<T: Serialize>(
        action: AuditAction,
        before: Option<&T>,
        after: Option<&T>,
        actor: &str,
        version: u64,
        ignore: &[&str],
    ) -> Result<Self, CrmError> {
        let json = |r: Option<&T>| {
            r.map(serde_json::to_value)
                .transpose()
                .map(|v| {
                    v.map(|mut v| {
                        expand_custom_fields(&mut v);
                        v
                    })
                })
                .map_err(CrmError::internal)
        };
        let ignored: Vec<&str> = META_FIELDS.iter().chain(ignore).copied().collect();
        let changes = diff_json(json(before)?.as_ref(), json(after)?.as_ref(), &ignored);
        Ok(Self::new(action, changes, actor, version))
    }

    pub fn with_source(self, source: impl Into<String>) -> Self {
        Self {
            source: Some(source.into()),
            ..self
        }
    }

    /// The stored item of this entry in the partition `pk`; `entity` names the record kind,
    /// e.g. `client_audit`.
    pub fn item(&self, pk: String, entity: &str) -> Result<Item, CrmError> {
        let mut keys = key(pk, audit_sk(self.id));
        keys.insert("entity".into(), s(entity));
        to_item(self, keys)
    }

    /// The write that stores this entry (never over another one), for the record's transaction.
    pub fn write(&self, pk: String, entity: &str) -> Result<crate::store::WriteOp, CrmError> {
        Ok(crate::store::WriteOp::put_new(self.item(pk, entity)?))
    }
}

/// One page of the audit entries of the record whose partition is `pk`, newest first.
pub async fn history(
    table: &crate::store::Table,
    pk: String,
    limit: i32,
    start: Option<Item>,
) -> Result<(Vec<AuditEntry>, Option<Item>), CrmError> {
    let page = table
        .query(
            crate::store::Query::partition(pk)
                .prefix(AUDIT_SK_PREFIX)
                .newest_first(true)
                .limit(limit)
                .start(start),
        )
        .await?;
    Ok((page.decode()?, page.last_key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(changes: &[FieldChange]) -> Vec<&str> {
        changes.iter().map(|c| c.field.as_str()).collect()
    }

    #[test]
    fn s6_5_changed_fields_are_listed_sorted_with_old_and_new() {
        let old = json!({"name": "Acme", "tags": ["a"], "phone": "1", "version": 1});
        let new = json!({"name": "Acme AG", "tags": ["a", "b"], "email": "x@y.z", "version": 2});
        let changes = diff_json(Some(&old), Some(&new), META_FIELDS);
        assert_eq!(fields(&changes), vec!["email", "name", "phone", "tags"]);
        assert_eq!(
            changes[0],
            FieldChange {
                field: "email".into(),
                old: None,
                new: Some(json!("x@y.z"))
            }
        );
        assert_eq!(changes[2].new, None, "a removed field is new: None");
        assert_eq!(changes[3].old, Some(json!(["a"])));
    }

    #[test]
    fn meta_keys_and_unchanged_fields_are_not_changes() {
        let old = json!({"id": "1", "name": "A", "version": 1, "created_at": "t0", "created_by": "u",
                         "updated_at": "t1", "updated_by": "u"});
        let new = json!({"id": "1", "name": "A", "version": 2, "created_at": "t0", "created_by": "u",
                         "updated_at": "t2", "updated_by": "v"});
        assert!(diff_json(Some(&old), Some(&new), META_FIELDS).is_empty());
        assert!(diff_json(Some(&old), Some(&old), &[]).is_empty());
        // Only the keys asked for are ignored.
        assert_eq!(
            fields(&diff_json(Some(&old), Some(&new), &["version"])),
            vec!["updated_at", "updated_by"]
        );
    }

    #[test]
    fn nested_objects_are_compared_and_reported_whole() {
        let old = json!({"address": {"city": "Berlin", "country": "DE"}});
        let new = json!({"address": {"city": "Bonn", "country": "DE"}});
        let changes = diff_json(Some(&old), Some(&new), &[]);
        assert_eq!(
            changes,
            vec![FieldChange {
                field: "address".into(),
                old: Some(json!({"city": "Berlin", "country": "DE"})),
                new: Some(json!({"city": "Bonn", "country": "DE"})),
            }]
        );
    }

    #[test]
    fn null_is_absent_and_no_record_lists_every_field() {
        let a = json!({"name": "A", "email": null});
        let b = json!({"name": "A"});
        assert!(diff_json(Some(&a), Some(&b), &[]).is_empty());
        let created = diff_json(None, Some(&a), &[]);
        assert_eq!(fields(&created), vec!["name"]);
        assert_eq!(
            (created[0].old.clone(), created[0].new.clone()),
            (None, Some(json!("A")))
        );
        let deleted = diff_json(Some(&a), None, &[]);
        assert_eq!(
            (deleted[0].old.clone(), deleted[0].new.clone()),
            (Some(json!("A")), None)
        );
        assert!(diff_json(None, None, &[]).is_empty());
        assert!(diff_json(Some(&Value::Null), None, &[]).is_empty());
    }

    #[test]
    fn a_value_that_is_not_an_object_is_compared_whole() {
        let changes = diff_json(Some(&json!([1])), Some(&json!([2])), &[]);
        assert_eq!(fields(&changes), vec![""]);
        assert!(diff_json(Some(&json!(3)), Some(&json!(3)), &[]).is_empty());
    }

    #[test]
    fn entries_of_records_diff_without_meta_and_have_the_contact_entry_shape() {
        #[derive(Serialize)]
        struct R {
            id: u32,
            name: &'static str,
            version: u64,
        }
        let before = R {
            id: 1,
            name: "A",
            version: 1,
        };
        let after = R {
            id: 1,
            name: "B",
            version: 2,
        };
        let e = AuditEntry::of_records(AuditAction::Updated, Some(&before), Some(&after), "u", 2)
            .unwrap()
            .with_source("import:1");
        assert_eq!(fields(&e.changes), vec!["name"]);
        assert!(audit_sk(e.id).starts_with(AUDIT_SK_PREFIX));
        let json = serde_json::to_value(&e).unwrap();
        let keys: BTreeSet<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "id", "at", "actor", "action", "source", "changes", "version"
            ])
        );
        assert_eq!(json["action"], "updated");
        // The same JSON is a contact audit entry, and back.
        let again: AuditEntry = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&again).unwrap(), json);
        let deleted =
            AuditEntry::of_records::<R>(AuditAction::Deleted, Some(&after), None, "u", 2).unwrap();
        assert_eq!(deleted.changes[0].old, Some(json!("B")));
    }
}
