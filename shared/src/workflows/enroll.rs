//! Enrollment (S7.1): one path for every way in — manual, bulk, and the triggers the contact
//! observer fires. A run and its enrollment marker are written together; the first step goes
//! on the step queue (and should that send be lost, the run is due now: the sweep sends it).

use super::run::Enrollment;
use super::store::{self, NotEnrolled};
use super::{RunStatus, StepEffects, Workflow, WorkflowRun};
use crate::CrmError;
use crate::store::Table;
use uuid::Uuid;

/// Who or what enrolls, and the id the run gets.
#[derive(Debug, Clone)]
pub struct EnrollRequest {
    pub contact_id: Uuid,
    pub deal_id: Option<Uuid>,
    pub enrollment: Enrollment,
    /// The run's id. Derived from the triggering event for system enrollments, so a
    /// redelivered event finds its run already there.
    pub run_id: Uuid,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Enrolled {
    Started(Box<WorkflowRun>),
    /// Not enrolled: already in the workflow (or was, without re-enrollment).
    AlreadyEnrolled,
    /// This run was started before (a repeated event).
    Duplicate,
}

/// A new run on the workflow's current revision, at its first step.
pub fn new_run(workflow: &Workflow, request: &EnrollRequest) -> WorkflowRun {
    let now = crate::values::now();
    WorkflowRun {
        id: request.run_id,
        workflow_id: workflow.id,
        revision: workflow.revision,
        contact_id: request.contact_id,
        deal_id: request.deal_id,
        status: RunStatus::Active,
        next_step: workflow.steps.first().map(|s| s.id.clone()),
        seq: 0,
        done_steps: Vec::new(),
        due_at: Some(now),
        history: Vec::new(),
        enrollment: request.enrollment.clone(),
        exit_reason: None,
        last_error: None,
        started_at: now,
        updated_at: now,
        finished_at: None,
        version: 1,
    }
}

/// Enrolls the contact unless the workflow's policy forbids it.
pub async fn enroll(
    table: &Table,
    effects: &impl StepEffects,
    tenant: &str,
    workflow: &Workflow,
    request: EnrollRequest,
) -> Result<Enrolled, CrmError> {
    let run = new_run(workflow, &request);
    match store::insert_run(table, tenant, &run, workflow.allow_reenrollment).await? {
        Err(NotEnrolled::AlreadyEnrolled) => return Ok(Enrolled::AlreadyEnrolled),
        Err(NotEnrolled::Duplicate) => return Ok(Enrolled::Duplicate),
        Ok(()) => {}
    }
    if let Err(error) = effects.enqueue_step(&run.message(tenant)).await {
        // The run is due now: the sweep dispatches it within its period.
        tracing::error!(error = %crate::telemetry::Redacted(&error), run = %run.id, "the first step message was not sent; the sweep will");
    }
    Ok(Enrolled::Started(Box::new(run)))
}
