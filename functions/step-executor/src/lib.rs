//! `step-executor`: consumes the step queue (S7.4). Each message is one step of one run; the
//! messages that fail are reported as batch item failures so that only they come back, delayed
//! by a growing backoff, and after the queue's maxReceiveCount they land in the dead-letter
//! queue (the run is marked failed on that last attempt). The rate schedule
//! `StepSweepSchedule` invokes it too, every minute, with `{"sweep": {"at": …}}`: the sweep
//! that re-dispatches runs whose step is overdue (a lost schedule or message).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use crm_shared::catalog::Catalog;
use crm_shared::telemetry::Redacted;
use crm_shared::telemetry::metrics::Counter;
use crm_shared::workflows::sweep::SweepReport;
use crm_shared::workflows::{Attempt, AwsEffects, StepMessage, StepOutcome, execute_step_message};
use crm_shared::{CrmError, Deps};
use serde::{Deserialize, Serialize};

/// What the step executor is invoked with: the sweep payload of its rate schedule, or a batch of
/// the step queue. The sweep is tried first and takes nothing but `{"sweep": {…}}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StepExecutorEvent {
    Sweep(SweepEvent),
    Steps(SqsEvent),
}

/// `{"sweep": {"at": "<aws.scheduler.scheduled-time>"}}`, the Input of the rate schedule
/// `StepSweepSchedule`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepEvent {
    pub sweep: SweepRequest,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    /// The schedule's time (`<aws.scheduler.scheduled-time>` in the schedule's Input); absent:
    /// now.
    #[serde(default)]
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The answer to a queue batch (its failed messages) or to a sweep (its report).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum StepExecutorResponse {
    Steps(SqsBatchResponse),
    Sweep(SweepReport),
}

/// The step queue's `maxReceiveCount` (template.yaml, StepQueue's RedrivePolicy).
pub const STEP_MAX_RECEIVE_COUNT: u32 = 5;

pub struct StepExecutor {
    catalog: Catalog,
    effects: AwsEffects,
}

impl StepExecutor {
    pub fn new(deps: Deps) -> Self {
        Self {
            catalog: Catalog::new(deps.table()),
            effects: deps.step_effects(),
        }
    }

    async fn process(&self, record: &SqsMessage) -> Result<StepOutcome, CrmError> {
        let message: StepMessage = serde_json::from_str(record.body.as_deref().unwrap_or(""))
            .map_err(|e| CrmError::Internal(format!("not a step message: {e}")))?;
        let received = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        let attempt = Attempt::of(received, STEP_MAX_RECEIVE_COUNT);
        let result = execute_step_message(&self.catalog, &self.effects, &message, attempt).await;
        if result.is_err() && !attempt.last {
            self.back_off(record, attempt).await;
        }
        result
    }

    /// Delays the failed message's next delivery (SQS makes it visible again after this).
    async fn back_off(&self, record: &SqsMessage, attempt: Attempt) {
        let Some(receipt) = record.receipt_handle.as_deref() else {
            return;
        };
        let delayed = self
            .effects
            .sqs
            .change_message_visibility()
            .queue_url(&self.effects.step_queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(attempt.backoff_seconds())
            .send()
            .await;
        if let Err(error) = delayed {
            tracing::warn!(error = %Redacted(&error), "the retry delay was not set; the queue's default applies");
        }
    }

    /// One sweep at `now` (the rate schedule's invocation).
    pub async fn sweep(&self, now: chrono::DateTime<chrono::Utc>) -> Result<SweepReport, CrmError> {
        let report =
            crm_shared::workflows::sweep::sweep(self.catalog.table(), &self.effects, now).await;
        match &report {
            Ok(report) => tracing::info!(?report, "sweep done"),
            Err(error) => tracing::error!(error = %Redacted(error), "sweep failed"),
        }
        report
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        // A batch holds at most BatchSize (10) messages: process them concurrently.
        let results: Vec<(Option<String>, Result<StepOutcome, CrmError>)> =
            futures::future::join_all(event.records.iter().map(|record| async move {
                (record.message_id.clone(), self.process(record).await)
            }))
            .await;
        let mut response = SqsBatchResponse::default();
        for (message_id, result) in results {
            match result {
                Ok(outcome) => tracing::info!(?message_id, ?outcome, "step message done"),
                Err(error) => {
                    crm_shared::telemetry::metrics::count(Counter::StepFailures, 1);
                    tracing::error!(?message_id, error = %Redacted(&error), "step message failed; it will be retried");
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = message_id.unwrap_or_default();
                    response.batch_item_failures.push(failure);
                }
            }
        }
        response
    }
}

impl api_kit::EventHandler<StepExecutorEvent> for StepExecutor {
    type Response = StepExecutorResponse;
    async fn handle_event(
        &self,
        event: StepExecutorEvent,
    ) -> Result<StepExecutorResponse, CrmError> {
        Ok(match event {
            StepExecutorEvent::Steps(event) => {
                StepExecutorResponse::Steps(self.handle(event).await)
            }
            // A failed sweep fails the invocation; the next one runs a minute later.
            StepExecutorEvent::Sweep(event) => {
                let at = event.sweep.at.unwrap_or_else(chrono::Utc::now);
                StepExecutorResponse::Sweep(self.sweep(at).await?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_payload_and_queue_batches_are_told_apart() {
        let sweep: StepExecutorEvent = serde_json::from_str(r#"{"sweep":{}}"#).unwrap();
        assert!(matches!(sweep, StepExecutorEvent::Sweep(_)));
        let batch: StepExecutorEvent =
            serde_json::from_str(include_str!("../../../events/sqs-step-batch.json")).unwrap();
        assert!(matches!(batch, StepExecutorEvent::Steps(e) if e.records.len() == 2));
        // Not a sweep: anything besides `sweep`, or inside it.
        for other in [r#"{"sweep":{},"x":1}"#, r#"{"sweep":{"x":1}}"#] {
            let event: Result<StepExecutorEvent, _> = serde_json::from_str(other);
            assert!(!matches!(event, Ok(StepExecutorEvent::Sweep(_))), "{other}");
        }
        let report = StepExecutorResponse::Sweep(SweepReport::default());
        assert_eq!(
            serde_json::to_value(report).unwrap(),
            serde_json::json!({"overdue": 0, "redispatched": 0})
        );
        let batch = StepExecutorResponse::Steps(SqsBatchResponse::default());
        assert_eq!(
            serde_json::to_value(batch).unwrap(),
            serde_json::json!({"batchItemFailures": []})
        );
    }

    #[test]
    fn the_sample_events_parse_into_step_messages() {
        for raw in [
            include_str!("../../../events/sqs-step-batch.json"),
            include_str!("../../../events/schedule-fired-message.json"),
        ] {
            let event: SqsEvent = serde_json::from_str(raw).expect("an SqsEvent");
            assert!(!event.records.is_empty());
            for record in event.records {
                let _: StepMessage =
                    serde_json::from_str(record.body.as_deref().unwrap()).expect("a step message");
            }
        }
    }

    #[test]
    fn the_max_receive_count_is_the_step_queues() {
        let template = include_str!("../../../template.yaml");
        let queue = template
            .split("\n  StepQueue:\n")
            .nth(1)
            .expect("StepQueue");
        let count = queue
            .lines()
            .find_map(|l| l.trim().strip_prefix("maxReceiveCount: "))
            .expect("a redrive policy");
        assert_eq!(count.parse::<u32>().unwrap(), STEP_MAX_RECEIVE_COUNT);
    }
}
