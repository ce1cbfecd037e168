//! `import-processor`: invoked by S3 when an import file lands (S5.1). Idempotent: the same
//! event delivered twice creates nothing twice (see `crm_shared::imports::process_upload`).

use aws_lambda_events::event::s3::S3Event;
use crm_shared::imports::{self, ProcessOutcome};
use crm_shared::{CrmError, Deps};

pub struct ImportProcessor {
    catalog: crm_shared::catalog::Catalog,
    uploads: imports::S3Uploads,
}

/// S3 event keys are URL-encoded with `+` for spaces.
pub fn decode_event_key(raw: &str) -> String {
    let plus_decoded = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_decoded)
        .decode_utf8_lossy()
        .into_owned()
}

impl ImportProcessor {
    pub fn new(deps: Deps) -> Self {
        Self {
            catalog: deps.catalog(),
            uploads: deps.uploads(),
        }
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
                imports::process_upload(&self.catalog, &self.uploads, &bucket, &key).await?;
            tracing::info!(%bucket, %key, ?outcome, "import object processed");
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }
}

impl api_kit::EventHandler<S3Event> for ImportProcessor {
    type Response = ();
    async fn handle_event(&self, event: S3Event) -> Result<(), CrmError> {
        self.handle(event).await.map(|_| ())
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
    fn the_sample_event_parses() {
        let raw = include_str!("../../../events/s3-object-created.json");
        let event: S3Event =
            serde_json::from_str(raw).expect("events/s3-object-created.json is an S3Event");
        assert_eq!(event.records.len(), 1);
    }
}
