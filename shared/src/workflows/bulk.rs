//! Bulk work on a workflow, asynchronous on the job queue (SQS → `job-worker`): enrolling the
//! contacts of a list filter (S7.1) and pausing, resuming or cancelling all its runs (S7.5).
//!
//! The request checks what it can (the workflow, the caller's rights, the filter) and answers
//! `202` with the job; the job works page by page. Each page's items (contact or run ids) are
//! fixed in the job's checkpoint before any is touched, and the page's outcomes are counted in
//! the same conditional write that moves the checkpoint on, so a redelivered message works on
//! the same items, changes nothing twice and counts each page once:
//!
//! - an enrollment's run id is derived from the job and the contact, so a second delivery
//!   finds the run it started (`Duplicate`) instead of starting another, and the enrollment
//!   marker keeps every other path from enrolling the contact twice;
//! - a run control applies to a run in a status it changes and is a no-op after (a paused run
//!   is not paused again, a resumed one not resumed again).
//!
//! Enrollment reads the contacts the requester may see, as `GET /contacts` with the filter
//! would, from a list cursor kept in the checkpoint. A control reads the workflow's run index
//! by status from the start each time: the runs it changed have left those statuses.

use super::enroll::{self, EnrollRequest, Enrolled};
use super::{Control, Criteria, Enrollment, RunStatus, StepEffects, Workflow, store};
use crate::access::{Action, Policy, Subject};
use crate::catalog::Catalog;
use crate::contacts::ContactKind;
use crate::custom_fields::definition::Entity;
use crate::jobs::{Checkpoint, Job, JobMessage, JobStatus, JobWork, Jobs, RunsAction};
use crate::records::{Kind, RecordQuery};
use crate::{Caller, CrmError, FieldError};
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Contacts or runs fixed per page.
pub const PAGE: usize = 100;
/// Contacts or runs one job message works on before it hands on to the next message.
pub const ITEMS_PER_MESSAGE: usize = 1000;
/// Contacts enrolled or runs changed at once.
const CONCURRENCY: usize = 16;

/// Body of `POST /workflows/{id}/enrollments`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkEnrollment {
    /// The contacts to enroll: filter parameters of `GET /contacts` as strings (`status`,
    /// `lead_source`, `tag`, `client`, `owner`, `team`, `cf.{key}` and `cf.{key}[op]`); all
    /// must hold. Without: every contact the caller may see.
    #[serde(default)]
    pub filter: Criteria,
}

impl From<Control> for RunsAction {
    fn from(control: Control) -> Self {
        match control {
            Control::Pause => Self::Pause,
            Control::Resume => Self::Resume,
            Control::Cancel => Self::Cancel,
        }
    }
}

impl From<RunsAction> for Control {
    fn from(action: RunsAction) -> Self {
        match action {
            RunsAction::Pause => Self::Pause,
            RunsAction::Resume => Self::Resume,
            RunsAction::Cancel => Self::Cancel,
        }
    }
}

/// The statuses of the runs an action applies to.
pub fn statuses_for(control: Control) -> &'static [RunStatus] {
    match control {
        Control::Pause => &[RunStatus::Active, RunStatus::Waiting],
        Control::Resume => &[RunStatus::Paused],
        Control::Cancel => &[RunStatus::Active, RunStatus::Waiting, RunStatus::Paused],
    }
}

/// The outcome a run counts under when the action has reached it.
fn outcome_of(control: Control) -> &'static str {
    match control {
        Control::Pause => "paused",
        Control::Resume => "resumed",
        Control::Cancel => "cancelled",
    }
}

/// Whether a run in `status` is where the action takes it.
fn reached(control: Control, status: RunStatus) -> bool {
    match control {
        Control::Pause => status == RunStatus::Paused,
        Control::Resume => matches!(status, RunStatus::Active | RunStatus::Waiting),
        Control::Cancel => status == RunStatus::Cancelled,
    }
}

/// The filter checked as the caller: the condition language of workflows, with the custom
/// fields the caller may see. Errors name the parameter (`filter.{parameter}`).
async fn check_filter(
    table: &crate::store::Table,
    caller: &Caller,
    filter: &Criteria,
) -> Result<(), CrmError> {
    let defs: Vec<_> = crate::custom_fields::store::FieldStore::new(table.clone())
        .definitions(&caller.tenant_id, Entity::CONTACT)
        .await?
        .into_iter()
        .filter(|d| !d.archived && d.visible_to(caller))
        .collect();
    filter.compile(&defs).map(|_| ()).map_err(|errors| {
        CrmError::Validation(
            errors
                .into_iter()
                .map(|e| FieldError {
                    field: format!("filter.{}", e.field),
                    ..e
                })
                .collect(),
        )
    })
}

/// `POST /workflows/{id}/enrollments`: checks the workflow (active), the caller's rights and
/// the filter, then queues the job enrolling the matching contacts the caller may see.
pub async fn start_enrollment(
    table: &crate::store::Table,
    jobs: &Jobs,
    caller: &Caller,
    workflow_id: Uuid,
    input: BulkEnrollment,
) -> Result<Job, CrmError> {
    let workflow = super::enrolling_into(table, caller, workflow_id).await?;
    check_filter(table, caller, &input.filter).await?;
    if !workflow.enrolls() {
        return Err(super::not_enrolling(&workflow));
    }
    let work = JobWork::WorkflowEnrollment {
        workflow_id,
        filter: input.filter.0,
    };
    jobs.start(caller, crate::values::new_id(), work, 0).await
}

/// `POST /workflows/{id}/runs/pause` (`resume`, `cancel`): queues the job that applies the
/// action to every run of the workflow in a status it changes. Managing a workflow's runs
/// as a whole is managing the workflow: owners, admins and managers.
pub async fn start_control(
    table: &crate::store::Table,
    jobs: &Jobs,
    caller: &Caller,
    workflow_id: Uuid,
    control: Control,
) -> Result<Job, CrmError> {
    Policy::check(caller, Action::Read, Subject::Workflows)?;
    store::get_workflow(table, &caller.tenant_id, workflow_id)
        .await?
        .ok_or(CrmError::NotFound)?;
    Policy::check(caller, Action::Write, Subject::Workflows)?;
    let work = JobWork::WorkflowRunsControl {
        workflow_id,
        action: control.into(),
    };
    jobs.start(caller, crate::values::new_id(), work, 0).await
}

/// What a bulk job works with.
pub struct BulkWork<'a, E: StepEffects> {
    pub catalog: &'a Catalog,
    pub jobs: &'a Jobs,
    pub effects: &'a E,
    /// Contacts or runs fixed per page ([`PAGE`]).
    pub page: usize,
    /// Items one message works on before handing on ([`ITEMS_PER_MESSAGE`]).
    pub budget: usize,
}

/// The work of one job, as the job reads it.
enum Work {
    Enroll(RecordQuery),
    Control(Control),
}

/// One message of a bulk workflow job (queued; the job worker reads it): works through pages
/// until the budget is spent (then sends the message on) or the work is done (then completes
/// the job).
pub async fn run_bulk<E: StepEffects>(
    with: &BulkWork<'_, E>,
    message: &JobMessage,
    job: &Job,
) -> Result<(), CrmError> {
    let tenant = &message.tenant_id;
    let fail = |reason: String| {
        with.jobs
            .finish(tenant, job.id, JobStatus::Failed, Some(reason), None)
    };
    let (workflow_id, work) = match &job.work {
        JobWork::WorkflowEnrollment {
            workflow_id,
            filter,
        } => match RecordQuery::parse(ContactKind::schema(), filter) {
            Ok(filter) => (*workflow_id, Work::Enroll(filter)),
            Err(e) => return fail(format!("the filter no longer holds: {e}")).await,
        },
        JobWork::WorkflowRunsControl {
            workflow_id,
            action,
        } => (*workflow_id, Work::Control((*action).into())),
        _ => return Ok(()),
    };
    // The requester's rights as they are now, as for every request.
    let asked_by = Jobs::caller_of(tenant, job)?;
    let caller = match with.catalog.ctx.directory.effective_caller(asked_by).await {
        Ok(caller) => caller,
        Err(CrmError::Forbidden(reason)) => return fail(reason).await,
        Err(e) => return Err(e),
    };
    let (read, write) = match work {
        Work::Enroll(_) => (Subject::WorkflowRuns, Subject::WorkflowRuns),
        Work::Control(_) => (Subject::Workflows, Subject::Workflows),
    };
    if Policy::check(&caller, Action::Read, read).is_err()
        || Policy::check(&caller, Action::Write, write).is_err()
    {
        return fail("the requester may no longer do this".into()).await;
    }
    let table = with.catalog.table();
    let Some(workflow) = store::get_workflow(table, tenant, workflow_id).await? else {
        return fail("the workflow is gone".into()).await;
    };
    if matches!(work, Work::Enroll(_)) && !workflow.enrolls() {
        let reason = match super::not_enrolling(&workflow) {
            CrmError::Conflict { detail, .. } => detail,
            other => other.to_string(),
        };
        return fail(reason).await;
    }
    let mut worked = 0;
    let mut current = with.jobs.checkpoint(tenant, job.id).await?;
    loop {
        let at = current.clone().unwrap_or_default();
        let (fixed, page) = match at.page.clone() {
            Some(page) => (at, page),
            None => {
                if at.last {
                    break;
                }
                if worked >= with.budget {
                    return with.jobs.continue_later(message).await;
                }
                let (page, after, last) = match &work {
                    Work::Enroll(filter) => {
                        let found = with
                            .catalog
                            .contacts()
                            .list(&caller, filter, with.page as i32, at.after.as_deref())
                            .await?;
                        let ids: Vec<Uuid> = found.items.iter().map(|c| c.id).collect();
                        let last = found.next_cursor.is_none();
                        (ids, found.next_cursor, last)
                    }
                    Work::Control(control) => {
                        let ids = runs_in(table, tenant, workflow_id, *control, with.page).await?;
                        let last = ids.is_empty();
                        (ids, None, last)
                    }
                };
                let next = Checkpoint {
                    rev: at.rev + 1,
                    after,
                    page: (!page.is_empty()).then_some(page),
                    last,
                };
                let saved = with
                    .jobs
                    .save_checkpoint(tenant, job.id, current.as_ref(), &next, &BTreeMap::new())
                    .await?;
                if !saved {
                    // Another delivery moved on first: go on from where it stands.
                    current = with.jobs.checkpoint(tenant, job.id).await?;
                    continue;
                }
                current = Some(next.clone());
                match next.page.clone() {
                    Some(page) => (next, page),
                    None => continue,
                }
            }
        };
        let counts = match &work {
            Work::Enroll(_) => enroll_page(with, tenant, job, &caller, &workflow, &page).await?,
            Work::Control(control) => {
                control_page(with, tenant, &caller, workflow_id, *control, &page).await?
            }
        };
        let next = Checkpoint {
            rev: fixed.rev + 1,
            page: None,
            ..fixed.clone()
        };
        if !with
            .jobs
            .save_checkpoint(tenant, job.id, Some(&fixed), &next, &counts)
            .await?
        {
            // A duplicate delivery counted this page and goes on from there.
            return Ok(());
        }
        worked += page.len();
        current = Some(next);
    }
    with.jobs
        .finish(tenant, job.id, JobStatus::Completed, None, None)
        .await
}

/// Up to a page of the workflow's runs in the statuses the action changes.
async fn runs_in(
    table: &crate::store::Table,
    tenant: &str,
    workflow_id: Uuid,
    control: Control,
    page: usize,
) -> Result<Vec<Uuid>, CrmError> {
    let mut ids = Vec::new();
    for status in statuses_for(control) {
        if ids.len() >= page {
            break;
        }
        let (runs, _) = store::runs_of_workflow(
            table,
            tenant,
            workflow_id,
            Some(*status),
            None,
            page - ids.len(),
        )
        .await?;
        ids.extend(runs.into_iter().map(|r| r.id));
    }
    Ok(ids)
}

/// The id of the run a bulk enrollment job starts for a contact: the same on every delivery.
pub fn run_id(job: &Job, contact_id: Uuid) -> Uuid {
    crate::values::derived_id(
        job.created_at,
        &[b"bulk-enrollment", job.id.as_bytes(), contact_id.as_bytes()],
    )
}

async fn enroll_page<E: StepEffects>(
    with: &BulkWork<'_, E>,
    tenant: &str,
    job: &Job,
    caller: &Caller,
    workflow: &Workflow,
    page: &[Uuid],
) -> Result<BTreeMap<String, u64>, CrmError> {
    let table = with.catalog.table();
    let outcomes: Vec<&'static str> = futures::stream::iter(page.iter().copied())
        .map(|contact_id| async move {
            let request = EnrollRequest {
                contact_id,
                deal_id: None,
                enrollment: Enrollment {
                    by: "bulk".into(),
                    actor: caller.user_id.clone(),
                },
                run_id: run_id(job, contact_id),
            };
            Ok::<_, CrmError>(
                match enroll::enroll(table, with.effects, tenant, workflow, request).await? {
                    // Started by this job, now or on an earlier delivery.
                    Enrolled::Started(_) | Enrolled::Duplicate => "enrolled",
                    Enrolled::AlreadyEnrolled => "already_enrolled",
                },
            )
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok(tally(outcomes))
}

async fn control_page<E: StepEffects>(
    with: &BulkWork<'_, E>,
    tenant: &str,
    caller: &Caller,
    workflow_id: Uuid,
    control: Control,
    page: &[Uuid],
) -> Result<BTreeMap<String, u64>, CrmError> {
    let table = with.catalog.table();
    let outcomes: Vec<&'static str> = futures::stream::iter(page.iter().copied())
        .map(|run_id| async move {
            let Some(run) = store::get_run(table, tenant, run_id)
                .await?
                .filter(|r| r.workflow_id == workflow_id)
            else {
                return Ok::<_, CrmError>("skipped");
            };
            let before = run.status;
            let after = match super::apply_control(
                table,
                with.effects,
                tenant,
                run,
                control,
                &caller.user_id,
            )
            .await?
            {
                Ok(run) => run.status,
                // Ended: cancelled (by this job on an earlier delivery, or by someone) or not.
                Err(_) => before,
            };
            Ok(if reached(control, after) {
                outcome_of(control)
            } else {
                "skipped"
            })
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok(tally(outcomes))
}

fn tally(outcomes: Vec<&'static str>) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for outcome in outcomes {
        *counts.entry(outcome.to_string()).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s7_5_each_action_takes_runs_of_its_statuses_where_it_counts_them() {
        for control in [Control::Pause, Control::Resume, Control::Cancel] {
            for status in statuses_for(control) {
                assert!(!reached(control, *status), "{control:?} {status:?}");
            }
            assert_eq!(Control::from(RunsAction::from(control)), control);
        }
        assert!(reached(Control::Resume, RunStatus::Waiting));
        assert!(!reached(Control::Cancel, RunStatus::Completed));
    }

    #[test]
    fn s7_1_tally_counts_by_outcome() {
        let counts = tally(vec!["enrolled", "already_enrolled", "enrolled"]);
        assert_eq!(counts["enrolled"], 2);
        assert_eq!(counts["already_enrolled"], 1);
    }
}
