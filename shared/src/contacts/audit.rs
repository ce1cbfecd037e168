//! Audit trail of a contact (S6.5): who changed which field from what to what, and when.
//! Entries live in the contact's own partition (`AUDIT#{uuidv7}`), are written in the same
//! transaction as the change they describe, and are never updated.

use super::Contact;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Created,
    Updated,
    /// Moved to the trash.
    Deleted,
    Restored,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldChange {
    pub field: String,
    #[schema(value_type = Option<Object>)]
    pub old: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub new: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The record's version after the change (before it, for a delete).
    pub version: u64,
}

pub fn audit_sk(id: Uuid) -> String {
    format!("AUDIT#{id}")
}

/// The fields an entry records, as JSON; an absent field is `None`.
fn audited_fields(c: &Contact) -> Vec<(&'static str, Option<Value>)> {
    let text = |v: &Option<String>| v.as_ref().map(|s| Value::String(s.clone()));
    vec![
        ("first_name", text(&c.first_name)),
        ("last_name", text(&c.last_name)),
        ("display_name", Some(Value::String(c.display_name.clone()))),
        ("email", text(&c.email)),
        ("company", text(&c.company)),
    ]
}

/// The field-by-field difference of two states; `None` stands for "no record".
pub fn diff(before: Option<&Contact>, after: Option<&Contact>) -> Vec<FieldChange> {
    let before = before.map(audited_fields);
    let after = after.map(audited_fields);
    let names = before
        .as_ref()
        .or(after.as_ref())
        .map(|f| f.iter().map(|(n, _)| *n).collect::<Vec<_>>())
        .unwrap_or_default();
    names
        .into_iter()
        .enumerate()
        .filter_map(|(i, field)| {
            let old = before.as_ref().and_then(|f| f[i].1.clone());
            let new = after.as_ref().and_then(|f| f[i].1.clone());
            (old != new).then(|| FieldChange {
                field: field.to_string(),
                old,
                new,
            })
        })
        .collect()
}

impl AuditEntry {
    pub fn new(action: AuditAction, changes: Vec<FieldChange>, actor: &str, version: u64) -> Self {
        Self {
            id: crate::new_id(),
            at: crate::now(),
            actor: actor.to_string(),
            action,
            source: None,
            changes,
            version,
        }
    }

    pub fn of_change(
        before: Option<&Contact>,
        after: Option<&Contact>,
        actor: &str,
        source: Option<String>,
    ) -> Self {
        let action = match (before, after) {
            (None, _) => AuditAction::Created,
            (Some(_), Some(_)) => AuditAction::Updated,
            (Some(_), None) => AuditAction::Deleted,
        };
        let version = after.or(before).map_or(0, |c| c.version);
        Self {
            id: crate::new_id(),
            at: crate::now(),
            actor: actor.to_string(),
            action,
            source,
            changes: diff(before, after),
            version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{ContactFields, NewContact};

    fn contact(first: &str, email: Option<&str>) -> Contact {
        let fields = ContactFields::validate(NewContact {
            first_name: Some(first.into()),
            email: email.map(Into::into),
            ..Default::default()
        })
        .unwrap();
        Contact::new(fields, "u", None)
    }

    #[test]
    fn s6_5_diff_lists_changed_fields_with_old_and_new() {
        let a = contact("Ada", Some("ada@example.com"));
        let mut b = a.clone();
        b.first_name = Some("Augusta".into());
        b.display_name = "Augusta".into();
        b.email = None;
        let changes = diff(Some(&a), Some(&b));
        let fields: Vec<_> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, vec!["first_name", "display_name", "email"]);
        assert_eq!(
            changes[2].old,
            Some(Value::String("ada@example.com".into()))
        );
        assert_eq!(changes[2].new, None);
        assert!(diff(Some(&a), Some(&a)).is_empty());
        assert_eq!(
            AuditEntry::of_change(None, Some(&a), "u", None).action,
            AuditAction::Created
        );
        assert_eq!(
            AuditEntry::of_change(Some(&a), None, "u", None)
                .changes
                .len(),
            3
        );
    }
}
