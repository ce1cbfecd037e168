//! How a contact entered the CRM (S8.2): its lead source, the path (API, import, inbound
//! email, web form, portal) and the UTM values it came with, set once on creation by the path
//! that created it and never patched.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The way in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryPath {
    #[default]
    Api,
    Import,
    InboundEmail,
    WebForm,
    Portal,
}

impl EntryPath {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Import => "import",
            Self::InboundEmail => "inbound_email",
            Self::WebForm => "web_form",
            Self::Portal => "portal",
        }
    }
}

/// What a creating path says of the way in (never part of a request body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryInput {
    pub path: EntryPath,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
}

/// How a contact entered, as stored and returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContactEntry {
    /// The lead source it entered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub path: EntryPath,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<String>,
    pub at: DateTime<Utc>,
}

impl ContactEntry {
    pub fn new(input: EntryInput, source: Option<String>, at: DateTime<Utc>) -> Self {
        Self {
            source,
            path: input.path,
            utm_source: input.utm_source,
            utm_medium: input.utm_medium,
            utm_campaign: input.utm_campaign,
            at,
        }
    }
}
