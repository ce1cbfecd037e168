//! Undoing an import (S5.5): `POST /imports/{id}/undo` turns a completed or cancelled import
//! `undoing`; pages of what its rows did (`DONE#{line}` items: created record, or updated
//! record and its version after) run from the import queue like chunks, each page advancing a
//! checkpoint with its counts in one versioned write. A contact the import created goes to the
//! trash (a client, which has no trash, is deleted); a record it updated gets back the values
//! the import's audit entry recorded before the change. A record changed since (another
//! version than the import left) is left as it is and reported with its row. Every step is
//! safe to run twice: a trashed contact (a deleted client) counts as removed, a record whose
//! newest change is this undo counts as restored.

use super::processing::{ChunkMessage, ChunkOutcome, DONE_PREFIX, DoneRow, hand_on, importer};
use super::{Import, ImportStatus, StoredImport, import_pk, load, save};
use crate::access::{Action, Policy, Subject};
use crate::catalog::Catalog;
use crate::records::{Kind, Record, Records};
use crate::store::queue::MessageQueue;
use crate::store::{Query, from_item, key};
use crate::{Caller, CrmError, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Rows one undo message handles.
pub const UNDO_PAGE: i32 = 200;
/// Rows left as they were that the import record lists (all are counted).
const MAX_LISTED: usize = 100;

/// What the undo did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UndoReport {
    /// Records the import created, now in the trash (clients: deleted).
    pub trashed: u64,
    /// Records the import updated, with their values from before it.
    pub restored: u64,
    /// Records left as they are (changed since the import, or gone).
    pub left: u64,
    /// The first of them, with the reason.
    pub left_rows: Vec<UndoLeft>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UndoLeft {
    pub row: u64,
    /// The contact or client.
    #[serde(alias = "contact_id")]
    pub record_id: Uuid,
    pub reason: String,
}

/// Where the next undo page starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UndoCheckpoint {
    pub chunk: u32,
    /// The sort key of the last row undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    pub handed_on: bool,
}

fn conflict(detail: &str) -> CrmError {
    CrmError::Conflict {
        detail: detail.into(),
        errors: vec![FieldError::new("status", "not_undoable", detail)],
    }
}

/// `POST /imports/{id}/undo`: starts undoing a completed or cancelled import; asking again
/// answers the undo under way or done.
pub async fn request_undo(
    catalog: &Catalog,
    queue: &dyn MessageQueue,
    caller: &Caller,
    id: Uuid,
) -> Result<Import, CrmError> {
    Policy::check(caller, Action::Write, Subject::Imports)?;
    let table = catalog.table();
    let tenant = caller.tenant_id.as_str();
    loop {
        let stored = load(table, tenant, id).await?.ok_or(CrmError::NotFound)?;
        match stored.import.status {
            ImportStatus::Undoing | ImportStatus::Undone => return Ok(stored.import),
            ImportStatus::Completed | ImportStatus::Cancelled => {}
            ImportStatus::Failed => {
                return Err(conflict("the file was refused; nothing was imported"));
            }
            _ => return Err(conflict("the import is still running; cancel it first")),
        }
        let undoing = StoredImport {
            import: Import {
                status: ImportStatus::Undoing,
                undo: Some(UndoReport::default()),
                undone_by: Some(caller.user_id.clone()),
                ..stored.import.clone()
            },
            undo_checkpoint: Some(UndoCheckpoint {
                chunk: 0,
                after: None,
                handed_on: false,
            }),
            ..stored.clone()
        };
        if let Some(saved) = save(table, tenant, &stored, undoing).await? {
            let import = saved.import.clone();
            hand_on(table, queue, tenant, saved, true).await?;
            return Ok(import);
        }
    }
}

/// What became of one row's contact.
enum Undone {
    Trashed,
    Restored,
    Left(String),
}

/// One page of an undo (see the module's comment).
pub async fn run_undo(
    catalog: &Catalog,
    queue: &dyn MessageQueue,
    message: &ChunkMessage,
) -> Result<ChunkOutcome, CrmError> {
    let table = catalog.table();
    let tenant = message.tenant_id.as_str();
    let Some(stored) = load(table, tenant, message.import_id).await? else {
        return Ok(ChunkOutcome::Ignored);
    };
    let Some(checkpoint) = stored.undo_checkpoint.clone() else {
        return Ok(ChunkOutcome::Ignored);
    };
    if stored.import.status != ImportStatus::Undoing {
        return Ok(ChunkOutcome::Stale);
    }
    if checkpoint.chunk != message.chunk {
        if checkpoint.chunk == message.chunk + 1 {
            hand_on(table, queue, tenant, stored, true).await?;
        }
        return Ok(ChunkOutcome::Stale);
    }
    let importer = importer(catalog, tenant, &stored.import).await?;
    let (contacts, clients) = (catalog.contacts(), catalog.clients());
    let pk = import_pk(tenant, stored.import.id);
    let page = table
        .query(
            Query::partition(pk.clone())
                .prefix(DONE_PREFIX)
                .limit(UNDO_PAGE)
                .start(
                    checkpoint
                        .after
                        .as_ref()
                        .map(|sk| key(pk.clone(), sk.clone())),
                ),
        )
        .await?;
    let mut report = UndoReport::default();
    let mut last = checkpoint.after.clone();
    for item in page.items {
        last = crate::store::item::text(&item, "SK").map(str::to_string);
        let done: DoneRow = from_item(item)?;
        let undone = match stored.import.entity {
            super::ImportEntity::Contacts => {
                let undone = undo_row(
                    &contacts,
                    &CONTACT_FIELDS,
                    &importer,
                    stored.import.id,
                    &done,
                )
                .await?;
                undo_note(catalog, &importer, &stored.import, done.row).await?;
                undone
            }
            super::ImportEntity::Clients => {
                undo_row(&clients, &CLIENT_FIELDS, &importer, stored.import.id, &done).await?
            }
        };
        match undone {
            Undone::Trashed => report.trashed += 1,
            Undone::Restored => report.restored += 1,
            Undone::Left(reason) => {
                report.left += 1;
                report.left_rows.push(UndoLeft {
                    row: done.row,
                    record_id: done.record_id,
                    reason,
                });
            }
        }
    }
    let finished = page.last_key.is_none();
    loop {
        let Some(fresh) = load(table, tenant, message.import_id).await? else {
            return Ok(ChunkOutcome::Ignored);
        };
        if fresh.undo_checkpoint.as_ref().map(|c| c.chunk) != Some(message.chunk) {
            return Ok(ChunkOutcome::Stale);
        }
        let mut import = fresh.import.clone();
        let total = import.undo.get_or_insert_with(UndoReport::default);
        total.trashed += report.trashed;
        total.restored += report.restored;
        total.left += report.left;
        let room = MAX_LISTED.saturating_sub(total.left_rows.len());
        total
            .left_rows
            .extend(report.left_rows.iter().take(room).cloned());
        if finished {
            import.status = ImportStatus::Undone;
        }
        let status = import.status;
        let next = StoredImport {
            import,
            undo_checkpoint: Some(UndoCheckpoint {
                chunk: message.chunk + 1,
                after: last.clone(),
                handed_on: false,
            }),
            ..fresh.clone()
        };
        if let Some(saved) = save(table, tenant, &fresh, next).await? {
            if status == ImportStatus::Undoing {
                hand_on(table, queue, tenant, saved, true).await?;
            }
            return Ok(ChunkOutcome::Advanced(status));
        }
    }
}

/// Undoes what one row did to its record; `restorable`: the fields a patch of its kind sets
/// back, by their audit names.
/// The note activity a row logged goes to the trash with the row's change (none: nothing).
async fn undo_note(
    catalog: &Catalog,
    importer: &Caller,
    import: &Import,
    line: u64,
) -> Result<(), CrmError> {
    let id = super::rows::note_id(import.id, import.created_at, line);
    let activities = catalog.activities();
    let live = crate::records::RecordStore::<crate::activities::ActivityKind>::new(
        catalog.table().clone(),
    )
    .get(&importer.tenant_id, id)
    .await?
    .is_some_and(|a| a.deleted_at.is_none());
    if !live {
        return Ok(());
    }
    match activities.delete(importer, id, None).await {
        Ok(()) | Err(CrmError::NotFound) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn undo_row<K: Kind>(
    records: &Records<K>,
    restorable: &[(&str, &str)],
    importer: &Caller,
    import: Uuid,
    done: &DoneRow,
) -> Result<Undone, CrmError> {
    let tenant = importer.tenant_id.as_str();
    let Some(record) = records.store.get(tenant, done.record_id).await? else {
        // A kind without a trash is deleted for good: its tombstone says by whom.
        let tombstone = records.store.tombstone(tenant, done.record_id).await?;
        if done.version.is_none() && tombstone.is_some_and(|t| t.deleted_by == importer.user_id) {
            return Ok(Undone::Trashed);
        }
        return Ok(Undone::Left("the record no longer exists".into()));
    };
    let undo_source = format!("undo:{import}");
    match done.version {
        // Created by the import: to the trash (or deleted), unless changed since.
        None => {
            if record.deleted_at().is_some() {
                return Ok(Undone::Trashed);
            }
            if record.version() != 1 {
                return Ok(Undone::Left(format!(
                    "changed since the import (version {}); left as it is",
                    record.version()
                )));
            }
            match records.delete(importer, done.record_id, Some(1)).await {
                Ok(()) => Ok(Undone::Trashed),
                Err(CrmError::PreconditionFailed) => Ok(Undone::Left(
                    "changed while the undo ran; left as it is".into(),
                )),
                Err(CrmError::NotFound | CrmError::Forbidden(_)) => {
                    Ok(Undone::Left("the importer may no longer change it".into()))
                }
                Err(e) => Err(e),
            }
        }
        // Updated by the import to `version`: the values from before it, unless changed since.
        Some(version) => {
            if record.deleted_at().is_some() {
                return Ok(Undone::Left("in the trash; left as it is".into()));
            }
            let history = records
                .history(importer, done.record_id, 5, None)
                .await?
                .items;
            let newest = history.first();
            if record.version() == version + 1
                && newest.is_some_and(|e| e.source.as_deref() == Some(undo_source.as_str()))
            {
                return Ok(Undone::Restored); // by an earlier run of this page
            }
            if record.version() != version {
                return Ok(Undone::Left(format!(
                    "changed since the import (version {} after it, {} now); left as it is",
                    version,
                    record.version()
                )));
            }
            let import_source = format!("import:{import}");
            let Some(entry) = history
                .iter()
                .find(|e| e.version == version && e.source.as_deref() == Some(&import_source))
            else {
                return Ok(Undone::Restored); // the import changed nothing here
            };
            let (patch, custom) = match restoring_patch::<K>(restorable, &entry.changes) {
                Ok(parts) => parts,
                Err(reason) => return Ok(Undone::Left(reason)),
            };
            let custom = (!custom.is_empty()).then_some(&custom);
            match records
                .patch_from(
                    importer,
                    done.record_id,
                    patch,
                    custom,
                    Some(version),
                    &undo_source,
                )
                .await
            {
                Ok(_) => Ok(Undone::Restored),
                Err(CrmError::PreconditionFailed) => Ok(Undone::Left(
                    "changed while the undo ran; left as it is".into(),
                )),
                Err(CrmError::Validation(errors) | CrmError::Conflict { errors, .. }) => {
                    Ok(Undone::Left(format!(
                        "the values from before cannot be set again: {}",
                        errors
                            .iter()
                            .map(|e| format!("{}: {}", e.field, e.message))
                            .collect::<Vec<_>>()
                            .join("; ")
                    )))
                }
                Err(CrmError::NotFound | CrmError::Forbidden(_)) => {
                    Ok(Undone::Left("the importer may no longer change it".into()))
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// The fields a contact patch can set, by their audit names (`explicit_display_name` is the
/// patch's `display_name`; the derived `display_name` and `email` follow from the others).
const CONTACT_FIELDS: [(&str, &str); 18] = [
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("explicit_display_name", "display_name"),
    ("emails", "emails"),
    ("phones", "phones"),
    ("job_title", "job_title"),
    ("company", "company"),
    ("website", "website"),
    ("addresses", "addresses"),
    ("social_profiles", "social_profiles"),
    ("birthday", "birthday"),
    ("tags", "tags"),
    ("owner", "owner"),
    ("team", "team"),
    ("visibility", "visibility"),
    ("lead_source", "lead_source"),
    ("lifecycle_status", "lifecycle_status"),
    ("last_contacted_at", "last_contacted_at"),
];

/// The fields an import sets on a client (its name is the match key and stays).
const CLIENT_FIELDS: [(&str, &str); 17] = [
    ("legal_name", "legal_name"),
    ("domain", "domain"),
    ("industry", "industry"),
    ("size", "size"),
    ("status", "status"),
    ("owner", "owner"),
    ("team", "team"),
    ("tags", "tags"),
    ("billing_address", "billing_address"),
    ("phone", "phone"),
    ("email", "email"),
    ("website", "website"),
    ("vat_id", "vat_id"),
    ("currency", "currency"),
    ("payment_terms_days", "payment_terms_days"),
    ("payment_method", "payment_method"),
    ("billing_email", "billing_email"),
];

/// A patch that sets every changed field back to its old value (absent: cleared), and the
/// custom field values likewise.
fn restoring_patch<K: Kind>(
    restorable: &[(&str, &str)],
    changes: &[crate::audit::FieldChange],
) -> Result<(K::Patch, Map<String, Value>), String> {
    let mut fields = Map::new();
    let mut custom = Map::new();
    for change in changes {
        let old = change.old.clone().unwrap_or(Value::Null);
        if let Some(key) = change.field.strip_prefix("custom_fields.") {
            custom.insert(key.to_string(), old);
        } else if let Some((_, name)) = restorable.iter().find(|(f, _)| *f == change.field) {
            fields.insert(name.to_string(), old);
        }
    }
    serde_json::from_value::<K::Patch>(Value::Object(fields))
        .map(|patch| (patch, custom))
        .map_err(|e| format!("the values from before cannot be read back: {e}"))
}
