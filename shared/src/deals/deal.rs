//! A deal's fields, its create and patch bodies, and their rules (S4.2, S4.4).

use crate::access::visibility::{Principal, Visibility};
use crate::contacts::validate_tags;
use crate::custom_fields::{FieldValue, entries::Terms};
use crate::errors::{FieldErrors, FieldPath};
use crate::values::currency::Currency;
use crate::values::decimal::Exact;
use crate::values::money::Money;
use crate::values::{Patch, ids};
use crate::{CrmError, FieldError};
use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

const TITLE_CHARS: usize = 200;
const NOTE_CHARS: usize = 2000;
/// Most contacts on one deal.
pub const MAX_DEAL_CONTACTS: usize = 20;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DealStatus {
    #[default]
    Open,
    Won,
    Lost,
}

impl DealStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Won => "won",
            Self::Lost => "lost",
        }
    }
}

/// A deal as stored and returned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deal {
    pub id: Uuid,
    pub title: String,
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    /// Follows the stage: a `won` or `lost` stage makes the deal won or lost.
    pub status: DealStatus,
    /// When the deal entered its stage.
    pub stage_entered_at: DateTime<Utc>,
    /// The last activity logged on the deal (set by activities; with the stage entry time it
    /// says how long the deal has been idle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_at: Option<DateTime<Utc>>,
    /// `{"amount": "1234.50", "currency": "EUR"}`, exact in the currency's minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub value: Option<Money>,
    /// The deal's own probability (0–100); without it the stage's applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub probability: Option<Exact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_close: Option<NaiveDate>,
    /// The deal's contacts, the primary one first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contact_ids: Vec<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The lead source the deal came from (a key, as on contacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When the deal was won or lost (cleared when it is reopened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Why a lost deal was lost: a key of the tenant's catalogue, and free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_note: Option<String>,
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
    Deal,
    portal = crate::access::visibility::PortalView::Nothing,
    trash = true
);

impl Deal {
    /// Since when nothing happened to the deal: its stage entry or its last activity, the
    /// later. A deal idle for its stage's rotting period is rotting.
    pub fn idle_since(&self) -> DateTime<Utc> {
        self.last_activity_at
            .map_or(self.stage_entered_at, |a| a.max(self.stage_entered_at))
    }

    pub fn primary_contact(&self) -> Option<Uuid> {
        self.contact_ids.first().copied()
    }
}

/// Body of `POST /deals`. `status` follows from the stage; `value.amount` is a decimal string.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeal {
    #[schema(min_length = 1, pattern = "\\S")]
    pub title: String,
    /// Default: the tenant's first pipeline that is not archived.
    #[serde(default)]
    pub pipeline_id: Option<Uuid>,
    /// Default: the pipeline's first stage.
    #[serde(default)]
    pub stage_id: Option<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub value: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub probability: Option<Value>,
    #[serde(default)]
    pub expected_close: Option<NaiveDate>,
    #[serde(default)]
    pub contact_ids: Vec<Uuid>,
    /// One of `contact_ids` (default: the first).
    #[serde(default)]
    pub primary_contact_id: Option<Uuid>,
    #[serde(default)]
    pub client_id: Option<Uuid>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub lost_reason: Option<String>,
    #[serde(default)]
    pub lost_note: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub team: Option<Uuid>,
    #[serde(default)]
    pub visibility: Option<Visibility>,
}

/// `PATCH /deals/{id}` (merge patch). A new `stage_id` moves the deal (one stage history
/// entry); `status` `won` / `lost` moves it to its pipeline's won / lost stage, and `open`
/// (reopening) needs the open `stage_id` it goes back to.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub pipeline_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub stage_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<DealStatus>)]
    pub status: Patch<DealStatus>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub value: Patch<Value>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub probability: Patch<Value>,
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    pub expected_close: Patch<NaiveDate>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub contact_ids: Patch<Vec<Uuid>>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub primary_contact_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub client_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub source: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub lost_reason: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub lost_note: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub owner: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub team: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Visibility>)]
    pub visibility: Patch<Visibility>,
}

/// A deal's value: `{"amount": "<decimal string>", "currency": "<ISO 4217>"}`, not negative,
/// fitted to the currency's minor units. A JSON number is refused: it may have lost digits.
pub fn money(e: &mut FieldErrors, raw: &Value) -> Option<Money> {
    let Value::Object(obj) = raw else {
        e.push(
            "value",
            "type",
            "an object like {\"amount\": \"1234.50\", \"currency\": \"EUR\"}",
        );
        return None;
    };
    let path = FieldPath::new("value");
    for k in obj.keys().filter(|k| *k != "amount" && *k != "currency") {
        e.push(path.field(k), "unknown_field", "only amount and currency");
    }
    let currency = match obj.get("currency") {
        Some(Value::String(c)) => e.check(path.field("currency"), Currency::parse(c)),
        _ => {
            e.push(
                path.field("currency"),
                "required",
                "an ISO 4217 code such as \"EUR\"",
            );
            None
        }
    };
    let amount = match obj.get("amount") {
        Some(Value::String(a)) => match Exact::parse(a.trim()) {
            Ok(x) if x.0 < Decimal::ZERO => {
                e.push(path.field("amount"), "min", "must not be negative");
                None
            }
            Ok(x) => Some(x),
            Err(_) => {
                e.push(
                    path.field("amount"),
                    "decimal",
                    "must be a decimal number such as \"1234.50\"",
                );
                None
            }
        },
        Some(Value::Number(_)) => {
            e.push(
                path.field("amount"),
                "type",
                "give the amount as a string such as \"1234.50\": a JSON number may have lost digits",
            );
            None
        }
        _ => {
            e.push(path.field("amount"), "required", "an amount is required");
            None
        }
    };
    let (amount, currency) = (amount?, currency?);
    e.check(path.field("amount"), Money::new(amount, currency))
}

/// A deal's own probability: 0–100 with at most two decimals, as a string or a whole number.
pub fn probability(e: &mut FieldErrors, raw: &Value) -> Option<Exact> {
    let parsed = match raw {
        Value::String(s) => Exact::parse(s.trim()).ok(),
        Value::Number(n) if n.is_u64() => n
            .as_u64()
            .and_then(|v| i64::try_from(v).ok())
            .map(Exact::from),
        _ => None,
    };
    match parsed {
        Some(p) if p.0 >= Decimal::ZERO && p.0 <= Decimal::ONE_HUNDRED && p.scale() <= 2 => Some(p),
        _ => {
            e.push(
                "probability",
                "range",
                "a number from 0 to 100 with at most two decimals (a string such as \"37.5\")",
            );
            None
        }
    }
}

/// The deal's fields that need no table checked and set: title, contacts, tags, source,
/// reasons, owner. `primary` must be one of `contacts` and goes first.
pub(super) struct Checked {
    pub title: String,
    pub contact_ids: Vec<Uuid>,
    pub tags: Vec<String>,
    pub source: Option<String>,
    pub lost_reason: Option<String>,
    pub lost_note: Option<String>,
    pub owner: Option<String>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn check_fields(
    e: &mut FieldErrors,
    title: &str,
    contacts: Vec<Uuid>,
    primary: Option<Uuid>,
    tags: Vec<String>,
    source: Option<String>,
    lost_reason: Option<String>,
    lost_note: Option<String>,
    owner: Option<String>,
) -> Checked {
    let title = e.required_text("title", title, TITLE_CHARS);
    let mut contact_ids: Vec<Uuid> = Vec::new();
    for c in contacts {
        if !contact_ids.contains(&c) {
            contact_ids.push(c);
        }
    }
    if contact_ids.len() > MAX_DEAL_CONTACTS {
        e.push(
            "contact_ids",
            "max_items",
            format!("at most {MAX_DEAL_CONTACTS} contacts"),
        );
    }
    if let Some(p) = primary {
        match contact_ids.iter().position(|c| *c == p) {
            Some(i) => {
                contact_ids.remove(i);
                contact_ids.insert(0, p);
            }
            None => e.push("primary_contact_id", "one_of", "must be one of contact_ids"),
        }
    }
    let tags = validate_tags(e, tags);
    let source = source.and_then(|s| e.check("source", ids::key(&s)).flatten());
    let lost_reason = lost_reason.and_then(|s| e.check("lost_reason", ids::key(&s)).flatten());
    let lost_note = e.text("lost_note", lost_note, NOTE_CHARS);
    let owner = owner.and_then(|o| e.check("owner", ids::user_id(&o)));
    Checked {
        title,
        contact_ids,
        tags,
        source,
        lost_reason,
        lost_note,
        owner,
    }
}

/// A create body as a deal (before the pipeline is read: the engine's `check_write` places it).
pub(super) fn from_new(input: NewDeal) -> Result<Deal, Vec<FieldError>> {
    let mut e = FieldErrors::new();
    let value = input.value.as_ref().and_then(|v| money(&mut e, v));
    let probability = input
        .probability
        .as_ref()
        .and_then(|v| probability(&mut e, v));
    let c = check_fields(
        &mut e,
        &input.title,
        input.contact_ids,
        input.primary_contact_id,
        input.tags,
        input.source,
        input.lost_reason,
        input.lost_note,
        input.owner,
    );
    e.finish(Deal {
        title: c.title,
        // Nil: the default pipeline and its first stage, chosen in `check_write`.
        pipeline_id: input.pipeline_id.unwrap_or(Uuid::nil()),
        stage_id: input.stage_id.unwrap_or(Uuid::nil()),
        value,
        probability,
        expected_close: input.expected_close,
        contact_ids: c.contact_ids,
        client_id: input.client_id,
        tags: c.tags,
        source: c.source,
        lost_reason: c.lost_reason,
        lost_note: c.lost_note,
        owner: c.owner,
        team: input.team,
        visibility: input.visibility.unwrap_or_default(),
        ..Deal::default()
    })
}

/// The deal with a merge patch applied. A `status` asked for is kept on the deal and settled
/// against its stage in `check_write` (which reads the pipeline).
pub(super) fn apply(current: &Deal, p: DealPatch) -> Result<Deal, CrmError> {
    let mut e = FieldErrors::new();
    let value = match &p.value {
        Patch::Absent => current.value.clone(),
        Patch::Clear => None,
        Patch::Set(v) => money(&mut e, v),
    };
    let probability = match &p.probability {
        Patch::Absent => current.probability,
        Patch::Clear => None,
        Patch::Set(v) => probability(&mut e, v),
    };
    let required = |e: &mut FieldErrors, field: &str, what: &str| {
        e.push(field, "required", format!("a deal always has {what}"))
    };
    let title = match p.title {
        Patch::Clear => {
            required(&mut e, "title", "a title");
            String::new()
        }
        t => t.apply(Some(current.title.clone())).unwrap_or_default(),
    };
    if matches!(p.pipeline_id, Patch::Clear) {
        required(&mut e, "pipeline_id", "a pipeline");
    }
    if matches!(p.stage_id, Patch::Clear) {
        required(&mut e, "stage_id", "a stage");
    }
    if matches!(p.status, Patch::Clear) {
        required(&mut e, "status", "a status");
    }
    let primary = match p.primary_contact_id {
        Patch::Set(id) => Some(id),
        _ => None,
    };
    let contacts = p.contact_ids.apply(Some(current.contact_ids.clone()));
    let c = check_fields(
        &mut e,
        &title,
        contacts.unwrap_or_default(),
        primary,
        p.tags.apply(Some(current.tags.clone())).unwrap_or_default(),
        p.source.apply(current.source.clone()),
        p.lost_reason.apply(current.lost_reason.clone()),
        p.lost_note.apply(current.lost_note.clone()),
        p.owner.apply(current.owner.clone()),
    );
    let pipeline_id = p.pipeline_id.apply(Some(current.pipeline_id));
    let moved_pipeline = pipeline_id != Some(current.pipeline_id);
    let stage_id = match p.stage_id {
        Patch::Set(s) => s,
        // Another pipeline without a stage: its first one.
        _ if moved_pipeline => Uuid::nil(),
        _ => current.stage_id,
    };
    let next = Deal {
        status: p.status.apply(Some(current.status)).unwrap_or_default(),
        title: c.title,
        pipeline_id: pipeline_id.unwrap_or(current.pipeline_id),
        stage_id,
        value,
        probability,
        expected_close: p.expected_close.apply(current.expected_close),
        contact_ids: c.contact_ids,
        client_id: p.client_id.apply(current.client_id),
        tags: c.tags,
        source: c.source,
        lost_reason: c.lost_reason,
        lost_note: c.lost_note,
        owner: c.owner,
        team: p.team.apply(current.team),
        visibility: p
            .visibility
            .apply(Some(current.visibility))
            .unwrap_or_default(),
        ..current.clone()
    };
    e.into_result()?;
    Ok(next)
}
