//! Workflow, run, enrollment and step-effect items.

use super::{Workflow, WorkflowRun};
use crate::CrmError;
use crate::store::item::text;
use crate::store::{Condition, Item, Key, Table, WriteError, WriteOp, key, n, s, to_item};
use uuid::Uuid;

/// How long a step effect is held by the worker applying it before another may retry it.
const EFFECT_LEASE_MS: i64 = 60_000;

pub fn workflow_pk(tenant: &str, id: Uuid) -> String {
    format!("T#{tenant}#WORKFLOW#{id}")
}

pub fn run_pk(tenant: &str, id: Uuid) -> String {
    format!("T#{tenant}#RUN#{id}")
}

fn enrollment_key(tenant: &str, run: &WorkflowRun) -> Item {
    key(
        workflow_pk(tenant, run.workflow_id),
        format!("ENROLLED#{}", run.contact_id),
    )
}

fn workflow_item(tenant: &str, w: &Workflow) -> Result<Item, CrmError> {
    let mut keys = key(workflow_pk(tenant, w.id), "WORKFLOW");
    keys.insert("GSI1PK".into(), s(format!("T#{tenant}#WORKFLOWS")));
    keys.insert("GSI1SK".into(), s(w.id.to_string()));
    keys.insert("entity".into(), s("workflow"));
    keys.insert("tenant_id".into(), s(tenant));
    to_item(w, keys)
}

fn run_item(tenant: &str, r: &WorkflowRun) -> Result<Item, CrmError> {
    let mut keys = key(run_pk(tenant, r.id), "RUN");
    keys.insert(
        "GSI1PK".into(),
        s(format!("T#{tenant}#WORKFLOW#{}#RUNS", r.workflow_id)),
    );
    keys.insert("GSI1SK".into(), s(r.id.to_string()));
    keys.insert(
        "GSI2PK".into(),
        s(format!("T#{tenant}#CONTACT#{}#RUNS", r.contact_id)),
    );
    keys.insert("GSI2SK".into(), s(r.id.to_string()));
    keys.insert("entity".into(), s("workflow_run"));
    keys.insert("tenant_id".into(), s(tenant));
    to_item(r, keys)
}

pub async fn insert_workflow(table: &Table, tenant: &str, w: &Workflow) -> Result<(), CrmError> {
    table
        .put_if(workflow_item(tenant, w)?, Condition::NotExists)
        .await
        .map_err(CrmError::from)
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

pub async fn get_run(
    table: &Table,
    tenant: &str,
    id: Uuid,
) -> Result<Option<WorkflowRun>, CrmError> {
    table.get_as(Key::new(run_pk(tenant, id), "RUN")).await
}

/// Writes a new run; with `exclusive`, together with the contact's enrollment marker (W3).
pub async fn insert_run(
    table: &Table,
    tenant: &str,
    run: &WorkflowRun,
    exclusive: bool,
) -> Result<(), CrmError> {
    let mut writes = vec![WriteOp::put_new(run_item(tenant, run)?)];
    if exclusive {
        let mut marker = enrollment_key(tenant, run);
        marker.insert("run_id".into(), s(run.id.to_string()));
        writes.push(WriteOp::put_new(marker));
    }
    match table.transact(writes).await {
        Ok(()) => Ok(()),
        Err(e) if e.failed_at(1) => Err(CrmError::Conflict {
            detail: "the contact is already enrolled in this workflow".into(),
            errors: vec![crate::FieldError::new(
                "contact_id",
                "not_enrolled",
                "the contact is already enrolled in this workflow",
            )],
        }),
        Err(e) => Err(e.into_error("run insert")),
    }
}

pub async fn delete_run(
    table: &Table,
    tenant: &str,
    run: &WorkflowRun,
    exclusive: bool,
) -> Result<(), CrmError> {
    let mut writes = vec![WriteOp::delete(Key::new(run_pk(tenant, run.id), "RUN"))];
    if exclusive {
        writes.push(WriteOp::delete(
            Key::of(&enrollment_key(tenant, run)).expect("a key"),
        ));
    }
    table
        .transact(writes)
        .await
        .map_err(|e| e.into_error("run delete"))
}

/// Replaces the run if nobody else changed it since `expected_version`. `false` when someone did.
pub async fn replace_run(
    table: &Table,
    tenant: &str,
    run: &WorkflowRun,
    expected_version: u64,
) -> Result<bool, CrmError> {
    match table
        .put_if(run_item(tenant, run)?, Condition::version(expected_version))
        .await
    {
        Ok(()) => Ok(true),
        Err(WriteError::ConditionFailed) => Ok(false),
        Err(WriteError::Other(e)) => Err(e),
    }
}

/// The state of one step's side effect (W5).
#[derive(Debug, PartialEq, Eq)]
pub enum EffectClaim {
    /// This worker applies the effect, then calls `complete_effect`.
    Claimed,
    /// Applied before; `detail` is what was recorded then.
    AlreadyApplied { detail: Option<String> },
    /// Another worker holds it right now: retry later.
    Busy,
}

fn effect_key(tenant: &str, run: Uuid, step: u32) -> Item {
    key(run_pk(tenant, run), format!("EFFECT#{step:04}"))
}

pub async fn claim_effect(
    table: &Table,
    tenant: &str,
    run: Uuid,
    step: u32,
) -> Result<EffectClaim, CrmError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut item = effect_key(tenant, run, step);
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
                .get(run_pk(tenant, run), format!("EFFECT#{step:04}"))
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
    step: u32,
    detail: &str,
) -> Result<(), CrmError> {
    let mut item = effect_key(tenant, run, step);
    item.insert("state".into(), s("done"));
    item.insert("detail".into(), s(detail));
    table.put(item).await
}

/// Gives a claimed effect back after a failure so a retry can apply it.
pub async fn release_effect(
    table: &Table,
    tenant: &str,
    run: Uuid,
    step: u32,
) -> Result<(), CrmError> {
    table
        .release_claim(Key::of(&effect_key(tenant, run, step)).expect("a key"))
        .await
}
