//! Starting an `uploaded` import with a mapping, and its preview (S5.2).

use super::csv_rows::ColumnMap;
use super::planning::{SAMPLE_BYTES, plan_start};
use super::processing::{Checkpoint, definitions, hand_on};
use super::source::SourceReader;
use super::{Import, ImportStatus, ReadFailure, RowError, StoredImport, Uploads, load, save};
use crate::catalog::Catalog;
use crate::store::queue::MessageQueue;
use crate::{Caller, CrmError};
use uuid::Uuid;

/// `POST /imports/{id}/start`: starts an `uploaded` import with a mapping (or the one its
/// headers suggest) and a mode. A mapping that does not fit is refused (422, naming each
/// mistake) and changes nothing; an import that is not `uploaded` is 409.
pub async fn start_import(
    catalog: &Catalog,
    queue: &dyn MessageQueue,
    caller: &Caller,
    id: Uuid,
    input: super::StartImport,
) -> Result<Import, CrmError> {
    use crate::access::{Action, Policy, Subject};
    Policy::check(caller, Action::Write, Subject::Imports)?;
    let table = catalog.table();
    let tenant = caller.tenant_id.as_str();
    let mut input = input;
    let mut template_entity = None;
    let template_id = super::templates::ImportTemplates::new(catalog)
        .apply(
            caller,
            input.template.as_deref(),
            &mut template_entity,
            &mut input.mapping,
            &mut input.mode,
        )
        .await?;
    loop {
        let stored = load(table, tenant, id).await?.ok_or(CrmError::NotFound)?;
        if stored.import.status != ImportStatus::Uploaded {
            let detail = match stored.import.status {
                ImportStatus::AwaitingUpload => "the file has not been uploaded yet",
                _ => "the import has started already",
            };
            return Err(CrmError::Conflict {
                detail: detail.into(),
                errors: vec![crate::FieldError::new("status", "not_uploaded", detail)],
            });
        }
        let plan = stored
            .plan
            .clone()
            .ok_or_else(|| CrmError::Internal("an uploaded import without a plan".into()))?;
        let entity = stored.import.entity;
        if template_entity.is_some_and(|t| t != entity) {
            return Err(crate::CrmError::validation(
                "template",
                "entity",
                format!("the template is not for {} imports", entity.noun()),
            ));
        }
        let (_, visible) = definitions(catalog, caller, entity).await?;
        let columns = match &input.mapping {
            Some(mapping) => ColumnMap::from_mapping(entity, &plan.headers, mapping, &visible)
                .map_err(CrmError::Validation)?,
            None => ColumnMap::from_headers(entity, &plan.headers, &visible).map_err(
                |ReadFailure(r)| {
                    CrmError::Validation(vec![crate::FieldError::new("mapping", "required", r)])
                },
            )?,
        };
        let mut e = crate::errors::FieldErrors::new();
        super::check_link_clients(&mut e, entity, input.link_clients);
        e.into_result()?;
        let queued = StoredImport {
            import: Import {
                status: ImportStatus::Queued,
                started_at: Some(crate::values::now()),
                mapping: Some(columns.to_mapping()),
                mode: input.mode.unwrap_or(stored.import.mode),
                link_clients: input.link_clients.unwrap_or(stored.import.link_clients),
                template_id: template_id.or(stored.import.template_id),
                ..stored.import.clone()
            },
            ..stored.clone()
        };
        if let Some(saved) = save(table, tenant, &stored, queued).await? {
            let import = saved.import.clone();
            hand_on(table, queue, tenant, saved, false).await?;
            return Ok(import);
        }
    }
}

/// Rows a preview shows.
pub const PREVIEW_ROWS: usize = 20;

/// `GET /imports/{id}/preview`: what was detected, the columns with their targets (as mapped,
/// else suggested) and why, and the first rows with every cell checked as the import would.
pub async fn preview(
    catalog: &Catalog,
    uploads: &dyn Uploads,
    caller: &Caller,
    id: Uuid,
) -> Result<super::Preview, CrmError> {
    use crate::access::{Action, Policy, Subject};
    Policy::check(caller, Action::Read, Subject::Imports)?;
    let stored = load(catalog.table(), &caller.tenant_id, id)
        .await?
        .ok_or(CrmError::NotFound)?;
    let Some((plan, checkpoint)) = stored.plan.as_ref().zip(stored.checkpoint.as_ref()) else {
        let detail = match &stored.import.failure_reason {
            Some(reason) => format!("the file was refused: {reason}"),
            None => "the file has not been uploaded yet".to_string(),
        };
        return Err(CrmError::Conflict {
            detail: detail.clone(),
            errors: vec![crate::FieldError::new("status", "not_uploaded", detail)],
        });
    };
    let entity = stored.import.entity;
    let (_, visible) = definitions(catalog, caller, entity).await?;
    let mut columns = ColumnMap::suggestions(entity, &plan.headers, &visible);
    let map = match &stored.import.mapping {
        Some(mapping) => {
            let mapped = mapping
                .columns
                .iter()
                .map(|c| (c.column.trim(), c.target.as_str()));
            for suggestion in &mut columns {
                let target = mapped
                    .clone()
                    .find(|(column, _)| *column == suggestion.column.trim())
                    .map(|(_, t)| t.to_string());
                suggestion.reason = if target.is_some() {
                    "as mapped".into()
                } else {
                    "not mapped: ignored".into()
                };
                suggestion.target = target.filter(|t| t != "ignore");
            }
            ColumnMap::from_mapping(entity, &plan.headers, mapping, &visible).ok()
        }
        None => ColumnMap::from_headers(entity, &plan.headers, &visible).ok(),
    };
    // The first rows from the start of the data (a started import's checkpoint has moved on).
    let start = Checkpoint {
        chunk: 0,
        handed_on: true,
        ..checkpoint.clone()
    };
    let start = match stored.import.status {
        ImportStatus::Uploaded | ImportStatus::Queued => start,
        _ => {
            let (offset, line) = plan_start(plan, uploads).await?;
            Checkpoint {
                offset,
                line,
                ..start
            }
        }
    };
    let people = super::rows::People::load(&catalog.ctx.directory, &caller.tenant_id).await?;
    let mut reader = SourceReader::new(uploads, plan, &start, SAMPLE_BYTES);
    let mut rows = Vec::new();
    while rows.len() < PREVIEW_ROWS {
        let Some(record) = reader
            .next()
            .await
            .map_err(|ReadFailure(r)| CrmError::Internal(r))?
        else {
            break;
        };
        if record.cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let errors: Vec<RowError> = match map
            .as_ref()
            .and_then(|m| m.row(record.line, record.cells.clone()).map(|r| (m, r)))
        {
            Some((m, mut row)) => {
                people.resolve(&mut row);
                let mut problems = row.problems.clone();
                let found = match entity {
                    super::ImportEntity::Contacts => {
                        crate::contacts::ContactFields::validate(row.contact.clone()).err()
                    }
                    super::ImportEntity::Clients => row.client.clone().validate().err(),
                };
                problems.extend(found.unwrap_or_default());
                problems.into_iter().map(|e| m.row_error(&row, e)).collect()
            }
            None => Vec::new(),
        };
        let cells = plan
            .headers
            .iter()
            .enumerate()
            .map(|(i, header)| super::PreviewCell {
                column: header.clone(),
                value: record.cells.get(i).unwrap_or_default().to_string(),
                error: errors
                    .iter()
                    .find(|e| e.column.as_deref() == Some(header.trim()))
                    .cloned(),
            })
            .collect();
        rows.push(super::PreviewRow {
            row: record.line,
            cells,
        });
    }
    Ok(super::Preview {
        detected: stored.import.detected.clone(),
        header_row: start.line.saturating_sub(1).max(1),
        columns,
        rows,
    })
}
