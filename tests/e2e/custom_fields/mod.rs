//! Custom fields (S3.1–S3.5) through the gateway and the shipped handlers: definitions of
//! every type with their rules, values set / changed / cleared through the ordinary create and
//! PATCH, every rule named in the problem, definition changes refused with the count of
//! affected records or migrated, option renames, archived fields, visibility by team and role,
//! and list filters with every operator.

mod client_fields;
mod definition_changes;
mod definitions;
mod filters;
mod imported_rows;
mod options;
mod required_and_archived;
mod values;
mod visibility;

use crm_e2e_tests::{Stack, json};
use serde_json::Value;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The `key` of every entry of a definitions reply's `list` (`fields` or `groups`), in order.
fn keys(body: &Value, list: &str) -> Vec<String> {
    body[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap().to_string())
        .collect()
}

/// One field of every type, with rules (S3.2).
fn every_type() -> Vec<Value> {
    vec![
        json!({"key": "nickname", "entity": "contact", "label": "Nickname",
               "type": {"kind": "text", "min_length": 2, "max_length": 20, "regex": "[A-Za-z ]+"}}),
        json!({"key": "bio", "entity": "contact", "label": "Bio",
               "type": {"kind": "long_text", "max_length": 500}}),
        json!({"key": "employees", "entity": "contact", "label": "Employees",
               "type": {"kind": "integer", "min": 1, "max": 100000}}),
        json!({"key": "score", "entity": "contact", "label": "Score",
               "type": {"kind": "decimal", "scale": 2, "min": "0", "max": "100"}}),
        json!({"key": "budget", "entity": "contact", "label": "Budget",
               "type": {"kind": "currency", "currencies": ["EUR", "USD"], "min": "0"}}),
        json!({"key": "renewal", "entity": "contact", "label": "Renewal",
               "type": {"kind": "date", "min": "2020-01-01"}}),
        json!({"key": "last_demo", "entity": "contact", "label": "Last demo",
               "type": {"kind": "date_time"}}),
        json!({"key": "newsletter", "entity": "contact", "label": "Newsletter",
               "type": {"kind": "boolean"}}),
        json!({"key": "stage", "entity": "contact", "label": "Stage",
               "type": {"kind": "select", "options": [
                   {"id": "new", "label": "New"}, {"id": "qualified", "label": "Qualified"},
                   {"id": "won", "label": "Won"}]}}),
        json!({"key": "interests", "entity": "contact", "label": "Interests",
               "type": {"kind": "multi_select", "max_items": 2, "options": [
                   {"id": "crm", "label": "CRM"}, {"id": "erp", "label": "ERP"},
                   {"id": "bi", "label": "BI"}]}}),
        json!({"key": "billing_email", "entity": "contact", "label": "Billing email",
               "type": {"kind": "email"}}),
        json!({"key": "mobile", "entity": "contact", "label": "Mobile",
               "type": {"kind": "phone", "default_country": "DE"}}),
        json!({"key": "homepage", "entity": "contact", "label": "Homepage", "type": {"kind": "url"}}),
        json!({"key": "account_manager", "entity": "contact", "label": "Account manager",
               "type": {"kind": "user_ref"}}),
        json!({"key": "referred_by", "entity": "contact", "label": "Referred by",
               "type": {"kind": "contact_ref"}}),
        json!({"key": "parent_account", "entity": "contact", "label": "Account",
               "type": {"kind": "client_ref"}}),
    ]
}

/// Defines [`every_type`] (each accepted).
async fn define_every_type(stack: &Stack, admin: &str) {
    for def in every_type() {
        stack.create_field(admin, def).await;
    }
}
