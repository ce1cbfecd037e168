//! The tenant's catalogue of lead sources (S8.2): a key, a label, a kind and default UTM
//! values per source. Until it is first saved a contact's `lead_source` is free text (a key);
//! once it is, a contact written with a source the catalogue does not have (or has inactive)
//! is refused naming it. Item: `T#{t}#LEADSOURCES` / `CATALOGUE`. Saving it (with the
//! migration of the values already in use) is `leads::sources`.

use crate::access::{Action, Policy, Subject};
use crate::errors::{FieldErrors, FieldPath};
use crate::store::{Table, from_item, key, to_item};
use crate::{Caller, CrmError, FieldError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Most sources a tenant keeps.
pub const MAX_SOURCES: usize = 200;
const SK: &str = "CATALOGUE";
const LABEL_CHARS: usize = 100;
const UTM_CHARS: usize = 200;

pub fn catalogue_pk(tenant: &str) -> String {
    format!("T#{tenant}#LEADSOURCES")
}

/// What kind of source it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    WebForm,
    Referral,
    Import,
    Event,
    Ads,
    InboundEmail,
    Outreach,
    #[default]
    Other,
}

fn active_default() -> bool {
    true
}

/// One source of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadSource {
    /// What a contact's `lead_source` holds: lower-case letters, digits, `-`, `_`.
    pub key: String,
    pub label: String,
    #[serde(default)]
    pub kind: SourceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<String>,
    /// Inactive sources stay on the contacts that have them; no contact gets them anew.
    #[serde(default = "active_default")]
    pub active: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeadSources {
    pub sources: Vec<LeadSource>,
    /// 0 while the catalogue was never saved (then any key is taken).
    #[serde(default)]
    pub version: u64,
}

/// Body of `PUT /lead-sources`: the whole catalogue.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadSourcesInput {
    pub sources: Vec<LeadSource>,
}

impl LeadSources {
    pub fn is_saved(&self) -> bool {
        self.version > 0
    }

    pub fn get(&self, key: &str) -> Option<&LeadSource> {
        self.sources.iter().find(|s| s.key == key)
    }

    /// Whether a contact may be given source `key` now (under field `field`).
    pub fn check(&self, field: &str, key: &str) -> Result<(), FieldError> {
        if !self.is_saved() {
            return Ok(());
        }
        match self.get(key) {
            Some(s) if s.active => Ok(()),
            Some(_) => Err(FieldError::new(
                field,
                "inactive",
                format!("the lead source {key} is inactive"),
            )),
            None => Err(FieldError::new(
                field,
                "one_of",
                format!(
                    "unknown lead source {key}: a key of the tenant's lead sources (GET /lead-sources)"
                ),
            )),
        }
    }
}

/// The tenant's catalogue (empty and unsaved until the first `PUT /lead-sources`).
pub async fn load(table: &Table, tenant: &str) -> Result<LeadSources, CrmError> {
    Ok(table
        .get(catalogue_pk(tenant), SK)
        .await?
        .map(from_item)
        .transpose()?
        .unwrap_or_default())
}

/// The catalogue for a caller who may read the tenant's settings.
pub async fn read(table: &Table, caller: &Caller) -> Result<LeadSources, CrmError> {
    Policy::check(caller, Action::Read, Subject::Settings)?;
    load(table, &caller.tenant_id).await
}

/// The sources of an input, validated: keys unique, labels required, UTM values text.
pub fn validate(input: LeadSourcesInput) -> Result<Vec<LeadSource>, CrmError> {
    let mut e = FieldErrors::new();
    if input.sources.len() > MAX_SOURCES {
        e.push(
            "sources",
            "max_items",
            format!("at most {MAX_SOURCES} sources"),
        );
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, s) in input.sources.into_iter().enumerate() {
        let path = FieldPath::new("sources").index(i);
        let key = match crate::values::ids::key(&s.key) {
            Ok(Some(k)) => Some(k),
            Ok(None) => {
                e.push(path.field("key"), "required", "a key such as \"web\"");
                None
            }
            Err(invalid) => {
                e.invalid(path.field("key"), invalid);
                None
            }
        };
        if key.as_ref().is_some_and(|k| !seen.insert(k.clone())) {
            e.push(path.field("key"), "unique", "a key is listed once");
        }
        let label = e.required_text(path.field("label"), &s.label, LABEL_CHARS);
        let utm_source = e.text(path.field("utm_source"), s.utm_source, UTM_CHARS);
        let utm_medium = e.text(path.field("utm_medium"), s.utm_medium, UTM_CHARS);
        let utm_campaign = e.text(path.field("utm_campaign"), s.utm_campaign, UTM_CHARS);
        out.extend(key.map(|key| LeadSource {
            key,
            label,
            kind: s.kind,
            utm_source,
            utm_medium,
            utm_campaign,
            active: s.active,
        }));
    }
    e.into_result()?;
    Ok(out)
}

/// Stores `sources` as the next version of `current` (conditional on it).
pub async fn save(
    table: &Table,
    tenant: &str,
    current: &LeadSources,
    sources: Vec<LeadSource>,
) -> Result<LeadSources, CrmError> {
    let next = LeadSources {
        sources,
        version: current.version + 1,
    };
    let item = to_item(&next, key(catalogue_pk(tenant), SK))?;
    let expected = current.is_saved().then_some(current.version);
    table.put_versioned(item, expected).await?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(key: &str, active: bool) -> LeadSource {
        LeadSource {
            key: key.into(),
            label: key.into(),
            kind: SourceKind::Other,
            utm_source: None,
            utm_medium: None,
            utm_campaign: None,
            active,
        }
    }

    #[test]
    fn an_unsaved_catalogue_takes_any_key_a_saved_one_only_its_active_ones() {
        let empty = LeadSources::default();
        assert!(empty.check("lead_source", "anything").is_ok());
        let saved = LeadSources {
            sources: vec![source("web", true), source("fair", false)],
            version: 1,
        };
        assert!(saved.check("lead_source", "web").is_ok());
        assert_eq!(
            saved.check("lead_source", "fair").unwrap_err().rule,
            "inactive"
        );
        let unknown = saved.check("lead_source", "tv").unwrap_err();
        assert_eq!(
            (unknown.field.as_str(), unknown.rule.as_str()),
            ("lead_source", "one_of")
        );
        assert!(unknown.message.contains("tv"));
    }

    #[test]
    fn keys_are_unique_and_labels_required() {
        let input = LeadSourcesInput {
            sources: vec![
                source("web", true),
                source("web", true),
                source("Bad Key", true),
            ],
        };
        let Err(CrmError::Validation(e)) = validate(input) else {
            panic!("refused")
        };
        let fields: Vec<_> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["sources[1].key", "sources[2].key"]);
    }
}
