//! Exports (S5.4): `POST /exports` starts a job (job queue → `job-worker`) that reads the
//! requester's visible records page by page, exactly as the list API would answer them, and
//! writes them to S3: CSV streamed as a multipart upload, or `.xlsx` (written whole with
//! `rust_xlsxwriter`, so at most [`MAX_XLSX_ROWS`] rows). `GET /exports/{id}` shows the job
//! and, once completed, a presigned download.
//!
//! - Relations are names: the owner is the user's email, the team its name, a contact's
//!   clients their names, select values their labels.
//! - Custom fields the requester may not see are never columns (asked for: 422).
//! - A cell a spreadsheet would run as a formula (starting with `=` `+` `-` `@`, tab, CR or
//!   LF) gets a leading `'`, as OWASP advises against CSV injection.
//! - The job is redelivered safely: a finished job does nothing; a run cut short is run again
//!   from the start and writes the same object.

mod cells;
mod files;

pub use cells::{escape_formula, standard_columns};
pub use files::{ExportFiles, S3ExportFiles};

use crate::access::{Action, Policy, Subject};
use crate::catalog::Catalog;
use crate::custom_fields::FieldDefinition;
use crate::jobs::{Job, JobStatus, JobWork, Jobs};
use crate::records::{Kind, Record, RecordQuery};
use crate::{Caller, CrmError, FieldError};
use cells::{Names, cell};
use chrono::{DateTime, Utc};
use files::{Sink, csv_writer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use uuid::Uuid;

/// Most rows of an `.xlsx` export (the writer holds the sheet in memory).
pub const MAX_XLSX_ROWS: u64 = 100_000;
/// Records read per page.
const PAGE: i32 = 200;
/// CSV bytes per uploaded part (S3 parts are at least 5 MiB but the last).
const PART_BYTES: usize = 8 * 1024 * 1024;
pub const DOWNLOAD_TTL: Duration = Duration::from_secs(5 * 60);

pub use crate::jobs::{ExportEntity, ExportFormat};

/// Body of `POST /exports`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExport {
    pub entity: ExportEntity,
    /// The columns, in order. Contacts: `first_name`, `last_name`, `email`, `phone`, `company`,
    /// `job_title`, `lifecycle_status`, `lead_source`, `tags`, `owner`, `team`, `clients`,
    /// `street`, `postal_code`, `city`, `country`, `birthday`, `created_at`, `updated_at`.
    /// Clients: `name`, `legal_name`, `domain`, `industry`, `size`, `status`, `phone`, `email`,
    /// `website`, `vat_id`, `tags`, `owner`, `team`, `created_at`, `updated_at`. Deals: `title`,
    /// `pipeline`, `stage`, `status`, `value`, `currency`, `probability`, `expected_close`,
    /// `client`, `contacts`, `tags`, `source`, `owner`, `team`, `lost_reason`, `closed_at`,
    /// `created_at`, `updated_at`. `cf.{key}`: a custom field. Without: every standard column
    /// and every custom field the caller may see.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// The list filters of `GET /contacts`, `GET /clients` or `GET /deals`, as their query
    /// parameters.
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
    #[serde(default)]
    pub format: ExportFormat,
}

/// An export as `GET /exports/{id}` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Export {
    pub id: Uuid,
    /// `queued`, `completed` or `failed`.
    pub status: JobStatus,
    pub entity: ExportEntity,
    pub format: ExportFormat,
    pub columns: Vec<String>,
    /// Records written (once completed).
    pub rows: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Once completed: where to download the file (a fresh URL on every read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download: Option<Download>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Download {
    pub url: String,
    pub file_name: String,
    pub expires_at: DateTime<Utc>,
}

fn file_name(id: Uuid, entity: ExportEntity, format: ExportFormat) -> String {
    let what = entity_name(entity);
    let ext = match format {
        ExportFormat::Csv => "csv",
        ExportFormat::Xlsx => "xlsx",
    };
    format!("{what}-{}.{ext}", &id.simple().to_string()[..8])
}

/// What the entity is called in file names and messages.
fn entity_name(entity: ExportEntity) -> &'static str {
    match entity {
        ExportEntity::Contacts => "contacts",
        ExportEntity::Clients => "clients",
        ExportEntity::Deals => "deals",
    }
}

fn object_key(tenant: &str, id: Uuid) -> String {
    format!("exports/{tenant}/{id}/export")
}

fn content_type(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::Csv => "text/csv; charset=utf-8",
        ExportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
}

/// The custom fields of the entity the caller may see.
async fn visible_fields(
    catalog: &Catalog,
    caller: &Caller,
    entity: ExportEntity,
) -> Result<Vec<FieldDefinition>, CrmError> {
    let kind_entity = match entity {
        ExportEntity::Contacts => crate::contacts::ContactKind::schema().entity(),
        ExportEntity::Clients => crate::clients::ClientKind::schema().entity(),
        ExportEntity::Deals => crate::deals::DealKind::schema().entity(),
    };
    let defs = catalog
        .contacts()
        .ctx
        .custom
        .definitions(caller, kind_entity)
        .await?;
    Ok(defs
        .into_iter()
        .filter(|d| !d.archived && d.visible_to(caller))
        .collect())
}

/// `POST /exports`: checks the columns and filters as the requester, then queues the job.
pub async fn start(
    catalog: &Catalog,
    jobs: &Jobs,
    caller: &Caller,
    input: NewExport,
) -> Result<Export, CrmError> {
    Policy::check(caller, Action::Read, Subject::Imports)?;
    let subject = match input.entity {
        ExportEntity::Contacts => Subject::Record("contact"),
        ExportEntity::Clients => Subject::Record("client"),
        ExportEntity::Deals => Subject::Record("deal"),
    };
    Policy::check(caller, Action::Read, subject)?;
    let fields = visible_fields(catalog, caller, input.entity).await?;
    let standard = standard_columns(input.entity);
    let columns: Vec<String> = match input.columns {
        Some(columns) => {
            let mut errors = Vec::new();
            for (i, c) in columns.iter().enumerate() {
                let known = standard.contains(&c.as_str())
                    || c.strip_prefix("cf.")
                        .is_some_and(|k| fields.iter().any(|d| d.key == k));
                if !known {
                    errors.push(FieldError::new(
                        format!("columns[{i}]"),
                        "one_of",
                        format!(
                            "a column of {}: {}, or cf.{{key}} of a custom field you may see",
                            entity_name(input.entity),
                            standard.join(", ")
                        ),
                    ));
                }
            }
            if columns.is_empty() {
                errors.push(FieldError::new(
                    "columns",
                    "required",
                    "at least one column",
                ));
            }
            if !errors.is_empty() {
                return Err(CrmError::Validation(errors));
            }
            columns
        }
        None => standard
            .iter()
            .map(|c| c.to_string())
            .chain(fields.iter().map(|d| format!("cf.{}", d.key)))
            .collect(),
    };
    // The filters as the list API reads them: refused now, not in the job.
    let schema = match input.entity {
        ExportEntity::Contacts => crate::contacts::ContactKind::schema(),
        ExportEntity::Clients => crate::clients::ClientKind::schema(),
        ExportEntity::Deals => crate::deals::DealKind::schema(),
    };
    let filters: BTreeMap<String, String> = input
        .filters
        .into_iter()
        .filter(|(k, _)| k != "limit" && k != "cursor")
        .collect();
    RecordQuery::parse(schema, &filters).map_err(|e| match e {
        CrmError::Validation(errors) => CrmError::Validation(
            errors
                .into_iter()
                .map(|e| FieldError {
                    field: format!("filters.{}", e.field),
                    ..e
                })
                .collect(),
        ),
        e => e,
    })?;
    // Bounded per tenant (issue 14 item 3): 429 with Retry-After, no job.
    crate::quotas::EXPORTS
        .consume(catalog.table(), &caller.tenant_id, crate::values::now())
        .await?;
    let id = crate::values::new_id();
    let work = JobWork::Export {
        entity: input.entity,
        columns,
        filters,
        format: input.format,
    };
    let job = jobs.start(caller, id, work, 0).await?;
    view(None, &caller.tenant_id, job).await
}

/// `GET /exports/{id}`: the export (its requester, owners and admins see it).
pub async fn get(
    jobs: &Jobs,
    files: &dyn ExportFiles,
    caller: &Caller,
    id: Uuid,
) -> Result<Export, CrmError> {
    let job = jobs.get_for(caller, id).await?;
    view(Some(files), &caller.tenant_id, job).await
}

async fn view(files: Option<&dyn ExportFiles>, tenant: &str, job: Job) -> Result<Export, CrmError> {
    let JobWork::Export {
        entity,
        columns,
        format,
        ..
    } = job.work
    else {
        return Err(CrmError::NotFound);
    };
    let download = match (files, job.status) {
        (Some(files), JobStatus::Completed) => {
            let name = file_name(job.id, entity, format);
            let url = files
                .presign_get(&object_key(tenant, job.id), &name, content_type(format))
                .await?;
            Some(Download {
                url,
                file_name: name,
                expires_at: Utc::now()
                    + chrono::Duration::from_std(DOWNLOAD_TTL).map_err(CrmError::internal)?,
            })
        }
        _ => None,
    };
    Ok(Export {
        id: job.id,
        status: job.status,
        entity,
        format,
        columns,
        rows: job.done,
        failure_reason: job.failure_reason,
        requested_by: job.requested_by,
        created_at: job.created_at,
        updated_at: job.updated_at,
        download,
    })
}

/// Runs an export job to its end (see the module's comment).
pub async fn run_export(
    catalog: &Catalog,
    jobs: &Jobs,
    files: &dyn ExportFiles,
    tenant: &str,
    job: &Job,
) -> Result<(), CrmError> {
    let JobWork::Export {
        entity,
        columns,
        filters,
        format,
    } = &job.work
    else {
        return Ok(());
    };
    let asked_by = Jobs::caller_of(tenant, job)?;
    let caller = match catalog.ctx.directory.effective_caller(asked_by).await {
        Ok(caller) => caller,
        Err(CrmError::Forbidden(reason)) => {
            return jobs
                .finish(tenant, job.id, JobStatus::Failed, Some(reason), None)
                .await;
        }
        Err(e) => return Err(e),
    };
    let fields = visible_fields(catalog, &caller, *entity).await?;
    // A custom field no longer visible to the requester is left out.
    let columns: Vec<&String> = columns
        .iter()
        .filter(|c| {
            c.strip_prefix("cf.")
                .is_none_or(|k| fields.iter().any(|d| d.key == k))
        })
        .collect();
    let header: Vec<String> = columns
        .iter()
        .map(|c| match c.strip_prefix("cf.") {
            Some(k) => fields
                .iter()
                .find(|d| d.key == k)
                .map_or_else(|| c.to_string(), |d| d.label.clone()),
            None => c.to_string(),
        })
        .collect();
    let (users, teams) = catalog.ctx.directory.everyone(tenant).await?;
    let mut names = Names {
        users: users
            .into_iter()
            .filter_map(|u| u.email.clone().map(|e| (u.user_id, e)))
            .collect(),
        teams: teams.into_iter().map(|t| (t.id, t.name)).collect(),
        clients: HashMap::new(),
        contacts: HashMap::new(),
        pipelines: HashMap::new(),
        stages: HashMap::new(),
    };
    if *entity == ExportEntity::Deals {
        for p in catalog.pipelines().list(&caller, true).await? {
            names
                .stages
                .extend(p.stages.iter().map(|s| (s.id, s.name.clone())));
            names.pipelines.insert(p.id, p.name);
        }
    }
    let key = object_key(tenant, job.id);
    let mut sink = match format {
        ExportFormat::Csv => Sink::Csv {
            files,
            upload: files.start(&key, content_type(*format)).await?,
            key: key.clone(),
            writer: csv_writer(),
            etags: Vec::new(),
        },
        ExportFormat::Xlsx => {
            let mut workbook = rust_xlsxwriter::Workbook::new();
            workbook.add_worksheet();
            Sink::Xlsx {
                workbook: Box::new(workbook),
                row: 0,
            }
        }
    };
    sink.row(&header).await?;
    let mut rows = 0u64;
    let mut cursor: Option<String> = None;
    loop {
        let (page, next) = match entity {
            ExportEntity::Contacts => {
                read_page(&catalog.contacts(), &caller, filters, cursor.as_deref()).await?
            }
            ExportEntity::Clients => {
                read_page(&catalog.clients(), &caller, filters, cursor.as_deref()).await?
            }
            ExportEntity::Deals => {
                read_page(&catalog.deals(), &caller, filters, cursor.as_deref()).await?
            }
        };
        // The names of the page's related records the requester may see.
        let ids_in = |field: &str, known: &HashMap<Uuid, String>| -> Vec<Uuid> {
            page.iter()
                .flat_map(|r| match &r[field] {
                    Value::Array(ids) => ids.clone(),
                    one => vec![one.clone()],
                })
                .filter_map(|id| id.as_str()?.parse().ok())
                .filter(|id| !known.contains_key(id))
                .collect()
        };
        let wants = |column: &str| columns.iter().any(|c| c.as_str() == column);
        let mut wanted = Vec::new();
        if wants("clients") {
            wanted.extend(ids_in("client_ids", &names.clients));
        }
        if wants("client") {
            wanted.extend(ids_in("client_id", &names.clients));
        }
        if !wanted.is_empty() {
            let clients = catalog.clients();
            for (id, client) in clients.store.get_many(tenant, &wanted).await? {
                if caller.sees(&client.access()) {
                    names.clients.insert(id, client.fields.name.clone());
                }
            }
        }
        let wanted = ids_in("contact_ids", &names.contacts);
        if wants("contacts") && !wanted.is_empty() {
            let contacts = catalog.contacts();
            for (id, contact) in contacts.store.get_many(tenant, &wanted).await? {
                if caller.sees(&contact.access()) && contact.deleted_at.is_none() {
                    names.contacts.insert(id, contact.display_name.clone());
                }
            }
        }
        for json in &page {
            rows += 1;
            if *format == ExportFormat::Xlsx && rows > MAX_XLSX_ROWS {
                let reason = format!(
                    "an .xlsx export holds at most {MAX_XLSX_ROWS} rows; export CSV or narrow the filters"
                );
                return jobs
                    .finish(tenant, job.id, JobStatus::Failed, Some(reason), None)
                    .await;
            }
            let cells: Vec<String> = columns
                .iter()
                .map(|c| cell(json, c, &names, &fields))
                .collect();
            sink.row(&cells).await?;
        }
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    match sink {
        Sink::Csv {
            files,
            key,
            upload,
            writer,
            mut etags,
        } => {
            let rest = writer.into_inner().map_err(CrmError::internal)?;
            if !rest.is_empty() || etags.is_empty() {
                let etag = files
                    .part(&key, &upload, etags.len() as i32 + 1, rest)
                    .await?;
                etags.push(etag);
            }
            files.complete(&key, &upload, etags).await?;
        }
        Sink::Xlsx { mut workbook, .. } => {
            let bytes = workbook.save_to_buffer().map_err(CrmError::internal)?;
            files.put(&key, bytes, content_type(*format)).await?;
        }
    }
    jobs.finish(tenant, job.id, JobStatus::Completed, None, Some(rows))
        .await
}

/// One page of the caller's visible records that match, presented as the API would (custom
/// fields they may not see left out), in list order.
async fn read_page<K: Kind>(
    records: &crate::records::Records<K>,
    caller: &Caller,
    filters: &BTreeMap<String, String>,
    cursor: Option<&str>,
) -> Result<(Vec<Value>, Option<String>), CrmError> {
    let q = RecordQuery::parse(K::schema(), filters)?;
    let page = records.list(caller, &q, PAGE, cursor).await?;
    let ids: Vec<Uuid> = serde_json::to_value(&page.items)
        .map_err(CrmError::internal)?
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|s| s["id"].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let mut full = records.store.get_many(&caller.tenant_id, &ids).await?;
    let ordered: Vec<K::Record> = ids.iter().filter_map(|id| full.remove(id)).collect();
    // One read of the definitions for the page: each record as the caller may read it.
    let out = match records.present_all(caller, &ordered).await? {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    Ok((out, page.next_cursor))
}
