//! Workflows (S7): definitions with revisions, enrollment by triggers or by hand, the step
//! executor, the sweep, and run control. A run's steps execute only in the SQS-driven
//! executor; waits are one-time EventBridge Scheduler schedules that put the next step's
//! message on the same queue; the contact observer (DynamoDB Streams) fires the triggers.

mod actions;
pub mod bulk;
mod checks;
pub mod criteria;
mod definition;
mod effects;
pub mod enroll;
mod executor;
pub mod observe;
mod run;
mod steps;
pub mod store;
pub mod sweep;
pub mod waits;

pub use bulk::BulkEnrollment;
pub use criteria::Criteria;
pub use definition::{Goal, NewWorkflow, Trigger, Workflow, WorkflowPatch, WorkflowStatus};
pub use effects::{AwsEffects, StepEffects, at_expression, schedule_name};
pub use executor::{Attempt, StepOutcome, execute_step_message};
pub use run::{Enrollment, RunStatus, StepMessage, StepRecord, WorkflowRun};
pub use steps::{MAX_STEPS, MAX_WAIT_MINUTES, Recipient, Step, WorkflowStep};
pub use store::{run_pk, workflow_pk};
pub use waits::Weekday;

use crate::access::{Action, Policy, Subject};
use crate::store::Table;
use crate::store::cursor::Page;
use crate::{Caller, CrmError, FieldError};
use checks::TenantFacts;
use enroll::{EnrollRequest, Enrolled};
use serde::Deserialize;
use uuid::Uuid;

/// `POST /workflows`.
pub async fn create(
    table: &Table,
    caller: &Caller,
    input: NewWorkflow,
) -> Result<Workflow, CrmError> {
    Policy::check(caller, Action::Write, Subject::Workflows)?;
    let facts = TenantFacts::load(table, caller).await?;
    let workflow = Workflow::new(input, &caller.user_id, &facts).map_err(CrmError::Validation)?;
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

/// `GET /workflows`: the tenant's workflows, oldest first.
pub async fn list(table: &Table, caller: &Caller) -> Result<Vec<Workflow>, CrmError> {
    Policy::check(caller, Action::Read, Subject::Workflows)?;
    store::list_workflows(table, &caller.tenant_id).await
}

/// `PATCH /workflows/{id}`: name, status, trigger, goal, policy; new steps or a new goal make
/// a new revision.
pub async fn patch(
    table: &Table,
    caller: &Caller,
    id: Uuid,
    input: WorkflowPatch,
    if_match: Option<u64>,
) -> Result<Workflow, CrmError> {
    let current = get(table, caller, id).await?;
    Policy::check(caller, Action::Write, Subject::Workflows)?;
    if if_match.is_some_and(|v| v != current.version) {
        return Err(CrmError::PreconditionFailed);
    }
    let facts = TenantFacts::load(table, caller).await?;
    let (next, new_revision) = current
        .patched(input, &facts)
        .map_err(CrmError::Validation)?;
    if !store::replace_workflow(
        table,
        &caller.tenant_id,
        &next,
        current.version,
        new_revision,
    )
    .await?
    {
        return Err(CrmError::PreconditionFailed);
    }
    Ok(next)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    pub contact_id: Uuid,
}

fn not_enrolling(workflow: &Workflow) -> CrmError {
    let message = format!(
        "the workflow is {}: only an active workflow enrolls",
        serde_json::to_value(workflow.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    );
    CrmError::Conflict {
        detail: message.clone(),
        errors: vec![FieldError::new("status", "active", message)],
    }
}

/// The workflow a caller enrolls contacts into: 404 when they may not see runs, 403 when
/// they may not start them.
pub(crate) async fn enrolling_into(
    table: &Table,
    caller: &Caller,
    workflow_id: Uuid,
) -> Result<Workflow, CrmError> {
    Policy::check(caller, Action::Read, Subject::WorkflowRuns)?;
    let workflow = store::get_workflow(table, &caller.tenant_id, workflow_id)
        .await?
        .ok_or(CrmError::NotFound)?;
    Policy::check(caller, Action::Write, Subject::WorkflowRuns)?;
    Ok(workflow)
}

/// `POST /workflows/{id}/runs`: manual enrollment of one contact the caller may see (S7.1).
pub async fn start_run(
    table: &Table,
    effects: &impl StepEffects,
    caller: &Caller,
    workflow_id: Uuid,
    input: StartRun,
) -> Result<WorkflowRun, CrmError> {
    let workflow = enrolling_into(table, caller, workflow_id).await?;
    let contacts = crate::catalog::Catalog::new(table.clone()).contacts();
    if contacts.find(caller, input.contact_id).await?.is_none() {
        return Err(CrmError::validation(
            "contact_id",
            "exists",
            "no such contact",
        ));
    }
    if !workflow.enrolls() {
        return Err(not_enrolling(&workflow));
    }
    let request = EnrollRequest {
        contact_id: input.contact_id,
        deal_id: None,
        enrollment: Enrollment {
            by: "manual".into(),
            actor: caller.user_id.clone(),
        },
        run_id: crate::values::new_id(),
    };
    match enroll::enroll(table, effects, &caller.tenant_id, &workflow, request).await? {
        Enrolled::Started(run) => Ok(*run),
        Enrolled::AlreadyEnrolled | Enrolled::Duplicate => {
            let detail = if workflow.allow_reenrollment {
                "the contact has a run of this workflow in flight"
            } else {
                "the contact is already enrolled in this workflow"
            };
            Err(CrmError::Conflict {
                detail: detail.into(),
                errors: vec![FieldError::new("contact_id", "not_enrolled", detail)],
            })
        }
    }
}

/// `GET /workflow-runs/{id}`.
pub async fn get_run(table: &Table, caller: &Caller, id: Uuid) -> Result<WorkflowRun, CrmError> {
    Policy::check(caller, Action::Read, Subject::WorkflowRuns)?;
    store::get_run(table, &caller.tenant_id, id)
        .await?
        .ok_or(CrmError::NotFound)
}

/// `GET /workflows/{id}/runs?status=`: a page of the workflow's runs by status, then id.
pub async fn runs_of_workflow(
    table: &Table,
    caller: &Caller,
    workflow_id: Uuid,
    status: Option<RunStatus>,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Page<WorkflowRun>, CrmError> {
    get(table, caller, workflow_id).await?;
    Policy::check(caller, Action::Read, Subject::WorkflowRuns)?;
    let scope = format!("runs:{workflow_id}:{status:?}");
    let after = match cursor {
        Some(c) => {
            let item = crate::store::cursor::decode_cursor(&caller.tenant_id, &scope, c)?;
            crate::store::item::text(&item, "after").map(str::to_string)
        }
        None => None,
    };
    let (items, next) = store::runs_of_workflow(
        table,
        &caller.tenant_id,
        workflow_id,
        status,
        after.as_deref(),
        limit,
    )
    .await?;
    let next_cursor = next.map(|after| {
        let item = std::collections::HashMap::from([("after".to_string(), crate::store::s(after))]);
        crate::store::cursor::encode_cursor(&caller.tenant_id, &scope, &item)
    });
    Ok(Page { items, next_cursor })
}

/// `GET /contacts/{id}/runs`: the runs of a contact the caller may see, oldest first.
pub async fn runs_of_contact(
    table: &Table,
    caller: &Caller,
    contact_id: Uuid,
) -> Result<Vec<WorkflowRun>, CrmError> {
    Policy::check(caller, Action::Read, Subject::WorkflowRuns)?;
    let contacts = crate::catalog::Catalog::new(table.clone()).contacts();
    contacts.get(caller, contact_id).await?;
    store::runs_of_contact(table, &caller.tenant_id, contact_id).await
}

/// What to do to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Cancel,
}

/// Pauses, resumes or cancels one run (S7.5). A paused run executes nothing until resumed; a
/// resumed run goes on at the step it stopped at (a wait keeps its wake-up time).
pub async fn control_run(
    table: &Table,
    effects: &impl StepEffects,
    caller: &Caller,
    run_id: Uuid,
    control: Control,
) -> Result<WorkflowRun, CrmError> {
    let run = get_run(table, caller, run_id).await?;
    Policy::check(caller, Action::Write, Subject::WorkflowRuns)?;
    match apply_control(
        table,
        effects,
        &caller.tenant_id,
        run,
        control,
        &caller.user_id,
    )
    .await?
    {
        Ok(run) => Ok(run),
        Err(message) => Err(CrmError::Conflict {
            detail: message.clone(),
            errors: vec![FieldError::new("status", "transition", message)],
        }),
    }
}

/// Applies a control to a run: the run after it, or why it does not apply.
pub async fn apply_control(
    table: &Table,
    effects: &impl StepEffects,
    tenant: &str,
    mut run: WorkflowRun,
    control: Control,
    actor: &str,
) -> Result<Result<WorkflowRun, String>, CrmError> {
    for _ in 0..5 {
        let now = crate::values::now();
        let expected = run.version;
        if run.status.is_terminal() {
            return Ok(Err(format!("the run is {}", run.status.as_str())));
        }
        let mut resumed = false;
        match control {
            Control::Pause if run.status == RunStatus::Paused => return Ok(Ok(run)),
            Control::Pause => run.status = RunStatus::Paused,
            Control::Resume if run.status != RunStatus::Paused => return Ok(Ok(run)),
            Control::Resume => {
                let waiting = run.due_at.is_some_and(|d| d > now);
                run.status = if waiting {
                    RunStatus::Waiting
                } else {
                    RunStatus::Active
                };
                if !waiting {
                    run.due_at = Some(now);
                }
                resumed = true;
            }
            Control::Cancel => {
                run.status = RunStatus::Cancelled;
                run.exit_reason = Some("cancelled".into());
                run.finished_at = Some(now);
                run.next_step = None;
            }
        }
        let step = run.next_step.clone().unwrap_or_default();
        run.history.push(StepRecord {
            step_id: step,
            kind: "control".into(),
            at: now,
            result: run.status.as_str().into(),
            detail: Some(format!("by {actor}")),
            error: None,
        });
        run.version = expected + 1;
        run.updated_at = now;
        if store::replace_run(table, tenant, &run, expected).await? {
            if resumed {
                let message = run.message(tenant);
                match run.due_at {
                    // The wait's schedule may have fired while the run was paused: schedule
                    // again (the same name: one schedule, one message).
                    Some(at) if at > now => {
                        effects.schedule_step(&message, at).await?;
                    }
                    _ => effects.enqueue_step(&message).await?,
                }
            }
            return Ok(Ok(run));
        }
        run = store::get_run(table, tenant, run.id)
            .await?
            .ok_or(CrmError::NotFound)?;
    }
    Err(CrmError::Internal("the run kept changing".into()))
}
