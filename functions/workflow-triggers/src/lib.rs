//! `workflow-triggers`: the contact observer's function (S7.3). The table's DynamoDB stream
//! (NEW_AND_OLD_IMAGES), filtered by the event source mapping to contact, deal and activity
//! items, delivers batches of item changes; they go to the core's observer in stream order.
//! The first change that fails is reported as the batch's item failure (its sequence number):
//! the stream retries it and every record after it, so no change is skipped or seen out of
//! order. Observing is idempotent per change (`eventID`), so a retried batch is harmless.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use crm_shared::workflows::AwsEffects;
use crm_shared::workflows::observe::{ChangeKind, ItemChange, Observed, observe_changes};
use crm_shared::{CrmError, Deps};

pub struct WorkflowTriggers {
    table: crm_shared::store::Table,
    effects: AwsEffects,
}

impl WorkflowTriggers {
    pub fn new(deps: Deps) -> Self {
        Self {
            table: deps.table(),
            effects: deps.step_effects(),
        }
    }

    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let mut sequence_numbers = Vec::with_capacity(event.records.len());
        let mut changes = Vec::with_capacity(event.records.len());
        let mut unreadable = None;
        for record in event.records {
            let sequence_number = record.change.sequence_number.clone();
            match item_change(record) {
                Ok(change) => {
                    sequence_numbers.push(sequence_number);
                    changes.push(change);
                }
                Err(error) => {
                    // Observed up to here; this record and those after it come back.
                    tracing::error!(?sequence_number, error = %crm_shared::telemetry::Redacted(&error), "unreadable stream record");
                    unreadable = Some(sequence_number);
                    break;
                }
            }
        }
        let results = observe_changes(&self.table, &self.effects, &changes).await;
        for ((result, change), sequence_number) in
            results.iter().zip(&changes).zip(&sequence_numbers)
        {
            if let Err(error) = result {
                tracing::error!(?sequence_number, event_id = change.event_id, error = %crm_shared::telemetry::Redacted(&error), "observing a change failed; it and the changes after it will be retried");
                break;
            }
        }
        batch_response(first_failure(&results, &sequence_numbers).or(unreadable))
    }
}

/// The sequence number of the first change that failed (the stream resumes there).
fn first_failure(
    results: &[Result<Observed, CrmError>],
    sequence_numbers: &[Option<String>],
) -> Option<Option<String>> {
    results
        .iter()
        .zip(sequence_numbers)
        .find_map(|(result, sequence_number)| result.is_err().then(|| sequence_number.clone()))
}

/// The answer to the stream: no item failure, or the one record to resume at.
fn batch_response(failed: Option<Option<String>>) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    if let Some(sequence_number) = failed {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = sequence_number;
        response.batch_item_failures.push(failure);
    }
    response
}

impl api_kit::EventHandler<Event> for WorkflowTriggers {
    type Response = DynamoDbEventResponse;
    async fn handle_event(&self, event: Event) -> Result<DynamoDbEventResponse, CrmError> {
        Ok(self.handle(event).await)
    }
}

/// A stream record as the observer's item change: its images as table items (an absent image
/// is `None`).
pub fn item_change(record: EventRecord) -> Result<ItemChange, CrmError> {
    let kind = match record.event_name.as_str() {
        "INSERT" => ChangeKind::Insert,
        "MODIFY" => ChangeKind::Modify,
        "REMOVE" => ChangeKind::Remove,
        other => {
            return Err(CrmError::Internal(format!(
                "stream record {}: unknown eventName {other:?}",
                record.event_id
            )));
        }
    };
    let image = |item: serde_dynamo::Item| -> Option<crm_shared::store::Item> {
        (!item.is_empty()).then(|| item.into())
    };
    Ok(ItemChange {
        event_id: record.event_id,
        kind,
        keys: record.change.keys.into(),
        old: image(record.change.old_image),
        new: image(record.change.new_image),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_shared::store::s;

    #[test]
    fn the_sample_stream_event_converts_to_item_changes() {
        let event: Event =
            serde_json::from_str(include_str!("../../../events/dynamodb-contact-stream.json"))
                .expect("a DynamoDB stream event");
        let changes: Vec<ItemChange> = event
            .records
            .into_iter()
            .map(|r| item_change(r).expect("an item change"))
            .collect();
        let kinds: Vec<ChangeKind> = changes.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [ChangeKind::Insert, ChangeKind::Modify, ChangeKind::Remove]
        );
        let created = &changes[0];
        assert!(created.old.is_none());
        let new = created.new.as_ref().unwrap();
        assert_eq!(new.get("entity"), Some(&s("contact")));
        assert_eq!(created.keys.len(), 2);
        assert_eq!(created.keys.get("PK"), new.get("PK"));
        let modified = &changes[1];
        assert!(modified.old.is_some() && modified.new.is_some());
        assert_ne!(modified.old, modified.new);
        let removed = &changes[2];
        assert!(removed.new.is_none() && removed.old.is_some());
        assert_eq!(
            changes.iter().map(|c| c.event_id.len()).collect::<Vec<_>>(),
            [32, 32, 32]
        );
    }

    #[test]
    fn the_first_failed_change_is_where_the_stream_resumes() {
        let sequence: Vec<Option<String>> = ["1", "2", "3"].map(|n| Some(n.to_string())).into();
        let failed = || Err(CrmError::Internal("boom".into()));
        let ok = || Ok(Observed::default());
        assert_eq!(first_failure(&[ok(), ok(), ok()], &sequence), None);
        let at = first_failure(&[ok(), failed(), failed()], &sequence);
        assert_eq!(at, Some(Some("2".to_string())));
        let response = serde_json::to_value(batch_response(at)).unwrap();
        assert_eq!(
            response,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "2"}]})
        );
        let none = serde_json::to_value(batch_response(None)).unwrap();
        assert_eq!(none, serde_json::json!({"batchItemFailures": []}));
    }

    #[test]
    fn an_unknown_event_name_is_an_error() {
        let mut event: Event =
            serde_json::from_str(include_str!("../../../events/dynamodb-contact-stream.json"))
                .unwrap();
        let mut record = event.records.remove(0);
        record.event_name = "TRUNCATE".into();
        assert!(item_change(record).is_err());
    }
}
