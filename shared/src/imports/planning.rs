//! Planning an uploaded import (the S3 event; see `processing` for the whole flow): the file's
//! first MiB tells its kind, encoding and delimiter and gives the header; UTF-16 text and
//! spreadsheets are converted once into a UTF-8 CSV beside the upload. The plan and checkpoint 0
//! are stored, and chunk 0 is sent when the import starts on upload.

use super::csv_rows::ColumnMap;
use super::processing::{Checkpoint, definitions, hand_on, importer};
use super::sheet::looks_like_workbook;
use super::source::csv_reader;
use super::text::{Sniffed, decode_cell, detect_delimiter, encoding_name, sniff};
use super::{
    FileFormat, Import, ImportStatus, ReadFailure, StartWhen, StoredImport, Uploads, load, save,
};
use crate::CrmError;
use crate::catalog::Catalog;
use crate::custom_fields::FieldDefinition;
use crate::store::queue::MessageQueue;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Bytes of the file's start the plan reads (the header and the sniffing sample).
pub(super) const SAMPLE_BYTES: u64 = 1024 * 1024;

/// Largest spreadsheet or UTF-16 file (converted in memory; stated in the README).
pub const MAX_CONVERTED_BYTES: u64 = 20 * 1024 * 1024;

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
    let entity = stored.import.entity;
    let (_, visible) = definitions(catalog, &importer, entity).await?;
    let planned = match plan(uploads, &tenant, &stored.import, object_key)
        .await?
        .and_then(|(plan, format)| {
            // Started on upload, the columns must map now.
            match (&stored.import.mapping, stored.import.start) {
                (Some(mapping), StartWhen::OnUpload) => {
                    column_map(entity, &plan, Some(mapping), &visible).map(|_| ())
                }
                (None, StartWhen::OnUpload) => {
                    column_map(entity, &plan, None, &visible).map(|_| ())
                }
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
            // An import waiting for its start starts (and its rate counts from) then.
            started_at: on_upload.then_some(now),
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
pub(super) fn column_map(
    entity: super::ImportEntity,
    plan: &Plan,
    mapping: Option<&super::Mapping>,
    visible: &[FieldDefinition],
) -> Result<ColumnMap, ReadFailure> {
    match mapping {
        None => ColumnMap::from_headers(entity, &plan.headers, visible),
        Some(mapping) => {
            ColumnMap::from_mapping(entity, &plan.headers, mapping, visible).map_err(|errors| {
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

/// The byte offset and line of the first data record (after the header row).
pub(super) async fn plan_start(plan: &Plan, uploads: &dyn Uploads) -> Result<(u64, u64), CrmError> {
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
