//! Creating many records at once without a transaction per record (imports, S5.3): the same
//! items as a single create, written with plain batched puts at half a transaction's write
//! units. Only the unique values a record claims need a condition; each is a conditional put
//! of its own that also holds when the claim is already the record's, so a retried load (a
//! redelivered chunk, same deterministic ids) completes what it started and creates nothing
//! twice. The record item is written last: a record that exists has its entries and audit.

use super::kind::{Kind, Record};
use super::service::Records;
use super::write::{BulkCreate, bulk_create};
use crate::CrmError;
use crate::audit::AuditEntry;
use crate::store::{Condition, Item, Key, WriteError};
use futures::StreamExt;
use std::collections::HashSet;

/// Claims put concurrently.
const CLAIM_CONCURRENCY: usize = 16;

/// What became of one record of [`Records::insert_many`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkOutcome {
    /// Written now, or by an earlier run of the same load.
    Created,
    /// A unique value is held by another record: nothing was written for this one.
    Taken {
        field: &'static str,
        message: &'static str,
    },
}

impl<K: Kind> Records<K> {
    /// Writes new records with their audit entries (see the module's comment); outcomes in
    /// input order. Records whose creation is not plain puts are written in a transaction.
    pub async fn insert_many(
        &self,
        tenant: &str,
        records: &[(K::Record, AuditEntry)],
    ) -> Result<Vec<BulkOutcome>, CrmError> {
        let ids: Vec<_> = records.iter().map(|(r, _)| r.id()).collect();
        let existing: HashSet<_> = self
            .store
            .get_many(tenant, &ids)
            .await?
            .into_keys()
            .collect();
        let mut outcomes = vec![BulkOutcome::Created; records.len()];
        let mut pending: Vec<(usize, BulkCreate)> = Vec::new();
        for (i, (record, audit)) in records.iter().enumerate() {
            if existing.contains(&record.id()) {
                continue;
            }
            match bulk_create::<K>(tenant, record, audit)? {
                Some(parts) => pending.push((i, parts)),
                None => {
                    if let Err(e) = self.insert(tenant, record, audit, Vec::new()).await {
                        outcomes[i] = taken_or_error(e.into())?;
                    }
                }
            }
        }
        let pending_ref = &pending;
        let claimed: Vec<(usize, Result<(), BulkOutcome>)> =
            futures::stream::iter(0..pending.len())
                .map(|n| async move {
                    let (i, parts) = &pending_ref[n];
                    (*i, self.claim_all(&parts.claims).await)
                })
                .buffer_unordered(CLAIM_CONCURRENCY)
                .map(|(i, r)| r.map(|r| (i, r)))
                .collect::<Vec<Result<_, CrmError>>>()
                .await
                .into_iter()
                .collect::<Result<_, _>>()?;
        let mut writable = HashSet::new();
        for (i, result) in claimed {
            match result {
                Ok(()) => {
                    writable.insert(i);
                }
                Err(taken) => outcomes[i] = taken,
            }
        }
        let (mut dependents, mut items) = (Vec::new(), Vec::new());
        for (i, parts) in pending {
            if writable.contains(&i) {
                dependents.extend(parts.dependents);
                items.push(parts.record);
            }
        }
        let table = &self.ctx.table;
        table.put_many(dependents).await?;
        table.put_many(items).await?;
        Ok(outcomes)
    }

    /// Takes every claim of one record, or none: on a taken one, those taken are released.
    async fn claim_all(
        &self,
        claims: &[(Item, Condition, &'static str, &'static str)],
    ) -> Result<Result<(), BulkOutcome>, CrmError> {
        let table = &self.ctx.table;
        for (n, (item, mine, field, message)) in claims.iter().enumerate() {
            match table.put_if(item.clone(), mine.clone()).await {
                Ok(()) => {}
                Err(WriteError::ConditionFailed) => {
                    for (taken, condition, ..) in &claims[..n] {
                        let Condition::Or(cases) = condition else {
                            continue;
                        };
                        let (Some(key), Some(Condition::Eq(holder, id))) =
                            (Key::of(taken), cases.get(1))
                        else {
                            continue;
                        };
                        match table
                            .delete_if(key, Some(Condition::Eq(holder.clone(), id.clone())))
                            .await
                        {
                            Ok(()) | Err(WriteError::ConditionFailed) => {}
                            Err(WriteError::Other(e)) => return Err(e),
                        }
                    }
                    return Ok(Err(BulkOutcome::Taken { field, message }));
                }
                Err(WriteError::Other(e)) => return Err(e),
            }
        }
        Ok(Ok(()))
    }
}

fn taken_or_error(e: CrmError) -> Result<BulkOutcome, CrmError> {
    match e {
        CrmError::Conflict { errors, .. } => {
            let field = errors.first().map(|e| e.field.clone()).unwrap_or_default();
            Ok(BulkOutcome::Taken {
                field: if field == "email" { "email" } else { "record" },
                message: "another record already holds this value",
            })
        }
        e => Err(e),
    }
}
