//! Emulation of S3 → Lambda: the bucket notifies an emulation-only SQS queue (moto can't invoke
//! Lambda); each notification is normalised into the `S3Event` AWS would deliver and handed to
//! the import processor. Processed notifications are deleted; failed ones come back.

use aws_lambda_events::event::s3::S3Event;
use serde_json::{Value, json};

/// moto's notification differs from AWS's: `eventTime` may lack its `Z`, the key is fully
/// percent-encoded (`/` as `%2F`; the processor decodes either form), and `userIdentity`,
/// `requestParameters`, `responseElements` and the bucket's `ownerIdentity` are missing.
/// Returns `None` for the `s3:TestEvent` S3 sends when a notification is configured.
pub fn normalise_moto_notification(body: &str) -> Result<Option<S3Event>, String> {
    let mut value: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let Some(records) = value.get_mut("Records").and_then(Value::as_array_mut) else {
        return Ok(None);
    };
    for record in records.iter_mut() {
        let Some(r) = record.as_object_mut() else {
            continue;
        };
        if let Some(Value::String(t)) = r.get_mut("eventTime") {
            let has_zone = t.ends_with('Z')
                || t.rsplit_once('T')
                    .is_some_and(|(_, time)| time.contains('+') || time.contains('-'));
            if !has_zone {
                t.push('Z');
            }
        }
        r.entry("userIdentity")
            .or_insert_with(|| json!({ "principalId": "local" }));
        r.entry("requestParameters")
            .or_insert_with(|| json!({ "sourceIPAddress": "127.0.0.1" }));
        r.entry("responseElements").or_insert_with(|| json!({}));
        if let Some(bucket) = r
            .get_mut("s3")
            .and_then(|s3| s3.get_mut("bucket"))
            .and_then(Value::as_object_mut)
        {
            bucket
                .entry("ownerIdentity")
                .or_insert_with(|| json!({ "principalId": "local" }));
        }
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| format!("not an S3 event after normalising: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moto_notifications_become_s3_events() {
        let raw = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-central-1","eventTime":"2026-11-29T04:00:00.000","eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","configurationId":"c","bucket":{"name":"b","arn":"arn:aws:s3:::b"},"object":{"key":"imports/t/x/my+file.csv","size":10,"eTag":"e","versionId":null,"sequencer":"1"}}}]}"#;
        let event = normalise_moto_notification(raw).unwrap().unwrap();
        let record = &event.records[0];
        assert_eq!(record.s3.bucket.name.as_deref(), Some("b"));
        assert_eq!(
            record.s3.object.key.as_deref(),
            Some("imports/t/x/my+file.csv")
        );
        assert_eq!(record.event_time.to_rfc3339(), "2026-11-29T04:00:00+00:00");
    }

    #[test]
    fn test_events_are_skipped() {
        let raw = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-29T04:00:00.000Z","Bucket":"b"}"#;
        assert!(normalise_moto_notification(raw).unwrap().is_none());
    }
}
