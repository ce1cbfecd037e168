//! Custom field definitions (S3.1, S3.2, S3.4): what an admin defines per entity, and the
//! validation of a definition itself. A definition is validated once, when it is created or
//! changed; values are validated against it on every write ([`super::value`]).

use super::limits::*;
use super::value::{FieldValue, validate_type};
use crate::errors::FieldErrors;
use crate::values::Exact;
use crate::values::country::validate_country;
use crate::{Caller, FieldError, Role};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use uuid::Uuid;

mod validation;
pub use validation::{generate_option_id, is_valid_key, is_valid_option_id};

/// The kind of record a field belongs to, by its name: `contact`, `client`, `deal` (fields can
/// be defined before a kind has records), and any kind a record engine registers
/// ([`Entity::register`]). Unknown names are refused wherever an entity is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entity(&'static str);

/// The kinds registered besides the built-in ones.
static REGISTERED: std::sync::RwLock<Vec<&'static str>> = std::sync::RwLock::new(Vec::new());

impl Entity {
    pub const CONTACT: Entity = Entity("contact");
    pub const CLIENT: Entity = Entity("client");
    pub const DEAL: Entity = Entity("deal");
    const BUILT_IN: [Entity; 3] = [Self::CONTACT, Self::CLIENT, Self::DEAL];

    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// Makes a record kind's name an entity fields can be defined for (idempotent).
    pub fn register(name: &'static str) -> Self {
        if let Some(known) = Self::parse(name) {
            return known;
        }
        if let Ok(mut r) = REGISTERED.write() {
            if !r.contains(&name) {
                r.push(name);
            }
        }
        Self(name)
    }

    /// The entity of this name, built in or registered.
    pub fn parse(name: &str) -> Option<Self> {
        Self::BUILT_IN
            .into_iter()
            .find(|e| e.0 == name)
            .or_else(|| {
                REGISTERED
                    .read()
                    .ok()
                    .and_then(|r| r.iter().find(|n| **n == name).map(|n| Self(n)))
            })
    }
}

/// In the API document: the built-in kinds (a kind a record engine registers is accepted too).
impl utoipa::PartialSchema for Entity {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(["contact", "client", "deal"]))
            .description(Some("The kind of record the field belongs to"))
            .into()
    }
}

impl utoipa::ToSchema for Entity {}

impl Serialize for Entity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Entity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::parse(&name)
            .ok_or_else(|| serde::de::Error::unknown_variant(&name, &["contact", "client", "deal"]))
    }
}

/// One option of a select or multi-select field. The id is what values store, so a label can
/// be renamed without touching any record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectOption {
    /// `^[a-z0-9][a-z0-9_-]{0,39}$`, unique within the field. Absent or empty on input: made
    /// from the label (`"In Progress"` → `in_progress`).
    #[serde(default)]
    #[schema(pattern = r"^([a-z0-9][a-z0-9_-]{0,39})?$")]
    pub id: String,
    pub label: String,
    /// Archived options keep their stored values but cannot be newly chosen.
    #[serde(default)]
    pub archived: bool,
}

/// A field's type with the rules that belong to it. JSON: `{"kind": "decimal", "scale": 2}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FieldType {
    /// One line; whitespace collapsed. `regex` must match the whole value (like HTML's
    /// `pattern`).
    Text {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_length: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_length: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        regex: Option<String>,
    },
    /// Several lines; line breaks kept.
    LongText {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_length: Option<u32>,
    },
    Integer {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    /// Exact; `scale` is the most fraction digits a value may have (default and at most
    /// [`MAX_DECIMAL_SCALE`]).
    Decimal {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<Exact>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<Exact>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scale: Option<u32>,
    },
    /// An exact amount with its ISO 4217 currency; the currency's minor units are the scale.
    /// `min` / `max` bound the amount whatever its currency (no conversion).
    Currency {
        /// Allowed currencies; `None`: any ISO 4217 currency.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        currencies: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<Exact>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<Exact>,
    },
    Date {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<NaiveDate>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<NaiveDate>,
    },
    DateTime {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<DateTime<Utc>>,
    },
    Boolean,
    Select {
        options: Vec<SelectOption>,
    },
    MultiSelect {
        options: Vec<SelectOption>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_items: Option<u32>,
        /// Default and at most [`MAX_MULTI_ITEMS`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_items: Option<u32>,
    },
    Email,
    /// Stored as E.164 when the number's country is known (its `+` prefix or
    /// `default_country`), else as entered.
    Phone {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default_country: Option<String>,
    },
    /// An http(s) URL.
    Url,
    UserRef,
    ContactRef,
    ClientRef,
}

/// A field type without its rules: for messages, type-change tables and index layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    LongText,
    Integer,
    Decimal,
    Currency,
    Date,
    DateTime,
    Boolean,
    Select,
    MultiSelect,
    Email,
    Phone,
    Url,
    UserRef,
    ContactRef,
    ClientRef,
}

impl FieldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::LongText => "long_text",
            Self::Integer => "integer",
            Self::Decimal => "decimal",
            Self::Currency => "currency",
            Self::Date => "date",
            Self::DateTime => "date_time",
            Self::Boolean => "boolean",
            Self::Select => "select",
            Self::MultiSelect => "multi_select",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Url => "url",
            Self::UserRef => "user_ref",
            Self::ContactRef => "contact_ref",
            Self::ClientRef => "client_ref",
        }
    }
}

impl FieldType {
    pub fn kind(&self) -> FieldKind {
        match self {
            Self::Text { .. } => FieldKind::Text,
            Self::LongText { .. } => FieldKind::LongText,
            Self::Integer { .. } => FieldKind::Integer,
            Self::Decimal { .. } => FieldKind::Decimal,
            Self::Currency { .. } => FieldKind::Currency,
            Self::Date { .. } => FieldKind::Date,
            Self::DateTime { .. } => FieldKind::DateTime,
            Self::Boolean => FieldKind::Boolean,
            Self::Select { .. } => FieldKind::Select,
            Self::MultiSelect { .. } => FieldKind::MultiSelect,
            Self::Email => FieldKind::Email,
            Self::Phone { .. } => FieldKind::Phone,
            Self::Url => FieldKind::Url,
            Self::UserRef => FieldKind::UserRef,
            Self::ContactRef => FieldKind::ContactRef,
            Self::ClientRef => FieldKind::ClientRef,
        }
    }

    /// The options of a select or multi-select field (archived ones included).
    pub fn options(&self) -> &[SelectOption] {
        match self {
            Self::Select { options } | Self::MultiSelect { options, .. } => options,
            _ => &[],
        }
    }

    fn options_mut(&mut self) -> Option<&mut Vec<SelectOption>> {
        match self {
            Self::Select { options } | Self::MultiSelect { options, .. } => Some(options),
            _ => None,
        }
    }
}

/// Who sees (reads and writes) a field's values. Owners and admins always do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FieldVisibility {
    #[default]
    All,
    /// Members of any of `teams`, and users with any of `roles`.
    Restricted {
        #[serde(default)]
        teams: Vec<Uuid>,
        #[serde(default)]
        roles: Vec<Role>,
    },
}

impl FieldVisibility {
    pub fn admits(&self, caller: &Caller) -> bool {
        match self {
            Self::All => true,
            Self::Restricted { teams, roles } => {
                caller.role.is_admin()
                    || roles.contains(&caller.role)
                    || caller.teams.iter().any(|t| teams.contains(t))
            }
        }
    }
}

/// A validated custom field definition, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDefinition {
    /// Stable and unique per entity: values are stored under it. `^[a-z][a-z0-9_]{0,39}$`.
    pub key: String,
    pub entity: Entity,
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_text: Option<String>,
    /// Enforced on create and on a PATCH that would clear the value; not for archived fields.
    pub required: bool,
    /// Applied on create when no value is given. Stored form; see [`Self::to_json`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<FieldValue>,
    /// Position within its group (ties broken by key).
    pub order: u32,
    /// The key of the [`FieldGroup`] the field is shown in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default)]
    pub visibility: FieldVisibility,
    /// Archived fields keep their values, stop being required and cannot be newly set.
    #[serde(default)]
    pub archived: bool,
    /// 1 when created, +1 with each accepted change.
    pub version: u64,
}

impl FieldDefinition {
    pub fn kind(&self) -> FieldKind {
        self.field_type.kind()
    }

    /// Whether the caller may read and write this field's values.
    pub fn visible_to(&self, caller: &Caller) -> bool {
        self.visibility.admits(caller)
    }

    /// The definition as the API shows it: like its serde form, with `default` in the plain
    /// JSON shape a client sends.
    pub fn to_json(&self) -> serde_json::Value {
        let mut json = serde_json::to_value(self).unwrap_or_default();
        if let (Some(obj), Some(default)) = (json.as_object_mut(), &self.default) {
            obj.insert("default".into(), default.to_json());
        }
        json
    }
}

/// Body of a definition create (and, with the same key and entity, of a change). Unknown
/// fields are refused.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFieldDefinition {
    #[schema(pattern = r"^[a-z][a-z0-9_]{0,39}$")]
    pub key: String,
    pub entity: Entity,
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub help_text: Option<String>,
    #[serde(default)]
    pub required: bool,
    /// In the plain JSON shape of a value; checked against the field's own rules.
    #[serde(default)]
    #[schema(value_type = Option<serde_json::Value>)]
    pub default: Option<serde_json::Value>,
    /// Default: after the entity's last field.
    #[serde(default)]
    pub order: Option<u32>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub visibility: FieldVisibility,
    #[serde(default)]
    pub archived: bool,
}

/// A group (section) fields are shown in, ordered within its entity (S3.4). `teams` scopes
/// the group to the teams it is for (empty: everyone); that is layout, not access: field
/// access is [`FieldDefinition::visibility`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldGroup {
    pub key: String,
    pub entity: Entity,
    pub label: String,
    pub order: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<Uuid>,
}

impl FieldGroup {
    /// Whether the group is meant for the caller (admins see every group).
    pub fn shown_to(&self, caller: &Caller) -> bool {
        self.teams.is_empty()
            || caller.role.is_admin()
            || caller.teams.iter().any(|t| self.teams.contains(t))
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFieldGroup {
    #[schema(pattern = r"^[a-z][a-z0-9_]{0,39}$")]
    pub key: String,
    pub entity: Entity,
    pub label: String,
    #[serde(default)]
    pub order: Option<u32>,
    #[serde(default)]
    pub teams: Vec<Uuid>,
}

/// The position after the last of `orders` (0 for the first).
fn after_last(orders: impl Iterator<Item = u32>) -> u32 {
    orders.map(|o| o.saturating_add(1)).max().unwrap_or(0)
}

/// The form layout a caller sees for one entity: their visible fields (archived ones left
/// out) in sections, ungrouped fields first, then groups by order; fields by order then key.
/// A field whose group is not meant for the caller (or gone) is shown ungrouped, so no
/// visible field is ever hidden by layout.
pub fn layout<'a>(
    entity: Entity,
    fields: &'a [FieldDefinition],
    groups: &'a [FieldGroup],
    caller: &Caller,
) -> Vec<(Option<&'a FieldGroup>, Vec<&'a FieldDefinition>)> {
    let mut shown_groups: Vec<&FieldGroup> = groups
        .iter()
        .filter(|g| g.entity == entity && g.shown_to(caller))
        .collect();
    shown_groups.sort_by(|a, b| (a.order, &a.key).cmp(&(b.order, &b.key)));
    let mut visible: Vec<&FieldDefinition> = fields
        .iter()
        .filter(|f| f.entity == entity && !f.archived && f.visible_to(caller))
        .collect();
    visible.sort_by(|a, b| (a.order, &a.key).cmp(&(b.order, &b.key)));
    let section_of = |f: &FieldDefinition| {
        f.group
            .as_deref()
            .and_then(|g| shown_groups.iter().position(|x| x.key == g))
    };
    let mut sections: Vec<(Option<&FieldGroup>, Vec<&FieldDefinition>)> = Vec::new();
    let ungrouped: Vec<&FieldDefinition> = visible
        .iter()
        .copied()
        .filter(|f| section_of(f).is_none())
        .collect();
    if !ungrouped.is_empty() {
        sections.push((None, ungrouped));
    }
    for (i, g) in shown_groups.iter().enumerate() {
        let members: Vec<&FieldDefinition> = visible
            .iter()
            .copied()
            .filter(|f| section_of(f) == Some(i))
            .collect();
        if !members.is_empty() {
            sections.push((Some(*g), members));
        }
    }
    sections
}
