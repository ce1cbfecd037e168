//! `step-executor`: consumes the step queue (S7.4). Each message is one step of one run; the
//! messages that fail are reported as batch item failures so that only they come back, and
//! after the queue's maxReceiveCount they land in the dead-letter queue.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use crm_shared::workflows::{AwsEffects, StepMessage, StepOutcome, execute_step_message};
use crm_shared::{CrmError, Deps};

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

impl api_kit::EventHandler<SqsEvent> for StepExecutor {
    type Response = SqsBatchResponse;
    async fn handle_event(&self, event: SqsEvent) -> Result<SqsBatchResponse, CrmError> {
        Ok(self.handle(event).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
