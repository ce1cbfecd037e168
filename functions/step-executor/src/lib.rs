//! `step-executor`: consumes the step queue (S7.4). Each message is one step of one run; the
//! messages that fail are reported as batch item failures so that only they come back, and
//! after the queue's maxReceiveCount they land in the dead-letter queue. The rate schedule
//! `StepSweepSchedule` invokes it too, every minute, with `{"sweep": {}}`: the sweep that
//! re-dispatches runs whose step is overdue (a lost schedule or message).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use crm_shared::workflows::sweep::SweepReport;
use crm_shared::workflows::{AwsEffects, StepMessage, StepOutcome, execute_step_message};
use crm_shared::{CrmError, Deps};
use serde::{Deserialize, Serialize};

/// What the step executor is invoked with: the sweep payload of its rate schedule, or a batch of
/// the step queue. The sweep is tried first and takes nothing but `{"sweep": {}}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StepExecutorEvent {
    Sweep(SweepEvent),
    Steps(SqsEvent),
}

/// `{"sweep": {}}`, the Input of the rate schedule `StepSweepSchedule`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepEvent {
    pub sweep: SweepRequest,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {}

/// The answer to a queue batch (its failed messages) or to a sweep (its report).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum StepExecutorResponse {
    Steps(SqsBatchResponse),
    Sweep(SweepReport),
}

pub struct StepExecutor {
    table: crm_shared::store::Table,
    effects: AwsEffects,
}

impl StepExecutor {
    pub fn new(deps: Deps) -> Self {
        Self {
            table: deps.table(),
            effects: deps.step_effects(),
        }
    }

    async fn process(&self, body: Option<&str>) -> Result<StepOutcome, CrmError> {
        let message: StepMessage = serde_json::from_str(body.unwrap_or(""))
            .map_err(|e| CrmError::Internal(format!("not a step message: {e}")))?;
        execute_step_message(&self.table, &self.effects, &message).await
    }

    /// One sweep at `now` (the rate schedule's invocation).
    pub async fn sweep(&self, now: chrono::DateTime<chrono::Utc>) -> Result<SweepReport, CrmError> {
        let report = crm_shared::workflows::sweep::sweep(&self.table, &self.effects, now).await;
        match &report {
            Ok(report) => tracing::info!(?report, "sweep done"),
            Err(error) => tracing::error!(%error, "sweep failed"),
        }
        report
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        // A batch holds at most BatchSize (10) messages: process them concurrently.
        let results: Vec<(Option<String>, Result<StepOutcome, CrmError>)> =
            futures::future::join_all(event.records.into_iter().map(|record| async move {
                let result = self.process(record.body.as_deref()).await;
                (record.message_id, result)
            }))
            .await;
        let mut response = SqsBatchResponse::default();
        for (message_id, result) in results {
            match result {
                Ok(outcome) => tracing::info!(?message_id, ?outcome, "step message done"),
                Err(error) => {
                    tracing::error!(?message_id, %error, "step message failed; it will be retried");
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
            StepExecutorEvent::Sweep(_) => {
                StepExecutorResponse::Sweep(self.sweep(chrono::Utc::now()).await?)
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
}
