//! Imports (S5): a client asks for an upload URL, puts a CSV into S3, and the S3-triggered
//! processor turns its rows into contacts. Every row is written at most once (a row-outcome item
//! in the same transaction as the contact), so a redelivered S3 event creates nothing twice.

mod csv_rows;
pub mod sheet;
pub mod table;
pub mod text;
mod uploads;

pub use csv_rows::{ColumnMap, ParsedRow, ReadFailure, parse_contact_rows};
pub use uploads::{S3Uploads, Uploads};

use crate::access::{Action, Policy, Subject};
use crate::audit::AuditAction;
use crate::catalog::Catalog;
use crate::contacts::{Contact, ContactKind, Contacts};
use crate::custom_fields::FieldDefinition;
use crate::records::{Kind, Record, WriteFailure};
use crate::store::{Condition, Item, Key, Table, WriteError, WriteOp, from_item, key, s, to_item};
use crate::{Caller, CrmError, FieldError, Role};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// Largest accepted upload (S5.3 limits, stated in the README).
pub const MAX_FILE_BYTES: i64 = 50 * 1024 * 1024;
/// Most data rows in one file.
pub const MAX_ROWS: usize = 100_000;
/// Row errors kept on the import record itself; all of them stay on the row items.
pub const MAX_INLINE_ERRORS: usize = 100;
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);
/// Rows written concurrently by the processor.
const ROW_CONCURRENCY: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    AwaitingUpload,
    Processing,
    Completed,
    Failed,
}

impl ImportStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingUpload => "awaiting_upload",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }
}

/// Why one row did not become a contact. `row` is the file's line number (header = 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RowError {
    pub row: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub rule: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Import {
    pub id: Uuid,
    pub file_name: String,
    /// The sheet of a workbook asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    pub status: ImportStatus,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// The importer's role and teams when the import started: the custom fields their rows
    /// may write (S3.4).
    #[serde(default = "member")]
    pub created_by_role: Role,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_by_teams: Vec<Uuid>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Data rows in the file.
    pub rows: u64,
    pub created: u64,
    pub failed: u64,
    /// The first row errors, in row order.
    pub errors: Vec<RowError>,
    pub errors_truncated: bool,
    /// The file's encoding and delimiter, as detected (S5.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected: Option<FileFormat>,
    /// Why the whole file was refused, when `status` is `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub version: u64,
}

/// What was told of an uploaded file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileFormat {
    /// `csv`, `xlsx`, `xls`, `ods` or `xlsb`.
    pub format: String,
    /// CSV: `utf-8`, `utf-16le`, `utf-16be` or `windows-1252`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// CSV: `,`, `;`, a tab or `|`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// Workbooks: the sheet read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewImport {
    /// The uploaded file's name, for the import log; its extension says what it is: `.csv`,
    /// `.tsv`, `.txt` (CSV text), `.xlsx`, `.xlsm`, `.xls`, `.ods`.
    pub file_name: String,
    /// The sheet of a workbook to read; without, the first sheet that holds data.
    #[serde(default)]
    pub sheet: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadTarget {
    pub url: String,
    pub method: String,
    /// Headers the upload must send exactly as given (they are part of the signature).
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportCreated {
    pub import: Import,
    pub upload: UploadTarget,
}

/// The files an import takes, by extension, and the content type their upload is signed for.
const UPLOAD_TYPES: [(&str, &str); 7] = [
    (".csv", "text/csv"),
    (".tsv", "text/csv"),
    (".txt", "text/csv"),
    (
        ".xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    (".xlsm", "application/vnd.ms-excel.sheet.macroEnabled.12"),
    (".xls", "application/vnd.ms-excel"),
    (".ods", "application/vnd.oasis.opendocument.spreadsheet"),
];

pub fn import_pk(tenant: &str, id: Uuid) -> String {
    format!("T#{tenant}#IMPORT#{id}")
}

pub fn row_sk(row: u64) -> String {
    format!("ROW#{row:08}")
}

/// Where an import's file lives. The processor derives tenant and import from it, so the
/// tenant is never taken from the file's contents.
pub fn object_key(tenant: &str, id: Uuid) -> String {
    format!("imports/{tenant}/{id}/source.csv")
}

pub fn parse_object_key(object_key: &str) -> Option<(String, Uuid)> {
    let mut parts = object_key.split('/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("imports"), Some(tenant), Some(id), Some("source.csv"), None)
            if Caller::is_valid_tenant_id(tenant) =>
        {
            Some((tenant.to_string(), id.parse().ok()?))
        }
        _ => None,
    }
}

fn import_item(tenant: &str, import: &Import) -> Result<Item, CrmError> {
    let mut keys = key(import_pk(tenant, import.id), "IMPORT");
    keys.insert("GSI1PK".into(), s(format!("T#{tenant}#IMPORTS")));
    keys.insert("GSI1SK".into(), s(import.id.to_string()));
    keys.insert("entity".into(), s("import"));
    keys.insert("tenant_id".into(), s(tenant));
    to_item(import, keys)
}

async fn load(table: &Table, tenant: &str, id: Uuid) -> Result<Option<Import>, CrmError> {
    table
        .get_as(Key::new(import_pk(tenant, id), "IMPORT"))
        .await
}

fn member() -> Role {
    Role::Member
}

/// `POST /imports`: records the import and returns a presigned PUT for its file.
pub async fn start(
    table: &Table,
    uploads: &dyn Uploads,
    caller: &Caller,
    input: NewImport,
) -> Result<ImportCreated, CrmError> {
    Policy::check(caller, Action::Write, Subject::Imports)?;
    let mut e = crate::errors::FieldErrors::new();
    let file_name = e.required_text("file_name", &input.file_name, 255);
    let sheet = input
        .sheet
        .as_deref()
        .map(|s| e.required_text("sheet", s, 100));
    e.into_result()?;
    let lower = file_name.to_lowercase();
    let Some(content_type) = UPLOAD_TYPES
        .iter()
        .find(|(ext, _)| lower.ends_with(ext))
        .map(|(_, t)| *t)
    else {
        return Err(CrmError::validation(
            "file_name",
            "file_type",
            "a .csv, .tsv, .txt, .xlsx, .xlsm, .xls or .ods file",
        ));
    };
    let now = crate::values::now();
    let import = Import {
        id: crate::values::new_id(),
        file_name,
        sheet,
        status: ImportStatus::AwaitingUpload,
        created_at: now,
        created_by: caller.user_id.clone(),
        created_by_role: caller.role,
        created_by_teams: caller.teams.clone(),
        updated_at: now,
        started_at: None,
        finished_at: None,
        rows: 0,
        created: 0,
        failed: 0,
        errors: vec![],
        errors_truncated: false,
        detected: None,
        failure_reason: None,
        version: 1,
    };
    table
        .put_if(
            import_item(&caller.tenant_id, &import)?,
            Condition::NotExists,
        )
        .await
        .map_err(CrmError::from)?;
    let url = uploads
        .presign_put(
            &object_key(&caller.tenant_id, import.id),
            content_type,
            UPLOAD_URL_TTL,
        )
        .await?;
    let upload = UploadTarget {
        url,
        method: "PUT".into(),
        headers: BTreeMap::from([("content-type".to_string(), content_type.to_string())]),
        expires_at: now + chrono::Duration::from_std(UPLOAD_URL_TTL).map_err(CrmError::internal)?,
    };
    Ok(ImportCreated { import, upload })
}

/// `GET /imports/{id}`.
pub async fn get(table: &Table, caller: &Caller, id: Uuid) -> Result<Import, CrmError> {
    Policy::check(caller, Action::Read, Subject::Imports)?;
    load(table, &caller.tenant_id, id)
        .await?
        .ok_or(CrmError::NotFound)
}

/// `GET /imports`: the tenant's imports, newest first, a page at a time (S5.5).
pub async fn list(
    table: &Table,
    caller: &Caller,
    limit: i32,
    cursor: Option<&str>,
) -> Result<crate::store::cursor::Page<Import>, CrmError> {
    Policy::check(caller, Action::Read, Subject::Imports)?;
    let query = crate::store::cursor::ListQuery::new(&caller.tenant_id, "imports");
    let page = table
        .query(
            crate::store::Query::index("GSI1", format!("T#{}#IMPORTS", caller.tenant_id))
                .newest_first(true)
                .limit(limit)
                .start(query.start(cursor)?),
        )
        .await?;
    let imports = page
        .items
        .into_iter()
        .map(crate::store::from_item)
        .collect::<Result<Vec<Import>, _>>()?;
    Ok(query.page(imports, page.last_key))
}

/// What the processor did with one uploaded object.
#[derive(Debug, PartialEq, Eq)]
pub enum ProcessOutcome {
    Processed(ImportStatus),
    /// Already completed or failed: a redelivered event.
    AlreadyDone,
    /// Not an import file of this bucket, or no such import.
    Ignored,
}

/// The S3-triggered processing of one uploaded file. Safe to run twice, even concurrently:
/// rows are written once, counts are derived from row outcomes, the final state is the same.
pub async fn process_upload(
    catalog: &Catalog,
    uploads: &dyn Uploads,
    bucket: &str,
    object_key: &str,
) -> Result<ProcessOutcome, CrmError> {
    let Some((tenant, id)) = parse_object_key(object_key).filter(|_| uploads.holds(bucket)) else {
        tracing::warn!(
            bucket,
            object_key,
            "ignoring an object that is not an import upload"
        );
        return Ok(ProcessOutcome::Ignored);
    };
    let table = catalog.table();
    let Some(import) = load(table, &tenant, id).await? else {
        tracing::warn!(%tenant, %id, "upload for an unknown import");
        return Ok(ProcessOutcome::Ignored);
    };
    if matches!(
        import.status,
        ImportStatus::Completed | ImportStatus::Failed
    ) {
        return Ok(ProcessOutcome::AlreadyDone);
    }
    mark_processing(table, &tenant, &import).await?;

    let bytes = match uploads.read(object_key, MAX_FILE_BYTES).await {
        Ok(bytes) => bytes,
        Err(ReadFailure(reason)) => return finish_failed(table, &tenant, &import, reason).await,
    };
    // The importer writes as themself: their role and teams decide which custom fields they
    // may fill (a changed role or a deactivation since the start applies).
    let importer = catalog
        .ctx
        .directory
        .effective_caller(Caller {
            teams: import.created_by_teams.clone(),
            ..Caller::new(&tenant, &import.created_by, import.created_by_role)
        })
        .await?;
    let contacts = catalog.contacts();
    let defs: Vec<FieldDefinition> = contacts
        .ctx
        .custom
        .definitions(&importer, ContactKind::schema().entity())
        .await?;
    let visible: Vec<FieldDefinition> = defs
        .iter()
        .filter(|d| d.visible_to(&importer))
        .cloned()
        .collect();
    let (columns, rows, detected) =
        match parse_contact_rows(&bytes, &visible, import.sheet.as_deref()) {
            Ok(parsed) => parsed,
            Err(ReadFailure(reason)) => {
                return finish_failed(table, &tenant, &import, reason).await;
            }
        };
    if rows.len() > MAX_ROWS {
        let reason = format!(
            "the file has {} data rows; the limit is {MAX_ROWS}",
            rows.len()
        );
        return finish_failed(table, &tenant, &import, reason).await;
    }
    let writer = RowWriter {
        contacts: &contacts,
        defs: &defs,
        importer: &importer,
        import: id,
        columns: &columns,
    };
    let outcomes: Vec<Result<Vec<RowError>, CrmError>> = futures::stream::iter(rows)
        .map(|row| writer.write(row))
        .buffer_unordered(ROW_CONCURRENCY)
        .collect()
        .await;

    let mut errors = Vec::new();
    let mut created = 0u64;
    let total = outcomes.len() as u64;
    for outcome in outcomes {
        let row_errors = outcome?;
        if row_errors.is_empty() {
            created += 1;
        } else {
            errors.extend(row_errors);
        }
    }
    errors.sort_by_key(|e| e.row);
    let failed_rows = {
        let mut rows: Vec<u64> = errors.iter().map(|e| e.row).collect();
        rows.dedup();
        rows.len() as u64
    };
    let truncated = errors.len() > MAX_INLINE_ERRORS;
    errors.truncate(MAX_INLINE_ERRORS);
    let finished = Import {
        status: ImportStatus::Completed,
        rows: total,
        created,
        failed: failed_rows,
        errors,
        errors_truncated: truncated,
        detected: Some(FileFormat {
            format: detected.format.to_string(),
            encoding: detected.encoding.map(str::to_string),
            delimiter: detected.delimiter.map(|d| (d as char).to_string()),
            sheet: detected.sheet,
        }),
        ..import
    };
    finish(table, &tenant, finished).await
}

/// What writes an import's rows: as the importer, with the definitions loaded once.
struct RowWriter<'a> {
    contacts: &'a Contacts,
    defs: &'a [FieldDefinition],
    importer: &'a Caller,
    import: Uuid,
    columns: &'a ColumnMap,
}

impl RowWriter<'_> {
    /// Writes one row; returns its errors (empty when the contact was created).
    async fn write(&self, row: ParsedRow) -> Result<Vec<RowError>, CrmError> {
        let tenant = &self.importer.tenant_id;
        let line = row.line;
        // Imported contacts belong to whoever started the import and record how they entered.
        let mut input = row.contact.clone();
        input
            .owner
            .get_or_insert_with(|| self.importer.user_id.clone());
        input
            .lead_source
            .get_or_insert_with(|| "import".to_string());
        let prepared = if row.problems.is_empty() {
            self.contacts
                .prepare(self.importer, input, Some(&row.custom), Some(self.defs))
                .await
        } else {
            Err(CrmError::Validation(row.problems.clone()))
        };
        let errors = match prepared {
            Err(CrmError::Validation(field_errors)) => field_errors
                .into_iter()
                .map(|e| self.columns.row_error(&row, e))
                .collect(),
            Err(e) => return Err(e),
            Ok(prepared) => {
                let contact = Contact {
                    import_id: Some(self.import),
                    ..prepared
                };
                let audit = Contacts::audit(
                    AuditAction::Created,
                    None,
                    Some(&contact),
                    &self.importer.user_id,
                )?
                .with_source(format!("import:{}", self.import));
                // The row's outcome is written with the contact, once: a redelivered event
                // finds it and writes nothing.
                let mut outcome = row_outcome(line, Some(contact.id()), &[])?;
                outcome.extend(key(import_pk(tenant, self.import), row_sk(line)));
                match self
                    .contacts
                    .insert(tenant, &contact, &audit, vec![WriteOp::put_new(outcome)])
                    .await
                {
                    Ok(()) => vec![],
                    Err(WriteFailure::Guard(_)) => {
                        return earlier_outcome(
                            &self.contacts.ctx.table,
                            tenant,
                            self.import,
                            line,
                        )
                        .await;
                    }
                    Err(WriteFailure::Error(CrmError::Conflict { .. })) => {
                        vec![self.columns.row_error(
                            &row,
                            FieldError::new(
                                "email",
                                "unique",
                                "a contact with this email already exists",
                            ),
                        )]
                    }
                    Err(WriteFailure::Error(e)) => return Err(e),
                }
            }
        };
        // A failed row is recorded once too, so a redelivery reports the same outcome.
        let table = &self.contacts.ctx.table;
        let mut item = row_outcome(line, None, &errors)?;
        item.extend(key(import_pk(tenant, self.import), row_sk(line)));
        match table.put_if(item, Condition::NotExists).await {
            Ok(()) => Ok(errors),
            Err(WriteError::ConditionFailed) => {
                earlier_outcome(table, tenant, self.import, line).await
            }
            Err(WriteError::Other(e)) => Err(e),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct RowOutcome {
    row: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contact_id: Option<Uuid>,
    #[serde(default)]
    errors: Vec<RowError>,
}

fn row_outcome(row: u64, contact_id: Option<Uuid>, errors: &[RowError]) -> Result<Item, CrmError> {
    let mut item = to_item(
        &RowOutcome {
            row,
            contact_id,
            errors: errors.to_vec(),
        },
        Item::new(),
    )?;
    item.insert("entity".into(), s("import_row"));
    Ok(item)
}

async fn earlier_outcome(
    table: &Table,
    tenant: &str,
    import: Uuid,
    row: u64,
) -> Result<Vec<RowError>, CrmError> {
    let item = table
        .get(import_pk(tenant, import), row_sk(row))
        .await?
        .ok_or_else(|| CrmError::Internal(format!("row {row} outcome vanished")))?;
    Ok(from_item::<RowOutcome>(item)?.errors)
}

/// Not yet done (awaiting its upload or being processed).
fn unfinished() -> Condition {
    Condition::In(
        "status".into(),
        vec![
            s(ImportStatus::AwaitingUpload.as_str()),
            s(ImportStatus::Processing.as_str()),
        ],
    )
}

async fn mark_processing(table: &Table, tenant: &str, import: &Import) -> Result<(), CrmError> {
    let now = crate::values::now();
    let processing = Import {
        status: ImportStatus::Processing,
        started_at: import.started_at.or(Some(now)),
        updated_at: now,
        ..import.clone()
    };
    match table
        .put_if(import_item(tenant, &processing)?, unfinished())
        .await
    {
        // Finished by a concurrent delivery in the meantime: finishing again writes the same state.
        Ok(()) | Err(WriteError::ConditionFailed) => Ok(()),
        Err(WriteError::Other(e)) => Err(e),
    }
}

async fn finish_failed(
    table: &Table,
    tenant: &str,
    import: &Import,
    reason: String,
) -> Result<ProcessOutcome, CrmError> {
    let failed = Import {
        status: ImportStatus::Failed,
        failure_reason: Some(reason),
        ..import.clone()
    };
    finish(table, tenant, failed).await
}

/// Writes the final state unless another delivery already did.
async fn finish(table: &Table, tenant: &str, import: Import) -> Result<ProcessOutcome, CrmError> {
    let now = crate::values::now();
    let status = import.status;
    let current = load(table, tenant, import.id)
        .await?
        .ok_or(CrmError::NotFound)?;
    let done = Import {
        finished_at: Some(now),
        updated_at: now,
        started_at: current.started_at.or(Some(now)),
        version: current.version + 1,
        ..import
    };
    match table
        .put_if(import_item(tenant, &done)?, unfinished())
        .await
    {
        Ok(()) => Ok(ProcessOutcome::Processed(status)),
        Err(WriteError::ConditionFailed) => Ok(ProcessOutcome::AlreadyDone),
        Err(WriteError::Other(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_round_trip_and_reject_strangers() {
        let id = crate::values::new_id();
        assert_eq!(
            parse_object_key(&object_key("tenant-a", id)),
            Some(("tenant-a".into(), id))
        );
        assert_eq!(parse_object_key("imports/a/not-a-uuid/source.csv"), None);
        assert_eq!(
            parse_object_key(&format!("imports/a b/{id}/source.csv")),
            None
        );
        assert_eq!(parse_object_key(&format!("other/a/{id}/source.csv")), None);
        assert_eq!(
            parse_object_key(&format!("imports/a/{id}/source.csv/x")),
            None
        );
    }
}
