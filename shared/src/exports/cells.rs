//! The columns of an export and their cells: relations as names, select values as labels,
//! formulas escaped.

use super::ExportEntity;
use crate::custom_fields::{FieldDefinition, FieldType, FieldValue};
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

/// The standard columns of each entity, in their default order.
pub fn standard_columns(entity: ExportEntity) -> &'static [&'static str] {
    match entity {
        ExportEntity::Contacts => &[
            "first_name",
            "last_name",
            "email",
            "phone",
            "company",
            "job_title",
            "lifecycle_status",
            "lead_source",
            "tags",
            "owner",
            "team",
            "clients",
            "street",
            "postal_code",
            "city",
            "country",
            "birthday",
            "created_at",
            "updated_at",
        ],
        ExportEntity::Deals => &[
            "title",
            "pipeline",
            "stage",
            "status",
            "value",
            "currency",
            "probability",
            "expected_close",
            "client",
            "contacts",
            "tags",
            "source",
            "owner",
            "team",
            "lost_reason",
            "closed_at",
            "created_at",
            "updated_at",
        ],
        ExportEntity::Clients => &[
            "name",
            "legal_name",
            "domain",
            "industry",
            "size",
            "status",
            "phone",
            "email",
            "website",
            "vat_id",
            "tags",
            "owner",
            "team",
            "created_at",
            "updated_at",
        ],
    }
}

/// Names for ids: users by email, teams and clients by name.
pub(super) struct Names {
    pub(super) users: HashMap<String, String>,
    pub(super) teams: HashMap<Uuid, String>,
    pub(super) clients: HashMap<Uuid, String>,
    /// Deals: contacts by display name, pipelines and stages by name.
    pub(super) contacts: HashMap<Uuid, String>,
    pub(super) pipelines: HashMap<Uuid, String>,
    pub(super) stages: HashMap<Uuid, String>,
}

/// The name of the id in `json[field]` (absent or unknown: blank).
fn name_of(json: &Value, field: &str, names: &HashMap<Uuid, String>) -> String {
    json[field]
        .as_str()
        .and_then(|id| id.parse::<Uuid>().ok())
        .and_then(|id| names.get(&id).cloned())
        .unwrap_or_default()
}

/// The names of the ids in the list `json[field]`, joined by `; `.
fn names_of(json: &Value, field: &str, names: &HashMap<Uuid, String>) -> String {
    json[field]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str()?.parse::<Uuid>().ok())
                .filter_map(|id| names.get(&id).cloned())
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

/// A cell a spreadsheet would take for a formula, made text.
pub fn escape_formula(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\n']) {
        format!("'{cell}")
    } else {
        cell
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// One cell of a record (its presented JSON) for a column.
pub(super) fn cell(
    json: &Value,
    column: &str,
    names: &Names,
    fields: &[FieldDefinition],
) -> String {
    let first = |list: &str, field: &str| text(&json[list][0][field]);
    let raw = match column {
        "phone" if json["phones"].is_array() => first("phones", "number"),
        "street" | "postal_code" | "city" | "country" => first("addresses", column),
        "owner" => json["owner"]
            .as_str()
            .map(|u| names.users.get(u).cloned().unwrap_or_else(|| u.to_string()))
            .unwrap_or_default(),
        "team" => name_of(json, "team", &names.teams),
        "clients" => names_of(json, "client_ids", &names.clients),
        // Deals.
        "client" => name_of(json, "client_id", &names.clients),
        "contacts" => names_of(json, "contact_ids", &names.contacts),
        "pipeline" => name_of(json, "pipeline_id", &names.pipelines),
        "stage" => name_of(json, "stage_id", &names.stages),
        "value" => text(&json["value"]["amount"]),
        "currency" => text(&json["value"]["currency"]),
        c => match c.strip_prefix("cf.") {
            Some(key) => custom_cell(
                &json["custom_fields"][key],
                fields.iter().find(|d| d.key == key),
            ),
            None => text(&json[c]),
        },
    };
    escape_formula(raw)
}

/// A custom field value as a person reads it: select options by label.
fn custom_cell(value: &Value, def: Option<&FieldDefinition>) -> String {
    let label = |id: &str| -> String {
        match def.map(|d| &d.field_type) {
            Some(FieldType::Select { options } | FieldType::MultiSelect { options, .. }) => options
                .iter()
                .find(|o| o.id == id)
                .map_or_else(|| id.to_string(), |o| o.label.clone()),
            _ => id.to_string(),
        }
    };
    match value {
        Value::String(s) => match def.map(|d| &d.field_type) {
            Some(FieldType::Select { .. }) => label(s),
            _ => s.clone(),
        },
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| text(i), label))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(_) => serde_json::from_value::<FieldValue>(value.clone())
            .map(|v| text(&v.to_json()))
            .unwrap_or_else(|_| value.to_string()),
        other => text(other),
    }
}
