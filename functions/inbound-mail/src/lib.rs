//! `inbound-mail`: invoked by S3 when SES stores a message in the inbox bucket (S6.4). Each
//! object is handed to the core's [`Inbox`]; a malformed or oversized message is recorded
//! failed there and never fails the invocation. A passing fault (the table, the bucket) fails
//! it after every record was tried, so Lambda delivers the event again; the records already
//! settled are skipped then.

use aws_lambda_events::event::s3::S3Event;
use crm_shared::inbox::process::INBOUND_PREFIX;
use crm_shared::inbox::{Inbox, Outcome};
use crm_shared::{CrmError, Deps};

pub struct InboundMail {
    inbox: Inbox,
}

/// S3 event keys are URL-encoded with `+` for spaces.
fn decode_event_key(raw: &str) -> String {
    percent_encoding::percent_decode_str(&raw.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

impl InboundMail {
    pub fn new(deps: Deps) -> Result<Self, CrmError> {
        let inbox = deps.inbox().ok_or_else(|| {
            CrmError::Internal("missing configuration INBOX_BUCKET or INBOUND_DOMAIN".into())
        })?;
        Ok(Self { inbox })
    }

    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    pub async fn handle(&self, event: S3Event) -> Result<Vec<Outcome>, CrmError> {
        let mut outcomes = Vec::new();
        let mut fault = None;
        for record in event.records {
            let created = record
                .event_name
                .as_deref()
                .unwrap_or("")
                .starts_with("ObjectCreated");
            let (Some(bucket), Some(key)) = (record.s3.bucket.name, record.s3.object.key) else {
                continue;
            };
            let key = decode_event_key(&key);
            if !created || !self.inbox.files().holds(&bucket) || !key.starts_with(INBOUND_PREFIX) {
                continue;
            }
            match self.inbox.on_object(&key, &[]).await {
                Ok(done) => outcomes.extend(done),
                Err(e) => {
                    tracing::error!(%key, error = %crm_shared::telemetry::Redacted(&e), "inbound message not processed; retried");
                    fault = Some(e);
                }
            }
        }
        match fault {
            Some(e) => Err(e),
            None => Ok(outcomes),
        }
    }
}

impl api_kit::EventHandler<S3Event> for InboundMail {
    type Response = ();
    async fn handle_event(&self, event: S3Event) -> Result<(), CrmError> {
        self.handle(event).await.map(|_| ())
    }
}
