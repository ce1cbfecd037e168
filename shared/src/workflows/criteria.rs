//! The condition language of triggers, goals and if / else steps (S7.1, S7.2): the filter
//! parameters of `GET /contacts`, as a JSON object of strings — `status`, `lead_source`, `tag`,
//! `client`, `owner`, `team` and `cf.{key}` / `cf.{key}[op]` with the custom field operators of
//! S3 (`eq`, `ne`, `lt`, `gt`, `lte`, `gte`, `contains`, `in`, `empty`). All must hold. The same
//! words mean the same thing in a list filter, a bulk enrollment and a workflow.

use crate::FieldError;
use crate::contacts::{Contact, ContactKind};
use crate::custom_fields::definition::FieldDefinition;
use crate::custom_fields::filter::{FieldFilter, accepts_all, resolve};
use crate::records::{Kind, Record, RecordQuery};
use crate::{Caller, Role};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Criteria on a contact: list filter parameters and their values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Criteria(pub BTreeMap<String, String>);

/// Parameters of the list that are not conditions on one contact.
const NOT_CRITERIA: [&str; 4] = ["sort", "limit", "cursor", "q"];

/// Criteria compiled against the tenant's custom fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    query: RecordQuery,
    custom: Vec<FieldFilter>,
}

impl Criteria {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compiles the criteria; every bad parameter is named by its key.
    pub fn compile(&self, defs: &[FieldDefinition]) -> Result<Condition, Vec<FieldError>> {
        let mut errors = Vec::new();
        for key in self.0.keys() {
            if NOT_CRITERIA.contains(&key.as_str()) {
                errors.push(FieldError::new(
                    key,
                    "criterion",
                    "not a condition on a contact",
                ));
            }
        }
        let params: BTreeMap<String, String> = self
            .0
            .iter()
            .filter(|(k, _)| !NOT_CRITERIA.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let query = match RecordQuery::parse(ContactKind::schema(), &params) {
            Ok(q) => Some(q),
            Err(crate::CrmError::Validation(found)) => {
                errors.extend(found);
                None
            }
            Err(other) => {
                errors.push(FieldError::new("criteria", "invalid", other.to_string()));
                None
            }
        };
        let Some(query) = query else {
            return Err(errors);
        };
        if !query.ranges.is_empty() {
            errors.push(FieldError::new(
                "criteria",
                "criterion",
                "time ranges are not conditions a workflow can use",
            ));
        }
        // A workflow acts for the whole tenant: every field is visible to it.
        let system = Caller::new("", "workflow", Role::Admin);
        let mut custom = Vec::new();
        for raw in &query.custom {
            match resolve(defs, &system, raw) {
                Ok(f) => custom.push(f),
                Err(e) => errors.extend(e),
            }
        }
        if errors.is_empty() {
            Ok(Condition { query, custom })
        } else {
            Err(errors)
        }
    }
}

impl Condition {
    /// Whether the contact meets every criterion.
    pub fn matches(&self, contact: &Contact) -> bool {
        let facets: Vec<String> = ContactKind::facets(contact)
            .into_iter()
            .map(|(dim, value)| format!("{dim}:{value}"))
            .collect();
        let access = contact.access();
        self.query.facets.iter().all(|f| facets.contains(f))
            && self
                .query
                .owner
                .as_deref()
                .is_none_or(|o| access.owner == Some(o))
            && self.query.team.is_none_or(|t| access.team == Some(t))
            && accepts_all(&self.custom, contact.custom_fields())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criteria(pairs: &[(&str, &str)]) -> Criteria {
        Criteria(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn s7_1_criteria_name_every_bad_parameter() {
        let errors = criteria(&[("sort", "name"), ("colour", "red"), ("cf.nope", "1")])
            .compile(&[])
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"sort"), "{errors:?}");
        assert!(fields.contains(&"colour"), "{errors:?}");
    }

    #[test]
    fn empty_criteria_match_everything() {
        assert!(criteria(&[]).compile(&[]).is_ok());
    }
}
