//! `job-worker`: consumes the job queue (stage removals, exports, bulk workflow enrollments
//! and run controls). Each message names one job; the worker reads the job,
//! does one bounded batch of its work and either sends the message on or finishes the job. A
//! message whose job is gone or finished does nothing, so redelivery is harmless; a failing
//! message is reported as a batch item failure and lands in the DLQ after maxReceiveCount.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use crm_shared::deals::stage_removal::{self, MOVES_PER_MESSAGE, StageRemovals};
use crm_shared::deals::{Deals, Pipelines};
use crm_shared::jobs::{JobMessage, JobStatus, JobWork, Jobs};
use crm_shared::workflows::bulk;
use crm_shared::{CrmError, Deps};

pub struct JobWorker {
    catalog: crm_shared::catalog::Catalog,
    deals: Deals,
    pipelines: Pipelines,
    jobs: Jobs,
    export_files: crm_shared::exports::S3ExportFiles,
    effects: crm_shared::workflows::AwsEffects,
    /// Deals one message moves (a parameter so that tests can prove the hand-on).
    pub moves_per_message: usize,
    /// Contacts or runs a bulk workflow job fixes per page, and works on per message
    /// (parameters so that tests can prove the paging and the hand-on).
    pub bulk_page: usize,
    pub bulk_per_message: usize,
}

impl JobWorker {
    pub fn new(deps: Deps) -> Self {
        let catalog = deps.catalog();
        Self {
            deals: catalog.deals(),
            pipelines: catalog.pipelines(),
            jobs: deps.jobs(),
            export_files: deps.export_files(),
            effects: deps.step_effects(),
            catalog,
            moves_per_message: MOVES_PER_MESSAGE,
            bulk_page: bulk::PAGE,
            bulk_per_message: bulk::ITEMS_PER_MESSAGE,
        }
    }

    async fn process(&self, body: Option<&str>) -> Result<(), CrmError> {
        let message: JobMessage = serde_json::from_str(body.unwrap_or(""))
            .map_err(|e| CrmError::Internal(format!("not a job message: {e}")))?;
        let Some(job) = self.jobs.get(&message.tenant_id, message.job_id).await? else {
            tracing::warn!(job = %message.job_id, "no such job; message dropped");
            return Ok(());
        };
        if job.status != JobStatus::Queued {
            return Ok(());
        }
        match &job.work {
            JobWork::StageRemoval { .. } => {
                let with = StageRemovals {
                    deals: &self.deals,
                    pipelines: &self.pipelines,
                    jobs: &self.jobs,
                };
                stage_removal::run_stage_removal(&with, &message, &job, self.moves_per_message)
                    .await
            }
            JobWork::Export { .. } => {
                crm_shared::exports::run_export(
                    &self.catalog,
                    &self.jobs,
                    &self.export_files,
                    &message.tenant_id,
                    &job,
                )
                .await
            }
            JobWork::WorkflowEnrollment { .. } | JobWork::WorkflowRunsControl { .. } => {
                let with = bulk::BulkWork {
                    catalog: &self.catalog,
                    jobs: &self.jobs,
                    effects: &self.effects,
                    page: self.bulk_page,
                    budget: self.bulk_per_message,
                };
                bulk::run_bulk(&with, &message, &job).await
            }
        }
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        // Batch size 1 in the template: a job's batch is long; one at a time.
        for record in event.records {
            if let Err(error) = self.process(record.body.as_deref()).await {
                tracing::error!(message_id = ?record.message_id, error = %crm_shared::telemetry::Redacted(&error), "job message failed; it will be retried");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        response
    }
}

impl api_kit::EventHandler<SqsEvent> for JobWorker {
    type Response = SqsBatchResponse;
    async fn handle_event(&self, event: SqsEvent) -> Result<SqsBatchResponse, CrmError> {
        Ok(self.handle(event).await)
    }
}
