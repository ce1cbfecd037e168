//! The use cases every kind gets (S1.2, S1.4, S6.5, S3.3, S9.4): create, read, merge-patch
//! with If-Match, delete (to the trash or for good), restore, share, history, and how a record
//! is shown to a caller. A kind adds only its rules ([`Kind`]); lists are in
//! [`super::reader`].

use super::custom::{CustomValues, ReferenceCheck, WrittenValues, present, present_nested};
use super::kind::{Deletion, Kind, Record, Schema, Stamp};
use super::store::{RecordStore, Tombstone};
use super::write::{self, WriteFailure};
use crate::access::visibility::Principal;
use crate::access::{Action, Policy, Subject};
use crate::audit::{AuditAction, AuditEntry, CUSTOM_FIELD_PREFIX, hide_custom_fields};
use crate::custom_fields::store::FieldStore;
use crate::directory::Directory;
use crate::errors::join_validation;
use crate::store::cursor::{ListQuery, Page};
use crate::store::{Table, WriteOp, key, s, to_item};
use crate::{Caller, CrmError};
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use uuid::Uuid;

/// What every kind's use cases share: the table, the directory, custom field values.
#[derive(Clone)]
pub struct Context {
    pub table: Table,
    pub directory: Directory,
    pub custom: CustomValues,
}

impl Context {
    pub fn new(table: Table, references: Arc<dyn ReferenceCheck>) -> Self {
        let directory = Directory::new(table.clone());
        Self {
            custom: CustomValues {
                fields: FieldStore::new(table.clone()),
                directory: directory.clone(),
                references,
            },
            directory,
            table,
        }
    }
}

/// The records of kind `K`.
pub struct Records<K: Kind> {
    pub ctx: Context,
    pub store: RecordStore<K>,
}

impl<K: Kind> Clone for Records<K> {
    fn clone(&self) -> Self {
        Self::new(self.ctx.clone())
    }
}

/// Whether a response holds custom field values anywhere (only then are definitions read).
fn holds_custom_fields(json: &Value) -> bool {
    match json {
        Value::Object(o) => o.contains_key("custom_fields") || o.values().any(holds_custom_fields),
        Value::Array(a) => a.iter().any(holds_custom_fields),
        _ => false,
    }
}

/// The next version of a record, changed by `actor` now.
pub fn next_version<R: Record>(record: &R, actor: &str) -> R {
    let mut next = record.clone();
    let b = next.bookkeeping();
    *b.updated_at = crate::values::now();
    *b.updated_by = actor.to_string();
    *b.version += 1;
    next
}

impl<K: Kind> Records<K> {
    pub fn new(ctx: Context) -> Self {
        // The kind's name is an entity custom fields can be defined for from now on.
        K::schema().entity();
        Self {
            store: RecordStore::new(ctx.table.clone()),
            ctx,
        }
    }

    pub fn schema(&self) -> &'static Schema {
        K::schema()
    }

    fn subject() -> Subject {
        Subject::Record(K::schema().name)
    }

    /// The audit entry of a change from `before` to `after`.
    pub fn audit(
        action: AuditAction,
        before: Option<&K::Record>,
        after: Option<&K::Record>,
        actor: &str,
    ) -> Result<AuditEntry, CrmError> {
        let version = after.or(before).map_or(0, Record::version);
        AuditEntry::of_records_ignoring(
            action,
            before,
            after,
            actor,
            version,
            K::schema().audit_ignore,
        )
    }

    /// The record, live or in the trash, if the caller may see it.
    pub async fn find(&self, caller: &Caller, id: Uuid) -> Result<Option<K::Record>, CrmError> {
        Ok(self
            .store
            .get(&caller.tenant_id, id)
            .await?
            .filter(|r| caller.sees(&r.access())))
    }

    /// The record unless it is absent, in the trash, or invisible to the caller (all 404).
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<K::Record, CrmError> {
        self.find(caller, id)
            .await?
            .filter(|r| r.deleted_at().is_none())
            .ok_or(CrmError::NotFound)
    }

    fn check_version(record: &K::Record, if_match: Option<u64>) -> Result<(), CrmError> {
        match if_match {
            Some(v) if v != record.version() => Err(CrmError::PreconditionFailed),
            _ => Ok(()),
        }
    }

    /// The owner and team a record is assigned to must exist in the tenant (checked when
    /// they change).
    async fn check_assignment(
        &self,
        caller: &Caller,
        before: Option<&K::Record>,
        after: &K::Record,
    ) -> Result<(), CrmError> {
        let a = after.access();
        let b = before.map(|b| b.access());
        self.ctx
            .directory
            .check_assignment(caller, a.owner, a.team, b.map(|b| (b.owner, b.team)))
            .await
    }

    /// A new record from a create body, validated with its custom field values and checked,
    /// but not written (imports write it with their row's outcome).
    pub async fn prepare(
        &self,
        caller: &Caller,
        input: K::New,
        custom: Option<&Map<String, Value>>,
        defs: Option<&[crate::custom_fields::FieldDefinition]>,
    ) -> Result<K::Record, CrmError> {
        let stamp = Stamp::new(caller);
        let built = K::create(input, &stamp);
        let entity = K::schema().entity();
        let values = match defs {
            Some(defs) => self.ctx.custom.write_with(defs, caller, custom, None).await,
            None => self
                .ctx
                .custom
                .write(caller, entity, custom, None)
                .await
                .map(Option::unwrap_or_default),
        };
        let (mut record, values) = join_validation(built, values)?;
        {
            let b = record.bookkeeping();
            *b.id = stamp.id;
            (*b.created_at, *b.updated_at) = (stamp.at, stamp.at);
            (*b.created_by, *b.updated_by) = (stamp.actor.clone(), stamp.actor.clone());
            *b.version = 1;
            // The creator owns what they create; it belongs to their team when they have one.
            b.owner.get_or_insert_with(|| caller.user_id.clone());
            if b.team.is_none() {
                if let [team] = caller.teams.as_slice() {
                    *b.team = Some(*team);
                }
            }
            *b.custom_fields = values.values;
            *b.custom_terms = values.terms;
        }
        self.check_assignment(caller, None, &record).await?;
        K::check_write(self, caller, None, &mut record).await?;
        Ok(record)
    }

    pub async fn create(
        &self,
        caller: &Caller,
        input: K::New,
        custom: Option<&Map<String, Value>>,
    ) -> Result<K::Record, CrmError> {
        Policy::check(caller, Action::Write, Self::subject())?;
        let record = self.prepare(caller, input, custom, None).await?;
        let audit = Self::audit(AuditAction::Created, None, Some(&record), &caller.user_id)?;
        self.insert(&caller.tenant_id, &record, &audit, Vec::new())
            .await
            .map_err(CrmError::from)?;
        Ok(record)
    }

    /// Writes a new record, together with `guards` (writes with conditions of the caller's).
    pub async fn insert(
        &self,
        tenant: &str,
        record: &K::Record,
        audit: &AuditEntry,
        guards: Vec<WriteOp>,
    ) -> Result<(), WriteFailure> {
        let mut set = write::create::<K>(tenant, record, audit).map_err(WriteFailure::Error)?;
        set.guard(guards);
        self.store.write(set).await
    }

    /// Replaces `current` by `next` (its next version) with its audit entry, together with
    /// `also` (writes that change with it, such as a link).
    pub async fn replace(
        &self,
        tenant: &str,
        current: &K::Record,
        next: &K::Record,
        audit: &AuditEntry,
        also: Vec<WriteOp>,
    ) -> Result<(), CrmError> {
        let mut set = write::replace::<K>(tenant, current, next, audit)?;
        set.also(also);
        self.store.write(set).await.map_err(CrmError::from)
    }

    pub async fn patch(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: K::Patch,
        custom: Option<&Map<String, Value>>,
        if_match: Option<u64>,
    ) -> Result<K::Record, CrmError> {
        self.patch_also(caller, id, patch, custom, if_match, Vec::new())
            .await
    }

    /// [`Self::patch`] with `also` written in the record's transaction when it changes (a
    /// job's progress counter, so that it counts each record exactly once).
    pub async fn patch_also(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: K::Patch,
        custom: Option<&Map<String, Value>>,
        if_match: Option<u64>,
        also: Vec<WriteOp>,
    ) -> Result<K::Record, CrmError> {
        self.patch_inner(caller, id, patch, custom, if_match, also, None)
            .await
    }

    /// [`Self::patch`] by something other than the API (an import, its undo): the audit entry
    /// names `source`, so the change can be found and undone.
    pub async fn patch_from(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: K::Patch,
        custom: Option<&Map<String, Value>>,
        if_match: Option<u64>,
        source: &str,
    ) -> Result<K::Record, CrmError> {
        self.patch_inner(
            caller,
            id,
            patch,
            custom,
            if_match,
            Vec::new(),
            Some(source),
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn patch_inner(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: K::Patch,
        custom: Option<&Map<String, Value>>,
        if_match: Option<u64>,
        also: Vec<WriteOp>,
        source: Option<&str>,
    ) -> Result<K::Record, CrmError> {
        let current = self.get_for_write(caller, id).await?;
        Self::check_version(&current, if_match)?;
        let patched = K::patch(&current, patch).map_err(|e| match e {
            CrmError::Validation(errors) => Err(errors),
            other => Ok(other),
        });
        let patched = match patched {
            Ok(record) => Ok(record),
            Err(Ok(other)) => return Err(other),
            Err(Err(errors)) => Err(errors),
        };
        let values = self
            .ctx
            .custom
            .write(
                caller,
                K::schema().entity(),
                custom,
                Some(current.custom_fields()),
            )
            .await;
        let (mut next, values) = join_validation(patched, values)?;
        if let Some(WrittenValues { values, terms }) = values {
            let b = next.bookkeeping();
            *b.custom_fields = values;
            *b.custom_terms = terms;
        }
        if next == current {
            return Ok(current);
        }
        self.check_assignment(caller, Some(&current), &next).await?;
        K::check_write(self, caller, Some(&current), &mut next).await?;
        let next = next_version(&next, &caller.user_id);
        let mut audit = Self::audit(
            AuditAction::Updated,
            Some(&current),
            Some(&next),
            &caller.user_id,
        )?;
        if let Some(source) = source {
            audit = audit.with_source(source);
        }
        self.replace(&caller.tenant_id, &current, &next, &audit, also)
            .await?;
        Ok(next)
    }

    /// To the trash (kinds with one: restorable, out of every read and list), or removed for
    /// good with a tombstone keeping its audit trail readable for owners and admins.
    pub async fn delete(
        &self,
        caller: &Caller,
        id: Uuid,
        if_match: Option<u64>,
    ) -> Result<(), CrmError> {
        let current = self.get_for_write(caller, id).await?;
        Self::check_version(&current, if_match)?;
        K::check_delete(self, caller, &current).await?;
        let tenant = &caller.tenant_id;
        match K::schema().deletion {
            Deletion::Trash { .. } => {
                let mut trashed = next_version(&current, &caller.user_id);
                if let Some((at, by)) = trashed.bookkeeping().deleted {
                    *at = Some(crate::values::now());
                    *by = Some(caller.user_id.clone());
                }
                let audit = AuditEntry::of_records_ignoring(
                    AuditAction::Deleted,
                    Some(&current),
                    None,
                    &caller.user_id,
                    trashed.version(),
                    K::schema().audit_ignore,
                )?;
                self.replace(tenant, &current, &trashed, &audit, Vec::new())
                    .await
            }
            Deletion::Tombstone => {
                let audit =
                    Self::audit(AuditAction::Deleted, Some(&current), None, &caller.user_id)?;
                let tombstone = Tombstone {
                    id,
                    name: K::title(&current),
                    deleted_at: audit.at,
                    deleted_by: caller.user_id.clone(),
                    version: current.version(),
                };
                let schema = K::schema();
                let mut keys = key(
                    super::keys::record_pk(tenant, schema, id),
                    super::keys::TOMBSTONE_SK,
                );
                keys.insert("entity".into(), s(format!("{}_tombstone", schema.name)));
                let set = write::remove::<K>(tenant, &current, to_item(&tombstone, keys)?, &audit)?;
                self.store.write(set).await.map_err(CrmError::from)
            }
        }
    }

    /// Takes a record out of the trash within its days (a record not in the trash comes back
    /// unchanged); a value it claimed that another record took since is 409.
    pub async fn restore(&self, caller: &Caller, id: Uuid) -> Result<K::Record, CrmError> {
        let current = self.find(caller, id).await?.ok_or(CrmError::NotFound)?;
        Policy::check(caller, Action::Write, Self::subject())?;
        let (Some(deleted_at), Deletion::Trash { days }) =
            (current.deleted_at(), K::schema().deletion)
        else {
            return Ok(current);
        };
        // The TTL removes expired items within days, not at once: the deadline is checked here.
        if deleted_at + chrono::Duration::days(days) < crate::values::now() {
            return Err(CrmError::NotFound);
        }
        let mut restored = next_version(&current, &caller.user_id);
        if let Some((at, by)) = restored.bookkeeping().deleted {
            *at = None;
            *by = None;
        }
        // What the record refers to may have changed while it was in the trash.
        K::check_write(self, caller, Some(&current), &mut restored).await?;
        let audit = AuditEntry::of_records_ignoring(
            AuditAction::Restored,
            None,
            Some(&restored),
            &caller.user_id,
            restored.version(),
            K::schema().audit_ignore,
        )?;
        self.replace(&caller.tenant_id, &current, &restored, &audit, Vec::new())
            .await?;
        Ok(restored)
    }

    /// A record the caller may see and is about to change (404 before 403: a record the
    /// caller may not see does not exist for them).
    pub async fn get_for_write(&self, caller: &Caller, id: Uuid) -> Result<K::Record, CrmError> {
        let current = self.get(caller, id).await?;
        Policy::check(caller, Action::Write, Self::subject())?;
        Ok(current)
    }

    /// Shares the record with a user or team of the tenant (S9.4); sharing twice changes
    /// nothing.
    pub async fn share(
        &self,
        caller: &Caller,
        id: Uuid,
        principal: Principal,
    ) -> Result<K::Record, CrmError> {
        let current = self.get_for_write(caller, id).await?;
        if current.access().shared_with.contains(&principal) {
            return Ok(current);
        }
        self.ctx
            .directory
            .check_share(caller, current.access().shared_with, &principal)
            .await?;
        let mut next = next_version(&current, &caller.user_id);
        let shares = next.bookkeeping().shared_with;
        shares.push(principal);
        shares.sort();
        self.write_share(caller, &current, next, AuditAction::Shared)
            .await
    }

    pub async fn unshare(
        &self,
        caller: &Caller,
        id: Uuid,
        principal: Principal,
    ) -> Result<K::Record, CrmError> {
        let current = self.get_for_write(caller, id).await?;
        if !current.access().shared_with.contains(&principal) {
            return Err(CrmError::NotFound);
        }
        let mut next = next_version(&current, &caller.user_id);
        next.bookkeeping().shared_with.retain(|p| p != &principal);
        self.write_share(caller, &current, next, AuditAction::Unshared)
            .await
    }

    async fn write_share(
        &self,
        caller: &Caller,
        current: &K::Record,
        next: K::Record,
        action: AuditAction,
    ) -> Result<K::Record, CrmError> {
        let audit = Self::audit(action, Some(current), Some(&next), &caller.user_id)?;
        self.replace(&caller.tenant_id, current, &next, &audit, Vec::new())
            .await?;
        Ok(next)
    }

    /// The record's audit trail, newest first (S6.5): every create, change, delete, restore
    /// and share with actor, time and each field's old → new value; custom fields the caller
    /// may not see left out. After a record is deleted for good, its trail stays readable for
    /// owners and admins (through its tombstone).
    pub async fn history(
        &self,
        caller: &Caller,
        id: Uuid,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<AuditEntry>, CrmError> {
        Policy::check(caller, Action::ReadHistory, Self::subject())?;
        let tenant = &caller.tenant_id;
        let visible = match K::schema().deletion {
            Deletion::Trash { .. } => self.get(caller, id).await.map(|_| true)?,
            Deletion::Tombstone => {
                self.find(caller, id).await?.is_some()
                    || (Policy::allows(caller, Action::ReadDeleted, Self::subject())
                        && self.store.tombstone(tenant, id).await?.is_some())
            }
        };
        if !visible {
            return Err(CrmError::NotFound);
        }
        let query = ListQuery::new(tenant, format!("{}-history:{id}", K::schema().name));
        let (mut items, last) = self
            .store
            .history(tenant, id, limit, query.start(cursor)?)
            .await?;
        if items.iter().any(|e| {
            e.changes
                .iter()
                .any(|c| c.field.starts_with(CUSTOM_FIELD_PREFIX))
        }) {
            let defs = self
                .ctx
                .custom
                .definitions(caller, K::schema().entity())
                .await?;
            hide_custom_fields(&mut items, |key| {
                defs.iter().any(|d| d.key == key && d.visible_to(caller))
            });
        }
        Ok(query.page(items, last))
    }

    /// A record as the caller may read it: custom fields they may not see left out, the others
    /// in the plain JSON shape.
    pub async fn present(&self, caller: &Caller, record: &K::Record) -> Result<Value, CrmError> {
        let visible = self
            .ctx
            .custom
            .visible_json(caller, K::schema().entity(), record.custom_fields())
            .await?;
        let mut json = present(record, visible)?;
        if let Some(obj) = json.as_object_mut() {
            K::presented(record, obj);
        }
        Ok(json)
    }

    /// Any response holding records of this kind (a page, a tree, an export), as the caller
    /// may read it.
    pub async fn present_all<T: Serialize>(
        &self,
        caller: &Caller,
        value: &T,
    ) -> Result<Value, CrmError> {
        let mut json = serde_json::to_value(value).map_err(CrmError::internal)?;
        if !holds_custom_fields(&json) {
            return Ok(json);
        }
        let defs = self
            .ctx
            .custom
            .definitions(caller, K::schema().entity())
            .await?;
        present_nested(&mut json, &defs, caller);
        Ok(json)
    }
}

impl<K: Kind> Records<K> {
    /// Every record of a list the caller may see, whole, in the list's order (a contact's
    /// activities or outreach for its export and erasure): page by page, each page's
    /// records in one batch read.
    pub async fn list_whole(
        &self,
        caller: &Caller,
        query: &super::RecordQuery,
    ) -> Result<Vec<K::Record>, CrmError> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.list(caller, query, 200, cursor.as_deref()).await?;
            // Summaries of every kind carry the record's id.
            let ids: Vec<Uuid> = serde_json::to_value(&page.items)
                .map_err(CrmError::internal)?
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|row| row["id"].as_str().and_then(|id| id.parse().ok()))
                .collect();
            let mut found = self.store.get_many(&caller.tenant_id, &ids).await?;
            all.extend(ids.iter().filter_map(|id| found.remove(id)));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// Sets (or clears) one custom field value of one record, as a definition change converts
    /// it: with an audit entry naming the change as its source; retried when a concurrent
    /// write got there first. A record that is gone is left alone.
    pub async fn set_custom_value(
        &self,
        caller: &Caller,
        id: Uuid,
        def: &crate::custom_fields::FieldDefinition,
        value: Option<crate::custom_fields::FieldValue>,
    ) -> Result<(), CrmError> {
        let tenant = &caller.tenant_id;
        let source = format!("custom_field_change:{}", def.key);
        for _ in 0..3 {
            let Some(current) = self.store.get(tenant, id).await? else {
                return Ok(());
            };
            let mut next = next_version(&current, &caller.user_id);
            {
                let b = next.bookkeeping();
                match &value {
                    Some(v) => {
                        b.custom_fields.insert(def.key.clone(), v.clone());
                        let terms = crate::custom_fields::entries::stored_terms(def, v);
                        if terms.is_empty() {
                            b.custom_terms.remove(&def.key);
                        } else {
                            b.custom_terms.insert(def.key.clone(), terms);
                        }
                    }
                    None => {
                        b.custom_fields.remove(&def.key);
                        b.custom_terms.remove(&def.key);
                    }
                }
            }
            let audit = Self::audit(
                AuditAction::Updated,
                Some(&current),
                Some(&next),
                &caller.user_id,
            )?
            .with_source(source.clone());
            match self
                .replace(tenant, &current, &next, &audit, Vec::new())
                .await
            {
                Err(CrmError::PreconditionFailed) => continue,
                other => return other,
            }
        }
        Err(CrmError::Internal(format!(
            "record {id} kept changing during the migration of {}",
            def.key
        )))
    }
}
