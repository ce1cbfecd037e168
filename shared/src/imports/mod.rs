//! Imports (S5): a client asks for an upload URL, puts a CSV into S3, and the S3-triggered
//! processor turns its rows into contacts. Every row is written at most once (a row-outcome item
//! in the same transaction as the contact), so a redelivered S3 event creates nothing twice.

mod csv_rows;

pub use csv_rows::{ColumnMap, ParsedRow, ReadFailure, parse_contact_rows};

use crate::contacts::{Contact, ContactFields, ContactRepository, DynamoContacts, ImportRowWrite};
use crate::custom_fields::values::CustomValues;
use crate::custom_fields::{Entity, FieldDefinition};
use crate::errors::sdk_error;
use crate::table::{Item, Table, from_item, is_condition_failed, key, s, to_item};
use crate::{Caller, CrmError, Deps, FieldError, Role};
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
const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);
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
    /// Why the whole file was refused, when `status` is `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub version: u64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewImport {
    /// The uploaded file's name, for the import log.
    pub file_name: String,
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
        .get(import_pk(tenant, id), "IMPORT")
        .await?
        .map(from_item)
        .transpose()
}

/// `POST /imports`: records the import and returns a presigned PUT for its file.
fn member() -> Role {
    Role::Member
}

pub async fn start(
    deps: &Deps,
    caller: &Caller,
    input: NewImport,
) -> Result<ImportCreated, CrmError> {
    if !caller.role.can_write() {
        return Err(CrmError::Forbidden(
            "this role cannot import contacts".into(),
        ));
    }
    let file_name = crate::values::text::normalize_text(&input.file_name, 255)
        .map_err(|rule| CrmError::validation("file_name", rule.code(), rule.message(255)))?
        .ok_or_else(|| {
            CrmError::validation("file_name", "required", "file_name must not be empty")
        })?;
    if !file_name.to_lowercase().ends_with(".csv") {
        return Err(CrmError::Validation(vec![FieldError::new(
            "file_name",
            "file_type",
            "only .csv files can be imported",
        )]));
    }
    let now = crate::values::now();
    let import = Import {
        id: crate::values::new_id(),
        file_name,
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
        failure_reason: None,
        version: 1,
    };
    let table = deps.table();
    table
        .client
        .put_item()
        .table_name(&table.name)
        .set_item(Some(import_item(&caller.tenant_id, &import)?))
        .condition_expression("attribute_not_exists(PK)")
        .send()
        .await
        .map_err(|e| sdk_error("PutItem import", e))?;

    let content_type = "text/csv";
    let presigning = aws_sdk_s3::presigning::PresigningConfig::expires_in(UPLOAD_URL_TTL)
        .map_err(CrmError::internal)?;
    let presigned = deps
        .aws
        .s3
        .put_object()
        .bucket(&deps.config.imports_bucket)
        .key(object_key(&caller.tenant_id, import.id))
        .content_type(content_type)
        .presigned(presigning)
        .await
        .map_err(|e| sdk_error("presign PutObject", e))?;
    let upload = UploadTarget {
        url: presigned.uri().to_string(),
        method: presigned.method().to_string(),
        headers: BTreeMap::from([("content-type".to_string(), content_type.to_string())]),
        expires_at: now + chrono::Duration::from_std(UPLOAD_URL_TTL).map_err(CrmError::internal)?,
    };
    Ok(ImportCreated { import, upload })
}

/// `GET /imports/{id}`.
pub async fn get(deps: &Deps, caller: &Caller, id: Uuid) -> Result<Import, CrmError> {
    if caller.role == crate::Role::Portal {
        return Err(CrmError::NotFound);
    }
    load(&deps.table(), &caller.tenant_id, id)
        .await?
        .ok_or(CrmError::NotFound)
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
    deps: &Deps,
    bucket: &str,
    object_key: &str,
) -> Result<ProcessOutcome, CrmError> {
    let Some((tenant, id)) =
        parse_object_key(object_key).filter(|_| bucket == deps.config.imports_bucket)
    else {
        tracing::warn!(
            bucket,
            object_key,
            "ignoring an object that is not an import upload"
        );
        return Ok(ProcessOutcome::Ignored);
    };
    let table = deps.table();
    let Some(import) = load(&table, &tenant, id).await? else {
        tracing::warn!(%tenant, %id, "upload for an unknown import");
        return Ok(ProcessOutcome::Ignored);
    };
    if matches!(
        import.status,
        ImportStatus::Completed | ImportStatus::Failed
    ) {
        return Ok(ProcessOutcome::AlreadyDone);
    }
    mark_processing(&table, &tenant, id).await?;

    let bytes = match read_object(deps, bucket, object_key).await {
        Ok(bytes) => bytes,
        Err(ReadFailure(reason)) => return finish_failed(&table, &tenant, &import, reason).await,
    };
    // The importer writes as themself: their role and teams decide which custom fields they
    // may fill (a changed role or a deactivation since the start applies).
    let importer = crate::directory::Directory::new(table.store())
        .effective_caller(Caller {
            teams: import.created_by_teams.clone(),
            ..Caller::new(&tenant, &import.created_by, import.created_by_role)
        })
        .await?;
    let custom = CustomValues::new(table.clone());
    let defs: Vec<FieldDefinition> = custom.definitions(&importer, Entity::Contact).await?;
    let visible: Vec<FieldDefinition> = defs
        .iter()
        .filter(|d| d.visible_to(&importer))
        .cloned()
        .collect();
    let (columns, rows) = match parse_contact_rows(&bytes, &visible) {
        Ok(parsed) => parsed,
        Err(ReadFailure(reason)) => return finish_failed(&table, &tenant, &import, reason).await,
    };
    if rows.len() > MAX_ROWS {
        let reason = format!(
            "the file has {} data rows; the limit is {MAX_ROWS}",
            rows.len()
        );
        return finish_failed(&table, &tenant, &import, reason).await;
    }

    let contacts = DynamoContacts::new(table.clone());
    let actor = import.created_by.clone();
    let outcomes: Vec<Result<Vec<RowError>, CrmError>> = futures::stream::iter(rows)
        .map(|row| {
            let writer = RowWriter {
                contacts: &contacts,
                custom: &custom,
                defs: &defs,
                importer: &importer,
            };
            write_row(writer, &table, &tenant, id, &actor, &columns, row)
        })
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
        ..import
    };
    finish(&table, &tenant, finished).await
}

async fn read_object(deps: &Deps, bucket: &str, object_key: &str) -> Result<Vec<u8>, ReadFailure> {
    let out = deps.aws.s3.get_object().bucket(bucket).key(object_key).send().await.map_err(|e| {
        tracing::error!(error = %aws_sdk_s3::error::DisplayErrorContext(&e), "GetObject failed");
        ReadFailure("the uploaded file could not be read".into())
    })?;
    if out.content_length().unwrap_or(0) > MAX_FILE_BYTES {
        return Err(ReadFailure(format!(
            "the file is larger than the {} MiB limit",
            MAX_FILE_BYTES / 1024 / 1024
        )));
    }
    let body = out
        .body
        .collect()
        .await
        .map_err(|_| ReadFailure("the uploaded file could not be read".into()))?;
    Ok(body.into_bytes().to_vec())
}

/// Writes one row; returns its errors (empty when the contact was created).
/// What writes an import row's contact.
#[derive(Clone, Copy)]
struct RowWriter<'a> {
    contacts: &'a DynamoContacts,
    custom: &'a CustomValues,
    defs: &'a [FieldDefinition],
    importer: &'a Caller,
}

async fn write_row(
    writer: RowWriter<'_>,
    table: &Table,
    tenant: &str,
    import: Uuid,
    actor: &str,
    columns: &ColumnMap,
    row: ParsedRow,
) -> Result<Vec<RowError>, CrmError> {
    let line = row.line;
    // Imported contacts belong to whoever started the import and record how they entered.
    let mut input = row.contact.clone();
    input.owner.get_or_insert_with(|| actor.to_string());
    input
        .lead_source
        .get_or_insert_with(|| "import".to_string());
    let contacts = writer.contacts;
    let fields = ContactFields::validate(input);
    let custom = writer
        .custom
        .write_with(writer.defs, writer.importer, Some(&row.custom), None)
        .await;
    let checked = match (fields, custom) {
        (Ok(f), Ok(c)) => Ok((f, c)),
        (Err(mut a), Err(CrmError::Validation(b))) => {
            a.extend(b);
            Err(a)
        }
        (Err(a), Ok(_)) => Err(a),
        (_, Err(CrmError::Validation(b))) => Err(b),
        (_, Err(e)) => return Err(e),
    };
    let errors = match checked {
        Err(field_errors) => field_errors
            .into_iter()
            .map(|e| columns.row_error(&row, e))
            .collect(),
        Ok((fields, custom)) => {
            let mut contact = Contact::new(fields, actor, Some(import));
            contact.custom_fields = custom.values;
            contact.custom_terms = custom.terms;
            let outcome = row_outcome(line, Some(contact.id), &[])?;
            let audit = crate::contacts::audit::AuditEntry::of_change(
                None,
                Some(&contact),
                actor,
                Some(format!("import:{import}")),
            );
            match contacts
                .insert_import_row(tenant, &contact, import, line, outcome, &audit)
                .await?
            {
                ImportRowWrite::Created => vec![],
                ImportRowWrite::AlreadyWritten => {
                    return earlier_outcome(table, tenant, import, line).await;
                }
                ImportRowWrite::DuplicateEmail => vec![columns.row_error(
                    &row,
                    FieldError::new(
                        "email",
                        "unique",
                        "a contact with this email already exists",
                    ),
                )],
            }
        }
    };
    // A failed row is recorded once too, so a redelivery reports the same outcome.
    let mut item = row_outcome(line, None, &errors)?;
    item.extend(key(import_pk(tenant, import), row_sk(line)));
    match table
        .client
        .put_item()
        .table_name(&table.name)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(PK)")
        .send()
        .await
    {
        Ok(_) => Ok(errors),
        Err(e) if is_condition_failed(&e) => earlier_outcome(table, tenant, import, line).await,
        Err(e) => Err(sdk_error("PutItem import row", e)),
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
        .get(import_pk(tenant, import), &row_sk(row))
        .await?
        .ok_or_else(|| CrmError::Internal(format!("row {row} outcome vanished")))?;
    Ok(from_item::<RowOutcome>(item)?.errors)
}

async fn mark_processing(table: &Table, tenant: &str, id: Uuid) -> Result<(), CrmError> {
    let now = crate::values::now();
    let result = table
        .client
        .update_item()
        .table_name(&table.name)
        .set_key(Some(key(import_pk(tenant, id), "IMPORT")))
        .update_expression("SET #status = :processing, started_at = if_not_exists(started_at, :now), updated_at = :now")
        .condition_expression("#status IN (:awaiting, :processing)")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":processing", s(ImportStatus::Processing.as_str()))
        .expression_attribute_values(":awaiting", s(ImportStatus::AwaitingUpload.as_str()))
        .expression_attribute_values(":now", s(now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        .send()
        .await;
    match result {
        // Finished by a concurrent delivery in the meantime: finishing again writes the same state.
        Ok(_) => Ok(()),
        Err(e) if is_condition_failed(&e) => Ok(()),
        Err(e) => Err(sdk_error("UpdateItem import", e)),
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
    let result = table
        .client
        .put_item()
        .table_name(&table.name)
        .set_item(Some(import_item(tenant, &done)?))
        .condition_expression("#status IN (:awaiting, :processing)")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":processing", s(ImportStatus::Processing.as_str()))
        .expression_attribute_values(":awaiting", s(ImportStatus::AwaitingUpload.as_str()))
        .send()
        .await;
    match result {
        Ok(_) => Ok(ProcessOutcome::Processed(status)),
        Err(e) if is_condition_failed(&e) => Ok(ProcessOutcome::AlreadyDone),
        Err(e) => Err(sdk_error("PutItem import", e)),
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
