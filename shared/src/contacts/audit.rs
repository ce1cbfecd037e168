//! Audit trail of a contact (S6.5): who changed which field from what to what, and when.
//! Entries live in the contact's own partition (`AUDIT#{uuidv7}`), are written in the same
//! transaction as the change they describe, and are never updated.

use super::Contact;
use serde_json::Value;

pub use crate::audit::{AuditAction, AuditEntry, FieldChange, audit_sk};

/// Keys of a stored contact that are bookkeeping, not data: never listed as changes.
/// `email` repeats the primary address of `emails`, which is audited.
const NOT_AUDITED: &[&str] = &[
    "id",
    "email",
    "version",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
];

fn audited_fields(c: &Contact) -> serde_json::Map<String, Value> {
    let mut json = serde_json::to_value(c).unwrap_or_default();
    crate::audit::expand_custom_fields(&mut json);
    match json {
        Value::Object(mut m) => {
            m.retain(|k, _| !NOT_AUDITED.contains(&k.as_str()));
            m
        }
        _ => serde_json::Map::new(),
    }
}

/// The field-by-field difference of two states (top-level fields, in name order; a list or an
/// object is compared as a whole); `None` stands for "no record".
pub fn diff(before: Option<&Contact>, after: Option<&Contact>) -> Vec<FieldChange> {
    let before = before.map(audited_fields).unwrap_or_default();
    let after = after.map(audited_fields).unwrap_or_default();
    let names: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter_map(|field| {
            let old = before.get(field).cloned();
            let new = after.get(field).cloned();
            (old != new).then(|| FieldChange {
                field: field.clone(),
                old,
                new,
            })
        })
        .collect()
}

impl AuditEntry {
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
            id: crate::values::new_id(),
            at: crate::values::now(),
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
        b.fields.first_name = Some("Augusta".into());
        b.display_name = "Augusta".into();
        b.email = None;
        b.fields.emails.clear();
        let changes = diff(Some(&a), Some(&b));
        let fields: Vec<_> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, vec!["display_name", "emails", "first_name"]);
        assert_eq!(
            changes[1].old.as_ref().unwrap()[0]["address"],
            "ada@example.com"
        );
        assert_eq!(changes[1].new, None);
        assert!(diff(Some(&a), Some(&a)).is_empty());
        assert_eq!(
            AuditEntry::of_change(None, Some(&a), "u", None).action,
            AuditAction::Created
        );
        assert!(
            AuditEntry::of_change(Some(&a), None, "u", None)
                .changes
                .iter()
                .all(|c| c.new.is_none())
        );
    }
}
