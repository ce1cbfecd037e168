//! Workflow, revision, enrollment, run and step-effect items (W1–W5).
//!
//! No hot key under a big enrollment: each contact's enrollment marker is its own partition
//! (`T#t#ENROLL#{workflow}#{contact}`); a workflow's run index is spread over
//! [`RUN_SHARDS`] partitions (`T#t#WFRUNS#{workflow}#{shard}`, sorted by status then run),
//! and the sweep's due index over [`DUE_SHARDS`] (`RUNDUE#{shard}`, sorted by due time). The
//! due index is the one place a key does not start with the tenant: the sweep is a system
//! job across tenants; its sort key carries the tenant, and the run is re-read under it.

use super::{RunStatus, Workflow, WorkflowRun, definition::Revision};
use crate::CrmError;
use crate::store::item::text;
use crate::store::{
    Condition, Item, Key, KeyRange, Query, Table, WriteError, WriteOp, from_item, key, n, s,
    to_item,
};
use crate::values::time::time_key;
use uuid::Uuid;

/// How long a step effect is held by the worker applying it before another may retry it.
const EFFECT_LEASE_MS: i64 = 60_000;
/// Partitions of a workflow's run index.
pub const RUN_SHARDS: u8 = 16;
/// Partitions of the sweep's due index.
pub const DUE_SHARDS: u8 = 16;

pub fn workflow_pk(tenant: &str, id: Uuid) -> String {
    format!("T#{tenant}#WORKFLOW#{id}")
}

pub fn run_pk(tenant: &str, id: Uuid) -> String {
    format!("T#{tenant}#RUN#{id}")
}

pub fn contact_runs_pk(tenant: &str, contact: Uuid) -> String {
    format!("T#{tenant}#CONTACT#{contact}#RUNS")
}

pub fn enrollment_key(tenant: &str, workflow: Uuid, contact: Uuid) -> Key {
    Key::new(format!("T#{tenant}#ENROLL#{workflow}#{contact}"), "ENROLL")
}

fn shard_of(id: Uuid, shards: u8) -> u8 {
    // The random tail of a v7 id spreads evenly.
    id.as_bytes()[15] % shards
}

fn runs_index_pk(tenant: &str, workflow: Uuid, shard: u8) -> String {
    format!("T#{tenant}#WFRUNS#{workflow}#{shard:02}")
}

fn trigger_index_pk(tenant: &str, kind: &str) -> String {
    format!("T#{tenant}#WFTRIGGER#{kind}")
}

fn workflow_item(tenant: &str, w: &Workflow) -> Result<Item, CrmError> {
    let mut keys = key(workflow_pk(tenant, w.id), "WORKFLOW");
    keys.insert("GSI1PK".into(), s(format!("T#{tenant}#WORKFLOWS")));
    keys.insert("GSI1SK".into(), s(w.id.to_string()));
    // W1: the active workflows a trigger kind enrolls into (sparse).
    if w.enrolls() && w.trigger.kind() != "manual" {
        keys.insert(
            "GSI2PK".into(),
            s(trigger_index_pk(tenant, w.trigger.kind())),
        );
        keys.insert("GSI2SK".into(), s(w.id.to_string()));
    }
    keys.insert("entity".into(), s("workflow"));
    keys.insert("tenant_id".into(), s(tenant));
    to_item(w, keys)
}

fn revision_item(tenant: &str, workflow: Uuid, r: &Revision) -> Result<Item, CrmError> {
    let keys = key(
        workflow_pk(tenant, workflow),
        format!("REV#{:06}", r.revision),
    );
    to_item(r, keys)
}

fn run_item(tenant: &str, r: &WorkflowRun) -> Result<Item, CrmError> {
    let mut keys = key(run_pk(tenant, r.id), "RUN");
    keys.insert(
        "GSI1PK".into(),
        s(runs_index_pk(
            tenant,
            r.workflow_id,
            shard_of(r.id, RUN_SHARDS),
        )),
    );
    keys.insert(
        "GSI1SK".into(),
        s(format!("{}#{}", r.status.as_str(), r.id)),
    );
    keys.insert("GSI2PK".into(), s(contact_runs_pk(tenant, r.contact_id)));
    keys.insert("GSI2SK".into(), s(r.id.to_string()));
    // W4: runs that expect progress, by due time (sparse).
    if let (Some(due), false) = (
        r.due_at,
        r.status.is_terminal() || r.status == RunStatus::Paused,
    ) {
        keys.insert(
            "GSI3PK".into(),
            s(format!("RUNDUE#{:02}", shard_of(r.id, DUE_SHARDS))),
        );
        keys.insert(
            "GSI3SK".into(),
            s(format!("{}#{tenant}#{}", time_key(due), r.id)),
        );
    }
    keys.insert("entity".into(), s("workflow_run"));
    keys.insert("tenant_id".into(), s(tenant));
    to_item(r, keys)
}

// ----- workflows ------------------------------------------------------------------------------

pub async fn insert_workflow(table: &Table, tenant: &str, w: &Workflow) -> Result<(), CrmError> {
    table
        .transact(vec![
            WriteOp::put_new(workflow_item(tenant, w)?),
            WriteOp::put_new(revision_item(tenant, w.id, &w.revision_record())?),
        ])
        .await
        .map_err(|e| e.into_error("workflow insert"))
}

/// Replaces the workflow if its version is still `expected`; with a new revision, keeps it.
/// `false` when someone else changed it first.
pub async fn replace_workflow(
    table: &Table,
    tenant: &str,
    w: &Workflow,
    expected: u64,
    new_revision: bool,
) -> Result<bool, CrmError> {
    let mut writes = vec![WriteOp::put_if(
        workflow_item(tenant, w)?,
        Condition::version(expected),
    )];
    if new_revision {
        writes.push(WriteOp::put_new(revision_item(
            tenant,
            w.id,
            &w.revision_record(),
        )?));
    }
    match table.transact(writes).await {
        Ok(()) => Ok(true),
        Err(e) if e.failed_at(0) => Ok(false),
        Err(e) => Err(e.into_error("workflow replace")),
    }
}

pub async fn get_workflow(
    table: &Table,
    tenant: &str,
    id: Uuid,
) -> Result<Option<Workflow>, CrmError> {
    table
        .get_as(Key::new(workflow_pk(tenant, id), "WORKFLOW"))
        .await
}

pub async fn get_revision(
    table: &Table,
    tenant: &str,
    workflow: Uuid,
    revision: u32,
) -> Result<Option<Revision>, CrmError> {
    table
        .get_as(Key::new(
            workflow_pk(tenant, workflow),
            format!("REV#{revision:06}"),
        ))
        .await
}

/// The tenant's workflows, oldest first (a tenant has tens, not thousands).
pub async fn list_workflows(table: &Table, tenant: &str) -> Result<Vec<Workflow>, CrmError> {
    table
        .query_all(Query::index("GSI1", format!("T#{tenant}#WORKFLOWS")))
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

/// The active workflows a trigger kind enrolls into.
pub async fn workflows_triggered_by(
    table: &Table,
    tenant: &str,
    kind: &str,
) -> Result<Vec<Workflow>, CrmError> {
    table
        .query_all(Query::index("GSI2", trigger_index_pk(tenant, kind)))
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

// ----- runs -----------------------------------------------------------------------------------

pub async fn get_run(
    table: &Table,
    tenant: &str,
    id: Uuid,
) -> Result<Option<WorkflowRun>, CrmError> {
    table.get_as(Key::new(run_pk(tenant, id), "RUN")).await
}

/// Why an enrollment did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum NotEnrolled {
    /// The contact is (or was, without re-enrollment) in the workflow.
    AlreadyEnrolled,
    /// This very run exists: a repeated enrollment.
    Duplicate,
}

/// Writes a new run with the contact's enrollment marker (W3): without re-enrollment, once
/// per contact and workflow ever; with it, never while another run is in flight.
pub async fn insert_run(
    table: &Table,
    tenant: &str,
    run: &WorkflowRun,
    allow_reenrollment: bool,
) -> Result<Result<(), NotEnrolled>, CrmError> {
    let marker_key = enrollment_key(tenant, run.workflow_id, run.contact_id);
    let mut marker = key(marker_key.pk.clone(), marker_key.sk.clone());
    marker.insert("active_run".into(), s(run.id.to_string()));
    marker.insert("last_run".into(), s(run.id.to_string()));
    marker.insert("tenant_id".into(), s(tenant));
    let free = if allow_reenrollment {
        Condition::Or(vec![
            Condition::NotExists,
            Condition::eq("active_run", s("")),
        ])
    } else {
        Condition::NotExists
    };
    match table
        .transact(vec![
            WriteOp::put_new(run_item(tenant, run)?),
            WriteOp::put_if(marker, free),
        ])
        .await
    {
        Ok(()) => Ok(Ok(())),
        Err(e) if e.failed_at(0) => Ok(Err(NotEnrolled::Duplicate)),
        Err(e) if e.failed_at(1) => Ok(Err(NotEnrolled::AlreadyEnrolled)),
        Err(e) => Err(e.into_error("run insert")),
    }
}

/// Replaces the run if nobody else changed it since `expected_version`; a run that ends frees
/// its enrollment marker in the same transaction. `false` when someone changed it first.
pub async fn replace_run(
    table: &Table,
    tenant: &str,
    run: &WorkflowRun,
    expected_version: u64,
) -> Result<bool, CrmError> {
    let put = WriteOp::put_if(run_item(tenant, run)?, Condition::version(expected_version));
    let result = if run.status.is_terminal() {
        let marker_key = enrollment_key(tenant, run.workflow_id, run.contact_id);
        let mut marker = key(marker_key.pk, marker_key.sk);
        marker.insert("active_run".into(), s(""));
        marker.insert("last_run".into(), s(run.id.to_string()));
        marker.insert("tenant_id".into(), s(tenant));
        // Only this run's marker; an erased contact's marker is gone and stays gone.
        let mine = Condition::eq("active_run", s(run.id.to_string()));
        match table
            .transact(vec![put, WriteOp::put_if(marker, mine)])
            .await
        {
            Err(e) if !e.failed_at(0) && e.failed_at(1) => {
                table
                    .put_if(run_item(tenant, run)?, Condition::version(expected_version))
                    .await
            }
            Err(e) if e.failed_at(0) => Err(WriteError::ConditionFailed),
            Err(e) => Err(WriteError::Other(e.into_error("run replace"))),
            Ok(()) => Ok(()),
        }
    } else {
        table
            .put_if(run_item(tenant, run)?, Condition::version(expected_version))
            .await
    };
    match result {
        Ok(()) => Ok(true),
        Err(WriteError::ConditionFailed) => Ok(false),
        Err(WriteError::Other(e)) => Err(e),
    }
}

/// A page of a workflow's runs (W3), by status then run id: one query per shard, merged.
/// `after`: the sort key of the last run of the previous page.
pub async fn runs_of_workflow(
    table: &Table,
    tenant: &str,
    workflow: Uuid,
    status: Option<RunStatus>,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<WorkflowRun>, Option<String>), CrmError> {
    let prefix = status
        .map(|s| format!("{}#", s.as_str()))
        .unwrap_or_default();
    let lo = match after {
        Some(a) => format!("{a}!"),
        None => prefix.clone(),
    };
    let hi = format!("{prefix}~");
    let queries = (0..RUN_SHARDS).map(|shard| {
        let query = Query::index("GSI1", runs_index_pk(tenant, workflow, shard))
            .range(KeyRange::Between(lo.clone(), hi.clone()))
            .limit(limit as i32 + 1);
        async move { table.query(query).await }
    });
    let mut found: Vec<(String, Item)> = Vec::new();
    for page in futures::future::try_join_all(queries).await? {
        for item in page.items {
            let sk = text(&item, "GSI1SK").unwrap_or_default().to_string();
            found.push((sk, item));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let more = found.len() > limit;
    found.truncate(limit);
    let next = if more {
        found.last().map(|(sk, _)| sk.clone())
    } else {
        None
    };
    let runs = found
        .into_iter()
        .map(|(_, item)| from_item(item))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((runs, next))
}

/// A contact's runs, oldest first (W3).
pub async fn runs_of_contact(
    table: &Table,
    tenant: &str,
    contact: Uuid,
) -> Result<Vec<WorkflowRun>, CrmError> {
    table
        .query_all(Query::index("GSI2", contact_runs_pk(tenant, contact)))
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

/// One overdue run of the due index: its tenant and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRun {
    pub tenant: String,
    pub run: Uuid,
}

/// Runs due before `before` (W4), at most `limit` per shard.
pub async fn due_runs(
    table: &Table,
    before: crate::Timestamp,
    limit: i32,
) -> Result<Vec<DueRun>, CrmError> {
    let hi = format!("{}#", time_key(before));
    let queries = (0..DUE_SHARDS).map(|shard| {
        let query = Query::index("GSI3", format!("RUNDUE#{shard:02}"))
            .range(KeyRange::Between(String::new(), hi.clone()))
            .limit(limit);
        async move { table.query(query).await }
    });
    let mut out = Vec::new();
    for page in futures::future::try_join_all(queries).await? {
        for item in page.items {
            let sk = text(&item, "GSI3SK").unwrap_or_default();
            let mut parts = sk.splitn(3, '#');
            let (_, tenant, run) = (parts.next(), parts.next(), parts.next());
            if let (Some(tenant), Some(Ok(run))) = (tenant, run.map(str::parse::<Uuid>)) {
                out.push(DueRun {
                    tenant: tenant.to_string(),
                    run,
                });
            }
        }
    }
    Ok(out)
}

// ----- step effects (W5) ------------------------------------------------------------------------

/// The state of one step's side effect.
#[derive(Debug, PartialEq, Eq)]
pub enum EffectClaim {
    /// This worker applies the effect, then calls `complete_effect`.
    Claimed,
    /// Applied before; `detail` is what was recorded then.
    AlreadyApplied { detail: Option<String> },
    /// Another worker holds it right now: retry later.
    Busy,
}

fn effect_key(tenant: &str, run: Uuid, seq: u32) -> Item {
    key(run_pk(tenant, run), format!("EFFECT#{seq:06}"))
}

pub async fn claim_effect(
    table: &Table,
    tenant: &str,
    run: Uuid,
    seq: u32,
) -> Result<EffectClaim, CrmError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut item = effect_key(tenant, run, seq);
    item.insert("state".into(), s("in_progress"));
    item.insert("lease_until".into(), n(now_ms + EFFECT_LEASE_MS));
    // A worker that crashed while applying it gives the effect up when its lease runs out.
    let claimable = Condition::Or(vec![
        Condition::NotExists,
        Condition::And(vec![
            Condition::eq("state", s("in_progress")),
            Condition::Lt("lease_until".into(), n(now_ms)),
        ]),
    ]);
    match table.put_if(item, claimable).await {
        Ok(()) => Ok(EffectClaim::Claimed),
        Err(WriteError::ConditionFailed) => {
            let existing = table
                .get(run_pk(tenant, run), format!("EFFECT#{seq:06}"))
                .await?
                .unwrap_or_default();
            match text(&existing, "state") {
                Some("done") => Ok(EffectClaim::AlreadyApplied {
                    detail: text(&existing, "detail").map(str::to_string),
                }),
                _ => Ok(EffectClaim::Busy),
            }
        }
        Err(WriteError::Other(e)) => Err(e),
    }
}

pub async fn complete_effect(
    table: &Table,
    tenant: &str,
    run: Uuid,
    seq: u32,
    detail: &str,
) -> Result<(), CrmError> {
    let mut item = effect_key(tenant, run, seq);
    item.insert("state".into(), s("done"));
    item.insert("detail".into(), s(detail));
    table.put(item).await
}

/// Gives a claimed effect back after a failure so a retry can apply it.
pub async fn release_effect(
    table: &Table,
    tenant: &str,
    run: Uuid,
    seq: u32,
) -> Result<(), CrmError> {
    table
        .release_claim(Key::of(&effect_key(tenant, run, seq)).expect("a key"))
        .await
}
