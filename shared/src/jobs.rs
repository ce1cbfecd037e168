//! Background jobs: work too long for one request (a stage removal moving thousands of deals,
//! later exports and bulk enrollments) runs from the job queue (SQS → `job-worker`). A job is an
//! item with its own status that the caller polls; the queue only carries `{tenant, id}`, so a
//! redelivered or continued message finds its work in the job item and the records themselves.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | job | `T#{t}#JOB#{id}` | `JOB` |

use crate::access::{Caller, Role};
use crate::store::queue::{MessageQueue, send_json};
use crate::store::{Condition, Item, Table, WriteOp, from_item, key, to_item};
use crate::{CrmError, FieldError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

const JOB_SK: &str = "JOB";

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
        let stored: StoredJob = from_item(item)?;
        let mut job = stored.job;
        job.actor = Some(stored.actor);
        Ok(Some(job))
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
