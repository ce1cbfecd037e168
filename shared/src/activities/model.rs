//! An activity's fields, its create body and its rules (S6.1–S6.2): seven types, each with
//! fields of its own; a field of another type is refused by name.

use crate::access::visibility::{Principal, Visibility};
use crate::custom_fields::{FieldValue, entries::Terms};
use crate::errors::{FieldErrors, FieldPath};
use crate::{CrmError, FieldError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

const SUBJECT_CHARS: usize = 300;
/// Note text, an email's body, a chat transcript excerpt.
const LONG_TEXT_CHARS: usize = 100_000;
const SHORT_CHARS: usize = 200;
/// Most contacts, recipients or attendees on one activity.
pub const MAX_LINKS: usize = 50;
/// The summary a timeline row carries of a long text.
const SNIPPET_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    Email,
    Chat,
    Ticket,
    Call,
    Meeting,
    Note,
    Task,
}

impl ActivityType {
    pub const ALL: [Self; 7] = [
        Self::Email,
        Self::Chat,
        Self::Ticket,
        Self::Call,
        Self::Meeting,
        Self::Note,
        Self::Task,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Chat => "chat",
            Self::Ticket => "ticket",
            Self::Call => "call",
            Self::Meeting => "meeting",
            Self::Note => "note",
            Self::Task => "task",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    /// The type's own fields besides the common ones (`subject`, `text`, links, owner…), and
    /// which of them a new activity must have.
    pub fn fields(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Self::Email => (
                &[
                    "direction",
                    "from",
                    "to",
                    "cc",
                    "message_id",
                    "thread_id",
                    "in_reply_to",
                    "body",
                    "attachments",
                ],
                &["direction", "from"],
            ),
            Self::Call => (
                &["direction", "duration_seconds", "outcome"],
                &["direction"],
            ),
            Self::Meeting => (
                &["starts_at", "ends_at", "attendees", "location"],
                &["starts_at"],
            ),
            Self::Ticket => (&["external_id", "state"], &["state"]),
            Self::Task => (&["due_at", "done", "assignee"], &["subject"]),
            Self::Note => (&[], &["text"]),
            Self::Chat => (&["channel", "transcript", "direction"], &["channel"]),
        }
    }

    /// Whether an activity of this type (outbound where it has a direction) is a touch of its
    /// contacts: it sets their last contact (S8.5). Notes, tasks and tickets are not.
    pub fn touches(self, direction: Option<Direction>) -> bool {
        match self {
            Self::Email | Self::Call | Self::Chat => direction == Some(Direction::Outbound),
            Self::Meeting => true,
            Self::Note | Self::Task | Self::Ticket => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    Connected,
    NoAnswer,
    Busy,
    LeftVoicemail,
    WrongNumber,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    Open,
    Pending,
    Solved,
    Closed,
}

/// Who made the activity: a person through the API, or the system on a path of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    #[default]
    User,
    Workflow,
    Import,
    InboundEmail,
    OutboundEmail,
    System,
}

/// A file stored with an activity (an inbound email's attachment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivityAttachment {
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    /// The S3 object key.
    pub key: String,
}

/// The fields of an activity that a create body gives and a patch changes (one shape: a patch
/// is merged into it and validated again).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivityFields {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub activity_type: Option<ActivityType>,
    /// When it happened (default: now; a meeting: its start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// A note's text, or a summary on any other type but email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cc: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// An email's body (text); not editable once logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<ActivityAttachment>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<CallOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attendees: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<TicketState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<bool>,
    /// The user a task is for (default: its owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    /// One or more contacts (with a client or a deal, none is needed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_ids: Option<Vec<Uuid>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Uuid>,
    #[serde(default)]
    pub visibility: Visibility,
}

/// Every field name of [`ActivityFields`]: a body naming anything else is refused.
const FIELD_NAMES: &[&str] = &[
    "type",
    "occurred_at",
    "subject",
    "text",
    "direction",
    "from",
    "to",
    "cc",
    "message_id",
    "thread_id",
    "in_reply_to",
    "body",
    "attachments",
    "duration_seconds",
    "outcome",
    "starts_at",
    "ends_at",
    "attendees",
    "location",
    "external_id",
    "state",
    "due_at",
    "done",
    "assignee",
    "channel",
    "transcript",
    "contact_ids",
    "client_id",
    "deal_id",
    "owner",
    "team",
    "visibility",
];

/// Body of `POST /activities`: [`ActivityFields`] of its type (see [`ActivityType::fields`]).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewActivity(pub Map<String, Value>);

/// Body of `PATCH /activities/{id}`: a JSON merge patch of [`ActivityFields`] (the type and a
/// logged email's body cannot change).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ActivityPatch(pub Map<String, Value>);

/// The fields a JSON object gives, each refusal named: unknown names, values of the wrong
/// shape (`duration_seconds: "ten"`).
pub fn parse_fields(body: Map<String, Value>) -> Result<ActivityFields, Vec<FieldError>> {
    let mut e = FieldErrors::new();
    for (k, v) in &body {
        if !FIELD_NAMES.contains(&k.as_str()) {
            e.push(k.as_str(), "unknown_field", "not a field of an activity");
        } else if let Err(err) = serde_json::from_value::<ActivityFields>(Value::Object(
            Map::from_iter([(k.clone(), v.clone())]),
        )) {
            e.push(k.as_str(), "type", shape_message(&err.to_string()));
        }
    }
    if !e.is_empty() {
        return Err(e.into_vec());
    }
    let fields = serde_json::from_value(Value::Object(body))
        .map_err(|err| vec![FieldError::new("body", "type", err.to_string())])?;
    Ok(fields)
}

/// serde's message without its position.
fn shape_message(raw: &str) -> String {
    raw.split(" at line").next().unwrap_or(raw).to_string()
}

/// An activity as stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Activity {
    pub id: Uuid,
    #[serde(flatten)]
    pub fields: ActivityFields,
    /// The clients whose timeline shows the activity: its own client and its contacts'
    /// clients when it was written (a client's timeline is one index read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline_client_ids: Vec<Uuid>,
    /// When a task was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub origin: Origin,
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
    Activity,
    portal = crate::access::visibility::PortalView::Nothing,
    assignment = fields,
    trash = true
);

impl Activity {
    pub fn activity_type(&self) -> ActivityType {
        self.fields.activity_type.unwrap_or(ActivityType::Note)
    }

    pub fn occurred_at(&self) -> DateTime<Utc> {
        self.fields.occurred_at.unwrap_or(self.created_at)
    }

    pub fn contact_ids(&self) -> &[Uuid] {
        self.fields.contact_ids.as_deref().unwrap_or_default()
    }

    /// An open task's assignee (its owner when none was named).
    pub fn open_task_assignee(&self) -> Option<&str> {
        (self.activity_type() == ActivityType::Task && self.fields.done != Some(true))
            .then(|| {
                self.fields
                    .assignee
                    .as_deref()
                    .or(self.fields.owner.as_deref())
            })
            .flatten()
    }

    /// Whether it is a touch of its contacts (S8.5).
    pub fn is_touch(&self) -> bool {
        self.activity_type().touches(self.fields.direction)
    }
}

/// A timeline row: what list entries carry, without long texts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivitySummary {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub activity_type: ActivityType,
    pub occurred_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The first characters of the text, body or transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contact_ids: Vec<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Uuid>,
    pub visibility: Visibility,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<Principal>,
    pub created_at: DateTime<Utc>,
    pub version: u64,
}

impl ActivitySummary {
    pub fn of(a: &Activity) -> Self {
        let f = &a.fields;
        let long = f
            .text
            .as_deref()
            .or(f.body.as_deref())
            .or(f.transcript.as_deref());
        Self {
            id: a.id,
            activity_type: a.activity_type(),
            occurred_at: a.occurred_at(),
            subject: f.subject.clone(),
            snippet: long.map(|t| t.chars().take(SNIPPET_CHARS).collect()),
            direction: f.direction,
            due_at: f.due_at,
            done: f.done,
            assignee: f.assignee.clone(),
            contact_ids: a.contact_ids().to_vec(),
            client_id: f.client_id,
            deal_id: f.deal_id,
            thread_id: f.thread_id.clone(),
            origin: a.origin,
            owner: f.owner.clone(),
            team: f.team,
            visibility: f.visibility,
            shared_with: a.shared_with.clone(),
            created_at: a.created_at,
            version: a.version,
        }
    }
}

/// Multi-line text: line breaks kept (CRLF becomes LF), no other control characters, trimmed,
/// at most `max` characters; blank is `None`.
fn long_text(e: &mut FieldErrors, field: &str, raw: Option<String>, max: usize) -> Option<String> {
    let raw = raw?.replace("\r\n", "\n");
    if raw
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        e.push(
            field,
            "no_control_characters",
            "must not contain control characters",
        );
        return None;
    }
    let t = raw.trim();
    if t.chars().count() > max {
        e.push(
            field,
            "max_length",
            format!("must be at most {max} characters"),
        );
        return None;
    }
    (!t.is_empty()).then(|| t.to_string())
}

fn addresses(e: &mut FieldErrors, field: &str, raw: Option<Vec<String>>) -> Option<Vec<String>> {
    let raw = raw?;
    if raw.len() > MAX_LINKS {
        e.push(field, "max_items", format!("at most {MAX_LINKS}"));
        return None;
    }
    let out: Vec<String> = raw
        .into_iter()
        .enumerate()
        .filter_map(|(i, a)| e.email(FieldPath::new(field).index(i), Some(a)))
        .collect();
    (!out.is_empty()).then_some(out)
}

/// The names of the fields `f` gives (those that serialise), for the per-type check.
fn given(f: &ActivityFields) -> Vec<String> {
    match serde_json::to_value(f) {
        Ok(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

const COMMON: &[&str] = &[
    "type",
    "occurred_at",
    "subject",
    "text",
    "contact_ids",
    "client_id",
    "deal_id",
    "owner",
    "team",
    "visibility",
];

/// Validates and normalises an activity's fields: the type's own fields only, required ones
/// present, texts and addresses well-formed, times in order, links within their limits.
pub fn validate(mut f: ActivityFields) -> Result<ActivityFields, Vec<FieldError>> {
    let mut e = FieldErrors::new();
    let Some(kind) = f.activity_type else {
        e.push(
            "type",
            "required",
            "one of email, chat, ticket, call, meeting, note, task",
        );
        return Err(e.into_vec());
    };
    let (own, required) = kind.fields();
    for name in given(&f) {
        let allowed = COMMON.contains(&name.as_str()) || own.contains(&name.as_str());
        // An email has a body rather than a text.
        if !allowed || (kind == ActivityType::Email && name == "text") {
            e.push(
                name.as_str(),
                "not_for_type",
                format!("a {} activity has no {name}", kind.as_str()),
            );
        }
    }
    f.subject = e.text("subject", f.subject.take(), SUBJECT_CHARS);
    f.text = long_text(&mut e, "text", f.text.take(), LONG_TEXT_CHARS);
    f.body = long_text(&mut e, "body", f.body.take(), LONG_TEXT_CHARS);
    f.transcript = long_text(&mut e, "transcript", f.transcript.take(), LONG_TEXT_CHARS);
    f.from = e.email("from", f.from.take());
    f.to = addresses(&mut e, "to", f.to.take());
    f.cc = addresses(&mut e, "cc", f.cc.take());
    f.attendees = match f.attendees.take() {
        Some(a) if a.len() > MAX_LINKS => {
            e.push("attendees", "max_items", format!("at most {MAX_LINKS}"));
            None
        }
        Some(a) => {
            let out: Vec<String> = a
                .iter()
                .enumerate()
                .filter_map(|(i, x)| {
                    e.text_of(FieldPath::new("attendees").index(i), x, SHORT_CHARS)
                })
                .collect();
            (!out.is_empty()).then_some(out)
        }
        None => None,
    };
    for (name, value) in [
        ("message_id", &mut f.message_id),
        ("thread_id", &mut f.thread_id),
        ("in_reply_to", &mut f.in_reply_to),
        ("location", &mut f.location),
        ("external_id", &mut f.external_id),
        ("channel", &mut f.channel),
    ] {
        *value = e.text(name, value.take(), 998);
    }
    if let (Some(s), Some(end)) = (f.starts_at, f.ends_at) {
        if end < s {
            e.push("ends_at", "after_start", "must not be before starts_at");
        }
    }
    if kind == ActivityType::Meeting && f.occurred_at.is_none() {
        f.occurred_at = f.starts_at;
    }
    if let Some(d) = f.duration_seconds {
        if d > 7 * 24 * 3600 {
            e.push("duration_seconds", "max", "must be at most a week");
        }
    }
    let contacts = f.contact_ids.take().unwrap_or_default();
    let mut seen = std::collections::BTreeSet::new();
    let contacts: Vec<Uuid> = contacts.into_iter().filter(|c| seen.insert(*c)).collect();
    if contacts.len() > MAX_LINKS {
        e.push("contact_ids", "max_items", format!("at most {MAX_LINKS}"));
    }
    f.contact_ids = (!contacts.is_empty()).then_some(contacts);
    if f.contact_ids.is_none() && f.client_id.is_none() && f.deal_id.is_none() {
        e.push(
            "contact_ids",
            "required",
            "link the activity to a contact, a client or a deal",
        );
    }
    let present = given(&f);
    for name in required {
        if !present.iter().any(|p| p == name) {
            e.push(
                *name,
                "required",
                format!("a {} activity needs {name}", kind.as_str()),
            );
        }
    }
    e.finish(f)
}

/// A merge patch (RFC 7396) of an activity's fields, validated again. The type and a logged
/// email's body do not change.
pub fn apply(
    current: &ActivityFields,
    patch: Map<String, Value>,
) -> Result<ActivityFields, CrmError> {
    let Value::Object(mut merged) = serde_json::to_value(current).map_err(CrmError::internal)?
    else {
        return Err(CrmError::internal("an activity is an object"));
    };
    let mut e = FieldErrors::new();
    for (k, v) in patch {
        let changes = (merged.contains_key(&k) || !v.is_null()) && merged.get(&k) != Some(&v);
        if k == "type" && changes {
            e.push("type", "immutable", "an activity's type cannot change");
        } else if k == "body" && changes && current.activity_type == Some(ActivityType::Email) {
            e.push(
                "body",
                "immutable",
                "a logged email's body cannot be edited",
            );
        } else if v.is_null() {
            merged.remove(&k);
        } else {
            merged.insert(k, v);
        }
    }
    e.into_result()?;
    let fields = parse_fields(merged).map_err(CrmError::Validation)?;
    validate(fields).map_err(CrmError::Validation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> ActivityFields {
        match v {
            Value::Object(m) => parse_fields(m).unwrap(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn s6_1_unknown_fields_and_wrong_shapes_are_named() {
        let Value::Object(m) = json!({"type": "call", "duration_seconds": "ten", "mood": 1}) else {
            unreachable!()
        };
        let mut got: Vec<_> = parse_fields(m)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.rule))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("duration_seconds".into(), "type".into()),
                ("mood".into(), "unknown_field".into())
            ]
        );
    }

    fn rules(r: Result<ActivityFields, Vec<FieldError>>) -> Vec<(String, String)> {
        r.unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.rule))
            .collect()
    }

    #[test]
    fn s6_1_each_type_refuses_fields_of_another() {
        let c = Uuid::nil().to_string();
        let r = validate(fields(json!({"type": "call", "direction": "outbound",
            "location": "Berlin", "contact_ids": [c]})));
        assert_eq!(rules(r), [("location".into(), "not_for_type".into())]);
        let r = validate(fields(json!({"type": "email", "direction": "inbound",
            "from": "a@example.com", "text": "x", "contact_ids": [c]})));
        assert_eq!(rules(r), [("text".into(), "not_for_type".into())]);
    }

    #[test]
    fn s6_1_required_fields_and_links() {
        let r = validate(fields(json!({"type": "note"})));
        let got = rules(r);
        assert!(got.contains(&("text".into(), "required".into())));
        assert!(got.contains(&("contact_ids".into(), "required".into())));
        let r = validate(fields(json!({"type": "meeting", "deal_id": Uuid::nil(),
            "starts_at": "2026-12-01T10:00:00Z", "ends_at": "2026-12-01T09:00:00Z"})));
        assert_eq!(rules(r), [("ends_at".into(), "after_start".into())]);
    }

    #[test]
    fn s6_1_meeting_occurs_at_its_start_and_text_keeps_lines() {
        let m = validate(fields(json!({"type": "meeting", "client_id": Uuid::nil(),
            "starts_at": "2026-12-01T10:00:00Z", "text": " Agenda:\r\n- one\n- two "})))
        .unwrap();
        assert_eq!(m.occurred_at, m.starts_at);
        assert_eq!(m.text.as_deref(), Some("Agenda:\n- one\n- two"));
    }

    #[test]
    fn s6_3_a_logged_emails_body_is_not_editable_its_subject_is() {
        let email = validate(fields(json!({"type": "email", "direction": "outbound",
            "from": "me@example.com", "body": "Hello", "contact_ids": [Uuid::nil()]})))
        .unwrap();
        let patch = |v: Value| match v {
            Value::Object(m) => apply(&email, m),
            _ => unreachable!(),
        };
        assert!(
            matches!(patch(json!({"body": "Changed"})), Err(CrmError::Validation(e)) if e[0].rule == "immutable")
        );
        assert!(
            matches!(patch(json!({"type": "note"})), Err(CrmError::Validation(e)) if e[0].field == "type")
        );
        let same = patch(json!({"body": "Hello", "subject": "Re"})).unwrap();
        assert_eq!(same.subject.as_deref(), Some("Re"));
    }

    #[test]
    fn s8_5_touches_are_outbound_conversations_and_meetings() {
        assert!(ActivityType::Call.touches(Some(Direction::Outbound)));
        assert!(!ActivityType::Email.touches(Some(Direction::Inbound)));
        assert!(ActivityType::Meeting.touches(None));
        assert!(!ActivityType::Note.touches(None));
    }
}
