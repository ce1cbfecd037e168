//! A run: one contact's way through one workflow (S7.5), and the step message that moves it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Its next step is on the step queue.
    Active,
    /// Its next step waits for a schedule.
    Waiting,
    Completed,
    Failed,
    Cancelled,
    Paused,
}

impl RunStatus {
    pub const ALL: [Self; 6] = [
        Self::Active,
        Self::Waiting,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
        Self::Paused,
    ];

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Waiting => "waiting",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Paused => "paused",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// What happened at one step of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepRecord {
    pub step_id: String,
    pub kind: String,
    pub at: DateTime<Utc>,
    /// `done`, `sent`, `skipped`, `scheduled`, `then`, `else`, `failed`, `retrying`.
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How the contact entered the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Enrollment {
    /// `manual`, `bulk`, or the trigger's kind.
    pub by: String,
    /// The user who enrolled the contact (manual, bulk), else `system`.
    pub actor: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkflowRun {
    pub id: Uuid,
    pub workflow_id: Uuid,
    /// The revision of the workflow the run executes.
    pub revision: u32,
    pub contact_id: Uuid,
    /// The deal of a deal-triggered run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal_id: Option<Uuid>,
    pub status: RunStatus,
    /// The id of the step to execute next; none once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_step: Option<String>,
    /// Counts the run's step transitions; a step message names the one it is for, so a
    /// duplicate or late message is recognised.
    pub seq: u32,
    /// The steps executed so far (never executed again, whatever the revisions).
    #[serde(default)]
    pub done_steps: Vec<String>,
    /// When the next step is due (the sweep re-dispatches a run overdue by two minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    pub history: Vec<StepRecord>,
    pub enrollment: Enrollment,
    /// Why the run ended early: `goal_met`, `contact_deleted`, `cancelled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_reason: Option<String>,
    /// The last failure of the current step (it is retried with backoff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    pub version: u64,
}

impl WorkflowRun {
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }

    /// The message that runs the run's next step.
    pub fn message(&self, tenant: &str) -> StepMessage {
        StepMessage {
            tenant_id: tenant.to_string(),
            run_id: self.id,
            seq: self.seq,
        }
    }
}

/// The body of a step message on the step queue (sent directly, by a fired schedule, or by the
/// sweep).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepMessage {
    pub tenant_id: String,
    pub run_id: Uuid,
    /// The run's `seq` the message is for.
    pub seq: u32,
}
