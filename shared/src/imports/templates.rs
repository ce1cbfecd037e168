//! Import templates (S5.2): a tenant's saved mappings and modes, named at `POST /imports` or
//! `POST /imports/{id}/start`. Names are unique per tenant (case-insensitively): a name claim
//! item changes with the template in one transaction.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | template | `T#t#IMPORT_TEMPLATES` | `TEMPLATE#{id}` |
//! | name claim | `T#t#IMPORT_TEMPLATES` | `NAME#{folded name}` |

use super::csv_rows::ColumnMap;
use super::targets::Mapping;
use super::{ImportEntity, ImportMode};
use crate::access::{Action, Policy, Subject};
use crate::errors::FieldErrors;
use crate::store::{Condition, Key, Table, TransactError, WriteOp, from_item, key, s, to_item};
use crate::values::Patch;
use crate::{Caller, CrmError, FieldError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const MAX_TEMPLATES: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportTemplate {
    pub id: Uuid,
    pub name: String,
    /// What the imports it maps create: contacts or clients.
    #[serde(default, deserialize_with = "super::entity_or_contacts")]
    pub entity: ImportEntity,
    pub mapping: Mapping,
    #[serde(default)]
    pub mode: ImportMode,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

/// Body of `POST /import-templates`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewImportTemplate {
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: String,
    /// `contacts` (the default) or `clients`.
    #[serde(default)]
    pub entity: ImportEntity,
    pub mapping: Mapping,
    #[serde(default)]
    pub mode: ImportMode,
}

/// Body of `PATCH /import-templates/{id}` (merge patch).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportTemplatePatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    pub mapping: Option<Mapping>,
    #[serde(default)]
    pub mode: Option<ImportMode>,
}

fn pk(tenant: &str) -> String {
    format!("T#{tenant}#IMPORT_TEMPLATES")
}

fn template_sk(id: Uuid) -> String {
    format!("TEMPLATE#{id}")
}

fn name_sk(name: &str) -> String {
    format!("NAME#{}", name.trim().to_lowercase())
}

/// A template's name (1–100 characters) and its mapping's targets, checked without a file:
/// every column must be named once with a known target.
fn validate(
    entity: ImportEntity,
    name: &str,
    mapping: &Mapping,
    caller_defs: &[crate::custom_fields::FieldDefinition],
) -> Result<String, CrmError> {
    let mut e = FieldErrors::new();
    let name = e.required_text("name", name, 100);
    let headers: Vec<String> = mapping.columns.iter().map(|c| c.column.clone()).collect();
    let mut errors = e.into_result().err().map_or_else(Vec::new, |e| match e {
        CrmError::Validation(v) => v,
        _ => Vec::new(),
    });
    if let Err(found) = ColumnMap::from_mapping(entity, &headers, mapping, caller_defs) {
        errors.extend(found);
    }
    if errors.is_empty() {
        Ok(name)
    } else {
        Err(CrmError::Validation(errors))
    }
}

fn name_taken(name: &str) -> CrmError {
    let detail = format!("another import template is named \"{name}\"");
    CrmError::Conflict {
        detail: detail.clone(),
        errors: vec![FieldError::new("name", "unique", detail)],
    }
}

fn template_item(tenant: &str, t: &ImportTemplate) -> Result<crate::store::Item, CrmError> {
    let keys = key(pk(tenant), template_sk(t.id));
    // The item's `entity` attribute is the template's own (see `Import::entity`).
    to_item(t, keys)
}

fn claim_item(tenant: &str, name: &str, id: Uuid) -> crate::store::Item {
    let mut item = key(pk(tenant), name_sk(name));
    item.insert("template_id".into(), s(id.to_string()));
    item.insert("entity".into(), s("import_template_name"));
    item
}

/// The import templates of a tenant, and their use cases.
pub struct ImportTemplates<'a> {
    pub table: &'a Table,
    pub catalog: &'a crate::catalog::Catalog,
}

impl<'a> ImportTemplates<'a> {
    pub fn new(catalog: &'a crate::catalog::Catalog) -> Self {
        Self {
            table: catalog.table(),
            catalog,
        }
    }

    /// The custom fields of the entity the caller may see (the `cf.{key}` targets).
    async fn defs(
        &self,
        caller: &Caller,
        entity: ImportEntity,
    ) -> Result<Vec<crate::custom_fields::FieldDefinition>, CrmError> {
        Ok(super::processing::definitions(self.catalog, caller, entity)
            .await?
            .1)
    }

    pub async fn create(
        &self,
        caller: &Caller,
        input: NewImportTemplate,
    ) -> Result<ImportTemplate, CrmError> {
        Policy::check(caller, Action::Write, Subject::Imports)?;
        let defs = self.defs(caller, input.entity).await?;
        let name = validate(input.entity, &input.name, &input.mapping, &defs)?;
        if self.list(caller).await?.len() >= MAX_TEMPLATES {
            return Err(CrmError::validation(
                "name",
                "limit",
                format!("a tenant keeps at most {MAX_TEMPLATES} import templates"),
            ));
        }
        let now = crate::values::now();
        let template = ImportTemplate {
            id: crate::values::new_id(),
            name,
            entity: input.entity,
            mapping: input.mapping,
            mode: input.mode,
            created_at: now,
            created_by: caller.user_id.clone(),
            updated_at: now,
            version: 1,
        };
        let tenant = &caller.tenant_id;
        match self
            .table
            .transact(vec![
                WriteOp::put_new(template_item(tenant, &template)?),
                WriteOp::put_new(claim_item(tenant, &template.name, template.id)),
            ])
            .await
        {
            Ok(()) => Ok(template),
            Err(e) if e.failed_at(1) => Err(name_taken(&template.name)),
            Err(e) => Err(e.into_error("import template")),
        }
    }

    pub async fn list(&self, caller: &Caller) -> Result<Vec<ImportTemplate>, CrmError> {
        Policy::check(caller, Action::Read, Subject::Imports)?;
        let items = self
            .table
            .query_all(crate::store::Query::partition(pk(&caller.tenant_id)).prefix("TEMPLATE#"))
            .await?;
        let mut templates = items
            .into_iter()
            .map(from_item::<ImportTemplate>)
            .collect::<Result<Vec<_>, _>>()?;
        templates.sort_by_key(|t| t.name.to_lowercase());
        Ok(templates)
    }

    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<ImportTemplate, CrmError> {
        Policy::check(caller, Action::Read, Subject::Imports)?;
        self.table
            .get_as(Key::new(pk(&caller.tenant_id), template_sk(id)))
            .await?
            .ok_or(CrmError::NotFound)
    }

    /// Fills a mapping and a mode that were not given from the template `name` (id or name),
    /// when one is named: its id. An entity not given is the template's; one given must be.
    pub async fn apply(
        &self,
        caller: &Caller,
        name: Option<&str>,
        entity: &mut Option<ImportEntity>,
        mapping: &mut Option<Mapping>,
        mode: &mut Option<ImportMode>,
    ) -> Result<Option<Uuid>, CrmError> {
        let Some(name) = name else {
            return Ok(None);
        };
        let template = self.find(caller, name).await?;
        if entity.get_or_insert(template.entity) != &template.entity {
            return Err(CrmError::validation(
                "template",
                "entity",
                format!("the template is for {} imports", template.entity.noun()),
            ));
        }
        mapping.get_or_insert(template.mapping);
        mode.get_or_insert(template.mode);
        Ok(Some(template.id))
    }

    /// A template by id or by name (what `POST /imports` names).
    pub async fn find(
        &self,
        caller: &Caller,
        id_or_name: &str,
    ) -> Result<ImportTemplate, CrmError> {
        if let Ok(id) = id_or_name.parse::<Uuid>() {
            return self.get(caller, id).await;
        }
        #[derive(Deserialize)]
        struct Claim {
            template_id: Uuid,
        }
        let claim: Option<Claim> = self
            .table
            .get_as(Key::new(pk(&caller.tenant_id), name_sk(id_or_name)))
            .await?;
        match claim {
            Some(c) => self.get(caller, c.template_id).await,
            None => Err(CrmError::validation(
                "template",
                "exists",
                format!("no import template is named \"{id_or_name}\""),
            )),
        }
    }

    pub async fn patch(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: ImportTemplatePatch,
        if_match: Option<u64>,
    ) -> Result<ImportTemplate, CrmError> {
        Policy::check(caller, Action::Write, Subject::Imports)?;
        let current = self.get(caller, id).await?;
        if if_match.is_some_and(|v| v != current.version) {
            return Err(CrmError::PreconditionFailed);
        }
        let name = match patch.name {
            Patch::Set(name) => name,
            Patch::Absent => current.name.clone(),
            Patch::Clear => {
                return Err(CrmError::validation(
                    "name",
                    "required",
                    "a template has a name",
                ));
            }
        };
        let mapping = patch.mapping.unwrap_or_else(|| current.mapping.clone());
        let defs = self.defs(caller, current.entity).await?;
        let name = validate(current.entity, &name, &mapping, &defs)?;
        let next = ImportTemplate {
            name,
            mapping,
            mode: patch.mode.unwrap_or(current.mode),
            updated_at: crate::values::now(),
            version: current.version + 1,
            ..current.clone()
        };
        let tenant = &caller.tenant_id;
        let mut writes = vec![WriteOp::put_if(
            template_item(tenant, &next)?,
            Condition::version(current.version),
        )];
        let renamed = name_sk(&next.name) != name_sk(&current.name);
        if renamed {
            writes.push(WriteOp::put_new(claim_item(tenant, &next.name, id)));
            writes.push(WriteOp::delete(Key::new(
                pk(tenant),
                name_sk(&current.name),
            )));
        }
        match self.table.transact(writes).await {
            Ok(()) => Ok(next),
            Err(e) if e.failed_at(0) => Err(CrmError::PreconditionFailed),
            Err(e) if renamed && e.failed_at(1) => Err(name_taken(&next.name)),
            Err(e) => Err(e.into_error("import template")),
        }
    }

    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<(), CrmError> {
        Policy::check(caller, Action::Write, Subject::Imports)?;
        let current = self.get(caller, id).await?;
        let tenant = &caller.tenant_id;
        self.table
            .transact(vec![
                WriteOp::delete_if(
                    Key::new(pk(tenant), template_sk(id)),
                    Condition::version(current.version),
                ),
                WriteOp::delete(Key::new(pk(tenant), name_sk(&current.name))),
            ])
            .await
            .map_err(|e: TransactError| match e {
                e if e.failed_at(0) => CrmError::PreconditionFailed,
                e => e.into_error("import template"),
            })
    }
}
