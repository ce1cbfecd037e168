//! `mail-events`: consumes the mail-events queue, where SNS delivers the SES configuration
//! set's bounce and complaint events. A permanent bounce or a complaint suppresses the address
//! for the tenant the mail was tagged with (`crm_shared::email::events`); the same message
//! twice changes nothing the second time. A message that is not an SES notification is
//! reported as a batch item failure and lands in the DLQ after maxReceiveCount.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use crm_shared::{CrmError, Deps};

pub struct MailEvents {
    table: crm_shared::store::Table,
}

impl MailEvents {
    pub fn new(deps: Deps) -> Self {
        Self {
            table: deps.table(),
        }
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for record in event.records {
            let body = record.body.as_deref().unwrap_or("");
            match crm_shared::email::events::handle(&self.table, body).await {
                Ok(added) => tracing::info!(added, "mail event handled"),
                Err(error) => {
                    tracing::error!(message_id = ?record.message_id, error = %crm_shared::telemetry::Redacted(&error), "mail event failed; it will be retried");
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = record.message_id.unwrap_or_default();
                    response.batch_item_failures.push(failure);
                }
            }
        }
        response
    }
}

impl api_kit::EventHandler<SqsEvent> for MailEvents {
    type Response = SqsBatchResponse;
    async fn handle_event(&self, event: SqsEvent) -> Result<SqsBatchResponse, CrmError> {
        Ok(self.handle(event).await)
    }
}
