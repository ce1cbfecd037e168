//! Processing an uploaded file (S5.1, S5.3): the S3 event plans the import, then chunks run
//! one after the other from the import queue (SQS), each from the import's checkpoint.
//!
//! - **Plan** (S3 event): the file's first bytes tell its kind, encoding and delimiter and give
//!   the header row. UTF-8 and Windows-1252 CSV is read where it lies, by byte ranges; UTF-16
//!   text and spreadsheets (which cannot be split on bytes) are converted once into a UTF-8
//!   CSV beside it, each row with its line in the file. The import becomes `queued` with
//!   checkpoint 0 and chunk 0 is sent.
//! - **Chunk** `k` (SQS): reads from the checkpoint's byte offset a window at a time, writes up
//!   to `rows_per_chunk` rows in batches until its time budget is spent, then advances the
//!   checkpoint to chunk `k + 1` with the counts in one conditional write (the import's
//!   version) and sends chunk `k + 1`. Only one delivery of `k` can advance; the others stop.
//!   Rows get ids derived from the import, the row and the checkpoint's time, so a chunk run
//!   again writes the same items and counts the same outcomes.
//! - A message whose checkpoint has moved on does nothing but send the next chunk when the
//!   advance was written but its message may not have been (`handed_on` not yet set).

use super::csv_rows::{ColumnMap, ParsedRow};
use super::rows::{RowResult, RowWriter};
use super::sheet::looks_like_workbook;
use super::text::{Sniffed, decode_cell, detect_delimiter, encoding_name, encoding_of, sniff};
use super::{
    FileFormat, Import, ImportStatus, MAX_INLINE_ERRORS, ReadFailure, RowError, StartWhen,
    StoredImport, Uploads, import_pk, load, row_sk, save,
};
use crate::catalog::Catalog;
use crate::contacts::ContactKind;
use crate::custom_fields::FieldDefinition;
use crate::records::Kind;
use crate::store::queue::{MessageQueue, send_json};
use crate::store::{Item, key, s, to_item};
use crate::values::Timestamp;
use crate::{Caller, CrmError};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Bytes of the file's start the plan reads (the header and the sniffing sample).
const SAMPLE_BYTES: u64 = 1024 * 1024;
/// Largest spreadsheet or UTF-16 file (converted in memory; stated in the README).
pub const MAX_CONVERTED_BYTES: u64 = 20 * 1024 * 1024;
/// Largest record (all its cells): a longer one fails the import.
pub const MAX_RECORD_BYTES: u64 = 1024 * 1024;

/// How much one chunk does.
#[derive(Debug, Clone)]
pub struct ChunkSettings {
    pub rows_per_chunk: usize,
    /// Time a chunk writes for before it hands on (well inside the function's timeout).
    pub time_budget: Duration,
    /// Bytes read from S3 at a time.
    pub window_bytes: u64,
    /// Rows written together.
    pub batch_rows: usize,
}

impl Default for ChunkSettings {
    fn default() -> Self {
        Self {
            rows_per_chunk: 2_000,
            time_budget: Duration::from_secs(600),
            window_bytes: 4 * 1024 * 1024,
            batch_rows: 200,
        }
    }
}

/// How the file is read: fixed when the import is planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The object chunks read (the upload, or its conversion).
    pub source_key: String,
    pub size: u64,
    /// `utf-8` or `windows-1252`.
    pub encoding: String,
    pub delimiter: u8,
    pub headers: Vec<String>,
    /// The source's first column is the row's line in the uploaded file (a conversion).
    #[serde(default)]
    pub line_column: bool,
}

/// Where the next chunk starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub chunk: u32,
    /// Byte offset of the chunk's first record in the source.
    pub offset: u64,
    /// Its line in the file.
    pub line: u64,
    /// Whether chunk `chunk`'s message was sent.
    pub handed_on: bool,
    /// The time this chunk's records are created at.
    pub at: Timestamp,
}

/// The message on the import queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkMessage {
    pub tenant_id: String,
    pub import_id: Uuid,
    pub chunk: u32,
    /// A page of the undo rather than a chunk of the file.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub undo: bool,
}

/// What the S3 event did with an upload.
#[derive(Debug, PartialEq, Eq)]
pub enum ProcessOutcome {
    /// Planned and chunk 0 sent (`Queued`), or refused whole (`Failed`).
    Processed(ImportStatus),
    /// Planned before: a redelivered event.
    AlreadyDone,
    /// Not an import file of this bucket, or no such import.
    Ignored,
}

/// What one chunk message did.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// Rows written and the checkpoint advanced; the import's status after it.
    Advanced(ImportStatus),
    /// Another delivery advanced past this chunk, or the import is over.
    Stale,
    Ignored,
}

/// The rows a chunk worked through.
#[derive(Debug, Default)]
struct Tally {
    rows: u64,
    created: u64,
    updated: u64,
    skipped: u64,
    failed: u64,
    errors: Vec<RowError>,
}

/// The importer as they are now: their role and teams decide which custom fields they may
/// fill (a changed role or a deactivation since the start applies).
pub(super) async fn importer(
    catalog: &Catalog,
    tenant: &str,
    import: &Import,
) -> Result<Caller, CrmError> {
    catalog
        .ctx
        .directory
        .effective_caller(Caller {
            teams: import.created_by_teams.clone(),
            ..Caller::new(tenant, &import.created_by, import.created_by_role)
        })
        .await
}

/// The custom fields of contacts, and those the importer may see (which columns can map to).
pub(super) async fn definitions(
    catalog: &Catalog,
    importer: &Caller,
) -> Result<(Vec<FieldDefinition>, Vec<FieldDefinition>), CrmError> {
    let defs: Vec<FieldDefinition> = catalog
        .contacts()
        .ctx
        .custom
        .definitions(importer, ContactKind::schema().entity())
        .await?;
    let visible = defs
        .iter()
        .filter(|d| d.visible_to(importer))
        .cloned()
        .collect();
    Ok((defs, visible))
}

/// The S3-triggered planning of an uploaded file (see the module's comment). Safe to run
/// twice: only an import awaiting its upload is planned; a planned one whose first message
/// may not have gone out gets it.
pub async fn process_upload(
    catalog: &Catalog,
    uploads: &dyn Uploads,
    queue: &dyn MessageQueue,
    bucket: &str,
    object_key: &str,
) -> Result<ProcessOutcome, CrmError> {
    let Some((tenant, id)) = super::parse_object_key(object_key).filter(|_| uploads.holds(bucket))
    else {
        tracing::warn!(
            bucket,
            object_key,
            "ignoring an object that is not an import upload"
        );
        return Ok(ProcessOutcome::Ignored);
    };
    let table = catalog.table();
    let Some(stored) = load(table, &tenant, id).await? else {
        tracing::warn!(%tenant, %id, "upload for an unknown import");
        return Ok(ProcessOutcome::Ignored);
    };
    if stored.import.status != ImportStatus::AwaitingUpload {
        if stored.import.status == ImportStatus::Queued {
            hand_on(table, queue, &tenant, stored, false).await?;
        }
        return Ok(ProcessOutcome::AlreadyDone);
    }
    let importer = importer(catalog, &tenant, &stored.import).await?;
    let (_, visible) = definitions(catalog, &importer).await?;
    let planned = match plan(uploads, &tenant, &stored.import, object_key)
        .await?
        .and_then(|(plan, format)| {
            // Started on upload, the columns must map now.
            match (&stored.import.mapping, stored.import.start) {
                (Some(mapping), StartWhen::OnUpload) => {
                    column_map(&plan, Some(mapping), &visible).map(|_| ())
                }
                (None, StartWhen::OnUpload) => column_map(&plan, None, &visible).map(|_| ()),
                (_, StartWhen::OnRequest) => Ok(()),
            }
            .map(|()| (plan, format))
        }) {
        Ok(planned) => planned,
        Err(ReadFailure(reason)) => {
            let now = crate::values::now();
            let failed = StoredImport {
                import: Import {
                    status: ImportStatus::Failed,
                    failure_reason: Some(reason),
                    started_at: Some(now),
                    finished_at: Some(now),
                    ..stored.import.clone()
                },
                ..stored.clone()
            };
            return Ok(match save(table, &tenant, &stored, failed).await? {
                Some(_) => ProcessOutcome::Processed(ImportStatus::Failed),
                None => ProcessOutcome::AlreadyDone,
            });
        }
    };
    let (plan, detected) = planned;
    let (offset, line) = plan_start(&plan, uploads).await?;
    let now = crate::values::now();
    let on_upload = stored.import.start == StartWhen::OnUpload;
    let queued = StoredImport {
        import: Import {
            status: if on_upload {
                ImportStatus::Queued
            } else {
                ImportStatus::Uploaded
            },
            started_at: Some(now),
            detected: Some(detected),
            progress: Some(super::Progress {
                bytes_done: 0,
                bytes_total: plan.size,
                percent: 0,
                rows_per_second: None,
            }),
            ..stored.import.clone()
        },
        checkpoint: Some(Checkpoint {
            chunk: 0,
            offset,
            line,
            handed_on: false,
            at: now,
        }),
        plan: Some(plan),
        undo_checkpoint: None,
    };
    match save(table, &tenant, &stored, queued).await? {
        Some(saved) if on_upload => {
            hand_on(table, queue, &tenant, saved, false).await?;
            Ok(ProcessOutcome::Processed(ImportStatus::Queued))
        }
        Some(_) => Ok(ProcessOutcome::Processed(ImportStatus::Uploaded)),
        None => Ok(ProcessOutcome::AlreadyDone),
    }
}

/// The columns of a planned file: as mapped, or as its headers suggest.
fn column_map(
    plan: &Plan,
    mapping: Option<&super::Mapping>,
    visible: &[FieldDefinition],
) -> Result<ColumnMap, ReadFailure> {
    match mapping {
        None => ColumnMap::from_headers(&plan.headers, visible),
        Some(mapping) => {
            ColumnMap::from_mapping(&plan.headers, mapping, visible).map_err(|errors| {
                ReadFailure(format!(
                    "the mapping does not fit the file: {}",
                    errors
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                ))
            })
        }
    }
}

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
    let template_id = super::templates::ImportTemplates::new(catalog)
        .apply(
            caller,
            input.template.as_deref(),
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
        let (_, visible) = definitions(catalog, caller).await?;
        let columns = match &input.mapping {
            Some(mapping) => ColumnMap::from_mapping(&plan.headers, mapping, &visible)
                .map_err(CrmError::Validation)?,
            None => {
                ColumnMap::from_headers(&plan.headers, &visible).map_err(|ReadFailure(r)| {
                    CrmError::Validation(vec![crate::FieldError::new("mapping", "required", r)])
                })?
            }
        };
        let queued = StoredImport {
            import: Import {
                status: ImportStatus::Queued,
                mapping: Some(columns.to_mapping()),
                mode: input.mode.unwrap_or(stored.import.mode),
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
    let (_, visible) = definitions(catalog, caller).await?;
    let mut columns = ColumnMap::suggestions(&plan.headers, &visible);
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
            ColumnMap::from_mapping(&plan.headers, mapping, &visible).ok()
        }
        None => ColumnMap::from_headers(&plan.headers, &visible).ok(),
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
                if let Err(found) = crate::contacts::ContactFields::validate(row.contact.clone()) {
                    problems.extend(found);
                }
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
                value: record.cells.get(i).cloned().unwrap_or_default(),
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

/// The byte offset and line of the first data record (after the header row).
async fn plan_start(plan: &Plan, uploads: &dyn Uploads) -> Result<(u64, u64), CrmError> {
    let sample = uploads
        .read_range(&plan.source_key, 0, SAMPLE_BYTES.min(plan.size))
        .await
        .map_err(|ReadFailure(r)| CrmError::Internal(r))?;
    let bom = if sample.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let mut reader = csv_reader(plan.delimiter, &sample[bom..]);
    let mut header = csv::ByteRecord::new();
    reader
        .read_byte_record(&mut header)
        .map_err(|e| CrmError::Internal(format!("header: {e}")))?;
    Ok((
        bom as u64 + reader.position().byte(),
        reader.position().line(),
    ))
}

fn csv_reader(delimiter: u8, bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes)
}

/// How the upload is read, or why it cannot be.
async fn plan(
    uploads: &dyn Uploads,
    tenant: &str,
    import: &Import,
    object_key: &str,
) -> Result<Result<(Plan, FileFormat), ReadFailure>, CrmError> {
    let size = match uploads.size(object_key).await {
        Ok(size) => size,
        Err(failure) => return Ok(Err(failure)),
    };
    if size > super::MAX_FILE_BYTES {
        return Ok(Err(ReadFailure(format!(
            "the file is larger than the {} MiB limit",
            super::MAX_FILE_BYTES / 1024 / 1024
        ))));
    }
    if size == 0 {
        return Ok(Err(ReadFailure("the file is empty".into())));
    }
    let sample = match uploads
        .read_range(object_key, 0, SAMPLE_BYTES.min(size))
        .await
    {
        Ok(bytes) => bytes,
        Err(failure) => return Ok(Err(failure)),
    };
    let converted = if looks_like_workbook(&sample) {
        true
    } else {
        match sniff(&sample) {
            Ok(Sniffed::Utf16) => true,
            Ok(Sniffed::Bytes { encoding, bom }) => {
                let text = encoding.decode_without_bom_handling(&sample[bom..]).0;
                if text.trim().is_empty() {
                    return Ok(Err(ReadFailure("the file is empty".into())));
                }
                let delimiter = detect_delimiter(&text);
                let headers = match first_record(&sample[bom..], delimiter, encoding) {
                    Some(h) => h,
                    None => return Ok(Err(ReadFailure("the file is empty".into()))),
                };
                let format = FileFormat {
                    format: "csv".into(),
                    encoding: Some(encoding_name(encoding).into()),
                    delimiter: Some((delimiter as char).to_string()),
                    sheet: None,
                };
                let plan = Plan {
                    source_key: object_key.to_string(),
                    size,
                    encoding: encoding_name(encoding).into(),
                    delimiter,
                    headers,
                    line_column: false,
                };
                return Ok(Ok((plan, format)));
            }
            Err(failure) => return Ok(Err(failure)),
        }
    };
    debug_assert!(converted);
    if size > MAX_CONVERTED_BYTES {
        return Ok(Err(ReadFailure(format!(
            "spreadsheets and UTF-16 files are read up to {} MiB; save this one as UTF-8 CSV",
            MAX_CONVERTED_BYTES / 1024 / 1024
        ))));
    }
    let bytes = match uploads.read(object_key, MAX_CONVERTED_BYTES as i64).await {
        Ok(bytes) => bytes,
        Err(failure) => return Ok(Err(failure)),
    };
    let (table, format) = match super::csv_rows::read_table(&bytes, import.sheet.as_deref()) {
        Ok(read) => read,
        Err(failure) => return Ok(Err(failure)),
    };
    drop(bytes);
    // The rows as UTF-8 CSV, each with its line in the uploaded file first.
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let mut header = vec!["line".to_string()];
    header.extend(table.headers.iter().cloned());
    writer.write_record(&header).map_err(CrmError::internal)?;
    for (line, cells) in &table.rows {
        let mut record = vec![line.to_string()];
        record.extend(cells.iter().cloned());
        writer.write_record(&record).map_err(CrmError::internal)?;
    }
    let csv = writer.into_inner().map_err(CrmError::internal)?;
    let source_key = converted_key(tenant, import.id);
    let size = csv.len() as u64;
    uploads.write(&source_key, csv, "text/csv").await?;
    let plan = Plan {
        source_key,
        size,
        encoding: "utf-8".into(),
        delimiter: b',',
        headers: table.headers,
        line_column: true,
    };
    Ok(Ok((plan, format)))
}

/// Where an import's errors file is kept (outside `imports/`, so no S3 event fires).
pub fn errors_key(tenant: &str, id: Uuid) -> String {
    format!("errors/{tenant}/{id}/errors.csv")
}

/// The column of the errors file that holds each row's reasons.
pub const ERRORS_COLUMN: &str = "Import errors";

/// Writes the errors file of an ended import from its reported rows (in row order, cells as
/// they were, the reasons last); the same file whenever it is written again.
async fn write_errors_file(
    table: &crate::store::Table,
    uploads: &dyn Uploads,
    tenant: &str,
    id: Uuid,
    plan: &Plan,
) -> Result<super::ErrorsFile, CrmError> {
    #[derive(Deserialize)]
    struct Reported {
        cells: Vec<String>,
        errors: Vec<RowError>,
    }
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let mut header = plan.headers.clone();
    header.push(ERRORS_COLUMN.into());
    writer.write_record(&header).map_err(CrmError::internal)?;
    let mut rows = 0;
    let mut start = None;
    loop {
        let page = table
            .query(
                crate::store::Query::partition(import_pk(tenant, id))
                    .prefix("ROW#")
                    .limit(500)
                    .start(start),
            )
            .await?;
        for item in page.items {
            let reported: Reported = crate::store::from_item(item)?;
            let reasons: Vec<String> = reported
                .errors
                .iter()
                .map(|e| match &e.column {
                    Some(column) => format!("{column}: {} ({})", e.message, e.rule),
                    None => format!("{} ({})", e.message, e.rule),
                })
                .collect();
            let mut record = reported.cells;
            record.resize(plan.headers.len(), String::new());
            record.push(reasons.join("; "));
            writer.write_record(&record).map_err(CrmError::internal)?;
            rows += 1;
        }
        match page.last_key {
            Some(last) => start = Some(last),
            None => break,
        }
    }
    let csv = writer.into_inner().map_err(CrmError::internal)?;
    uploads
        .write(&errors_key(tenant, id), csv, "text/csv; charset=utf-8")
        .await?;
    Ok(super::ErrorsFile { rows })
}

/// Where a converted file's rows are kept (outside `imports/`, so no S3 event fires).
pub fn converted_key(tenant: &str, id: Uuid) -> String {
    format!("converted/{tenant}/{id}/rows.csv")
}

/// The first record of CSV bytes, decoded.
fn first_record(
    bytes: &[u8],
    delimiter: u8,
    encoding: &'static encoding_rs::Encoding,
) -> Option<Vec<String>> {
    let mut reader = csv_reader(delimiter, bytes);
    let mut record = csv::ByteRecord::new();
    match reader.read_byte_record(&mut record) {
        Ok(true) => Some(record.iter().map(|c| decode_cell(c, encoding)).collect()),
        _ => None,
    }
}

/// Sends the message of the checkpoint's chunk (of the rows, or of the undo) unless it was
/// sent, then notes that it was.
pub(super) async fn hand_on(
    table: &crate::store::Table,
    queue: &dyn MessageQueue,
    tenant: &str,
    stored: StoredImport,
    undo: bool,
) -> Result<(), CrmError> {
    let pending = if undo {
        stored
            .undo_checkpoint
            .as_ref()
            .map(|c| (c.chunk, c.handed_on))
    } else {
        stored.checkpoint.as_ref().map(|c| (c.chunk, c.handed_on))
    };
    let Some((chunk, false)) = pending else {
        return Ok(());
    };
    send_json(
        queue,
        &ChunkMessage {
            tenant_id: tenant.to_string(),
            import_id: stored.import.id,
            chunk,
            undo,
        },
    )
    .await?;
    let mut sent = stored.clone();
    if let Some(c) = sent.undo_checkpoint.as_mut().filter(|_| undo) {
        c.handed_on = true;
    }
    if let Some(c) = sent.checkpoint.as_mut().filter(|_| !undo) {
        c.handed_on = true;
    }
    // Changed meanwhile (advanced, cancelled): the message is out either way.
    save(table, tenant, &stored, sent).await.map(|_| ())
}

/// One record of the source: its line in the file, its cells, and where the next one starts.
pub struct SourceRecord {
    pub line: u64,
    pub cells: Vec<String>,
    pub end: u64,
    pub next_line: u64,
}

/// Reads the source's records from a byte offset, a window at a time.
pub struct SourceReader<'a> {
    uploads: &'a dyn Uploads,
    plan: &'a Plan,
    encoding: &'static encoding_rs::Encoding,
    window_bytes: u64,
    /// Where the records not yet returned start, and the line there.
    offset: u64,
    line: u64,
    buffered: std::collections::VecDeque<SourceRecord>,
}

impl<'a> SourceReader<'a> {
    pub fn new(
        uploads: &'a dyn Uploads,
        plan: &'a Plan,
        checkpoint: &Checkpoint,
        window: u64,
    ) -> Self {
        Self {
            uploads,
            plan,
            encoding: encoding_of(&plan.encoding),
            window_bytes: window,
            offset: checkpoint.offset,
            line: checkpoint.line,
            buffered: Default::default(),
        }
    }

    /// The next record, or `None` at the end of the file.
    pub async fn next(&mut self) -> Result<Option<SourceRecord>, ReadFailure> {
        if self.buffered.is_empty() {
            self.fill().await?;
        }
        Ok(self.buffered.pop_front())
    }

    /// Reads the window at `offset` into complete records (the last one of a window that does
    /// not reach the end of the file may be cut off: it is read again with the next window).
    async fn fill(&mut self) -> Result<(), ReadFailure> {
        let mut window = self.window_bytes;
        loop {
            if self.offset >= self.plan.size {
                return Ok(());
            }
            let len = window.min(self.plan.size - self.offset);
            let bytes = self
                .uploads
                .read_range(&self.plan.source_key, self.offset, len)
                .await?;
            let reaches_end = self.offset + bytes.len() as u64 >= self.plan.size;
            let mut reader = csv_reader(self.plan.delimiter, &bytes);
            let mut record = csv::ByteRecord::new();
            let (mut next_offset, mut next_line) = (self.offset, self.line);
            loop {
                match reader.read_byte_record(&mut record) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        return Err(ReadFailure(format!(
                            "the file is not valid CSV near line {next_line}: {e}"
                        )));
                    }
                }
                let end = reader.position().byte();
                if end >= bytes.len() as u64 && !reaches_end {
                    break; // possibly cut off
                }
                let line = self.line + record.position().map_or(1, |p| p.line()) - 1;
                let mut cells: Vec<String> = record
                    .iter()
                    .map(|c| decode_cell(c, self.encoding))
                    .collect();
                let line = if self.plan.line_column && !cells.is_empty() {
                    let first = cells.remove(0);
                    first.parse().unwrap_or(line)
                } else {
                    line
                };
                next_offset = self.offset + end;
                next_line = self.line + reader.position().line() - 1;
                self.buffered.push_back(SourceRecord {
                    line,
                    cells,
                    end: next_offset,
                    next_line,
                });
            }
            if !self.buffered.is_empty() || reaches_end {
                if reaches_end {
                    if let Some(last) = self.buffered.back_mut() {
                        last.end = self.plan.size;
                    }
                }
                self.offset = if reaches_end {
                    self.plan.size
                } else {
                    next_offset
                };
                self.line = next_line;
                return Ok(());
            }
            // Not one whole record in the window: a longer window, up to the record limit.
            if window >= MAX_RECORD_BYTES.max(self.window_bytes) {
                return Err(ReadFailure(format!(
                    "the record at line {} is longer than {} KiB",
                    self.line,
                    MAX_RECORD_BYTES / 1024
                )));
            }
            window = (window * 2).min(MAX_RECORD_BYTES.max(self.window_bytes));
        }
    }
}

/// One chunk of an import (see the module's comment). Safe to run twice, even concurrently.
pub async fn run_chunk(
    catalog: &Catalog,
    uploads: &dyn Uploads,
    queue: &dyn MessageQueue,
    settings: &ChunkSettings,
    message: &ChunkMessage,
) -> Result<ChunkOutcome, CrmError> {
    if message.undo {
        return super::undo::run_undo(catalog, queue, message).await;
    }
    let started = Instant::now();
    let table = catalog.table();
    let tenant = message.tenant_id.as_str();
    let Some(stored) = load(table, tenant, message.import_id).await? else {
        tracing::warn!(import = %message.import_id, "chunk of an unknown import; dropped");
        return Ok(ChunkOutcome::Ignored);
    };
    let (Some(plan), Some(checkpoint)) = (stored.plan.clone(), stored.checkpoint.clone()) else {
        return Ok(ChunkOutcome::Ignored);
    };
    if stored.import.status == ImportStatus::Cancelled && stored.import.errors_file.is_none() {
        // Stopped: its errors file holds the rows reported until then.
        let file = write_errors_file(table, uploads, tenant, stored.import.id, &plan).await?;
        let with_file = StoredImport {
            import: Import {
                errors_file: Some(file),
                ..stored.import.clone()
            },
            ..stored.clone()
        };
        save(table, tenant, &stored, with_file).await?;
        return Ok(ChunkOutcome::Stale);
    }
    if !matches!(
        stored.import.status,
        ImportStatus::Queued | ImportStatus::Running
    ) {
        return Ok(ChunkOutcome::Stale);
    }
    if checkpoint.chunk != message.chunk {
        // Advanced by another delivery; its message may not have gone out.
        if checkpoint.chunk == message.chunk + 1 {
            hand_on(table, queue, tenant, stored, false).await?;
        }
        return Ok(ChunkOutcome::Stale);
    }
    let importer = importer(catalog, tenant, &stored.import).await?;
    let (defs, visible) = definitions(catalog, &importer).await?;
    let columns = match column_map(&plan, stored.import.mapping.as_ref(), &visible) {
        Ok(columns) => columns,
        Err(ReadFailure(reason)) => return fail(table, tenant, &stored, reason).await,
    };
    let contacts = catalog.contacts();
    let people = super::rows::People::load(&catalog.ctx.directory, tenant).await?;
    let writer = RowWriter {
        contacts: &contacts,
        defs: &defs,
        importer: &importer,
        import: stored.import.id,
        mode: stored.import.mode,
        columns: &columns,
        at: checkpoint.at,
    };
    let mut reader = SourceReader::new(uploads, &plan, &checkpoint, settings.window_bytes);
    let mut tally = Tally::default();
    let (mut offset, mut line) = (checkpoint.offset, checkpoint.line);
    let mut failed_items: Vec<Item> = Vec::new();
    let mut done = false;
    // At least one batch per chunk, however short the budget: every chunk moves forward.
    loop {
        let room = settings
            .batch_rows
            .min(settings.rows_per_chunk - tally.rows as usize);
        let mut batch: Vec<ParsedRow> = Vec::new();
        let mut end = None;
        while batch.len() < room {
            let record = match reader.next().await {
                Ok(Some(record)) => record,
                Ok(None) => {
                    done = true;
                    break;
                }
                Err(ReadFailure(reason)) => return fail(table, tenant, &stored, reason).await,
            };
            end = Some((record.end, record.next_line));
            if let Some(mut row) = columns.row(record.line, record.cells) {
                people.resolve(&mut row);
                batch.push(row);
            }
        }
        let results = writer.write(&batch).await?;
        for (row, result) in batch.into_iter().zip(results) {
            tally.rows += 1;
            let errors = match result {
                RowResult::Created => {
                    tally.created += 1;
                    let id = writer.contact_id(row.line);
                    failed_items.push(done_item(tenant, stored.import.id, row.line, id, None)?);
                    continue;
                }
                RowResult::Updated { id, version } => {
                    tally.updated += 1;
                    failed_items.push(done_item(
                        tenant,
                        stored.import.id,
                        row.line,
                        id,
                        Some(version),
                    )?);
                    continue;
                }
                RowResult::Skipped(reason) => {
                    tally.skipped += 1;
                    vec![reason]
                }
                RowResult::Failed(errors) => {
                    tally.failed += 1;
                    errors
                }
            };
            failed_items.push(row_item(
                tenant,
                stored.import.id,
                row.line,
                &row.record,
                &errors,
            )?);
            if tally.errors.len() < MAX_INLINE_ERRORS {
                tally.errors.extend(errors);
            }
        }
        // Reported rows are kept with their cells (the errors file), the others with their
        // contact (the undo).
        table.put_many(std::mem::take(&mut failed_items)).await?;
        if let Some((end, next_line)) = end {
            (offset, line) = (end, next_line);
        }
        if done
            || tally.rows as usize >= settings.rows_per_chunk
            || started.elapsed() >= settings.time_budget
        {
            break;
        }
    }
    let done = done || offset >= plan.size;
    let errors_file = if done {
        Some(write_errors_file(table, uploads, tenant, stored.import.id, &plan).await?)
    } else {
        None
    };
    let status = advance(
        table,
        queue,
        tenant,
        stored.import.id,
        message.chunk,
        tally,
        Checkpoint {
            chunk: message.chunk + 1,
            offset,
            line,
            handed_on: false,
            at: crate::values::now(),
        },
        errors_file,
    )
    .await?;
    Ok(status.map_or(ChunkOutcome::Stale, ChunkOutcome::Advanced))
}

/// What a row did to a contact, for the undo: created it, or updated it to `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoneRow {
    pub row: u64,
    pub contact_id: Uuid,
    /// Updated: the contact's version after the update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

pub const DONE_PREFIX: &str = "DONE#";

fn done_item(
    tenant: &str,
    import: Uuid,
    line: u64,
    contact_id: Uuid,
    version: Option<u64>,
) -> Result<Item, CrmError> {
    let mut keys = key(import_pk(tenant, import), format!("{DONE_PREFIX}{line:08}"));
    keys.insert("entity".into(), s("import_done_row"));
    to_item(
        &DoneRow {
            row: line,
            contact_id,
            version,
        },
        keys,
    )
}

/// A reported row, kept with its cells as they were in the file.
#[derive(Serialize)]
struct ReportedRow<'a> {
    row: u64,
    cells: &'a [String],
    errors: &'a [RowError],
}

fn row_item(
    tenant: &str,
    import: Uuid,
    line: u64,
    cells: &[String],
    errors: &[RowError],
) -> Result<Item, CrmError> {
    let mut keys = key(import_pk(tenant, import), row_sk(line));
    keys.insert("entity".into(), s("import_row"));
    to_item(
        &ReportedRow {
            row: line,
            cells,
            errors,
        },
        keys,
    )
}

/// Moves the checkpoint past chunk `chunk` with its counts, in one write conditional on the
/// import's version; `None` when another delivery moved it first. Hands on unless the file is
/// done or the import was cancelled meanwhile.
#[allow(clippy::too_many_arguments)]
async fn advance(
    table: &crate::store::Table,
    queue: &dyn MessageQueue,
    tenant: &str,
    id: Uuid,
    chunk: u32,
    tally: Tally,
    next: Checkpoint,
    errors_file: Option<super::ErrorsFile>,
) -> Result<Option<ImportStatus>, CrmError> {
    let done = errors_file.is_some();
    loop {
        let Some(fresh) = load(table, tenant, id).await? else {
            return Ok(None);
        };
        if fresh.checkpoint.as_ref().map(|c| c.chunk) != Some(chunk) {
            return Ok(None);
        }
        let now = crate::values::now();
        let mut import = fresh.import.clone();
        import.rows += tally.rows;
        import.created += tally.created;
        import.updated += tally.updated;
        import.skipped += tally.skipped;
        import.failed += tally.failed;
        let room = MAX_INLINE_ERRORS.saturating_sub(import.errors.len());
        import.errors_truncated |= tally.errors.len() > room;
        import
            .errors
            .extend(tally.errors.iter().take(room).cloned());
        if import.status != ImportStatus::Cancelled {
            import.status = if done {
                ImportStatus::Completed
            } else {
                ImportStatus::Running
            };
        }
        if done || import.status == ImportStatus::Cancelled {
            import.finished_at.get_or_insert(now);
        }
        if done {
            import.errors_file = errors_file.clone();
        }
        if let Some(progress) = import.progress.as_mut() {
            progress.bytes_done = if done {
                progress.bytes_total
            } else {
                next.offset
            };
            progress.percent = (progress.bytes_done * 100)
                .checked_div(progress.bytes_total)
                .unwrap_or(100) as u8;
            let seconds = (now - import.started_at.unwrap_or(now)).num_milliseconds();
            progress.rows_per_second = (seconds > 0).then(|| import.rows * 1000 / seconds as u64);
        }
        let status = import.status;
        let advanced = StoredImport {
            import,
            checkpoint: Some(next.clone()),
            ..fresh.clone()
        };
        let Some(saved) = save(table, tenant, &fresh, advanced).await? else {
            continue; // changed meanwhile (its first message noted, a cancel): again
        };
        if status == ImportStatus::Running {
            hand_on(table, queue, tenant, saved, false).await?;
        }
        return Ok(Some(status));
    }
}

/// Fails the import with a reason (a file found broken in the middle, a mapping that no
/// longer holds).
async fn fail(
    table: &crate::store::Table,
    tenant: &str,
    stored: &StoredImport,
    reason: String,
) -> Result<ChunkOutcome, CrmError> {
    let now = crate::values::now();
    let failed = StoredImport {
        import: Import {
            status: ImportStatus::Failed,
            failure_reason: Some(reason),
            finished_at: Some(now),
            ..stored.import.clone()
        },
        ..stored.clone()
    };
    Ok(match save(table, tenant, stored, failed).await? {
        Some(_) => ChunkOutcome::Advanced(ImportStatus::Failed),
        None => ChunkOutcome::Stale,
    })
}
