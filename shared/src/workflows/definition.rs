//! A workflow's definition (S7.1): name, status, enrollment trigger, exit goal, re-enrollment
//! policy and steps, with revisions. `version` is the record's (it drives the ETag and
//! If-Match); `revision` counts the edits of what runs execute (steps and goal): runs in flight
//! finish on the revision they started on, or move to the newest at their next step when the
//! edit says so.

use super::criteria::Criteria;
use super::steps::{StepCatalog, WorkflowStep, prepare};
use crate::FieldError;
use crate::errors::FieldErrors;
use crate::values::Patch;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    /// Being built: nothing enrolls.
    Draft,
    /// Enrolls by its trigger; runs execute.
    #[default]
    Active,
    /// Nothing enrolls; runs stop at their next step (status `paused`) until resumed.
    Paused,
    /// Retired: nothing enrolls, runs in flight finish, the definition no longer changes.
    Archived,
}

/// How contacts enter the workflow.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// Only through `POST /workflows/{id}/runs` (one contact) or
    /// `POST /workflows/{id}/enrollments` (a list filter, asynchronous).
    #[default]
    Manual,
    /// A contact is created by any path (API, import, inbound email, web form), optionally
    /// only one meeting `criteria`.
    ContactCreated {
        #[serde(default, skip_serializing_if = "Criteria::is_empty")]
        criteria: Criteria,
    },
    /// A contact starts matching `criteria` (created matching, or changed to match).
    CriteriaMatched { criteria: Criteria },
    /// A deal enters the stage; the run is for the deal's first contact and carries the deal.
    DealStageEntered { pipeline_id: Uuid, stage_id: Uuid },
}

impl Trigger {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::ContactCreated { .. } => "contact_created",
            Self::CriteriaMatched { .. } => "criteria_matched",
            Self::DealStageEntered { .. } => "deal_stage_entered",
        }
    }
}

/// When a run exits early (checked before each step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Goal {
    /// The run's deal, or a deal of the contact, is won.
    DealWon,
    /// The contact replied: an inbound email from them after the run started.
    Replied,
    /// The contact meets `criteria`.
    CriteriaMatched { criteria: Criteria },
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkflow {
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: String,
    /// Default `active`; `draft` to build it without enrolling anyone.
    #[serde(default)]
    pub status: WorkflowStatus,
    #[serde(default)]
    pub trigger: Trigger,
    #[serde(default)]
    pub goal: Option<Goal>,
    /// Whether a contact may be enrolled again after its run ended (never while a run of this
    /// workflow is in flight). Default: no.
    #[serde(default)]
    pub allow_reenrollment: bool,
    #[schema(min_items = 1)]
    pub steps: Vec<WorkflowStep>,
}

/// `PATCH /workflows/{id}` (JSON merge patch; If-Match optional).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<WorkflowStatus>,
    #[serde(default)]
    pub trigger: Option<Trigger>,
    #[serde(default)]
    #[schema(value_type = Option<Goal>)]
    pub goal: Patch<Goal>,
    #[serde(default)]
    pub allow_reenrollment: Option<bool>,
    /// A new revision of the steps (give existing steps back with their ids).
    #[serde(default)]
    pub steps: Option<Vec<WorkflowStep>>,
    /// With new steps or goal: runs in flight move to the new revision at their next step
    /// (default: they finish on the revision they started on).
    #[serde(default)]
    pub move_runs: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Workflow {
    pub id: Uuid,
    pub name: String,
    pub status: WorkflowStatus,
    pub trigger: Trigger,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<Goal>,
    pub allow_reenrollment: bool,
    pub steps: Vec<WorkflowStep>,
    /// The revision of steps and goal that new runs start on.
    pub revision: u32,
    /// Whether runs on older revisions move to this one at their next step.
    #[serde(default)]
    pub move_runs: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

/// What one revision executes (kept so runs on it can finish).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    pub revision: u32,
    pub steps: Vec<WorkflowStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<Goal>,
    pub created_at: DateTime<Utc>,
}

fn check_definition(
    e: &mut FieldErrors,
    trigger: &Trigger,
    goal: Option<&Goal>,
    catalog: &dyn StepCatalog,
) {
    let criteria = |e: &mut FieldErrors, path: &str, c: &Criteria| {
        for error in catalog.check_criteria(c) {
            e.push(
                format!("{path}.{}", error.field).as_str(),
                error.rule.as_str(),
                error.message.clone(),
            );
        }
    };
    match trigger {
        Trigger::Manual => {}
        Trigger::ContactCreated { criteria: c } => criteria(e, "trigger.criteria", c),
        Trigger::CriteriaMatched { criteria: c } => {
            if c.is_empty() {
                e.push(
                    "trigger.criteria",
                    "required",
                    "give at least one criterion",
                );
            }
            criteria(e, "trigger.criteria", c)
        }
        Trigger::DealStageEntered {
            pipeline_id,
            stage_id,
        } => {
            if !catalog.stage(*pipeline_id, *stage_id) {
                e.push(
                    "trigger.stage_id",
                    "exists",
                    "no such stage in this pipeline",
                );
            }
        }
    }
    if let Some(Goal::CriteriaMatched { criteria: c }) = goal {
        if c.is_empty() {
            e.push("goal.criteria", "required", "give at least one criterion");
        }
        criteria(e, "goal.criteria", c)
    }
}

impl Workflow {
    pub fn new(
        mut input: NewWorkflow,
        actor: &str,
        catalog: &dyn StepCatalog,
    ) -> Result<Self, Vec<FieldError>> {
        let mut e = FieldErrors::new();
        let name = e.required_text("name", &input.name, 200);
        if input.steps.is_empty() {
            e.push("steps", "min_items", "a workflow needs at least one step");
        }
        if input.status == WorkflowStatus::Archived {
            e.push("status", "transition", "a new workflow cannot be archived");
        }
        check_definition(&mut e, &input.trigger, input.goal.as_ref(), catalog);
        prepare(&mut input.steps, catalog, &mut e);
        let now = crate::values::now();
        e.finish(Self {
            id: crate::values::new_id(),
            name,
            status: input.status,
            trigger: input.trigger,
            goal: input.goal,
            allow_reenrollment: input.allow_reenrollment,
            steps: input.steps,
            revision: 1,
            move_runs: false,
            created_at: now,
            created_by: actor.to_string(),
            updated_at: now,
            version: 1,
        })
    }

    /// The workflow after `patch`; whether it is a new revision.
    pub fn patched(
        &self,
        patch: WorkflowPatch,
        catalog: &dyn StepCatalog,
    ) -> Result<(Self, bool), Vec<FieldError>> {
        let mut e = FieldErrors::new();
        let mut next = self.clone();
        if self.status == WorkflowStatus::Archived
            && (patch.steps.is_some()
                || patch.trigger.is_some()
                || !matches!(patch.goal, Patch::Absent))
        {
            e.push(
                "status",
                "archived",
                "an archived workflow no longer changes",
            );
        }
        if let Some(name) = &patch.name {
            next.name = e.required_text("name", name, 200);
        }
        if let Some(status) = patch.status {
            if self.status == WorkflowStatus::Archived && status != WorkflowStatus::Archived {
                e.push(
                    "status",
                    "transition",
                    "an archived workflow stays archived",
                );
            }
            next.status = status;
        }
        if let Some(trigger) = patch.trigger {
            next.trigger = trigger;
        }
        if let Some(reenroll) = patch.allow_reenrollment {
            next.allow_reenrollment = reenroll;
        }
        let mut new_revision = false;
        match patch.goal {
            Patch::Absent => {}
            Patch::Clear => {
                new_revision |= next.goal.is_some();
                next.goal = None;
            }
            Patch::Set(goal) => {
                new_revision |= next.goal.as_ref() != Some(&goal);
                next.goal = Some(goal);
            }
        }
        if let Some(mut steps) = patch.steps {
            if steps.is_empty() {
                e.push("steps", "min_items", "a workflow needs at least one step");
            }
            prepare(&mut steps, catalog, &mut e);
            new_revision |= steps != next.steps;
            next.steps = steps;
        }
        check_definition(&mut e, &next.trigger, next.goal.as_ref(), catalog);
        if new_revision {
            next.revision += 1;
            next.move_runs = patch.move_runs;
        }
        next.updated_at = crate::values::now();
        next.version += 1;
        e.finish((next, new_revision))
    }

    pub fn revision_record(&self) -> Revision {
        Revision {
            revision: self.revision,
            steps: self.steps.clone(),
            goal: self.goal.clone(),
            created_at: self.updated_at,
        }
    }

    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }

    /// Whether contacts may enter now.
    pub fn enrolls(&self) -> bool {
        self.status == WorkflowStatus::Active
    }
}
