//! One record write as one transaction (pure): the record item (conditional on the version it
//! replaces), the unique values it claims or releases, its index entries, its audit entry,
//! and whatever else must change with it (a link, an import row's outcome). Each write knows
//! what it is, so a cancelled transaction says *why*: the record changed meanwhile (412), a
//! claimed value is taken (409 naming the field), a guard failed (the caller's business).

use super::entries::{self, Entry};
use super::keys;
use super::kind::{Claim, Deletion, Kind, Record};
use crate::audit::AuditEntry;
use crate::store::{
    Condition, Item, Key, MAX_TRANSACTION_WRITES, TransactError, WriteOp, key, n, s, to_item,
};
use crate::{CrmError, FieldError};
use std::collections::BTreeSet;

/// What one write of the transaction is, for reading a cancellation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    Record,
    Claim {
        field: &'static str,
        message: &'static str,
        /// The attribute naming the claim's holder.
        holder: &'static str,
    },
    /// A write the caller added with a condition of its own (its index among them).
    Guard(usize),
    Other,
}

/// The writes of one record change, in one transaction.
#[derive(Debug, Default)]
pub struct WriteSet {
    pub writes: Vec<WriteOp>,
    roles: Vec<Role>,
}

/// Why a record write did not happen.
#[derive(Debug)]
pub enum WriteFailure {
    /// A guard the caller added failed (its index among the guards).
    Guard(usize),
    /// Anything else, as the API reports it (412, 409, 422, 500).
    Error(CrmError),
}

impl From<WriteFailure> for CrmError {
    fn from(f: WriteFailure) -> Self {
        match f {
            WriteFailure::Guard(i) => CrmError::Internal(format!("guard {i} of a write failed")),
            WriteFailure::Error(e) => e,
        }
    }
}

impl WriteSet {
    fn push(&mut self, write: WriteOp, role: Role) {
        self.writes.push(write);
        self.roles.push(role);
    }

    /// Adds writes whose conditions are the caller's: their failure is [`WriteFailure::Guard`].
    pub fn guard(&mut self, writes: Vec<WriteOp>) {
        for (i, w) in writes.into_iter().enumerate() {
            self.push(w, Role::Guard(i));
        }
    }

    /// Adds writes that change with the record (a link item).
    pub fn also(&mut self, writes: Vec<WriteOp>) {
        for w in writes {
            self.push(w, Role::Other);
        }
    }

    /// Refuses a change that cannot be one transaction (ordinary records stay far below).
    pub fn check_size(&self) -> Result<(), CrmError> {
        if self.writes.len() > MAX_TRANSACTION_WRITES {
            return Err(CrmError::Validation(vec![FieldError::new(
                "record",
                "change_too_large",
                format!(
                    "this change touches {} items at once (at most {MAX_TRANSACTION_WRITES}); \
                     split it into smaller changes (fewer tags, links or custom fields at once)",
                    self.writes.len()
                ),
            )]));
        }
        Ok(())
    }

    /// What a cancelled transaction means.
    pub fn failure(&self, e: TransactError) -> WriteFailure {
        let TransactError::Cancelled(codes) = &e else {
            return WriteFailure::Error(e.into_error("record write"));
        };
        let failed: Vec<&Role> = codes
            .iter()
            .zip(&self.roles)
            .filter(|(c, _)| c.as_deref() == Some("ConditionalCheckFailed"))
            .map(|(_, r)| r)
            .collect();
        if let Some(Role::Guard(i)) = failed.iter().find(|r| matches!(r, Role::Guard(_))) {
            return WriteFailure::Guard(*i);
        }
        if let Some(Role::Claim { field, message, .. }) =
            failed.iter().find(|r| matches!(r, Role::Claim { .. }))
        {
            return WriteFailure::Error(CrmError::Conflict {
                detail: message.to_string(),
                errors: vec![FieldError::new(*field, "unique", *message)],
            });
        }
        if failed.contains(&&Role::Record) {
            return WriteFailure::Error(CrmError::PreconditionFailed);
        }
        WriteFailure::Error(e.into_error("record write"))
    }
}

/// Attributes of a record item that are not the record (taken off before decoding it).
pub const RECORD_KEYS: &[&str] = &[
    "PK",
    "SK",
    "GSI1PK",
    "GSI1SK",
    "GSI2PK",
    "GSI2SK",
    "entity",
    "tenant_id",
    "expires_at",
];

/// The stored item of a record.
pub fn record_item<K: Kind>(tenant: &str, record: &K::Record) -> Result<Item, CrmError> {
    let schema = K::schema();
    let mut keys = key(keys::record_pk(tenant, schema, record.id()), schema.record);
    // A record in the trash is out of every list (no entries); the table's TTL removes it.
    if let (Some(at), Deletion::Trash { days }) = (record.deleted_at(), schema.deletion) {
        let expires = at + chrono::Duration::days(days);
        keys.insert("expires_at".into(), n(expires.timestamp()));
    }
    keys.insert("entity".into(), s(schema.name));
    keys.insert("tenant_id".into(), s(tenant));
    keys.extend(K::record_attributes(tenant, record));
    to_item(record, keys)
}

fn claim_keys(claims: &[Claim]) -> BTreeSet<(String, String)> {
    claims
        .iter()
        .map(|c| (c.pk.clone(), c.sk.clone()))
        .collect()
}

/// Claims taken, claims released, entries removed and written, and the audit entry of a
/// change from `before` to `after` (`None`: no record on that side).
fn dependents<K: Kind>(
    set: &mut WriteSet,
    tenant: &str,
    before: Option<&K::Record>,
    after: Option<&K::Record>,
    audit: &AuditEntry,
) -> Result<(), CrmError> {
    let live = |r: Option<&K::Record>| -> Vec<Claim> {
        r.filter(|r| r.deleted_at().is_none())
            .map(|r| K::claims(tenant, r))
            .unwrap_or_default()
    };
    let (old_claims, new_claims) = (live(before), live(after));
    let (old_keys, new_keys) = (claim_keys(&old_claims), claim_keys(&new_claims));
    let id = after
        .or(before)
        .map(Record::id)
        .expect("a record on one side");
    for c in &new_claims {
        if !old_keys.contains(&(c.pk.clone(), c.sk.clone())) {
            let mut item = key(c.pk.clone(), c.sk.clone());
            item.insert(c.holder.into(), s(id.to_string()));
            item.insert("entity".into(), s(c.entity));
            set.push(
                WriteOp::put_new(item),
                Role::Claim {
                    field: c.field,
                    message: c.message,
                    holder: c.holder,
                },
            );
        }
    }
    for c in &old_claims {
        if !new_keys.contains(&(c.pk.clone(), c.sk.clone())) {
            // Only its holder releases a claim.
            set.push(
                WriteOp::delete_if(
                    Key::new(c.pk.clone(), c.sk.clone()),
                    Condition::eq(c.holder, s(id.to_string())),
                ),
                Role::Other,
            );
        }
    }
    let old: Vec<Entry> = match before {
        Some(r) => entries::entries::<K>(tenant, r)?,
        None => Vec::new(),
    };
    let new: Vec<Entry> = match after {
        Some(r) => entries::entries::<K>(tenant, r)?,
        None => Vec::new(),
    };
    for write in K::companions(tenant, before, after)? {
        set.push(write, Role::Other);
    }
    let (gone, written) = entries::diff(&old, &new);
    for k in gone {
        set.push(WriteOp::delete(k), Role::Other);
    }
    for e in written {
        set.push(WriteOp::put(e.item), Role::Other);
    }
    let schema = K::schema();
    set.push(
        audit.write(
            keys::record_pk(tenant, schema, id),
            &format!("{}_audit", schema.name),
        )?,
        Role::Other,
    );
    Ok(())
}

/// A new record with its claims, entries and audit entry.
pub fn create<K: Kind>(
    tenant: &str,
    record: &K::Record,
    audit: &AuditEntry,
) -> Result<WriteSet, CrmError> {
    let mut set = WriteSet::default();
    set.push(
        WriteOp::put_new(record_item::<K>(tenant, record)?),
        Role::Record,
    );
    dependents::<K>(&mut set, tenant, None, Some(record), audit)?;
    Ok(set)
}

/// A new record's writes for a bulk load (imports) without a transaction: its claims, each a
/// conditional put that also holds when the claim is already the record's (a retried load),
/// then the rest as plain puts, the record item last (so that a record that exists has its
/// entries and audit entry). `None` when a write of the creation is not a plain put (a
/// counter): such a record is written in a transaction.
pub struct BulkCreate {
    /// (claim item, condition, field, message).
    pub claims: Vec<(Item, Condition, &'static str, &'static str)>,
    /// Entries, companions and the audit entry.
    pub dependents: Vec<Item>,
    pub record: Item,
}

pub fn bulk_create<K: Kind>(
    tenant: &str,
    record: &K::Record,
    audit: &AuditEntry,
) -> Result<Option<BulkCreate>, CrmError> {
    let set = create::<K>(tenant, record, audit)?;
    let id = s(record.id().to_string());
    let mut bulk = BulkCreate {
        claims: Vec::new(),
        dependents: Vec::new(),
        record: Item::new(),
    };
    for (write, role) in set.writes.into_iter().zip(set.roles) {
        let WriteOp::Put { item, .. } = write else {
            return Ok(None);
        };
        match role {
            Role::Record => bulk.record = item,
            Role::Claim {
                field,
                message,
                holder,
            } => {
                let mine = Condition::Or(vec![
                    Condition::NotExists,
                    Condition::Eq(holder.to_string(), id.clone()),
                ]);
                bulk.claims.push((item, mine, field, message));
            }
            Role::Other | Role::Guard(_) => bulk.dependents.push(item),
        }
    }
    Ok(Some(bulk))
}

/// Every item a new record is stored as (the record, its claims, entries and companions put
/// whole; no audit entry, no counters), and how many writes its creation is in all: for
/// loading a tenant in benchmarks with the real layout.
pub fn stored_items<K: Kind>(
    tenant: &str,
    record: &K::Record,
) -> Result<(Vec<Item>, usize), CrmError> {
    let audit = AuditEntry::new(crate::audit::AuditAction::Created, vec![], "", 1);
    let set = create::<K>(tenant, record, &audit)?;
    let writes = set.writes.len();
    let items = set
        .writes
        .into_iter()
        .filter_map(|w| match w {
            WriteOp::Put { item, .. } => Some(item),
            _ => None,
        })
        .filter(|item| {
            crate::store::item::text(item, "SK")
                .is_none_or(|sk| !sk.starts_with(keys::AUDIT_PREFIX))
        })
        .collect();
    Ok((items, writes))
}

/// `current` replaced by `next` (conditional on `current`'s version).
pub fn replace<K: Kind>(
    tenant: &str,
    current: &K::Record,
    next: &K::Record,
    audit: &AuditEntry,
) -> Result<WriteSet, CrmError> {
    let mut set = WriteSet::default();
    set.push(
        WriteOp::put_if(
            record_item::<K>(tenant, next)?,
            Condition::version(current.version()),
        ),
        Role::Record,
    );
    dependents::<K>(&mut set, tenant, Some(current), Some(next), audit)?;
    Ok(set)
}

/// `current` removed for good, leaving `tombstone` (an item in its partition) in its place.
pub fn remove<K: Kind>(
    tenant: &str,
    current: &K::Record,
    tombstone: Item,
    audit: &AuditEntry,
) -> Result<WriteSet, CrmError> {
    let schema = K::schema();
    let pk = keys::record_pk(tenant, schema, current.id());
    let mut set = WriteSet::default();
    set.push(
        WriteOp::delete_if(
            Key::new(pk, schema.record),
            Condition::version(current.version()),
        ),
        Role::Record,
    );
    // A record id is never reused, so a tombstone is written once.
    set.push(WriteOp::put_new(tombstone), Role::Other);
    dependents::<K>(&mut set, tenant, Some(current), None, audit)?;
    Ok(set)
}
