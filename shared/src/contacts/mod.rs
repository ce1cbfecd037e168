//! Contacts (S1): the record, its normalisation and validation, and the use cases the API and
//! the import processor share.

pub mod audit;
mod fields;
pub mod index;
pub mod search;
mod store;

pub use fields::*;
pub use index::ContactSummary;
pub use store::{ContactRepository, DynamoContacts, ImportRowWrite, contact_pk, stored_items};

use crate::access::visibility::{Access, Principal, RecordKind, Visibility};
use crate::custom_fields::entries::Terms;
use crate::custom_fields::values::join_validation;
use crate::custom_fields::{Entity, FieldValue};
use crate::store::cursor::{ListQuery, Page};
use crate::values::Patch;
use crate::{Caller, CrmError, FieldError};
use audit::{AuditAction, AuditEntry, diff};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A contact as stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: Uuid,
    /// Derived: explicit display name > "First Last" > company > email (S1.1).
    pub display_name: String,
    /// The primary address of `emails`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(flatten)]
    pub fields: ContactFields,
    /// The import that created the contact, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<Uuid>,
    /// The clients the contact is linked to (S1.5); changed through
    /// `PUT /contacts/{id}/clients/{client_id}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_ids: Vec<Uuid>,
    /// The contact's primary client (S1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_client_id: Option<Uuid>,
    /// Users and teams the contact is shared with (S9.4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<Principal>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub version: u64,
    /// Custom field values (S3.3) in their stored, self-describing form; a response shows the
    /// caller's visible ones in the plain shape (`custom_fields::present`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub custom_fields: BTreeMap<String, FieldValue>,
    /// The terms the values are indexed under (`custom_fields::entries`); never shown.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(ignore)]
    pub custom_terms: Terms,
    /// Set while the contact is in the trash (restorable for `TRASH_DAYS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<String>,
}

/// Days a deleted contact can be restored before the table's TTL removes it.
pub const TRASH_DAYS: i64 = 30;

/// Body of `PATCH /contacts/{id}` (JSON merge patch): absent keeps, `null` clears, a value sets.
/// `email` replaces the primary address and keeps the others; `emails` replaces the list.
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
    #[schema(value_type = Option<Vec<EmailInput>>)]
    pub emails: Patch<Vec<EmailInput>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<PhoneInput>>)]
    pub phones: Patch<Vec<PhoneInput>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub job_title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub company: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub website: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<ContactAddress>>)]
    pub addresses: Patch<Vec<ContactAddress>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<SocialProfile>>)]
    pub social_profiles: Patch<Vec<SocialProfile>>,
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    pub birthday: Patch<NaiveDate>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub owner: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub team: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Visibility>)]
    pub visibility: Patch<Visibility>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub lead_source: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<LifecycleStatus>)]
    pub lifecycle_status: Patch<LifecycleStatus>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub last_contacted_at: Patch<DateTime<Utc>>,
    /// Custom field values by key, merge-patch style: a value sets, `null` clears, an absent
    /// key keeps (S3.3).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ContactPatch {
    /// The merged input; `Err` when the patch itself is contradictory.
    fn apply(self, current: &ContactFields) -> Result<NewContact, CrmError> {
        let mut m = current.to_input();
        if !self.email.is_absent() && !self.emails.is_absent() {
            return Err(CrmError::Validation(vec![FieldError::new(
                "email",
                "one_of",
                "give `email` or `emails`, not both",
            )]));
        }
        if !self.email.is_absent() {
            // Replace the primary address, keep the others.
            let mut list = m.emails.take().unwrap_or_default();
            if !list.is_empty() {
                list.remove(0);
            }
            if let Some(new) = self.email.apply(None) {
                for e in &mut list {
                    e.primary = false;
                }
                list.insert(
                    0,
                    EmailInput {
                        address: new,
                        label: None,
                        primary: true,
                    },
                );
            }
            m.emails = Some(list);
        } else {
            m.emails = self.emails.apply(m.emails);
        }
        m.first_name = self.first_name.apply(m.first_name);
        m.last_name = self.last_name.apply(m.last_name);
        m.display_name = self.display_name.apply(m.display_name);
        m.phones = self.phones.apply(m.phones);
        m.job_title = self.job_title.apply(m.job_title);
        m.company = self.company.apply(m.company);
        m.website = self.website.apply(m.website);
        m.addresses = self.addresses.apply(m.addresses);
        m.social_profiles = self.social_profiles.apply(m.social_profiles);
        m.birthday = self.birthday.apply(m.birthday);
        m.tags = self.tags.apply(m.tags);
        m.owner = self.owner.apply(m.owner);
        m.team = self.team.apply(m.team);
        m.visibility = self.visibility.apply(m.visibility);
        m.lead_source = self.lead_source.apply(m.lead_source);
        m.lifecycle_status = self.lifecycle_status.apply(m.lifecycle_status);
        m.last_contacted_at = self.last_contacted_at.apply(m.last_contacted_at);
        Ok(m)
    }
}

impl Contact {
    /// A new contact from validated fields.
    pub fn new(fields: ContactFields, actor: &str, import_id: Option<Uuid>) -> Self {
        let now = crate::values::now();
        Self {
            id: crate::values::new_id(),
            display_name: fields.display_name().unwrap_or_default(),
            email: fields.email().map(str::to_string),
            fields,
            import_id,
            client_ids: Vec::new(),
            primary_client_id: None,
            shared_with: Vec::new(),
            created_at: now,
            created_by: actor.to_string(),
            updated_at: now,
            updated_by: actor.to_string(),
            version: 1,
            custom_fields: BTreeMap::new(),
            custom_terms: Terms::new(),
            deleted_at: None,
            deleted_by: None,
        }
    }

    /// The next version of this contact, changed by `actor`.
    pub fn next_version(&self, actor: &str) -> Self {
        Self {
            updated_at: crate::values::now(),
            updated_by: actor.to_string(),
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The next version of this contact with new fields.
    fn changed(&self, fields: ContactFields, actor: &str) -> Self {
        Self {
            display_name: fields.display_name().unwrap_or_default(),
            email: fields.email().map(str::to_string),
            fields,
            ..self.next_version(actor)
        }
    }

    /// The addresses the contact holds in the tenant's uniqueness index: none while in the trash.
    pub fn live_emails(&self) -> Vec<&str> {
        if self.deleted_at.is_some() {
            return Vec::new();
        }
        self.fields
            .emails
            .iter()
            .map(|e| e.address.as_str())
            .collect()
    }

    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }

    pub fn access(&self) -> Access<'_> {
        Access {
            kind: RecordKind::Contact,
            id: self.id,
            owner: self.fields.owner.as_deref(),
            team: self.fields.team,
            visibility: self.fields.visibility,
            shared_with: &self.shared_with,
        }
    }
}

fn require_write(caller: &Caller) -> Result<(), CrmError> {
    if caller.role.can_write() {
        Ok(())
    } else {
        Err(CrmError::Forbidden(format!(
            "the {} role cannot change contacts",
            caller.role.as_str()
        )))
    }
}

/// The contact unless it is absent, in the trash, or invisible to the caller (all 404).
async fn load_live(
    repo: &impl ContactRepository,
    caller: &Caller,
    id: Uuid,
) -> Result<Contact, CrmError> {
    load_any(repo, caller, id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or(CrmError::NotFound)
}

/// The contact, live or trashed, if the caller may see it.
pub async fn load_any(
    repo: &impl ContactRepository,
    caller: &Caller,
    id: Uuid,
) -> Result<Option<Contact>, CrmError> {
    Ok(repo
        .get(&caller.tenant_id, id)
        .await?
        .filter(|c| caller.sees(&c.access())))
}

/// A writing role that sees the contact may change it (viewers get 403; invisible is 404).
fn require_change(caller: &Caller, c: &Contact) -> Result<(), CrmError> {
    require_write(caller)?;
    debug_assert!(caller.sees(&c.access()));
    Ok(())
}

fn check_version(contact: &Contact, if_match: Option<u64>) -> Result<(), CrmError> {
    match if_match {
        Some(v) if v != contact.version => Err(CrmError::PreconditionFailed),
        _ => Ok(()),
    }
}

/// The owner and team a contact refers to must exist in the tenant (checked when they change).
async fn check_references(
    repo: &impl ContactRepository,
    caller: &Caller,
    fields: &ContactFields,
    before: Option<&ContactFields>,
) -> Result<(), CrmError> {
    repo.directory()
        .check_assignment(
            caller,
            fields.owner.as_deref(),
            fields.team,
            before.map(|b| (b.owner.as_deref(), b.team)),
        )
        .await
}

/// Leaves out of audit entries the changes of custom fields the caller may not see.
async fn hide_custom_fields(
    repo: &impl ContactRepository,
    caller: &Caller,
    entries: &mut [AuditEntry],
) -> Result<(), CrmError> {
    let prefix = crate::audit::CUSTOM_FIELD_PREFIX;
    if !entries
        .iter()
        .any(|e| e.changes.iter().any(|c| c.field.starts_with(prefix)))
    {
        return Ok(());
    }
    let defs = repo
        .custom_values()
        .definitions(caller, Entity::Contact)
        .await?;
    crate::audit::hide_custom_fields(entries, |key| {
        defs.iter().any(|d| d.key == key && d.visible_to(caller))
    });
    Ok(())
}

/// A contact as a response shows it to the caller: custom field values filtered to the fields
/// they may see, in the plain JSON shape.
pub async fn present(
    repo: &impl ContactRepository,
    caller: &Caller,
    contact: &Contact,
) -> Result<serde_json::Value, CrmError> {
    let visible = repo
        .custom_values()
        .visible_json(caller, Entity::Contact, &contact.custom_fields)
        .await?;
    crate::custom_fields::values::present(contact, visible)
}

/// Fills the defaults that depend on who creates the contact: they own it, and it belongs to
/// their team when they have exactly one.
fn creator_defaults(caller: &Caller, input: &mut NewContact) {
    if input.owner.is_none() {
        input.owner = Some(caller.user_id.clone());
    }
    if input.team.is_none() {
        if let [team] = caller.teams.as_slice() {
            input.team = Some(*team);
        }
    }
}

pub async fn create(
    repo: &impl ContactRepository,
    caller: &Caller,
    mut input: NewContact,
) -> Result<Contact, CrmError> {
    require_write(caller)?;
    creator_defaults(caller, &mut input);
    let custom_input = input.custom_fields.take();
    let fields = ContactFields::validate(input);
    let custom = repo
        .custom_values()
        .write(caller, Entity::Contact, custom_input.as_ref(), None)
        .await;
    let (fields, custom) = join_validation(fields, custom)?;
    check_references(repo, caller, &fields, None).await?;
    let mut contact = Contact::new(fields, &caller.user_id, None);
    if let Some(c) = custom {
        contact.custom_fields = c.values;
        contact.custom_terms = c.terms;
    }
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
    require_change(caller, &current)?;
    check_version(&current, if_match)?;
    let mut patch = patch;
    let custom_input = patch.custom_fields.take();
    let merged = patch.apply(&current.fields)?;
    let fields = ContactFields::validate(merged);
    let custom = repo
        .custom_values()
        .write(
            caller,
            Entity::Contact,
            custom_input.as_ref(),
            Some(&current.custom_fields),
        )
        .await;
    let (fields, custom) = join_validation(fields, custom)?;
    let custom = custom.filter(|c| c.values != current.custom_fields);
    if fields == current.fields && custom.is_none() {
        return Ok(current);
    }
    check_references(repo, caller, &fields, Some(&current.fields)).await?;
    let mut next = current.changed(fields, &caller.user_id);
    if let Some(c) = custom {
        next.custom_fields = c.values;
        next.custom_terms = c.terms;
    }
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
    require_change(caller, &current)?;
    check_version(&current, if_match)?;
    let now = crate::values::now();
    let trashed = Contact {
        deleted_at: Some(now),
        deleted_by: Some(caller.user_id.clone()),
        ..current.next_version(&caller.user_id)
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
    let current = load_any(repo, caller, id)
        .await?
        .ok_or(CrmError::NotFound)?;
    require_change(caller, &current)?;
    let Some(deleted_at) = current.deleted_at else {
        return Ok(current);
    };
    // The TTL removes expired items within days, not at once: the deadline is checked here.
    if deleted_at + chrono::Duration::days(TRASH_DAYS) < crate::values::now() {
        return Err(CrmError::NotFound);
    }
    let restored = Contact {
        deleted_at: None,
        deleted_by: None,
        ..current.next_version(&caller.user_id)
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

/// Body of `POST /contacts/{id}/shares`: exactly one of `user` or `team`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareInput {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub team: Option<Uuid>,
}

impl ShareInput {
    pub fn principal(self) -> Result<Principal, CrmError> {
        match (self.user, self.team) {
            (Some(u), None) => Ok(Principal::User(u)),
            (None, Some(t)) => Ok(Principal::Team(t)),
            _ => Err(CrmError::Validation(vec![FieldError::new(
                "user",
                "one_of",
                "give exactly one of `user` or `team`",
            )])),
        }
    }
}

/// Parses the `{principal}` of `DELETE /contacts/{id}/shares/{principal}`: `user:{id}` or
/// `team:{uuid}`.
pub fn parse_principal(s: &str) -> Option<Principal> {
    match s.split_once(':')? {
        ("user", u) if crate::values::ids::is_valid_user_id(u) => {
            Some(Principal::User(u.to_string()))
        }
        ("team", t) => t.parse().ok().map(Principal::Team),
        _ => None,
    }
}

/// Shares the contact with a user or team of the tenant (S9.4); sharing twice changes nothing.
pub async fn share(
    repo: &impl ContactRepository,
    caller: &Caller,
    id: Uuid,
    principal: Principal,
) -> Result<Contact, CrmError> {
    let current = load_live(repo, caller, id).await?;
    require_change(caller, &current)?;
    if current.shared_with.contains(&principal) {
        return Ok(current);
    }
    repo.directory()
        .check_share(caller, &current.shared_with, &principal)
        .await?;
    let mut next = current.next_version(&caller.user_id);
    next.shared_with.push(principal);
    next.shared_with.sort();
    let audit = AuditEntry::new(
        AuditAction::Shared,
        diff(Some(&current), Some(&next)),
        &caller.user_id,
        next.version,
    );
    repo.replace(&caller.tenant_id, &current, &next, &audit)
        .await?;
    Ok(next)
}

pub async fn unshare(
    repo: &impl ContactRepository,
    caller: &Caller,
    id: Uuid,
    principal: Principal,
) -> Result<Contact, CrmError> {
    let current = load_live(repo, caller, id).await?;
    require_change(caller, &current)?;
    if !current.shared_with.contains(&principal) {
        return Err(CrmError::NotFound);
    }
    let mut next = current.next_version(&caller.user_id);
    next.shared_with.retain(|p| p != &principal);
    let audit = AuditEntry::new(
        AuditAction::Unshared,
        diff(Some(&current), Some(&next)),
        &caller.user_id,
        next.version,
    );
    repo.replace(&caller.tenant_id, &current, &next, &audit)
        .await?;
    Ok(next)
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
    let (mut items, last) = repo
        .history(&caller.tenant_id, id, limit, query.start(cursor)?)
        .await?;
    hide_custom_fields(repo, caller, &mut items).await?;
    Ok(query.page(items, last))
}

/// S1.1: explicit > "First Last" > company > email.
pub fn display_name(
    explicit: Option<&str>,
    first: Option<&str>,
    last: Option<&str>,
    company: Option<&str>,
    email: Option<&str>,
) -> Option<String> {
    if let Some(e) = explicit {
        return Some(e.to_string());
    }
    let full = [first, last]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !full.is_empty() {
        return Some(full);
    }
    company.or(email).map(str::to_string)
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
        assert_eq!(f.email(), Some("ada@example.com"));
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
