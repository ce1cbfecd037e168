//! An import's rows written as contacts, a batch at a time (S5.3), by the import's mode:
//!
//! - `create`: a row whose email belongs to a contact is skipped and reported;
//! - `update`: such a row updates that contact (blank cells never overwrite), any other row is
//!   skipped and reported;
//! - `upsert`: both.
//!
//! A row whose email an earlier row of the same file holds is reported as a duplicate, never
//! imported twice. New contacts get ids derived from the import and the row, and are written
//! with the record engine's bulk load (plain batched puts, the email claim conditional), so a
//! batch run twice writes the same items and reports the same outcomes.

use super::company_links::{CompanyClients, link_existing, new_link};
use super::csv_rows::{ColumnMap, ParsedRow};
use super::{ImportMode, RowError};
use crate::audit::AuditAction;
use crate::contacts::{Contact, ContactKind, ContactPatch, Contacts, email_pk};
use crate::custom_fields::FieldDefinition;
use crate::records::bulk::BulkOutcome;
use crate::store::{Key, from_item};
use crate::values::{Timestamp, derived_id, normalize_email};
use crate::{Caller, CrmError, FieldError};
use futures::StreamExt;
use std::collections::HashMap;
use uuid::Uuid;

/// Rows prepared (validated) concurrently.
const PREPARE_CONCURRENCY: usize = 16;
/// Tries of an update that meets a concurrent change of its contact.
const UPDATE_TRIES: usize = 3;

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowResult {
    /// The new record's id.
    Created(Uuid),
    /// The contact and its version after the update (an unchanged contact keeps its version).
    Updated {
        id: Uuid,
        version: u64,
    },
    /// Left alone by the mode (reported, not an error of the row).
    Skipped(RowError),
    Failed(Vec<RowError>),
}

/// A tenant's users by email and id, and its teams by name and id: owner and team cells.
#[derive(Debug, Default)]
pub struct People {
    users: HashMap<String, String>,
    teams: HashMap<String, Uuid>,
}

impl People {
    pub async fn load(
        directory: &crate::directory::Directory,
        tenant: &str,
    ) -> Result<Self, CrmError> {
        let (users, teams) = directory.everyone(tenant).await?;
        let mut people = People::default();
        for u in users {
            if let Some(email) = u.email.as_deref().and_then(normalize_email) {
                people.users.insert(email, u.user_id.clone());
            }
            people.users.insert(u.user_id.clone(), u.user_id);
        }
        for t in teams {
            people.teams.insert(t.name.trim().to_lowercase(), t.id);
            people.teams.insert(t.id.to_string(), t.id);
        }
        Ok(people)
    }

    /// Sets the row's owner and team from their cells, or fails the row naming them.
    pub fn resolve(&self, row: &mut ParsedRow) {
        if let Some(cell) = row.owner_cell.take() {
            let found = normalize_email(&cell)
                .and_then(|e| self.users.get(&e))
                .or_else(|| self.users.get(&cell));
            match found {
                // The row is a contact or a client: the one the import writes takes it.
                Some(id) => {
                    row.contact.owner = Some(id.clone());
                    row.client.owner = Some(id.clone());
                }
                None => row.problems.push(FieldError::new(
                    "owner",
                    "exists",
                    format!("no user of this tenant has the email \"{cell}\""),
                )),
            }
        }
        if let Some(cell) = row.team_cell.take() {
            match self.teams.get(&cell.trim().to_lowercase()) {
                Some(id) => {
                    row.contact.team = Some(*id);
                    row.client.team = Some(*id);
                }
                None => row.problems.push(FieldError::new(
                    "team",
                    "exists",
                    format!("this tenant has no team named \"{cell}\""),
                )),
            }
        }
    }
}

/// What every writer of an import's rows works with: the importer, the definitions loaded
/// once, the import, its mode and columns, and the batch's time.
pub struct RowBatch<'a> {
    pub defs: &'a [FieldDefinition],
    pub importer: &'a Caller,
    pub import: Uuid,
    pub mode: ImportMode,
    pub columns: &'a ColumnMap,
    /// The time the batch's new records are created at (the same on a rerun).
    pub at: Timestamp,
}

impl RowBatch<'_> {
    pub(super) fn tenant(&self) -> &str {
        &self.importer.tenant_id
    }

    /// The id a row's new record of `kind` gets: the same whenever the row is imported again.
    pub(super) fn row_id(&self, line: u64, kind: &[u8]) -> Uuid {
        derived_id(
            self.at,
            &[self.import.as_bytes(), &line.to_be_bytes(), kind],
        )
    }

    pub(super) fn failed(&self, row: &ParsedRow, errors: Vec<FieldError>) -> RowResult {
        self.columns.failed(row, errors)
    }

    pub(super) fn reported(
        &self,
        row: &ParsedRow,
        field: &str,
        rule: &str,
        message: &str,
    ) -> RowError {
        self.columns
            .row_error(row, FieldError::new(field, rule, message))
    }
}

/// The id of the note activity a contacts import's row `line` logs (its undo finds it).
pub fn note_id(import: Uuid, import_at: Timestamp, line: u64) -> Uuid {
    derived_id(
        import_at,
        &[import.as_bytes(), &line.to_be_bytes(), b"note"],
    )
}

/// What writes a contact import's rows.
pub struct RowWriter<'a> {
    pub batch: RowBatch<'a>,
    pub contacts: &'a Contacts,
    pub catalog: &'a crate::catalog::Catalog,
    /// How company cells relate contacts to clients.
    pub link_clients: super::LinkClients,
    /// The import's creation time: the clients it creates for companies are stamped with it
    /// (their ids derive from it, the import and the name, the same in every batch).
    pub import_at: Timestamp,
}

/// A row on its way: what it is matched to.
pub(super) enum Plan {
    Done(RowResult),
    Create,
    Update(Uuid),
}

impl RowWriter<'_> {
    /// The id a row's new contact gets.
    pub fn contact_id(&self, line: u64) -> Uuid {
        self.batch.row_id(line, b"contact")
    }

    /// Writes a batch of rows; results in row order.
    pub async fn write(&self, rows: &[ParsedRow]) -> Result<Vec<RowResult>, CrmError> {
        // The contact a row's email already belongs to (another row's of this file included).
        let emails: Vec<Option<String>> = rows
            .iter()
            .map(|r| r.contact.email.as_deref().and_then(normalize_email))
            .collect();
        let holders = self.holders(&emails).await?;
        let mut seen: HashMap<&str, u64> = HashMap::new();
        let mut plans = Vec::with_capacity(rows.len());
        for (row, email) in rows.iter().zip(&emails) {
            if !row.problems.is_empty() {
                plans.push(Plan::Done(self.batch.failed(row, row.problems.clone())));
                continue;
            }
            let own = self.contact_id(row.line);
            if let Some(email) = email.as_deref() {
                if let Some(first) = seen.get(email) {
                    plans.push(Plan::Done(self.duplicate(row, *first)));
                    continue;
                }
                seen.insert(email, row.line);
                match holders.get(email) {
                    Some(holder) if holder.id != own => {
                        if holder.import_id == Some(self.batch.import) {
                            plans.push(Plan::Done(self.duplicate(row, holder.line)));
                        } else if self.batch.mode == ImportMode::Create {
                            plans.push(Plan::Done(RowResult::Skipped(self.batch.reported(
                                row,
                                "email",
                                "exists",
                                "a contact with this email exists; skipped (mode create)",
                            ))));
                        } else {
                            plans.push(Plan::Update(holder.id));
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            if self.batch.mode == ImportMode::Update {
                plans.push(Plan::Done(RowResult::Skipped(self.batch.reported(
                    row,
                    "email",
                    "no_match",
                    "no contact has this email; skipped (mode update)",
                ))));
                continue;
            }
            plans.push(Plan::Create);
        }
        // New contacts: validated like every create, then written in bulk.
        let creating: Vec<usize> = (0..rows.len())
            .filter(|i| matches!(plans[*i], Plan::Create))
            .collect();
        let prepared: Vec<(usize, Result<Contact, CrmError>)> = futures::stream::iter(creating)
            .map(|i| async move { (i, self.prepare(&rows[i]).await) })
            .buffer_unordered(PREPARE_CONCURRENCY)
            .collect()
            .await;
        let mut new = Vec::new();
        for (i, result) in prepared {
            match result {
                Ok(contact) => new.push((i, contact)),
                Err(CrmError::Validation(errors)) => {
                    plans[i] = Plan::Done(self.batch.failed(&rows[i], errors));
                }
                Err(e) => return Err(e),
            }
        }
        new.sort_by_key(|(i, _)| *i);
        let companies: Vec<&str> = new
            .iter()
            .map(|(i, _)| *i)
            .chain((0..rows.len()).filter(|i| matches!(plans[*i], Plan::Update(_))))
            .filter_map(|i| rows[i].contact.company.as_deref())
            .collect();
        let company_clients = CompanyClients::resolve(
            self.catalog,
            self.batch.importer,
            self.batch.import,
            self.link_clients,
            self.import_at,
            &companies,
        )
        .await?;
        for (i, contact) in &mut new {
            if let Some(client) = company_clients.of(rows[*i].contact.company.as_deref()) {
                contact.client_ids = vec![client];
                contact.primary_client_id = Some(client);
            }
        }
        let records: Vec<_> = new
            .iter()
            .map(|(_, c)| {
                let audit = imported_audit::<ContactKind>(
                    c,
                    self.batch.importer,
                    self.batch.import,
                    self.batch.at,
                )?;
                Ok((c.clone(), audit))
            })
            .collect::<Result<_, CrmError>>()?;
        let outcomes = self
            .contacts
            .insert_many(self.batch.tenant(), &records)
            .await?;
        let mut links = Vec::new();
        for ((i, contact), outcome) in new.iter().zip(outcomes) {
            plans[*i] = Plan::Done(match outcome {
                BulkOutcome::Created => {
                    if let Some(client) = contact.primary_client_id {
                        links.push(new_link(
                            self.batch.importer,
                            contact.id,
                            client,
                            self.batch.at,
                        )?);
                    }
                    RowResult::Created(contact.id)
                }
                // Taken since the holders were read (a concurrent create).
                BulkOutcome::Taken { field, message } => {
                    RowResult::Skipped(self.batch.reported(&rows[*i], field, "exists", message))
                }
            });
        }
        self.contacts.ctx.table.put_many(links).await?;
        let mut results = Vec::with_capacity(rows.len());
        for (row, plan) in rows.iter().zip(plans) {
            results.push(match plan {
                Plan::Done(result) => result,
                Plan::Update(id) => {
                    if let Some(client) = company_clients.of(row.contact.company.as_deref()) {
                        link_existing(self.catalog, self.batch.importer, id, client).await?;
                    }
                    self.update(row, id).await?
                }
                Plan::Create => {
                    return Err(CrmError::Internal("a row left unwritten".into()));
                }
            });
        }
        self.log_notes(rows, &results).await?;
        Ok(results)
    }

    /// A row's note cell as a note activity on its contact (origin `import`), once per row
    /// whatever the redeliveries: its id derives from the import and the row.
    async fn log_notes(&self, rows: &[ParsedRow], results: &[RowResult]) -> Result<(), CrmError> {
        let activities = self.catalog.activities();
        let notes: Vec<(u64, String, Uuid)> = rows
            .iter()
            .zip(results)
            .filter_map(|(row, result)| match result {
                RowResult::Created(id) | RowResult::Updated { id, .. } => {
                    Some((row.line, row.note.clone()?, *id))
                }
                _ => None,
            })
            .collect();
        let pending = notes
            .into_iter()
            .map(|(line, text, contact)| self.log_note(&activities, line, text, contact));
        let logged: Vec<Result<(), CrmError>> = futures::stream::iter(pending)
            .buffer_unordered(PREPARE_CONCURRENCY)
            .collect()
            .await;
        logged.into_iter().collect()
    }

    async fn log_note(
        &self,
        activities: &crate::activities::Activities,
        line: u64,
        text: String,
        contact: Uuid,
    ) -> Result<(), CrmError> {
        let mut body = serde_json::Map::new();
        body.insert("type".into(), "note".into());
        body.insert("text".into(), text.into());
        body.insert("contact_ids".into(), serde_json::json!([contact]));
        body.insert("occurred_at".into(), serde_json::json!(self.batch.at));
        let made = crate::activities::log_once(
            activities,
            self.batch.importer,
            note_id(self.batch.import, self.import_at, line),
            crate::activities::Origin::Import,
            crate::activities::NewActivity(body),
        )
        .await;
        match made {
            Ok(_) => Ok(()),
            // The contact landed; a note the activities refuse is left out.
            Err(CrmError::Validation(errors)) => {
                // Fields and rules only: a message may quote the cell.
                let fields: Vec<(&str, &str)> = errors
                    .iter()
                    .map(|e| (e.field.as_str(), e.rule.as_str()))
                    .collect();
                tracing::warn!(row = line, ?fields, "an imported note was refused");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn duplicate(&self, row: &ParsedRow, first: u64) -> RowResult {
        RowResult::Failed(vec![self.batch.reported(
            row,
            "email",
            "duplicate",
            &format!("row {first} of this file has the same email; imported once"),
        )])
    }

    /// A row as a new contact, validated like every create; owned by the importer unless
    /// the row names an owner, sourced from the import unless it names a source.
    async fn prepare(&self, row: &ParsedRow) -> Result<Contact, CrmError> {
        let mut input = row.contact.clone();
        input
            .owner
            .get_or_insert_with(|| self.batch.importer.user_id.clone());
        input
            .lead_source
            .get_or_insert_with(|| "import".to_string());
        input.entry = Some(crate::contacts::EntryInput {
            path: crate::contacts::EntryPath::Import,
            ..Default::default()
        });
        let prepared = self
            .contacts
            .prepare(
                self.batch.importer,
                input,
                Some(&row.custom),
                Some(self.batch.defs),
            )
            .await?;
        Ok(Contact {
            id: self.contact_id(row.line),
            import_id: Some(self.batch.import),
            import_row: Some(row.line),
            created_at: self.batch.at,
            updated_at: self.batch.at,
            ..prepared
        })
    }

    /// Updates contact `id` with the row's non-blank cells.
    async fn update(&self, row: &ParsedRow, id: Uuid) -> Result<RowResult, CrmError> {
        let custom = (!row.custom.is_empty()).then_some(&row.custom);
        let source = format!("import:{}", self.batch.import);
        update_outcome(self.batch.columns, row, "email", id, || async {
            let patch = ContactPatch::filling(row.contact.clone());
            self.contacts
                .patch_from(self.batch.importer, id, patch, custom, None, &source)
                .await
                .map(|c| c.version)
        })
        .await
    }

    /// Who holds each of these emails now: the contact, its import and its row.
    async fn holders(
        &self,
        emails: &[Option<String>],
    ) -> Result<HashMap<String, Holder>, CrmError> {
        let tenant = self.batch.tenant();
        let mut keys: Vec<Key> = emails
            .iter()
            .flatten()
            .map(|e| Key::new(email_pk(tenant, e), "EMAIL"))
            .collect();
        keys.sort_by(|a, b| (&a.pk, &a.sk).cmp(&(&b.pk, &b.sk)));
        keys.dedup();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        #[derive(serde::Deserialize)]
        struct Claim {
            #[serde(rename = "PK")]
            pk: String,
            contact_id: Uuid,
        }
        let claims: Vec<Claim> = self
            .contacts
            .ctx
            .table
            .batch_get(keys, None)
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        let ids: Vec<Uuid> = claims.iter().map(|c| c.contact_id).collect();
        let contacts = self.contacts.store.get_many(tenant, &ids).await?;
        let prefix = email_pk(tenant, "");
        Ok(claims
            .into_iter()
            .filter_map(|c| {
                let email = c.pk.strip_prefix(&prefix)?.to_string();
                let contact = contacts.get(&c.contact_id);
                Some((
                    email,
                    Holder {
                        id: c.contact_id,
                        import_id: contact.and_then(|c| c.import_id),
                        line: contact.and_then(|c| c.import_row).unwrap_or(0),
                    },
                ))
            })
            .collect())
    }
}

impl ColumnMap {
    /// A row that failed with these errors, each naming its column and value.
    pub(super) fn failed(&self, row: &ParsedRow, errors: Vec<FieldError>) -> RowResult {
        RowResult::Failed(errors.into_iter().map(|e| self.row_error(row, e)).collect())
    }
}

/// The audit entry of a record an import creates: sourced from the import, with an id and
/// time derived from the record's (the same on a rerun).
pub(super) fn imported_audit<K: crate::records::Kind>(
    record: &K::Record,
    importer: &Caller,
    import: Uuid,
    at: Timestamp,
) -> Result<crate::audit::AuditEntry, CrmError> {
    use crate::records::Record;
    let audit = crate::records::Records::<K>::audit(
        AuditAction::Created,
        None,
        Some(record),
        &importer.user_id,
    )?
    .with_source(format!("import:{import}"));
    Ok(crate::audit::AuditEntry {
        id: derived_id(at, &[record.id().as_bytes(), b"created"]),
        at,
        ..audit
    })
}

/// What an import's update of record `id` became: `attempt` patches it and gives its new
/// version; a concurrent change is tried again, a refusal reported against the row's
/// `matched_by` column.
pub(super) async fn update_outcome<F, Fut>(
    columns: &ColumnMap,
    row: &ParsedRow,
    matched_by: &str,
    id: Uuid,
    attempt: F,
) -> Result<RowResult, CrmError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<u64, CrmError>>,
{
    let reported = |rule: &str, message: &str| {
        RowResult::Failed(vec![
            columns.row_error(row, FieldError::new(matched_by, rule, message)),
        ])
    };
    let failed = |errors: Vec<FieldError>| columns.failed(row, errors);
    for _ in 0..UPDATE_TRIES {
        match attempt().await {
            Ok(version) => return Ok(RowResult::Updated { id, version }),
            Err(CrmError::PreconditionFailed) => continue,
            Err(CrmError::NotFound) => {
                return Ok(reported(
                    "not_yours",
                    &format!("the record with this {matched_by} exists but you may not change it"),
                ));
            }
            Err(CrmError::Validation(errors)) => return Ok(failed(errors)),
            Err(CrmError::Conflict { errors, .. }) => return Ok(failed(errors)),
            Err(e) => return Err(e),
        }
    }
    Ok(reported(
        "busy",
        "the record kept changing while it was updated; import the row again",
    ))
}

/// The contact an email belongs to.
struct Holder {
    id: Uuid,
    import_id: Option<Uuid>,
    /// Its row in this import's file, when known.
    line: u64,
}
