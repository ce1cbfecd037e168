//! An outreach record's fields, its create and patch bodies, and their rules (S8.1): each type
//! has its own fields, and a field of another type is refused naming it.

use crate::access::visibility::{Principal, Visibility};
use crate::custom_fields::{FieldValue, entries::Terms};
use crate::errors::FieldErrors;
use crate::values::Patch;
use crate::{CrmError, FieldError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

const NOTES_CHARS: usize = 4000;
const NAME_CHARS: usize = 100;
const URL_CHARS: usize = 500;

/// How the touch was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutreachType {
    /// A proposal or message on a platform (Upwork, LinkedIn, Fiverr, or another named one).
    #[default]
    Platform,
    Email,
    Call,
    Social,
    Messenger,
}

impl OutreachType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::Email => "email",
            Self::Call => "call",
            Self::Social => "social",
            Self::Messenger => "messenger",
        }
    }

    /// The fields of this type (every other type's are refused).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Platform => &["platform", "platform_name", "proposal_url"],
            Self::Email => &["email_address", "subject"],
            Self::Call => &["phone_number", "duration_seconds"],
            Self::Social => &["network", "profile_handle", "profile_url"],
            Self::Messenger => &["messenger_app", "profile_handle", "phone_number"],
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Outbound,
    Inbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outbound => "outbound",
            Self::Inbound => "inbound",
        }
    }
}

/// What came of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pending,
    Replied,
    NoAnswer,
    MeetingBooked,
    Interested,
    NotInterested,
    Bounced,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Self::Pending,
        Self::Replied,
        Self::NoAnswer,
        Self::MeetingBooked,
        Self::Interested,
        Self::NotInterested,
        Self::Bounced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Replied => "replied",
            Self::NoAnswer => "no_answer",
            Self::MeetingBooked => "meeting_booked",
            Self::Interested => "interested",
            Self::NotInterested => "not_interested",
            Self::Bounced => "bounced",
        }
    }
}

/// The platforms known by name; `other` needs `platform_name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Upwork,
    Linkedin,
    Fiverr,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessengerApp {
    Whatsapp,
    Telegram,
    Signal,
    Messenger,
    Wechat,
    Other,
}

/// An outreach touch as stored and returned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Outreach {
    pub id: Uuid,
    /// The contact reached (must be visible to the writer; does not change).
    pub contact_id: Uuid,
    #[serde(rename = "type")]
    pub kind: OutreachType,
    pub direction: Direction,
    pub occurred_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// platform: which one, its name when `other`, the proposal's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal_url: Option<String>,
    /// email: the address written to, the subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// call and messenger: the number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
    /// social: the network, the profile's handle or URL (messenger: the handle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::contacts::SocialNetwork>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_handle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messenger_app: Option<MessengerApp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Uuid>,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<Principal>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub version: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub custom_fields: BTreeMap<String, FieldValue>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(ignore)]
    pub custom_terms: Terms,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<String>,
}

crate::record_bookkeeping!(
    Outreach,
    portal = crate::access::visibility::PortalView::Nothing,
    trash = true
);

/// Body of `POST /outreach`: the common fields and the fields of its `type`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOutreach {
    pub contact_id: Uuid,
    #[serde(rename = "type")]
    pub kind: OutreachType,
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Default: now.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub platform_name: Option<String>,
    #[serde(default)]
    pub proposal_url: Option<String>,
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub duration_seconds: Option<u32>,
    #[serde(default)]
    pub network: Option<crate::contacts::SocialNetwork>,
    #[serde(default)]
    pub profile_handle: Option<String>,
    #[serde(default)]
    pub profile_url: Option<String>,
    #[serde(default)]
    pub messenger_app: Option<MessengerApp>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub team: Option<Uuid>,
    #[serde(default)]
    pub visibility: Option<Visibility>,
}

/// `PATCH /outreach/{id}` (merge patch; `null` clears). Changing `type` needs the old type's
/// fields cleared in the same patch.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutreachPatch {
    #[serde(default, rename = "type")]
    #[schema(value_type = Option<OutreachType>)]
    pub kind: Patch<OutreachType>,
    #[serde(default)]
    #[schema(value_type = Option<Direction>)]
    pub direction: Patch<Direction>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub occurred_at: Patch<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Option<Outcome>)]
    pub outcome: Patch<Outcome>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub notes: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Platform>)]
    pub platform: Patch<Platform>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub platform_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub proposal_url: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email_address: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub subject: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone_number: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    pub duration_seconds: Patch<u32>,
    #[serde(default)]
    #[schema(value_type = Option<crate::contacts::SocialNetwork>)]
    pub network: Patch<crate::contacts::SocialNetwork>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub profile_handle: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub profile_url: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<MessengerApp>)]
    pub messenger_app: Patch<MessengerApp>,
    #[serde(default)]
    #[schema(value_type = Option<Visibility>)]
    pub visibility: Patch<Visibility>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub owner: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub team: Patch<Uuid>,
}

/// The type-specific fields a record has set, by name.
fn set_fields(o: &Outreach) -> Vec<&'static str> {
    [
        ("platform", o.platform.is_some()),
        ("platform_name", o.platform_name.is_some()),
        ("proposal_url", o.proposal_url.is_some()),
        ("email_address", o.email_address.is_some()),
        ("subject", o.subject.is_some()),
        ("phone_number", o.phone_number.is_some()),
        ("duration_seconds", o.duration_seconds.is_some()),
        ("network", o.network.is_some()),
        ("profile_handle", o.profile_handle.is_some()),
        ("profile_url", o.profile_url.is_some()),
        ("messenger_app", o.messenger_app.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect()
}

/// The record with its text normalised and every rule checked: the fields of its type only,
/// each type's required ones, formats.
pub fn checked(mut o: Outreach) -> Result<Outreach, Vec<FieldError>> {
    let mut e = FieldErrors::new();
    let t = o.kind;
    for field in set_fields(&o) {
        if !t.fields().contains(&field) {
            e.push(
                field,
                "not_for_type",
                format!(
                    "not a field of {} outreach (its fields: {})",
                    t.as_str(),
                    t.fields().join(", ")
                ),
            );
        }
    }
    o.notes = e.text("notes", o.notes.take(), NOTES_CHARS);
    o.platform_name = e.text("platform_name", o.platform_name.take(), NAME_CHARS);
    o.subject = e.text("subject", o.subject.take(), 300);
    o.proposal_url = e.url("proposal_url", o.proposal_url.take(), URL_CHARS);
    o.profile_url = e.url("profile_url", o.profile_url.take(), URL_CHARS);
    o.profile_handle = e.text("profile_handle", o.profile_handle.take(), NAME_CHARS);
    o.email_address = e.email("email_address", o.email_address.take());
    if let Some(raw) = o.phone_number.take() {
        match crate::values::Phone::parse(&raw, None) {
            Ok(p) => o.phone_number = Some(p.canonical()),
            Err(invalid) => e.invalid("phone_number", invalid),
        }
    }
    if o.occurred_at > crate::values::now() + chrono::Duration::minutes(5) {
        e.push("occurred_at", "not_future", "must not be in the future");
    }
    match t {
        OutreachType::Platform => {
            if o.platform.is_none() {
                e.push("platform", "required", "upwork, linkedin, fiverr or other");
            }
            if o.platform == Some(Platform::Other) && o.platform_name.is_none() {
                e.push(
                    "platform_name",
                    "required",
                    "the platform's name, for platform other",
                );
            }
        }
        OutreachType::Call if o.phone_number.is_none() => {
            e.push("phone_number", "required", "the number called");
        }
        OutreachType::Social => {
            if o.network.is_none() {
                e.push("network", "required", "the social network");
            }
            if o.profile_handle.is_none() && o.profile_url.is_none() {
                e.push(
                    "profile_handle",
                    "required_one_of",
                    "give profile_handle or profile_url",
                );
            }
        }
        OutreachType::Messenger => {
            if o.messenger_app.is_none() {
                e.push("messenger_app", "required", "the messenger app");
            }
            if o.profile_handle.is_none() && o.phone_number.is_none() {
                e.push(
                    "profile_handle",
                    "required_one_of",
                    "give profile_handle or phone_number",
                );
            }
        }
        _ => {}
    }
    e.finish(o)
}

pub fn from_new(n: NewOutreach) -> Result<Outreach, Vec<FieldError>> {
    let mut e = FieldErrors::new();
    let owner = n
        .owner
        .filter(|o| !o.trim().is_empty())
        .and_then(|o| e.check("owner", crate::values::ids::user_id(&o)));
    if !e.is_empty() {
        return Err(e.into_vec());
    }
    checked(Outreach {
        contact_id: n.contact_id,
        kind: n.kind,
        direction: n.direction.unwrap_or_default(),
        occurred_at: n.occurred_at.unwrap_or_else(crate::values::now),
        outcome: n.outcome,
        notes: n.notes,
        platform: n.platform,
        platform_name: n.platform_name,
        proposal_url: n.proposal_url,
        email_address: n.email_address,
        subject: n.subject,
        phone_number: n.phone_number,
        duration_seconds: n.duration_seconds,
        network: n.network,
        profile_handle: n.profile_handle,
        profile_url: n.profile_url,
        messenger_app: n.messenger_app,
        owner,
        team: n.team,
        visibility: n.visibility.unwrap_or_default(),
        ..Outreach::default()
    })
}

pub fn apply(current: &Outreach, p: OutreachPatch) -> Result<Outreach, CrmError> {
    let c = current.clone();
    let required = |field: &str| CrmError::validation(field, "required", "cannot be cleared");
    let next = Outreach {
        kind: p.kind.apply(Some(c.kind)).ok_or_else(|| required("type"))?,
        direction: p
            .direction
            .apply(Some(c.direction))
            .ok_or_else(|| required("direction"))?,
        occurred_at: p
            .occurred_at
            .apply(Some(c.occurred_at))
            .ok_or_else(|| required("occurred_at"))?,
        visibility: p.visibility.apply(Some(c.visibility)).unwrap_or_default(),
        outcome: p.outcome.apply(c.outcome),
        notes: p.notes.apply(c.notes.clone()),
        platform: p.platform.apply(c.platform),
        platform_name: p.platform_name.apply(c.platform_name.clone()),
        proposal_url: p.proposal_url.apply(c.proposal_url.clone()),
        email_address: p.email_address.apply(c.email_address.clone()),
        subject: p.subject.apply(c.subject.clone()),
        phone_number: p.phone_number.apply(c.phone_number.clone()),
        duration_seconds: p.duration_seconds.apply(c.duration_seconds),
        network: p.network.apply(c.network),
        profile_handle: p.profile_handle.apply(c.profile_handle.clone()),
        profile_url: p.profile_url.apply(c.profile_url.clone()),
        messenger_app: p.messenger_app.apply(c.messenger_app),
        owner: p.owner.apply(c.owner.clone()),
        team: p.team.apply(c.team),
        ..c
    };
    checked(next).map_err(CrmError::Validation)
}
