//! Workflows (S7): definitions, runs, and the step executor. A run's steps execute only in the
//! SQS-driven executor; waits are one-time EventBridge Scheduler schedules that put the next
//! step's message on the same queue.

mod effects;
mod executor;
mod model;
pub mod observe;
mod store;
pub mod sweep;

pub use effects::{AwsEffects, StepEffects};
pub use executor::{StepOutcome, execute_step_message};
pub use model::*;
pub use store::{run_pk, workflow_pk};

use crate::access::{Action, Policy, Subject};
use crate::contacts::ContactKind;
use crate::records::{Record, RecordStore};
use crate::store::Table;
use crate::{Caller, CrmError};
use uuid::Uuid;

/// `POST /workflows`.
pub async fn create(
    table: &Table,
    caller: &Caller,
    input: NewWorkflow,
) -> Result<Workflow, CrmError> {
    Policy::check(caller, Action::Write, Subject::Workflows)?;
    let custom_keys = crate::email::templates::custom_keys(table, &caller.tenant_id).await?;
    let workflow =
        Workflow::new(input, &caller.user_id, &custom_keys).map_err(CrmError::Validation)?;
    store::insert_workflow(table, &caller.tenant_id, &workflow).await?;
    Ok(workflow)
}

/// `GET /workflows/{id}`.
pub async fn get(table: &Table, caller: &Caller, id: Uuid) -> Result<Workflow, CrmError> {
    Policy::check(caller, Action::Read, Subject::Workflows)?;
    store::get_workflow(table, &caller.tenant_id, id)
        .await?
        .ok_or(CrmError::NotFound)
}

/// `POST /workflows/{id}/runs`: manual enrollment of one contact (S7.1).
pub async fn start_run(
    table: &Table,
    effects: &impl StepEffects,
    caller: &Caller,
    workflow_id: Uuid,
    input: StartRun,
) -> Result<WorkflowRun, CrmError> {
    Policy::check(caller, Action::Read, Subject::WorkflowRuns)?;
    let workflow = store::get_workflow(table, &caller.tenant_id, workflow_id)
        .await?
        .ok_or(CrmError::NotFound)?;
    Policy::check(caller, Action::Write, Subject::WorkflowRuns)?;
    let live = RecordStore::<ContactKind>::new(table.clone())
        .get(&caller.tenant_id, input.contact_id)
        .await?
        .filter(|c| c.deleted_at().is_none());
    if live.is_none() {
        return Err(CrmError::validation(
            "contact_id",
            "exists",
            "no such contact",
        ));
    }
    let run = WorkflowRun::start(&workflow, input.contact_id, &caller.user_id);
    store::insert_run(table, &caller.tenant_id, &run, !workflow.allow_reenrollment).await?;
    let message = StepMessage {
        tenant_id: caller.tenant_id.clone(),
        run_id: run.id,
        step_index: 0,
    };
    if let Err(e) = effects.enqueue_step(&message).await {
        // Without its first message the run would never move: take it back whole.
        store::delete_run(table, &caller.tenant_id, &run, !workflow.allow_reenrollment).await?;
        return Err(e);
    }
    Ok(run)
}

/// `GET /workflow-runs/{id}`.
pub async fn get_run(table: &Table, caller: &Caller, id: Uuid) -> Result<WorkflowRun, CrmError> {
    Policy::check(caller, Action::Read, Subject::WorkflowRuns)?;
    store::get_run(table, &caller.tenant_id, id)
        .await?
        .ok_or(CrmError::NotFound)
}
