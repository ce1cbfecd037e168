//! Background jobs: work too long for one request (a stage removal moving thousands of deals,
//! later exports and bulk enrollments) runs from the job queue (SQS → `job-worker`). A job is an
//! item with its own status that the caller polls; the queue only carries `{tenant, id}`, so a
//! redelivered or continued message finds its work in the job item and the records themselves.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | job (its counts by outcome as `count:{outcome}` attributes) | `T#{t}#JOB#{id}` | `JOB` |
//! | a paged job's checkpoint ([`Checkpoint`]) | `T#{t}#JOB#{id}` | `CHECKPOINT` |

use crate::access::{Caller, Role};
use crate::store::queue::{MessageQueue, send_json};
use crate::store::{Condition, Item, Table, WriteOp, from_item, key, to_item};
use crate::{CrmError, FieldError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

const JOB_SK: &str = "JOB";
const CHECKPOINT_SK: &str = "CHECKPOINT";
/// The attribute prefix of a job's counts by outcome.
const COUNT_PREFIX: &str = "count:";

fn job_pk(tenant: &str, id: Uuid) -> String {
    format!("T#{tenant}#JOB#{id}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// On the queue (or between two of its messages).
    Queued,
    Completed,
    Failed,
}

/// What the job does, with what it needs to carry on from any message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobWork {
    /// Moves every deal of `stage_id` to `move_to`, then removes the stage (S4.1).
    StageRemoval {
        pipeline_id: Uuid,
        stage_id: Uuid,
        move_to: Uuid,
    },
    /// Writes the requester's visible records to a file (S5.4, the exports module).
    Export {
        entity: ExportEntity,
        columns: Vec<String>,
        filters: std::collections::BTreeMap<String, String>,
        format: ExportFormat,
    },
    /// Enrolls the requester's visible contacts matching `filter` (the filter parameters of
    /// `GET /contacts`) into a workflow (S7.1, the workflows module).
    WorkflowEnrollment {
        workflow_id: Uuid,
        filter: std::collections::BTreeMap<String, String>,
    },
    /// Pauses, resumes or cancels every run of a workflow in a status the action applies to
    /// (S7.5, the workflows module).
    WorkflowRunsControl {
        workflow_id: Uuid,
        action: RunsAction,
    },
}

/// What a bulk run control does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunsAction {
    /// Active and waiting runs.
    Pause,
    /// Paused runs.
    Resume,
    /// Active, waiting and paused runs.
    Cancel,
}

/// What an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportEntity {
    Contacts,
    Clients,
    Deals,
}

/// The file an export writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    #[default]
    Csv,
    Xlsx,
}

/// Who asked: the job acts with their rights (re-checked on every message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobActor {
    pub user_id: String,
    pub role: Role,
    #[serde(default)]
    pub teams: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Job {
    pub id: Uuid,
    #[serde(flatten)]
    pub work: JobWork,
    pub status: JobStatus,
    /// Records done so far (exact: counted in each record's own transaction).
    #[serde(default)]
    pub done: u64,
    /// What happened to the records done, by outcome (bulk workflow jobs: `enrolled`,
    /// `already_enrolled`; `paused`, `resumed`, `cancelled`, `skipped`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, u64>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub requested_by: String,
    #[serde(skip)]
    pub actor: Option<JobActor>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The stored shape: the job plus the actor, which the API does not show.
#[derive(Serialize, Deserialize)]
struct StoredJob {
    #[serde(flatten)]
    job: Job,
    actor: JobActor,
}

/// The message on the job queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobMessage {
    pub tenant_id: String,
    pub job_id: Uuid,
}

/// Jobs of the table, and the queue they are sent on.
#[derive(Clone)]
pub struct Jobs {
    table: Table,
    queue: Option<Arc<dyn MessageQueue>>,
}

impl Jobs {
    pub fn new(table: Table, queue: Option<Arc<dyn MessageQueue>>) -> Self {
        Self { table, queue }
    }

    fn queue(&self) -> Result<&dyn MessageQueue, CrmError> {
        self.queue
            .as_deref()
            .ok_or_else(|| CrmError::Internal("missing configuration JOB_QUEUE_URL".into()))
    }

    /// Creates job `id` for `work` (asked by `caller`, with `done` records already done) and
    /// sends it, or returns the job of that id if it exists: the id is derived from the work,
    /// so asking twice starts one job.
    pub async fn start(
        &self,
        caller: &Caller,
        id: Uuid,
        work: JobWork,
        done: u64,
    ) -> Result<Job, CrmError> {
        let now = Utc::now();
        let job = Job {
            id,
            work,
            status: JobStatus::Queued,
            done,
            counts: BTreeMap::new(),
            failure_reason: None,
            requested_by: caller.user_id.clone(),
            actor: None,
            created_at: now,
            updated_at: now,
        };
        let stored = StoredJob {
            job: job.clone(),
            actor: JobActor {
                user_id: caller.user_id.clone(),
                role: caller.role,
                teams: caller.teams.clone(),
            },
        };
        let item = to_item(&stored, key(job_pk(&caller.tenant_id, id), JOB_SK))?;
        match self.table.put_if(item, Condition::NotExists).await {
            Ok(()) => {}
            Err(crate::store::WriteError::ConditionFailed) => {
                return self
                    .get(&caller.tenant_id, id)
                    .await?
                    .ok_or(CrmError::NotFound);
            }
            Err(e) => return Err(e.into()),
        }
        send_json(
            self.queue()?,
            &JobMessage {
                tenant_id: caller.tenant_id.clone(),
                job_id: id,
            },
        )
        .await?;
        Ok(job)
    }

    /// Sends the job's message again: the job goes on in the next invocation.
    pub async fn continue_later(&self, message: &JobMessage) -> Result<(), CrmError> {
        send_json(self.queue()?, message).await
    }

    pub async fn get(&self, tenant: &str, id: Uuid) -> Result<Option<Job>, CrmError> {
        let Some(item) = self.table.get(&job_pk(tenant, id), JOB_SK).await? else {
            return Ok(None);
        };
        let counts = item
            .iter()
            .filter_map(|(name, value)| {
                let outcome = name.strip_prefix(COUNT_PREFIX)?;
                let n = match value {
                    aws_sdk_dynamodb::types::AttributeValue::N(n) => n.parse().ok()?,
                    _ => return None,
                };
                Some((outcome.to_string(), n))
            })
            .collect();
        let stored: StoredJob = from_item(item)?;
        let mut job = stored.job;
        job.actor = Some(stored.actor);
        job.counts = counts;
        Ok(Some(job))
    }

    /// Where a paged job stands (`None` before its first page).
    pub async fn checkpoint(&self, tenant: &str, id: Uuid) -> Result<Option<Checkpoint>, CrmError> {
        self.table
            .get_as(crate::store::Key::new(job_pk(tenant, id), CHECKPOINT_SK))
            .await
    }

    /// Saves `next` as job `id`'s checkpoint if the stored one is still `current` (its `rev`;
    /// `None`: there is none yet), adding `counts` (by outcome, and their sum to `done`) in the
    /// same transaction: a page counts once, whoever saves it. `false` when another delivery
    /// saved first.
    pub async fn save_checkpoint(
        &self,
        tenant: &str,
        id: Uuid,
        current: Option<&Checkpoint>,
        next: &Checkpoint,
        counts: &BTreeMap<String, u64>,
    ) -> Result<bool, CrmError> {
        let condition = match current {
            None => Condition::NotExists,
            Some(c) => Condition::eq("rev", crate::store::n(c.rev)),
        };
        let item = to_item(next, key(job_pk(tenant, id), CHECKPOINT_SK))?;
        let mut writes = vec![WriteOp::put_if(item, condition)];
        if !counts.is_empty() {
            let mut add: Vec<(String, rust_decimal::Decimal)> = counts
                .iter()
                .map(|(outcome, n)| (format!("{COUNT_PREFIX}{outcome}"), (*n).into()))
                .collect();
            add.push(("done".into(), counts.values().sum::<u64>().into()));
            let mut set = Item::new();
            set.insert(
                "updated_at".into(),
                crate::store::s(Utc::now().to_rfc3339()),
            );
            writes.push(WriteOp::Add {
                key: crate::store::Key::new(job_pk(tenant, id), JOB_SK),
                add,
                set,
            });
        }
        match self.table.transact(writes).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_at(0) => Ok(false),
            Err(e) => Err(e.into_error("job checkpoint")),
        }
    }

    /// Job `id` for `caller`: its requester, owners and admins see it; for others (and in
    /// another tenant) it does not exist.
    pub async fn get_for(&self, caller: &Caller, id: Uuid) -> Result<Job, CrmError> {
        let job = self
            .get(&caller.tenant_id, id)
            .await?
            .ok_or(CrmError::NotFound)?;
        let sees =
            job.requested_by == caller.user_id || matches!(caller.role, Role::Owner | Role::Admin);
        if sees {
            Ok(job)
        } else {
            Err(CrmError::NotFound)
        }
    }

    /// The caller the job acts as: its requester, with the rights they had when asking.
    pub fn caller_of(tenant: &str, job: &Job) -> Result<Caller, CrmError> {
        let actor = job
            .actor
            .clone()
            .ok_or_else(|| CrmError::Internal("a job without its actor".into()))?;
        let mut caller = Caller::new(tenant, &actor.user_id, actor.role);
        caller.teams = actor.teams;
        Ok(caller)
    }

    /// A write that counts one more record done, for the record's own transaction.
    pub fn count_one(tenant: &str, id: Uuid) -> WriteOp {
        WriteOp::Add {
            key: crate::store::Key::new(job_pk(tenant, id), JOB_SK),
            add: vec![("done".into(), rust_decimal::Decimal::ONE)],
            set: Item::new(),
        }
    }

    /// Marks the job finished (`Completed`, or `Failed` with a reason), with its count of
    /// records done when it did not count them one by one.
    pub async fn finish(
        &self,
        tenant: &str,
        id: Uuid,
        status: JobStatus,
        failure_reason: Option<String>,
        done: Option<u64>,
    ) -> Result<(), CrmError> {
        let mut set = Item::new();
        if let Some(done) = done {
            set.insert("done".into(), crate::store::n(done));
        }
        let status = match status {
            JobStatus::Queued => "queued",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
        };
        set.insert("status".into(), crate::store::s(status));
        set.insert(
            "updated_at".into(),
            crate::store::s(Utc::now().to_rfc3339()),
        );
        if let Some(reason) = failure_reason {
            set.insert("failure_reason".into(), crate::store::s(reason));
        }
        self.table
            .transact(vec![WriteOp::Add {
                key: crate::store::Key::new(job_pk(tenant, id), JOB_SK),
                add: vec![],
                set,
            }])
            .await
            .map_err(|e| e.into_error("job"))
    }
}

/// Where a job that works page by page stands: each page's items are fixed before any is
/// touched, so a redelivered message works on the same items and the page counts once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Bumped by every save; a save is conditional on the one it replaces.
    pub rev: u64,
    /// Where the page after the current one is read from (a list cursor), when the work
    /// reads on from a position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The items of the page being worked on; none between pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<Vec<Uuid>>,
    /// No page comes after the current one.
    #[serde(default)]
    pub last: bool,
}

/// The job id a stage removal always gets: one job per stage.
pub fn stage_removal_id(tenant: &str, stage_id: Uuid) -> Uuid {
    // A hash of the work (UUIDv8 layout): asking twice finds the same job.
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("stage-removal/{tenant}/{stage_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// `job_id` parsed from a path.
pub fn parse_job_id(raw: &str) -> Result<Uuid, CrmError> {
    raw.parse()
        .map_err(|_| CrmError::Validation(vec![FieldError::new("job_id", "uuid", "a job id")]))
}
