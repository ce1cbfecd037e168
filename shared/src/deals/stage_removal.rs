//! Deleting a stage (S4.1): its deals move to the stage the request names, each in its own
//! transaction with one stage history entry and its audit entry, then the stage goes.
//!
//! The stage is first marked (`moving_to`), so no deal enters it meanwhile. A request moves at
//! most [`MOVE_BUDGET`] deals; when more remain it answers that the removal continues, and the
//! same request again carries on. Deals are found by what is still in the stage, so a retried
//! or repeated request never moves a deal twice and leaves none half-moved.

use super::{DealPatch, Deals, Pipeline, Pipelines, StageKind};
use crate::access::{Action, Policy, Subject};
use crate::records::RecordQuery;
use crate::values::Patch;
use crate::{Caller, CrmError, FieldError};
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Most deals one request moves.
pub const MOVE_BUDGET: usize = 500;
const PAGE: i32 = 100;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StageRemoval {
    /// Deals this request moved.
    pub moved: usize,
    /// `true`: the stage still holds deals; send the same request again to go on.
    pub continues: bool,
    /// The pipeline as it stands now (without the stage once it is empty).
    pub pipeline: Pipeline,
}

/// `DELETE /pipelines/{id}/stages/{stage_id}?move_to={stage}` (owners and admins).
pub async fn delete_stage(
    deals: &Deals,
    pipelines: &Pipelines,
    caller: &Caller,
    pipeline_id: Uuid,
    stage_id: Uuid,
    move_to: Uuid,
) -> Result<StageRemoval, CrmError> {
    Policy::check(caller, Action::Write, Subject::Pipelines)?;
    let mut pipeline = pipelines.get(caller, pipeline_id).await?;
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
        Some(_) => {}
        None => {
            let mut marked = pipeline.clone();
            for s in &mut marked.stages {
                if s.id == stage_id {
                    s.moving_to = Some(target.id);
                }
            }
            pipeline = pipelines.replace(caller, &pipeline, marked).await?;
        }
    }
    let params = BTreeMap::from([("stage".to_string(), stage_id.to_string())]);
    let query = RecordQuery::parse(deals.schema(), &params)?;
    let mut moved = 0;
    loop {
        // Always from the start: what was moved has left the stage.
        let page = deals.list(caller, &query, PAGE, None).await?;
        if page.items.is_empty() {
            break;
        }
        if moved >= MOVE_BUDGET {
            return Ok(StageRemoval {
                moved,
                continues: true,
                pipeline,
            });
        }
        for deal in page.items.iter().take(MOVE_BUDGET - moved) {
            let patch = DealPatch {
                stage_id: Patch::Set(target.id),
                ..DealPatch::default()
            };
            deals.patch(caller, deal.id, patch, None, None).await?;
            moved += 1;
        }
    }
    let mut without = pipeline.clone();
    without.stages.retain(|s| s.id != stage_id);
    let pipeline = pipelines.replace(caller, &pipeline, without).await?;
    Ok(StageRemoval {
        moved,
        continues: false,
        pipeline,
    })
}
