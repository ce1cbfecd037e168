//! `attachment-processor`: invoked by S3 when a deal attachment lands (S4.5). It confirms the
//! attachment (size and sniffed type checked) or deletes the object and records why. The same
//! event delivered twice finds the attachment settled and changes nothing.

use aws_lambda_events::event::s3::S3Event;
use crm_shared::deals::Deals;
use crm_shared::deals::attachments::{Attachments, S3AttachmentFiles, UploadOutcome};
use crm_shared::{CrmError, Deps};

pub struct AttachmentProcessor {
    deals: Deals,
    files: S3AttachmentFiles,
}

/// S3 event keys are URL-encoded with `+` for spaces.
fn decode_event_key(raw: &str) -> String {
    percent_encoding::percent_decode_str(&raw.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

impl AttachmentProcessor {
    pub fn new(deps: Deps) -> Result<Self, CrmError> {
        let files = deps
            .attachment_files()
            .ok_or_else(|| CrmError::Internal("missing configuration ATTACHMENTS_BUCKET".into()))?;
        Ok(Self {
            deals: deps.catalog().deals(),
            files,
        })
    }

    /// An error makes Lambda retry the event, then hand it to the on-failure destination.
    pub async fn handle(&self, event: S3Event) -> Result<Vec<UploadOutcome>, CrmError> {
        use crm_shared::deals::attachments::AttachmentFiles;
        let attachments = Attachments {
            deals: &self.deals,
            files: &self.files,
        };
        let mut outcomes = Vec::new();
        for record in event.records {
            let created = record
                .event_name
                .as_deref()
                .unwrap_or("")
                .starts_with("ObjectCreated");
            let (Some(bucket), Some(key)) = (record.s3.bucket.name, record.s3.object.key) else {
                continue;
            };
            if !created || !self.files.holds(&bucket) {
                continue;
            }
            let key = decode_event_key(&key);
            let outcome = attachments.on_uploaded(&key).await?;
            tracing::info!(%key, ?outcome, "attachment object processed");
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }
}

impl api_kit::EventHandler<S3Event> for AttachmentProcessor {
    type Response = ();
    async fn handle_event(&self, event: S3Event) -> Result<(), CrmError> {
        self.handle(event).await.map(|_| ())
    }
}
