//! Managing definitions and groups (S3.1, S3.3, S3.4): the use cases behind the
//! `/custom-fields` routes. Owners and admins define; every other role (but portal users)
//! reads the definitions it may see, which is what forms, import mapping, export columns and
//! workflow conditions are built from.
//!
//! A change that could orphan or corrupt stored values ([`super::assess_change`] is not safe,
//! or values must be converted) reads the field's value entries ([`super::entries`]; for a
//! removed option only that option's entries) and tries [`super::migrate_to`] on each stored
//! value. If any value does not survive, the change is refused with the number of records
//! affected; otherwise the converted values are written record by record (each in its own
//! transaction, with an audit entry) and then the definition. Values first, definition last:
//! a migration cut short leaves the old definition in place, and repeating the request
//! finishes it (values already converted survive the check).

use super::change::{OptionMapping, assess_change, migrate_to, validate_mapping};
use super::definition::{Entity, FieldDefinition, FieldGroup, NewFieldDefinition, NewFieldGroup};
use super::entries::{field_partitions, read_entry};
use super::filter::TermRange;
use super::store::{FieldStore, Schema};
use super::value::FieldValue;
use crate::access::{Action, Policy, Subject};
use crate::store::{KeyRange, Query, Table};
use crate::{Caller, CrmError, FieldError};
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Most records one definition change converts in its request; a change affecting more is
/// refused with the count (split it: e.g. map fewer options at once).
pub const MAX_MIGRATED_RECORDS: usize = 1_000;
const MIGRATION_CONCURRENCY: usize = 10;

pub fn require_admin(caller: &Caller) -> Result<(), CrmError> {
    Policy::check(caller, Action::Write, Subject::FieldDefinitions)
}

fn require_reader(caller: &Caller) -> Result<(), CrmError> {
    Policy::check(caller, Action::Read, Subject::FieldDefinitions)
}

/// An entity's fields and groups as the caller may see them (admins: all).
pub async fn schema(
    store: &FieldStore,
    caller: &Caller,
    entity: Entity,
) -> Result<Schema, CrmError> {
    require_reader(caller)?;
    let mut schema = store.schema(&caller.tenant_id, entity).await?;
    schema.fields.retain(|f| f.visible_to(caller));
    schema.groups.retain(|g| g.shown_to(caller));
    Ok(schema)
}

pub async fn get(
    store: &FieldStore,
    caller: &Caller,
    entity: Entity,
    key: &str,
) -> Result<FieldDefinition, CrmError> {
    require_reader(caller)?;
    store
        .definition(&caller.tenant_id, entity, key)
        .await?
        .filter(|d| d.visible_to(caller))
        .ok_or(CrmError::NotFound)
}

pub async fn create(
    store: &FieldStore,
    caller: &Caller,
    input: NewFieldDefinition,
) -> Result<FieldDefinition, CrmError> {
    require_admin(caller)?;
    let schema = store.schema(&caller.tenant_id, input.entity).await?;
    let def = input
        .validate(&schema.fields, &schema.groups)
        .map_err(CrmError::Validation)?;
    check_teams(store, caller, restricted_teams(&def), "visibility.teams").await?;
    store.insert_definition(&caller.tenant_id, &def).await?;
    Ok(def)
}

fn restricted_teams(def: &FieldDefinition) -> &[Uuid] {
    match &def.visibility {
        super::FieldVisibility::Restricted { teams, .. } => teams,
        super::FieldVisibility::All => &[],
    }
}

/// Teams a field or group names must exist in the tenant.
async fn check_teams(
    store: &FieldStore,
    caller: &Caller,
    teams: &[Uuid],
    field: &str,
) -> Result<(), CrmError> {
    let directory = crate::directory::Directory::new(store.table().clone());
    for team in teams {
        if directory.team(&caller.tenant_id, *team).await?.is_none() {
            return Err(CrmError::validation(
                field,
                "exists",
                format!("no team {team} in the tenant"),
            ));
        }
    }
    Ok(())
}

pub async fn create_group(
    store: &FieldStore,
    caller: &Caller,
    input: NewFieldGroup,
) -> Result<FieldGroup, CrmError> {
    require_admin(caller)?;
    let groups = store.groups(&caller.tenant_id, input.entity).await?;
    let group = input.validate(&groups).map_err(CrmError::Validation)?;
    check_teams(store, caller, &group.teams, "teams").await?;
    store.insert_group(&caller.tenant_id, &group).await?;
    Ok(group)
}

/// `PATCH /custom-field-groups/{entity}/{key}`: a merge patch of `label`, `order` and `teams`
/// (the key and entity stay).
pub async fn change_group(
    store: &FieldStore,
    caller: &Caller,
    entity: Entity,
    key: &str,
    patch: Map<String, Value>,
) -> Result<FieldGroup, CrmError> {
    require_admin(caller)?;
    let groups = store.groups(&caller.tenant_id, entity).await?;
    let current = groups
        .iter()
        .find(|g| g.key == key)
        .ok_or(CrmError::NotFound)?
        .clone();
    let mut merged = serde_json::to_value(&current).map_err(CrmError::internal)?;
    if let Some(obj) = merged.as_object_mut() {
        for (k, v) in patch {
            if !["label", "order", "teams"].contains(&k.as_str()) {
                return Err(CrmError::BadRequest {
                    detail: format!("{k} cannot be changed"),
                    errors: vec![FieldError::new(
                        k,
                        "unknown_field",
                        "label, order and teams change",
                    )],
                });
            }
            if v.is_null() {
                obj.remove(&k);
            } else {
                obj.insert(k, v);
            }
        }
    }
    let input: NewFieldGroup =
        serde_json::from_value(merged).map_err(|e| CrmError::BadRequest {
            detail: format!("the changed group is not valid: {e}"),
            errors: vec![],
        })?;
    let others: Vec<FieldGroup> = groups.into_iter().filter(|g| g.key != key).collect();
    let group = input.validate(&others).map_err(CrmError::Validation)?;
    if group.teams != current.teams {
        check_teams(store, caller, &group.teams, "teams").await?;
    }
    store.replace_group(&caller.tenant_id, &group).await?;
    Ok(group)
}

/// What a definition change did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChangeOutcome {
    #[schema(value_type = Object)]
    pub definition: Value,
    /// Records whose stored value was converted or mapped.
    pub migrated_records: usize,
}

/// `PATCH /custom-fields/{entity}/{key}`: a JSON merge patch over the definition (arrays,
/// such as `options`, are replaced whole; options keep their ids, so a new label is a rename),
/// with an optional `option_mapping` (`{"removed_id": "other_id" | null}`) for removed options.
pub async fn change(
    store: &FieldStore,
    records: &dyn RecordValues,
    caller: &Caller,
    entity: Entity,
    key: &str,
    mut patch: Map<String, Value>,
    if_match: Option<u64>,
) -> Result<ChangeOutcome, CrmError> {
    require_admin(caller)?;
    let tenant = &caller.tenant_id;
    let old = store
        .definition(tenant, entity, key)
        .await?
        .ok_or(CrmError::NotFound)?;
    if if_match.is_some_and(|v| v != old.version) {
        return Err(CrmError::PreconditionFailed);
    }
    let mapping: OptionMapping = match patch.remove("option_mapping") {
        None | Some(Value::Null) => OptionMapping::new(),
        Some(v) => serde_json::from_value(v).map_err(|e| CrmError::BadRequest {
            detail: format!("option_mapping: {e}"),
            errors: vec![FieldError::new(
                "option_mapping",
                "type",
                "must map option ids to an option id or null",
            )],
        })?,
    };
    for fixed in ["version"] {
        if patch.contains_key(fixed) {
            return Err(CrmError::BadRequest {
                detail: format!("{fixed} is not changed through the body"),
                errors: vec![FieldError::new(fixed, "unknown_field", "read-only")],
            });
        }
    }
    let mut merged = old.to_json();
    if let Some(obj) = merged.as_object_mut() {
        obj.remove("version");
        for (k, v) in patch {
            if v.is_null() {
                obj.remove(&k);
            } else {
                obj.insert(k, v);
            }
        }
    }
    let input: NewFieldDefinition =
        serde_json::from_value(merged).map_err(|e| CrmError::BadRequest {
            detail: format!("the changed definition is not valid: {e}"),
            errors: vec![],
        })?;
    let groups = store.groups(tenant, entity).await?;
    let new = input
        .validate_change(&old, &groups)
        .map_err(CrmError::Validation)?;
    if restricted_teams(&new) != restricted_teams(&old) {
        check_teams(store, caller, restricted_teams(&new), "visibility.teams").await?;
    }
    let unchanged = FieldDefinition {
        version: old.version,
        ..new.clone()
    } == old;
    if unchanged {
        return Ok(ChangeOutcome {
            definition: old.to_json(),
            migrated_records: 0,
        });
    }
    if !mapping.is_empty() {
        validate_mapping(&old, &new, &mapping).map_err(CrmError::Validation)?;
    }
    let impact = assess_change(&old, &new);
    let mut migrated = 0;
    if !impact.is_safe() || impact.needs_migration() || !mapping.is_empty() {
        // Only the removed options' entries can hold values that break, unless the type or a
        // rule changed.
        let ranges = if impact.type_change.is_none() && impact.narrowed_rules.is_empty() {
            impact
                .removed_options
                .iter()
                .map(|id| TermRange::Prefix(format!("{id}#")))
                .collect()
        } else {
            vec![TermRange::Between("!".into(), "\u{10FFFF}".into())]
        };
        let stored = stored_values(store.table(), tenant, entity, key, &ranges).await?;
        let mut failing = Vec::new();
        let mut conversions = Vec::new();
        for (record, value) in stored {
            match migrate_to(&new, &value, &mapping) {
                Err(()) => failing.push(record),
                Ok(next) if next.as_ref() != Some(&value) || impact.type_change.is_some() => {
                    conversions.push((record, next))
                }
                Ok(_) => {}
            }
        }
        if !failing.is_empty() {
            return Err(refused(&impact_fields(&impact), failing.len()));
        }
        if conversions.len() > MAX_MIGRATED_RECORDS {
            return Err(CrmError::Conflict {
                detail: format!(
                    "{} records would be converted; one change converts at most {MAX_MIGRATED_RECORDS}",
                    conversions.len()
                ),
                errors: vec![FieldError::new(
                    "type",
                    "affected_records",
                    format!("{} records", conversions.len()),
                )],
            });
        }
        // Each record is its own transaction; ten at a time keep a large migration within
        // the request's time.
        use futures::StreamExt;
        let results: Vec<Result<(), CrmError>> = futures::stream::iter(conversions)
            .map(|(record, value)| records.set_value(caller, entity, record, &new, value))
            .buffer_unordered(MIGRATION_CONCURRENCY)
            .collect()
            .await;
        for r in results {
            r?;
            migrated += 1;
        }
    }
    store.replace_definition(tenant, old.version, &new).await?;
    Ok(ChangeOutcome {
        definition: new.to_json(),
        migrated_records: migrated,
    })
}

fn impact_fields(impact: &super::change::ChangeImpact) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(t) = impact.type_change {
        out.push((
            "type",
            format!("from {} to {}", t.from.as_str(), t.to.as_str()),
        ));
    }
    if !impact.removed_options.is_empty() {
        out.push((
            "type.options",
            format!(
                "removed options {} (map them with option_mapping)",
                impact.removed_options.join(", ")
            ),
        ));
    }
    for rule in &impact.narrowed_rules {
        out.push(("type", format!("narrowed rule {rule}")));
    }
    out
}

/// 409 with the number of records whose stored value would not survive the change.
fn refused(what: &[(&'static str, String)], affected: usize) -> CrmError {
    CrmError::ChangeRefused {
        detail: format!(
            "{affected} record(s) hold values this change would orphan or make invalid; nothing was changed"
        ),
        affected_records: affected as u64,
        errors: what
            .iter()
            .map(|(field, why)| {
                FieldError::new(
                    *field,
                    "affected_records",
                    format!("{why}: {affected} record(s) affected"),
                )
            })
            .collect(),
    }
}

/// The stored values of one field in the given entry ranges, one per record.
pub async fn stored_values(
    table: &Table,
    tenant: &str,
    entity: Entity,
    key: &str,
    ranges: &[TermRange],
) -> Result<BTreeMap<Uuid, FieldValue>, CrmError> {
    let mut out = BTreeMap::new();
    for partition in field_partitions(tenant, entity, key) {
        for range in ranges {
            let range = KeyRange::from(range);
            let items = table
                .query_all(
                    Query::partition(partition.clone())
                        .range(range)
                        .project(&["rid", "cfv", "terms"]),
                )
                .await?;
            for item in items {
                let entry = read_entry(&item)?;
                out.entry(entry.record).or_insert(entry.value);
            }
        }
    }
    Ok(out)
}

/// Writes a record's converted custom field value (or removes it) with its audit entry: the
/// port a definition change converts values through, implemented where every kind is known
/// (the catalog, above the kinds).
pub trait RecordValues: Send + Sync {
    fn set_value<'a>(
        &'a self,
        caller: &'a Caller,
        entity: Entity,
        record: Uuid,
        def: &'a FieldDefinition,
        value: Option<FieldValue>,
    ) -> BoxFuture<'a, Result<(), CrmError>>;
}
