//! Imports (S5): a client asks for an upload URL, puts a file into S3, the S3-triggered
//! processor plans the import and chunks of it run from the import queue, turning rows into
//! contacts (see `processing`). Every row is written at most once: new contacts get ids
//! derived from the import and the row, so a redelivered event or chunk creates nothing twice.

mod client_rows;
mod company_links;
mod csv_rows;
pub mod errors_file;
pub mod planning;
pub mod processing;
mod rows;
pub mod sheet;
pub mod source;
pub mod start;
pub mod table;
mod targets;
pub mod templates;
pub mod text;
pub mod undo;
mod uploads;

pub use csv_rows::{ColumnMap, ParsedRow, ReadFailure, Suggestion, parse_contact_rows};
pub use planning::{ProcessOutcome, process_upload};
pub use processing::{ChunkMessage, ChunkOutcome, ChunkSettings, run_chunk};
pub use targets::{ColumnMapping, DateOrder, Mapping};
pub use uploads::{S3Uploads, Uploads};

use crate::access::{Action, Policy, Subject};
use crate::store::{Condition, Item, Key, Table, WriteError, key, s, to_item};
use crate::{Caller, CrmError, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// Largest accepted upload (S5.3 limits, stated in the README): CSV is read in chunks, so the
/// limit is about time, not memory (HubSpot takes 512 MB).
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// Row errors kept on the import record itself; all of them stay on the row items.
pub const MAX_INLINE_ERRORS: usize = 100;
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);
pub const ERRORS_URL_TTL: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Created; its file is not there yet.
    AwaitingUpload,
    /// The file is there and was read; it waits for `POST /imports/{id}/start` (see the
    /// preview first).
    Uploaded,
    /// Planned; its first chunk is on the queue.
    Queued,
    /// Chunks are running.
    #[serde(alias = "processing")]
    Running,
    Completed,
    /// The file was refused whole (`failure_reason`).
    Failed,
    /// Stopped between two chunks (`POST /imports/{id}/cancel`).
    Cancelled,
    /// Its contacts are being put back (`POST /imports/{id}/undo`).
    Undoing,
    /// Put back: see `undo`.
    Undone,
}

/// What a row whose email belongs to a contact does (S5.3). Emails are unique per tenant, so
/// "create a second contact with the same email" is not a mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// New contacts only: such a row is skipped and reported.
    #[default]
    Create,
    /// Existing contacts only: such a row updates its contact (blank cells never overwrite);
    /// any other row is skipped and reported.
    Update,
    /// Both.
    Upsert,
}

/// What an import's rows become (S5.1): contacts, or client companies with their master data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportEntity {
    /// A row whose email belongs to a contact is that contact (emails are unique per tenant).
    #[default]
    Contacts,
    /// A row whose name is exactly one visible client's name (case and accents folded) is
    /// that client; a name several clients share is reported, never guessed.
    Clients,
}

impl ImportEntity {
    /// What one of its records is called.
    pub fn noun(self) -> &'static str {
        match self {
            ImportEntity::Contacts => "contact",
            ImportEntity::Clients => "client",
        }
    }
}

/// How a contact import relates contacts to clients by their company cell (S5.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkClients {
    /// The company stays text on the contact.
    #[default]
    None,
    /// Links the contact to the one client the importer sees under that name (case and
    /// accents folded); a name no client or several clients have links nothing.
    Existing,
    /// As `existing`, and a name no client has becomes a new client (one per name and import).
    CreateMissing,
}

impl LinkClients {
    fn is_none(&self) -> bool {
        *self == LinkClients::None
    }
}

/// The reported rows (failed and skipped) as they were in the file, with their reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorsFile {
    /// Rows in it.
    pub rows: u64,
}

/// A download of an import's errors file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorsDownload {
    pub url: String,
    pub expires_at: DateTime<Utc>,
    pub file_name: String,
    pub rows: u64,
}

/// When an import starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StartWhen {
    /// When its file lands (with the mapping given, or the one its headers suggest).
    OnUpload,
    /// After `POST /imports/{id}/start` (look at `GET /imports/{id}/preview` first). The
    /// default without a mapping.
    #[default]
    OnRequest,
}

/// How far an import is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    /// Bytes of the file read so far, of all.
    pub bytes_done: u64,
    pub bytes_total: u64,
    /// `bytes_done` in percent of `bytes_total`.
    pub percent: u8,
    /// Rows per second since it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_per_second: Option<u64>,
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
    /// What its rows become.
    #[serde(default, deserialize_with = "entity_or_contacts")]
    pub entity: ImportEntity,
    #[serde(default)]
    pub mode: ImportMode,
    /// Contacts: how their company cells relate them to clients.
    #[serde(default, skip_serializing_if = "LinkClients::is_none")]
    pub link_clients: LinkClients,
    /// The columns' targets: as given, or (once started without one) as the headers suggested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<Mapping>,
    /// The import template it was started with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<Uuid>,
    #[serde(default)]
    pub start: StartWhen,
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
    /// Data rows done so far (all of them once completed).
    pub rows: u64,
    pub created: u64,
    /// Rows that updated an existing contact (modes update and upsert).
    #[serde(default)]
    pub updated: u64,
    /// Rows left alone by the mode (reported among the errors with their reason).
    #[serde(default)]
    pub skipped: u64,
    pub failed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// What the undo did, once asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<undo::UndoReport>,
    /// Who asked for the undo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undone_by: Option<String>,
    /// The file of reported rows, once the import has ended (`GET /imports/{id}/errors`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors_file: Option<ErrorsFile>,
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
    #[schema(min_length = 1, pattern = "\\S")]
    pub file_name: String,
    /// The sheet of a workbook to read; without, the first sheet that holds data.
    #[serde(default)]
    pub sheet: Option<String>,
    /// What the rows become: `contacts` (the default) or `clients`.
    #[serde(default)]
    pub entity: Option<ImportEntity>,
    /// What rows matching an existing record do; `create` when not given.
    #[serde(default)]
    pub mode: Option<ImportMode>,
    /// Contacts: relate them to clients by their company cell (`none` when not given).
    #[serde(default)]
    pub link_clients: Option<LinkClients>,
    /// The columns' targets; with one, the import starts when its file lands.
    #[serde(default)]
    pub mapping: Option<Mapping>,
    /// An import template (its id or name) whose mapping and mode to use; with one, the
    /// import starts when its file lands.
    #[serde(default)]
    pub template: Option<String>,
    /// `on_upload` starts it when its file lands with the targets its headers suggest;
    /// without (and without a mapping) it waits as `uploaded` for `POST /imports/{id}/start`.
    #[serde(default)]
    pub start: Option<StartWhen>,
}

/// Body of `POST /imports/{id}/start`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartImport {
    /// The columns' targets; without, the ones the preview suggests.
    #[serde(default)]
    pub mapping: Option<Mapping>,
    /// Overrides the mode given at creation.
    #[serde(default)]
    pub mode: Option<ImportMode>,
    /// Overrides how contacts relate to clients by company, as given at creation.
    #[serde(default)]
    pub link_clients: Option<LinkClients>,
    /// An import template (id or name) whose mapping and mode to use.
    #[serde(default)]
    pub template: Option<String>,
}

/// What `GET /imports/{id}/preview` shows: what was detected, each column with its target
/// (suggested, or as mapped) and why, and the first rows with each cell checked against it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub detected: Option<FileFormat>,
    /// The header's line in the file.
    pub header_row: u64,
    pub columns: Vec<Suggestion>,
    pub rows: Vec<PreviewRow>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewRow {
    /// Its line in the file.
    pub row: u64,
    pub cells: Vec<PreviewCell>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewCell {
    pub column: String,
    pub value: String,
    /// What the cell breaks, as the import would report it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RowError>,
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

/// The stored import: what the API shows, plus how its file is read and where the next
/// chunk starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredImport {
    #[serde(flatten)]
    pub import: Import,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<planning::Plan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<processing::Checkpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo_checkpoint: Option<undo::UndoCheckpoint>,
}

fn import_item(tenant: &str, stored: &StoredImport) -> Result<Item, CrmError> {
    let mut keys = key(import_pk(tenant, stored.import.id), "IMPORT");
    keys.insert("GSI1PK".into(), s(format!("T#{tenant}#IMPORTS")));
    keys.insert("GSI1SK".into(), s(stored.import.id.to_string()));
    // The item's `entity` attribute is the import's own (contacts or clients); imports stored
    // before clients could be imported hold `import` there and read as contacts.
    keys.insert("tenant_id".into(), s(tenant));
    to_item(stored, keys)
}

async fn load(table: &Table, tenant: &str, id: Uuid) -> Result<Option<StoredImport>, CrmError> {
    table
        .get_as(Key::new(import_pk(tenant, id), "IMPORT"))
        .await
}

/// Replaces `current` by `next` (its next version, stamped now) unless it changed since it
/// was read; `None` when it did.
async fn save(
    table: &Table,
    tenant: &str,
    current: &StoredImport,
    mut next: StoredImport,
) -> Result<Option<StoredImport>, CrmError> {
    next.import.version = current.import.version + 1;
    next.import.updated_at = crate::values::now();
    match table
        .put_if(
            import_item(tenant, &next)?,
            Condition::version(current.import.version),
        )
        .await
    {
        Ok(()) => Ok(Some(next)),
        Err(WriteError::ConditionFailed) => Ok(None),
        Err(WriteError::Other(e)) => Err(e),
    }
}

/// Only contacts relate to clients by their company cell.
fn check_link_clients(
    e: &mut crate::errors::FieldErrors,
    entity: ImportEntity,
    link: Option<LinkClients>,
) {
    if entity == ImportEntity::Clients && link.is_some_and(|l| !l.is_none()) {
        e.push(
            "link_clients",
            "contacts_only",
            "contacts relate to clients by company; a clients import takes none",
        );
    }
}

/// An import's (or template's) entity as stored; what was stored there before clients could
/// be imported (the item's type, `import`) reads as contacts.
pub(super) fn entity_or_contacts<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<ImportEntity, D::Error> {
    let raw = String::deserialize(d)?;
    Ok(match raw.as_str() {
        "clients" => ImportEntity::Clients,
        _ => ImportEntity::Contacts,
    })
}

fn member() -> Role {
    Role::Member
}

/// `POST /imports`: records the import and returns a presigned PUT for its file.
pub async fn start(
    catalog: &crate::catalog::Catalog,
    uploads: &dyn Uploads,
    caller: &Caller,
    mut input: NewImport,
) -> Result<ImportCreated, CrmError> {
    Policy::check(caller, Action::Write, Subject::Imports)?;
    let table = catalog.table();
    // A template gives the mapping and the mode (an explicit mapping or mode wins).
    let template_id = templates::ImportTemplates::new(catalog)
        .apply(
            caller,
            input.template.as_deref(),
            &mut input.entity,
            &mut input.mapping,
            &mut input.mode,
        )
        .await?;
    let mut e = crate::errors::FieldErrors::new();
    let file_name = e.required_text("file_name", &input.file_name, 255);
    let sheet = input
        .sheet
        .as_deref()
        .map(|s| e.required_text("sheet", s, 100));
    let entity = input.entity.unwrap_or_default();
    check_link_clients(&mut e, entity, input.link_clients);
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
    // Bounded per tenant (issue 14 item 3): 429 with Retry-After, no import.
    crate::quotas::IMPORTS
        .consume(table, &caller.tenant_id, now)
        .await?;
    let import = Import {
        id: crate::values::new_id(),
        file_name,
        sheet,
        status: ImportStatus::AwaitingUpload,
        entity,
        mode: input.mode.unwrap_or_default(),
        link_clients: input.link_clients.unwrap_or_default(),
        template_id,
        start: match (&input.mapping, input.start) {
            (_, Some(when)) => when,
            (Some(_), None) => StartWhen::OnUpload,
            (None, None) => StartWhen::OnRequest,
        },
        mapping: input.mapping,
        created_at: now,
        created_by: caller.user_id.clone(),
        created_by_role: caller.role,
        created_by_teams: caller.teams.clone(),
        updated_at: now,
        started_at: None,
        finished_at: None,
        rows: 0,
        created: 0,
        updated: 0,
        skipped: 0,
        failed: 0,
        progress: None,
        undo: None,
        undone_by: None,
        errors_file: None,
        errors: vec![],
        errors_truncated: false,
        detected: None,
        failure_reason: None,
        version: 1,
    };
    let stored = StoredImport {
        import: import.clone(),
        plan: None,
        checkpoint: None,
        undo_checkpoint: None,
    };
    table
        .put_if(
            import_item(&caller.tenant_id, &stored)?,
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
        .map(|s| s.import)
        .ok_or(CrmError::NotFound)
}

/// `GET /imports/{id}/errors`: a short-lived download of the errors file (the reported rows as
/// they were in the file plus a column with the reasons: fix them and import the file again).
pub async fn errors_download(
    table: &Table,
    uploads: &dyn Uploads,
    caller: &Caller,
    id: Uuid,
) -> Result<ErrorsDownload, CrmError> {
    Policy::check(caller, Action::Read, Subject::Imports)?;
    let import = load(table, &caller.tenant_id, id)
        .await?
        .ok_or(CrmError::NotFound)?
        .import;
    let Some(file) = import.errors_file else {
        let detail = match import.status {
            ImportStatus::Failed => "the file was refused whole; see failure_reason",
            _ => "the errors file is written when the import has ended",
        };
        return Err(CrmError::Conflict {
            detail: detail.into(),
            errors: vec![crate::FieldError::new("status", "not_ended", detail)],
        });
    };
    let stem = import
        .file_name
        .rsplit_once('.')
        .map_or(import.file_name.as_str(), |(stem, _)| stem);
    let file_name = format!("{stem}-errors.csv");
    let url = uploads
        .presign_get(
            &errors_file::errors_key(&caller.tenant_id, id),
            &file_name,
            ERRORS_URL_TTL,
        )
        .await?;
    Ok(ErrorsDownload {
        url,
        expires_at: crate::values::now()
            + chrono::Duration::from_std(ERRORS_URL_TTL).map_err(CrmError::internal)?,
        file_name,
        rows: file.rows,
    })
}

/// `POST /imports/{id}/cancel`: stops the import before its next chunk (rows already written
/// stay, counted). Cancelling a cancelled import answers it again; a finished one is 409.
pub async fn cancel(table: &Table, caller: &Caller, id: Uuid) -> Result<Import, CrmError> {
    Policy::check(caller, Action::Write, Subject::Imports)?;
    loop {
        let current = load(table, &caller.tenant_id, id)
            .await?
            .ok_or(CrmError::NotFound)?;
        match current.import.status {
            ImportStatus::Cancelled => return Ok(current.import),
            ImportStatus::Completed
            | ImportStatus::Failed
            | ImportStatus::Undoing
            | ImportStatus::Undone => {
                let detail = "the import has finished; there is nothing to cancel";
                return Err(CrmError::Conflict {
                    detail: detail.into(),
                    errors: vec![crate::FieldError::new("status", "finished", detail)],
                });
            }
            ImportStatus::AwaitingUpload
            | ImportStatus::Uploaded
            | ImportStatus::Queued
            | ImportStatus::Running => {}
        }
        let now = crate::values::now();
        let cancelled = StoredImport {
            import: Import {
                status: ImportStatus::Cancelled,
                finished_at: Some(now),
                ..current.import.clone()
            },
            ..current.clone()
        };
        if let Some(saved) = save(table, &caller.tenant_id, &current, cancelled).await? {
            return Ok(saved.import);
        }
    }
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
        .map(|item| crate::store::from_item::<StoredImport>(item).map(|s| s.import))
        .collect::<Result<Vec<Import>, _>>()?;
    Ok(query.page(imports, page.last_key))
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
