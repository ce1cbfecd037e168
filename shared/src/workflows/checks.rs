//! What a workflow save checks against the tenant (S7.2): its custom fields, email templates,
//! pipelines, and the contact and activity validators, loaded once per save.

use super::criteria::Criteria;
use super::steps::StepCatalog;
use crate::activities::parse_fields;
use crate::contacts::{ContactFields, NewContact};
use crate::custom_fields::definition::Entity;
use crate::custom_fields::definition::FieldDefinition;
use crate::store::Table;
use crate::{Caller, CrmError, FieldError, Role};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use uuid::Uuid;

pub struct TenantFacts {
    defs: Vec<FieldDefinition>,
    custom_keys: Vec<String>,
    templates: BTreeSet<Uuid>,
    stages: BTreeSet<(Uuid, Uuid)>,
}

impl TenantFacts {
    pub async fn load(table: &Table, caller: &Caller) -> Result<Self, CrmError> {
        let defs = crate::custom_fields::store::FieldStore::new(table.clone())
            .definitions(&caller.tenant_id, Entity::CONTACT)
            .await?;
        let admin = Caller::new(
            caller.tenant_id.clone(),
            caller.user_id.clone(),
            Role::Admin,
        );
        let templates = crate::email::templates::list(table, &admin)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        let pipelines = crate::deals::pipeline::Pipelines::new(table.clone())
            .list(&admin, false)
            .await?;
        let stages = pipelines
            .iter()
            .flat_map(|p| p.stages.iter().map(move |s| (p.id, s.id)))
            .collect();
        Ok(Self {
            custom_keys: defs.iter().map(|d| d.key.clone()).collect(),
            defs,
            templates,
            stages,
        })
    }
}

impl StepCatalog for TenantFacts {
    fn custom_keys(&self) -> &[String] {
        &self.custom_keys
    }

    fn template(&self, id: Uuid) -> bool {
        self.templates.contains(&id)
    }

    fn stage(&self, pipeline: Uuid, stage: Uuid) -> bool {
        self.stages.contains(&(pipeline, stage))
    }

    fn check_contact_patch(&self, body: &Map<String, Value>) -> Vec<FieldError> {
        let Some((field, value)) = body.iter().next() else {
            return vec![];
        };
        let (patch, custom) = match super::actions::field_patch(field, value) {
            Ok(p) => p,
            Err(CrmError::Validation(errors)) => return errors,
            Err(e) => return vec![FieldError::new(field, "invalid", e.to_string())],
        };
        if let Some(custom) = custom {
            let system = Caller::new("", "workflow", Role::Admin);
            return crate::custom_fields::value::validate_values(
                &self.defs, &custom, None, &system, false,
            )
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| FieldError::new(field, e.rule.as_str(), e.message.clone()))
            .collect();
        }
        // The patch applied to a valid contact: only what the field itself breaks.
        let sample = ContactFields::validate(NewContact {
            first_name: Some("Sample".into()),
            ..NewContact::default()
        });
        let Ok(sample) = sample else { return vec![] };
        match patch.apply(&sample).map(ContactFields::validate) {
            Ok(Ok(_)) => vec![],
            Ok(Err(errors)) => errors,
            Err(CrmError::Validation(errors)) => errors,
            Err(e) => vec![FieldError::new(field, "invalid", e.to_string())],
        }
    }

    fn check_activity(&self, body: &Map<String, Value>) -> Vec<FieldError> {
        let mut body = body.clone();
        for linked in ["contact_ids", "deal_id", "client_id"] {
            if body.contains_key(linked) {
                return vec![FieldError::new(
                    linked,
                    "read_only",
                    "the run's contact and deal are linked",
                )];
            }
        }
        body.insert("contact_ids".into(), serde_json::json!([Uuid::nil()]));
        parse_fields(body).err().unwrap_or_default()
    }

    fn check_criteria(&self, criteria: &Criteria) -> Vec<FieldError> {
        criteria.compile(&self.defs).err().unwrap_or_default()
    }
}
