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
//!
//! The planning is `planning`, the reading of the source `source`, the preview and start
//! `start`, the errors file `errors_file`, the undo pages `undo`; this module runs chunks.

use super::client_rows::ClientRowWriter;
use super::csv_rows::ParsedRow;
use super::errors_file::write_errors_file;
use super::planning::column_map;
use super::rows::{RowBatch, RowResult, RowWriter};
use super::source::SourceReader;
use super::{
    Import, ImportEntity, ImportStatus, MAX_INLINE_ERRORS, ReadFailure, RowError, StoredImport,
    Uploads, import_pk, load, row_sk, save,
};
use crate::catalog::Catalog;
use crate::clients::ClientKind;
use crate::contacts::ContactKind;
use crate::custom_fields::FieldDefinition;
use crate::records::Kind;
use crate::store::queue::{MessageQueue, send_json};
use crate::store::{Item, key, s, to_item};
use crate::telemetry::metrics::{self, Counter};
use crate::values::Timestamp;
use crate::{Caller, CrmError};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use uuid::Uuid;

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

/// The custom fields of the entity, and those the importer may see (which columns can map to).
pub(super) async fn definitions(
    catalog: &Catalog,
    importer: &Caller,
    entity: ImportEntity,
) -> Result<(Vec<FieldDefinition>, Vec<FieldDefinition>), CrmError> {
    let kind = match entity {
        ImportEntity::Contacts => ContactKind::schema().entity(),
        ImportEntity::Clients => ClientKind::schema().entity(),
    };
    let defs: Vec<FieldDefinition> = catalog
        .contacts()
        .ctx
        .custom
        .definitions(importer, kind)
        .await?;
    let visible = defs
        .iter()
        .filter(|d| d.visible_to(importer))
        .cloned()
        .collect();
    Ok((defs, visible))
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
    let entity = stored.import.entity;
    let (defs, visible) = definitions(catalog, &importer, entity).await?;
    let columns = match column_map(entity, &plan, stored.import.mapping.as_ref(), &visible) {
        Ok(columns) => columns,
        Err(ReadFailure(reason)) => return fail(table, tenant, &stored, reason).await,
    };
    let (contacts, clients) = (catalog.contacts(), catalog.clients());
    let people = super::rows::People::load(&catalog.ctx.directory, tenant).await?;
    let batch = RowBatch {
        defs: &defs,
        importer: &importer,
        import: stored.import.id,
        mode: stored.import.mode,
        columns: &columns,
        at: checkpoint.at,
    };
    let writer = match entity {
        ImportEntity::Contacts => Writer::Contacts(RowWriter {
            batch,
            contacts: &contacts,
            catalog,
            link_clients: stored.import.link_clients,
            import_at: stored.import.created_at,
        }),
        ImportEntity::Clients => Writer::Clients(ClientRowWriter {
            batch,
            clients: &clients,
        }),
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
                RowResult::Created(id) => {
                    tally.created += 1;
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
                &row.record.iter().map(str::to_string).collect::<Vec<_>>(),
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
    if done && stored.import.entity == ImportEntity::Contacts {
        // One summary notification per import (S8.4), written once whatever the deliveries.
        let i = &stored.import;
        crate::leads::events::import_summary(
            table,
            tenant,
            &i.created_by,
            i.id,
            &i.file_name,
            i.created + tally.created,
            i.created_at,
        )
        .await?;
    }
    let (imported, refused) = (tally.created + tally.updated, tally.failed);
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
    if status.is_some() {
        // This delivery's rows (a redelivery that finds the chunk done counts nothing).
        metrics::count(Counter::ImportRowsImported, imported);
        metrics::count(Counter::ImportRowsFailed, refused);
    }
    Ok(status.map_or(ChunkOutcome::Stale, ChunkOutcome::Advanced))
}

/// The writer of an import's rows, by what they become.
enum Writer<'a> {
    Contacts(RowWriter<'a>),
    Clients(ClientRowWriter<'a>),
}

impl Writer<'_> {
    async fn write(&self, rows: &[ParsedRow]) -> Result<Vec<RowResult>, CrmError> {
        match self {
            Writer::Contacts(w) => w.write(rows).await,
            Writer::Clients(w) => w.write(rows).await,
        }
    }
}

/// What a row did to a record, for the undo: created it, or updated it to `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoneRow {
    pub row: u64,
    /// The contact or client (named `contact_id` before clients could be imported).
    #[serde(alias = "contact_id")]
    pub record_id: Uuid,
    /// Updated: the record's version after the update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

pub const DONE_PREFIX: &str = "DONE#";

fn done_item(
    tenant: &str,
    import: Uuid,
    line: u64,
    record_id: Uuid,
    version: Option<u64>,
) -> Result<Item, CrmError> {
    let mut keys = key(import_pk(tenant, import), format!("{DONE_PREFIX}{line:08}"));
    keys.insert("entity".into(), s("import_done_row"));
    to_item(
        &DoneRow {
            row: line,
            record_id,
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
