//! Contacts (S1): the record, its normalisation and validation, and the use cases the API and
//! the import processor share.

pub mod audit;
mod normalize;
pub mod phone;
mod store;

pub use normalize::{display_name, normalize_email, normalize_text};
pub use store::{ContactRepository, DynamoContacts, ImportRowWrite, contact_pk};

use crate::pagination::{ListQuery, Page};
use crate::patch::Patch;
use crate::{Caller, CrmError, FieldError, Role};
use audit::{AuditAction, AuditEntry, diff};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const NAME_MAX: usize = 100;
const COMPANY_MAX: usize = 200;

/// A contact as stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Derived: explicit display name > "First Last" > company > email (S1.1).
    pub display_name: String,
    /// Set when the display name was given explicitly rather than derived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explicit_display_name: Option<String>,
    /// Primary email, lower-cased. Unique within the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// The import that created the contact, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<Uuid>,
    /// The contact's primary client (S1.5); set through `PUT /contacts/{id}/clients/{client_id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_client_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub version: u64,
    /// Set while the contact is in the trash (restorable for `TRASH_DAYS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<String>,
}

/// Days a deleted contact can be restored before the table's TTL removes it.
pub const TRASH_DAYS: i64 = 30;

/// Body of `POST /contacts`. Anything else (id, tenant, version, timestamps) is refused.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Overrides the derived display name.
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
}

/// Body of `PATCH /contacts/{id}` (JSON merge patch): absent keeps, `null` clears, a value sets.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub first_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub last_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub display_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub company: Patch<String>,
}

/// The validated, normalised fields of a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactFields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub explicit_display_name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
}

impl ContactFields {
    /// Normalises and validates; every violated rule is reported, not just the first.
    pub fn validate(raw: NewContact) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut text = |field: &str, value: Option<String>, max: usize| match value {
            None => None,
            Some(v) => match normalize_text(&v, max) {
                Ok(v) => v,
                Err(rule) => {
                    errors.push(FieldError::new(field, rule.code(), rule.message(max)));
                    None
                }
            },
        };
        let first_name = text("first_name", raw.first_name, NAME_MAX);
        let last_name = text("last_name", raw.last_name, NAME_MAX);
        let explicit_display_name = text("display_name", raw.display_name, NAME_MAX * 2);
        let company = text("company", raw.company, COMPANY_MAX);
        let email = match raw
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            None => None,
            Some(e) => match normalize_email(e) {
                Some(e) => Some(e),
                None => {
                    errors.push(FieldError::new(
                        "email",
                        "format",
                        "must be an email address like name@example.com",
                    ));
                    None
                }
            },
        };
        let fields = Self {
            first_name,
            last_name,
            explicit_display_name,
            email,
            company,
        };
        if errors.is_empty() && fields.display_name().is_none() {
            errors.push(FieldError::new(
                "first_name",
                "required_one_of",
                "give at least one of first_name, last_name, display_name, company or email",
            ));
        }
        if errors.is_empty() {
            Ok(fields)
        } else {
            Err(errors)
        }
    }

    pub fn display_name(&self) -> Option<String> {
        display_name(
            self.explicit_display_name.as_deref(),
            self.first_name.as_deref(),
            self.last_name.as_deref(),
            self.company.as_deref(),
            self.email.as_deref(),
        )
    }
}

impl Contact {
    pub fn fields(&self) -> ContactFields {
        ContactFields {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            explicit_display_name: self.explicit_display_name.clone(),
            email: self.email.clone(),
            company: self.company.clone(),
        }
    }

    /// A new contact from validated fields.
    pub fn new(fields: ContactFields, actor: &str, import_id: Option<Uuid>) -> Self {
        let now = crate::now();
        let display_name = fields.display_name().unwrap_or_default();
        Self {
            id: crate::new_id(),
            first_name: fields.first_name,
            last_name: fields.last_name,
            display_name,
            explicit_display_name: fields.explicit_display_name,
            email: fields.email,
            company: fields.company,
            import_id,
            primary_client_id: None,
            created_at: now,
            created_by: actor.to_string(),
            updated_at: now,
            updated_by: actor.to_string(),
            version: 1,
            deleted_at: None,
            deleted_by: None,
        }
    }

    /// The next version of this contact with new fields.
    fn changed(&self, fields: ContactFields, actor: &str) -> Self {
        let display_name = fields.display_name().unwrap_or_default();
        Self {
            first_name: fields.first_name,
            last_name: fields.last_name,
            display_name,
            explicit_display_name: fields.explicit_display_name,
            email: fields.email,
            company: fields.company,
            updated_at: crate::now(),
            updated_by: actor.to_string(),
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The email the contact holds in the tenant's uniqueness index: none while in the trash.
    pub fn live_email(&self) -> Option<&str> {
        self.email.as_deref().filter(|_| self.deleted_at.is_none())
    }

    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

fn require_write(caller: &Caller) -> Result<(), CrmError> {
    if caller.role.can_write() {
        Ok(())
    } else {
        Err(CrmError::Forbidden(
            format!("the {:?} role cannot change contacts", caller.role).to_lowercase(),
        ))
    }
}

/// Portal users see only their own contact record; that arrives with the portal (S9.5).
fn require_read(caller: &Caller) -> Result<(), CrmError> {
    if caller.role == Role::Portal {
        Err(CrmError::NotFound)
    } else {
        Ok(())
    }
}

/// The contact unless it is absent, in the trash, or invisible to the caller.
async fn load_live(
    repo: &impl ContactRepository,
    caller: &Caller,
    id: Uuid,
) -> Result<Contact, CrmError> {
    require_read(caller)?;
    repo.get(&caller.tenant_id, id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or(CrmError::NotFound)
}

fn check_version(contact: &Contact, if_match: Option<u64>) -> Result<(), CrmError> {
    match if_match {
        Some(v) if v != contact.version => Err(CrmError::PreconditionFailed),
        _ => Ok(()),
    }
}

pub async fn create(
    repo: &impl ContactRepository,
    caller: &Caller,
    input: NewContact,
) -> Result<Contact, CrmError> {
    require_write(caller)?;
    let fields = ContactFields::validate(input).map_err(CrmError::Validation)?;
    let contact = Contact::new(fields, &caller.user_id, None);
    let audit = AuditEntry::of_change(None, Some(&contact), &caller.user_id, None);
    repo.insert(&caller.tenant_id, &contact, &audit).await?;
    Ok(contact)
}

pub async fn get(
    repo: &impl ContactRepository,
    caller: &Caller,
    id: Uuid,
) -> Result<Contact, CrmError> {
    load_live(repo, caller, id).await
}

pub async fn patch(
    repo: &impl ContactRepository,
    caller: &Caller,
    id: Uuid,
    patch: ContactPatch,
    if_match: Option<u64>,
) -> Result<Contact, CrmError> {
    let current = load_live(repo, caller, id).await?;
    require_write(caller)?;
    check_version(&current, if_match)?;
    let f = current.fields();
    let merged = NewContact {
        first_name: patch.first_name.apply(f.first_name),
        last_name: patch.last_name.apply(f.last_name),
        display_name: patch.display_name.apply(f.explicit_display_name),
        email: patch.email.apply(f.email),
        company: patch.company.apply(f.company),
    };
    let fields = ContactFields::validate(merged).map_err(CrmError::Validation)?;
    if fields == current.fields() {
        return Ok(current);
    }
    let next = current.changed(fields, &caller.user_id);
    let audit = AuditEntry::of_change(Some(&current), Some(&next), &caller.user_id, None);
    repo.replace(&caller.tenant_id, &current, &next, &audit)
        .await?;
    Ok(next)
}

pub async fn delete(
    repo: &impl ContactRepository,
    caller: &Caller,
    id: Uuid,
    if_match: Option<u64>,
) -> Result<(), CrmError> {
    let current = load_live(repo, caller, id).await?;
    require_write(caller)?;
    check_version(&current, if_match)?;
    let now = crate::now();
    let trashed = Contact {
        deleted_at: Some(now),
        deleted_by: Some(caller.user_id.clone()),
        updated_at: now,
        updated_by: caller.user_id.clone(),
        version: current.version + 1,
        ..current.clone()
    };
    let audit = AuditEntry::new(
        AuditAction::Deleted,
        diff(Some(&current), None),
        &caller.user_id,
        trashed.version,
    );
    repo.replace(&caller.tenant_id, &current, &trashed, &audit)
        .await
}

/// `POST /contacts/{id}/restore`: takes a contact out of the trash (S1.2). Restoring a contact
/// that is not deleted returns it unchanged; its email must still be free (409 otherwise).
pub async fn restore(
    repo: &impl ContactRepository,
    caller: &Caller,
    id: Uuid,
) -> Result<Contact, CrmError> {
    require_read(caller)?;
    let current = repo
        .get(&caller.tenant_id, id)
        .await?
        .ok_or(CrmError::NotFound)?;
    let Some(deleted_at) = current.deleted_at else {
        return Ok(current);
    };
    // The TTL removes expired items within days, not at once: the deadline is checked here.
    if deleted_at + chrono::Duration::days(TRASH_DAYS) < crate::now() {
        return Err(CrmError::NotFound);
    }
    require_write(caller)?;
    let now = crate::now();
    let restored = Contact {
        deleted_at: None,
        deleted_by: None,
        updated_at: now,
        updated_by: caller.user_id.clone(),
        version: current.version + 1,
        ..current.clone()
    };
    let audit = AuditEntry::new(
        AuditAction::Restored,
        diff(None, Some(&restored)),
        &caller.user_id,
        restored.version,
    );
    repo.replace(&caller.tenant_id, &current, &restored, &audit)
        .await?;
    Ok(restored)
}

pub async fn list(
    repo: &impl ContactRepository,
    caller: &Caller,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<Contact>, CrmError> {
    if caller.role == Role::Portal {
        return Ok(Page {
            items: vec![],
            next_cursor: None,
        });
    }
    let query = ListQuery::new(&caller.tenant_id, "contacts:newest");
    let (items, last) = repo
        .list(&caller.tenant_id, limit, query.start(cursor)?)
        .await?;
    Ok(query.page(items, last))
}

/// `GET /contacts/{id}/history`: the contact's audit trail, newest first (S6.5).
pub async fn history(
    repo: &impl ContactRepository,
    caller: &Caller,
    id: Uuid,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<AuditEntry>, CrmError> {
    load_live(repo, caller, id).await?;
    let query = ListQuery::new(&caller.tenant_id, format!("contact-history:{id}"));
    let (items, last) = repo
        .history(&caller.tenant_id, id, limit, query.start(cursor)?)
        .await?;
    Ok(query.page(items, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(first: Option<&str>, last: Option<&str>, email: Option<&str>) -> NewContact {
        NewContact {
            first_name: first.map(Into::into),
            last_name: last.map(Into::into),
            email: email.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn s1_1_display_name_follows_the_rule() {
        let f = ContactFields::validate(input(
            Some("Ada"),
            Some("Lovelace"),
            Some("ADA@Example.com"),
        ))
        .unwrap();
        assert_eq!(f.display_name().as_deref(), Some("Ada Lovelace"));
        assert_eq!(f.email.as_deref(), Some("ada@example.com"));
        let f = ContactFields::validate(input(None, None, Some("x@y.org"))).unwrap();
        assert_eq!(f.display_name().as_deref(), Some("x@y.org"));
        let f = ContactFields::validate(NewContact {
            company: Some("ACME".into()),
            email: Some("a@b.co".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(f.display_name().as_deref(), Some("ACME"));
        let f = ContactFields::validate(NewContact {
            display_name: Some("The Boss".into()),
            first_name: Some("A".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(f.display_name().as_deref(), Some("The Boss"));
    }

    #[test]
    fn s1_2_validation_names_every_bad_field() {
        let errs = ContactFields::validate(input(Some("a\u{0}b"), None, Some("not-an-email")))
            .unwrap_err();
        let fields: Vec<_> = errs
            .iter()
            .map(|e| (e.field.as_str(), e.rule.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![("first_name", "no_control_characters"), ("email", "format")]
        );
        let errs = ContactFields::validate(NewContact::default()).unwrap_err();
        assert_eq!(errs[0].rule, "required_one_of");
    }
}
