//! Deleting a stage (S4.1): its deals move to the stage the request names, each in its own
//! transaction with one stage history entry and its audit entry, then the stage goes.
//!
//! The stage is first marked (`moving_to`), so no deal enters it meanwhile. The request moves
//! at most [`MOVE_BUDGET`] deals; when more remain, a job on the job queue moves the rest
//! ([`run_stage_removal`], a batch per message, continuing itself) and the answer names the job
//! to poll. Deals are found by what is still in the stage and each counts in the job within its
//! own move's transaction, so a retried request or a redelivered message never moves a deal
//! twice, leaves none half-moved and keeps the job's count exact.

use super::{DealPatch, Deals, Pipeline, Pipelines, StageKind};
use crate::access::{Action, Policy, Subject};
use crate::jobs::{Job, JobMessage, JobStatus, JobWork, Jobs, stage_removal_id};
use crate::records::RecordQuery;
use crate::values::Patch;
use crate::{Caller, CrmError, FieldError};
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Most deals one request moves; the rest move in a job.
pub const MOVE_BUDGET: usize = 500;
/// Most deals one job message moves before it hands on to the next message.
pub const MOVES_PER_MESSAGE: usize = 1000;
const PAGE: i32 = 100;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StageRemoval {
    /// Deals this request moved.
    pub moved: usize,
    /// `true`: the stage still holds deals, which `job` moves; poll it.
    pub continues: bool,
    /// The job moving the rest, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<Job>,
    /// The pipeline as it stands now (without the stage once it is empty).
    pub pipeline: Pipeline,
}

/// What a stage removal works with.
pub struct StageRemovals<'a> {
    pub deals: &'a Deals,
    pub pipelines: &'a Pipelines,
    pub jobs: &'a Jobs,
}

/// `DELETE /pipelines/{id}/stages/{stage_id}?move_to={stage}` (owners and admins).
pub async fn delete_stage(
    with: &StageRemovals<'_>,
    caller: &Caller,
    pipeline_id: Uuid,
    stage_id: Uuid,
    move_to: Uuid,
) -> Result<StageRemoval, CrmError> {
    Policy::check(caller, Action::Write, Subject::Pipelines)?;
    let mut pipeline = with.pipelines.get(caller, pipeline_id).await?;
    let Some(stage) = pipeline.stage(stage_id).cloned() else {
        return Err(CrmError::NotFound);
    };
    let target = pipeline
        .stage(move_to)
        .filter(|t| t.id != stage_id)
        .cloned();
    let Some(target) = target else {
        return Err(CrmError::validation(
            "move_to",
            "exists",
            "another stage of this pipeline",
        ));
    };
    let opens = pipeline
        .stages
        .iter()
        .filter(|s| s.kind == StageKind::Open)
        .count();
    if stage.kind != StageKind::Open || opens < 2 {
        return Err(CrmError::Validation(vec![FieldError::new(
            "stage_id",
            "won_and_lost",
            "a pipeline keeps its won and lost stage and at least one open stage",
        )]));
    }
    let job_id = stage_removal_id(&caller.tenant_id, stage_id);
    match stage.moving_to {
        Some(t) if t != target.id => {
            return Err(CrmError::Conflict {
                detail: format!("the stage is already being deleted into stage {t}"),
                errors: vec![FieldError::new(
                    "move_to",
                    "in_progress",
                    "the same target as before",
                )],
            });
        }
        Some(_) => {
            // Asked again while its job runs: the job answers.
            if let Some(job) = with.jobs.get(&caller.tenant_id, job_id).await? {
                return Ok(StageRemoval {
                    moved: 0,
                    continues: job.status == JobStatus::Queued,
                    job: Some(job),
                    pipeline,
                });
            }
        }
        None => {
            let mut marked = pipeline.clone();
            for s in &mut marked.stages {
                if s.id == stage_id {
                    s.moving_to = Some(target.id);
                }
            }
            pipeline = with.pipelines.replace(caller, &pipeline, marked).await?;
        }
    }
    let (moved, more) =
        move_deals(with.deals, caller, stage_id, target.id, MOVE_BUDGET, None).await?;
    if more {
        let work = JobWork::StageRemoval {
            pipeline_id,
            stage_id,
            move_to: target.id,
        };
        let job = with.jobs.start(caller, job_id, work, moved as u64).await?;
        return Ok(StageRemoval {
            moved,
            continues: true,
            job: Some(job),
            pipeline,
        });
    }
    let pipeline = remove_empty_stage(with.pipelines, caller, &pipeline, stage_id).await?;
    Ok(StageRemoval {
        moved,
        continues: false,
        job: None,
        pipeline,
    })
}

/// One message of stage removal job `job` (queued; the job worker reads it): moves at most
/// `budget` deals, then either sends the message on (more remain) or removes the stage and
/// completes the job.
pub async fn run_stage_removal(
    with: &StageRemovals<'_>,
    message: &JobMessage,
    job: &Job,
    budget: usize,
) -> Result<(), CrmError> {
    let tenant = &message.tenant_id;
    let JobWork::StageRemoval {
        pipeline_id,
        stage_id,
        move_to,
    } = job.work.clone()
    else {
        return Ok(());
    };
    let fail = |reason: &str| {
        with.jobs.finish(
            tenant,
            job.id,
            JobStatus::Failed,
            Some(reason.to_string()),
            None,
        )
    };
    // The requester's rights as they are now (a role lowered or a membership ended since the
    // request applies), as for every request.
    let asked_by = Jobs::caller_of(tenant, job)?;
    let caller = match with.deals.ctx.directory.effective_caller(asked_by).await {
        Ok(caller) => caller,
        Err(CrmError::Forbidden(_)) => {
            return fail("the requester's membership was deactivated").await;
        }
        Err(e) => return Err(e),
    };
    if Policy::check(&caller, Action::Write, Subject::Pipelines).is_err() {
        return fail("the requester may no longer change pipelines").await;
    }
    let pipeline = match with.pipelines.get(&caller, pipeline_id).await {
        Ok(p) => p,
        Err(CrmError::NotFound) => return fail("the pipeline was deleted").await,
        Err(e) => return Err(e),
    };
    if pipeline.stage(stage_id).is_some() {
        let (_, more) =
            move_deals(with.deals, &caller, stage_id, move_to, budget, Some(job.id)).await?;
        if more {
            return with.jobs.continue_later(message).await;
        }
        remove_empty_stage(with.pipelines, &caller, &pipeline, stage_id).await?;
    }
    with.jobs
        .finish(tenant, job.id, JobStatus::Completed, None, None)
        .await
}

/// Moves up to `budget` deals of `stage_id` to `to` (each counted in `job` when given, in its
/// own transaction); returns how many moved and whether deals remain.
async fn move_deals(
    deals: &Deals,
    caller: &Caller,
    stage_id: Uuid,
    to: Uuid,
    budget: usize,
    job: Option<Uuid>,
) -> Result<(usize, bool), CrmError> {
    let params = BTreeMap::from([("stage".to_string(), stage_id.to_string())]);
    let query = RecordQuery::parse(deals.schema(), &params)?;
    let mut moved = 0;
    loop {
        // Always from the start: what was moved has left the stage.
        let page = deals.list(caller, &query, PAGE, None).await?;
        if page.items.is_empty() {
            return Ok((moved, false));
        }
        if moved >= budget {
            return Ok((moved, true));
        }
        for deal in page.items.iter().take(budget - moved) {
            let patch = DealPatch {
                stage_id: Patch::Set(to),
                ..DealPatch::default()
            };
            let also = job
                .map(|j| vec![Jobs::count_one(&caller.tenant_id, j)])
                .unwrap_or_default();
            match deals
                .patch_also(caller, deal.id, patch, None, None, also)
                .await
            {
                Ok(_) => moved += 1,
                // Changed meanwhile (by a person, or a duplicate of this job's message): the
                // next page shows whether it is still in the stage.
                Err(CrmError::PreconditionFailed | CrmError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

async fn remove_empty_stage(
    pipelines: &Pipelines,
    caller: &Caller,
    pipeline: &Pipeline,
    stage_id: Uuid,
) -> Result<Pipeline, CrmError> {
    let mut without = pipeline.clone();
    without.stages.retain(|s| s.id != stage_id);
    pipelines.replace(caller, pipeline, without).await
}
