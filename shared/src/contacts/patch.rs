//! A merge patch of a contact (`PATCH /contacts/{id}`).

use super::fields::{
    ContactAddress, ContactFields, EmailInput, LifecycleStatus, NewContact, PhoneInput,
    SocialProfile,
};
use crate::access::visibility::Visibility;
use crate::values::Patch;
use crate::{CrmError, FieldError};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

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
    /// Kept by the system from outbound activities and outreach (S8.5): refused in a request;
    /// an import may carry history.
    #[serde(default)]
    #[schema(ignore)]
    pub last_contacted_at: Patch<DateTime<Utc>>,
    /// Whether the patch carries history (an import's): only then may it set
    /// `last_contacted_at`.
    #[serde(skip)]
    #[schema(ignore)]
    pub history: bool,
    /// Custom field values by key, merge-patch style: a value sets, `null` clears, an absent
    /// key keeps (S3.3).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ContactPatch {
    /// A patch that sets what `input` gives and keeps everything else: an import's update of
    /// a contact found by its email (blank cells never overwrite; the email stays, it is how
    /// the contact was found).
    pub fn filling(input: NewContact) -> Self {
        fn set<T>(v: Option<T>) -> Patch<T> {
            v.map_or(Patch::Absent, Patch::Set)
        }
        Self {
            first_name: set(input.first_name),
            last_name: set(input.last_name),
            display_name: set(input.display_name),
            email: Patch::Absent,
            emails: Patch::Absent,
            phones: set(input.phones),
            job_title: set(input.job_title),
            company: set(input.company),
            website: set(input.website),
            addresses: set(input.addresses),
            social_profiles: set(input.social_profiles),
            birthday: set(input.birthday),
            tags: set(input.tags),
            owner: set(input.owner),
            team: set(input.team),
            visibility: set(input.visibility),
            lead_source: set(input.lead_source),
            lifecycle_status: set(input.lifecycle_status),
            last_contacted_at: set(input.last_contacted_at),
            history: true,
            custom_fields: None,
        }
    }

    /// The merged input; `Err` when the patch itself is contradictory.
    pub fn apply(self, current: &ContactFields) -> Result<NewContact, CrmError> {
        if !self.history && !self.last_contacted_at.is_absent() {
            return Err(CrmError::validation(
                "last_contacted_at",
                "read_only",
                "kept by the system from outbound activities and outreach",
            ));
        }
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
