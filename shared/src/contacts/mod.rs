//! Contacts (S1): the record, its fields and their rules, as a kind of the record engine. The
//! engine gives contacts their use cases (create, read, patch, trash and restore, share,
//! history, lists and search); what is particular to contacts is here: the fields and their
//! validation ([`fields`]), the display name rule, email addresses unique in the tenant, and
//! what a contact is found by.

mod fields;
mod patch;
mod summary;
pub mod touches;

pub use fields::*;
pub use patch::ContactPatch;
pub use summary::ContactSummary;

use crate::access::visibility::{PortalView, Principal};
use crate::custom_fields::FieldValue;
use crate::custom_fields::entries::Terms;
use crate::records::query::{exact_facet, folded_facet, uuid_facet};
use crate::records::{
    Claim, Deletion, Facet, Kind, RangeFilter, Records, Schema, SearchText, SortOrder, Stamp,
};
use crate::values::search;
use crate::values::time::time_key;
use crate::{CrmError, FieldError};
use chrono::{DateTime, Utc};
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
    /// Its row in that import's file (the header is row 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_row: Option<u64>,
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
    /// Touches of the last 90 days, kept by the system (S8.5); a response shows their counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(ignore)]
    pub touches: Vec<touches::Touch>,
}

crate::record_bookkeeping!(
    Contact,
    portal = PortalView::OwnContact,
    assignment = fields,
    trash = true
);

/// Days a deleted contact can be restored before the table's TTL removes it.
pub const TRASH_DAYS: i64 = 30;

/// The sort key of the never-contacted: before every time.
pub const NEVER: &str = "0";
/// Characters of the folded display name kept in the name sort key.
const NAME_KEY_MAX: usize = 60;

impl Contact {
    /// A new contact from validated fields.
    pub fn new(fields: ContactFields, stamp: &Stamp, import_id: Option<Uuid>) -> Self {
        Self {
            id: stamp.id,
            display_name: fields.display_name().unwrap_or_default(),
            email: fields.email().map(str::to_string),
            fields,
            import_id,
            import_row: None,
            client_ids: Vec::new(),
            primary_client_id: None,
            shared_with: Vec::new(),
            created_at: stamp.at,
            created_by: stamp.actor.clone(),
            updated_at: stamp.at,
            updated_by: stamp.actor.clone(),
            version: 1,
            custom_fields: BTreeMap::new(),
            custom_terms: Terms::new(),
            deleted_at: None,
            deleted_by: None,
            touches: Vec::new(),
        }
    }

    /// This contact with other fields (the derived ones follow; bookkeeping unchanged).
    pub fn with_fields(&self, fields: ContactFields) -> Self {
        Self {
            display_name: fields.display_name().unwrap_or_default(),
            email: fields.email().map(str::to_string),
            fields,
            ..self.clone()
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
}

fn status(raw: &str) -> Result<String, FieldError> {
    serde_json::from_value::<LifecycleStatus>(serde_json::Value::String(raw.into()))
        .map(|s| s.as_str().to_string())
        .map_err(|_| {
            FieldError::new(
                "status",
                "one_of",
                "must be lead, prospect, customer or inactive",
            )
        })
}

fn client(raw: &str) -> Result<String, FieldError> {
    uuid_facet("client")(raw)
}

static SCHEMA: Schema = Schema {
    deletion: Deletion::Trash { days: TRASH_DAYS },
    portal: PortalView::OwnContact,
    // Most selective first: the planner drives a list by the first one filtered on.
    facets: &[
        Facet::of("client", client).selective().precise(),
        Facet::of("tag", folded_facet).sharded().selective(),
        Facet::of("source", exact_facet)
            .param("lead_source")
            .sharded(),
        Facet::of("status", status).sharded(),
    ],
    categories: [Some("status"), Some("source")],
    sorts: &[
        SortOrder::new("name", 1),
        SortOrder::new("updated_at", 2),
        SortOrder::new("last_contacted_at", 3),
    ],
    range_filters: &[
        RangeFilter::CREATED,
        RangeFilter::Between {
            name: "updated",
            slot: Some(2),
        },
        RangeFilter::Between {
            name: "last_contacted",
            slot: Some(3),
        },
        RangeFilter::BeforeOrNever {
            param: "not_contacted_since",
            slot: 3,
            never: NEVER,
        },
    ],
    search: true,
    // `email` repeats the primary address of `emails`, which is audited.
    // `touches` only counts: its effect, `last_contacted_at`, is the audited change.
    audit_ignore: &["email", "touches"],
    ..Schema::new("contact", "CONTACT", "contacts")
};

/// Contacts as a kind of the record engine.
pub struct ContactKind;

/// The contacts of a tenant: the engine's use cases for [`ContactKind`].
pub type Contacts = Records<ContactKind>;

pub fn email_pk(tenant: &str, email: &str) -> String {
    format!("T#{tenant}#EMAIL#{email}")
}

impl Kind for ContactKind {
    type Record = Contact;
    type Summary = ContactSummary;
    type New = NewContact;
    type Patch = ContactPatch;

    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn create(input: NewContact, stamp: &Stamp) -> Result<Contact, Vec<FieldError>> {
        ContactFields::validate(input).map(|fields| Contact::new(fields, stamp, None))
    }

    fn patch(current: &Contact, patch: ContactPatch) -> Result<Contact, CrmError> {
        let merged = patch.apply(&current.fields)?;
        let fields = ContactFields::validate(merged).map_err(CrmError::Validation)?;
        Ok(current.with_fields(fields))
    }

    fn summary(c: &Contact) -> ContactSummary {
        ContactSummary::of(c)
    }

    fn facets(c: &Contact) -> Vec<(&'static str, String)> {
        let f = &c.fields;
        let mut out = vec![("status", f.lifecycle_status.as_str().to_string())];
        if let Some(src) = &f.lead_source {
            out.push(("source", src.clone()));
        }
        out.extend(f.tags.iter().map(|t| ("tag", tag_key(t))));
        out.extend(c.client_ids.iter().map(|id| ("client", id.to_string())));
        out
    }

    fn sort_keys(c: &Contact) -> [Option<String>; crate::records::keys::SORT_SLOTS] {
        let name: String = search::fold(&c.display_name)
            .chars()
            .take(NAME_KEY_MAX)
            .collect();
        let contacted = c
            .fields
            .last_contacted_at
            .map_or_else(|| NEVER.to_string(), time_key);
        [
            Some(name),
            Some(time_key(c.updated_at)),
            Some(contacted),
            None,
            None,
        ]
    }

    fn search_text(c: &Contact) -> SearchText {
        let f = &c.fields;
        SearchText {
            names: [
                Some(&c.display_name),
                f.first_name.as_ref(),
                f.last_name.as_ref(),
            ]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
            others: f.company.iter().cloned().collect(),
            emails: f.emails.iter().map(|e| e.address.clone()).collect(),
        }
    }

    /// The touches as their counts of the last 30 and 90 days, as of the time of reading.
    fn presented(c: &Contact, json: &mut serde_json::Map<String, serde_json::Value>) {
        json.remove("touches");
        let counts = touches::counts(&c.touches, crate::values::now());
        json.insert(
            "touch_counts".into(),
            serde_json::to_value(counts).unwrap_or_default(),
        );
    }

    fn claims(tenant: &str, c: &Contact) -> Vec<Claim> {
        c.live_emails()
            .into_iter()
            .map(|email| Claim {
                pk: email_pk(tenant, email),
                sk: "EMAIL".into(),
                holder: "contact_id",
                entity: "contact_email",
                field: "email",
                message: "another contact already has this email",
            })
            .collect()
    }
}

/// Every item a new contact is stored as (the record, its email reservations and its index
/// entries; no audit entry): for loading a tenant in benchmarks with the real layout.
pub fn stored_items(tenant: &str, c: &Contact) -> Result<Vec<crate::store::Item>, CrmError> {
    crate::records::write::stored_items::<ContactKind>(tenant, c).map(|(items, _)| items)
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
mod tests;
