//! `import-processor`: plans an import when its file lands (S3 ObjectCreated) and runs its
//! chunks from the import queue (SQS), one chunk per message (S5.1, S5.3). Both are
//! idempotent: an event or a chunk delivered twice writes nothing twice (see
//! `crm_shared::imports::processing`).

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use crm_shared::imports::{
    self, ChunkMessage, ChunkOutcome, ChunkSettings, ImportStatus, ProcessOutcome,
};
use crm_shared::store::queue::SqsQueue;
use crm_shared::telemetry::metrics::{self, Counter};
use crm_shared::{CrmError, Deps};
use serde::Deserialize;

pub struct ImportProcessor {
    catalog: crm_shared::catalog::Catalog,
    uploads: imports::S3Uploads,
    queue: SqsQueue,
    /// How much a chunk does (a parameter so that tests can prove the hand-on).
    pub settings: ChunkSettings,
}

/// S3 event keys are URL-encoded with `+` for spaces.
pub fn decode_event_key(raw: &str) -> String {
    let plus_decoded = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_decoded)
        .decode_utf8_lossy()
        .into_owned()
}

/// What invokes the function: S3 (the upload) or SQS (a chunk), told by the records' source.
#[derive(Debug)]
pub enum ImportEvent {
    Upload(S3Event),
    Chunks(SqsEvent),
}

impl<'de> Deserialize<'de> for ImportEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(d)?;
        let source = value["Records"][0]["eventSource"].as_str().unwrap_or("");
        match source {
            "aws:sqs" => serde_json::from_value(value)
                .map(ImportEvent::Chunks)
                .map_err(D::Error::custom),
            _ => serde_json::from_value(value)
                .map(ImportEvent::Upload)
                .map_err(D::Error::custom),
        }
    }
}

impl ImportProcessor {
    pub fn new(deps: Deps) -> Result<Self, CrmError> {
        let queue = deps
            .import_queue()
            .ok_or_else(|| CrmError::Internal("missing configuration IMPORT_QUEUE_URL".into()))?;
        Ok(Self {
            catalog: deps.catalog(),
            uploads: deps.uploads(),
            queue,
            settings: ChunkSettings::default(),
        })
    }

    /// An error makes Lambda retry the event, then hand it to the on-failure destination.
    pub async fn handle(&self, event: S3Event) -> Result<Vec<ProcessOutcome>, CrmError> {
        let mut outcomes = Vec::new();
        for record in event.records {
            if !record
                .event_name
                .as_deref()
                .unwrap_or("")
                .starts_with("ObjectCreated")
            {
                continue;
            }
            let (Some(bucket), Some(key)) = (record.s3.bucket.name, record.s3.object.key) else {
                continue;
            };
            let key = decode_event_key(&key);
            let outcome =
                imports::process_upload(&self.catalog, &self.uploads, &self.queue, &bucket, &key)
                    .await?;
            tracing::info!(%bucket, %key, ?outcome, "import object processed");
            if outcome == ProcessOutcome::Processed(ImportStatus::Failed) {
                metrics::count(Counter::ImportFailures, 1);
            }
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    async fn chunk(&self, body: Option<&str>) -> Result<ChunkOutcome, CrmError> {
        let message: ChunkMessage = serde_json::from_str(body.unwrap_or(""))
            .map_err(|e| CrmError::Internal(format!("not a chunk message: {e}")))?;
        let outcome = imports::run_chunk(
            &self.catalog,
            &self.uploads,
            &self.queue,
            &self.settings,
            &message,
        )
        .await?;
        tracing::info!(import = %message.import_id, chunk = message.chunk, ?outcome, "import chunk");
        if outcome == ChunkOutcome::Advanced(ImportStatus::Failed) {
            metrics::count(Counter::ImportFailures, 1);
        }
        Ok(outcome)
    }

    /// Runs each chunk message; a failed one is reported as a batch item failure, retried,
    /// and lands in the DLQ after maxReceiveCount.
    pub async fn handle_chunks(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for record in event.records {
            if let Err(error) = self.chunk(record.body.as_deref()).await {
                tracing::error!(message_id = ?record.message_id, error = %crm_shared::telemetry::Redacted(&error), "import chunk failed; it will be retried");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        response
    }
}

impl api_kit::EventHandler<ImportEvent> for ImportProcessor {
    type Response = Option<SqsBatchResponse>;
    async fn handle_event(&self, event: ImportEvent) -> Result<Self::Response, CrmError> {
        match event {
            ImportEvent::Upload(event) => self.handle(event).await.map(|_| None),
            ImportEvent::Chunks(event) => Ok(Some(self.handle_chunks(event).await)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_are_form_decoded() {
        assert_eq!(
            decode_event_key("imports/a/b/my+file%C3%A4.csv"),
            "imports/a/b/my fileä.csv"
        );
        assert_eq!(decode_event_key("imports/a%2Bb"), "imports/a+b");
    }

    #[test]
    fn the_sample_events_parse_as_what_they_are() {
        let raw = include_str!("../../../events/s3-object-created.json");
        let event: ImportEvent =
            serde_json::from_str(raw).expect("events/s3-object-created.json is an S3Event");
        assert!(matches!(event, ImportEvent::Upload(e) if e.records.len() == 1));
        let raw = include_str!("../../../events/import-chunk.json");
        let event: ImportEvent =
            serde_json::from_str(raw).expect("events/import-chunk.json is an SqsEvent");
        let ImportEvent::Chunks(event) = event else {
            panic!("an SQS event")
        };
        let body = event.records[0].body.as_deref().unwrap();
        let message: ChunkMessage = serde_json::from_str(body).unwrap();
        assert_eq!(message.chunk, 0);
    }
}
