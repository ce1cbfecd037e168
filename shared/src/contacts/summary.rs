//! A contact as a list row: what list entries carry and `GET /contacts` returns.

use super::{Contact, LifecycleStatus};
use crate::access::visibility::{Principal, Visibility};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a list row shows, and what residual filters and visibility need, without reading the
/// contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContactSummary {
    pub id: Uuid,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    pub lifecycle_status: LifecycleStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Uuid>,
    pub visibility: Visibility,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<Principal>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_ids: Vec<Uuid>,
    /// The import that created the contact, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_contacted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub email_opt_out: bool,
    #[serde(default)]
    pub do_not_contact: bool,
    pub version: u64,
}

impl ContactSummary {
    pub fn of(c: &Contact) -> Self {
        let f = &c.fields;
        Self {
            id: c.id,
            display_name: c.display_name.clone(),
            first_name: f.first_name.clone(),
            last_name: f.last_name.clone(),
            email: c.email.clone(),
            phone: f
                .phones
                .first()
                .map(|p| p.e164.clone().unwrap_or_else(|| p.number.clone())),
            company: f.company.clone(),
            job_title: f.job_title.clone(),
            lifecycle_status: f.lifecycle_status,
            lead_source: f.lead_source.clone(),
            owner: f.owner.clone(),
            team: f.team,
            visibility: f.visibility,
            shared_with: c.shared_with.clone(),
            tags: f.tags.clone(),
            client_ids: c.client_ids.clone(),
            import_id: c.import_id,
            created_at: c.created_at,
            updated_at: c.updated_at,
            last_contacted_at: f.last_contacted_at,
            email_opt_out: f.email_opt_out,
            do_not_contact: f.do_not_contact,
            version: c.version,
        }
    }
}
