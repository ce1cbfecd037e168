//! SES bounce and complaint notifications (S6.4) as they reach the mail-events queue: an SNS
//! envelope (`{"Type": "Notification", "Message": "<JSON>", …}`) around an SES event of the
//! configuration set's event destination (`eventType`) or an identity notification
//! (`notificationType`). A permanent bounce or a complaint suppresses each recipient for the
//! tenant the mail's `tenant` tag names; everything else (transient bounces, deliveries) is
//! ignored. Handling the same notification twice changes nothing the second time.

use super::send::TAG_TENANT;
use super::suppression::{self, Suppression, SuppressionReason};
use crate::CrmError;
use crate::store::Table;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
struct SnsEnvelope {
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "Message")]
    message: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesEvent {
    event_type: Option<String>,
    notification_type: Option<String>,
    mail: SesMail,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesMail {
    message_id: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
    diagnostic_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    bounce_sub_type: Option<String>,
    #[serde(default)]
    bounced_recipients: Vec<Recipient>,
    timestamp: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    #[serde(default)]
    complained_recipients: Vec<Recipient>,
    complaint_feedback_type: Option<String>,
    timestamp: Option<DateTime<Utc>>,
}

/// What one notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailEvent {
    /// Addresses to suppress for a tenant.
    Suppress {
        tenant_id: String,
        entries: Vec<Suppression>,
    },
    /// Nothing to do (a transient bounce, a delivery, a mail without a tenant tag), and why.
    Ignored(String),
}

/// Reads one SQS message body. `Err` only for a body that is not an SNS notification of SES
/// (it goes back to the queue and, after its retries, to the DLQ).
pub fn parse(body: &str) -> Result<MailEvent, CrmError> {
    let envelope: SnsEnvelope = serde_json::from_str(body)
        .map_err(|e| CrmError::Internal(format!("not an SNS notification: {e}")))?;
    if envelope
        .kind
        .as_deref()
        .is_some_and(|k| k != "Notification")
    {
        return Ok(MailEvent::Ignored(format!(
            "SNS message of type {}",
            envelope.kind.unwrap_or_default()
        )));
    }
    let raw: Value = serde_json::from_str(&envelope.message)
        .map_err(|e| CrmError::Internal(format!("not an SES event: {e}")))?;
    let event: SesEvent = serde_json::from_value(raw)
        .map_err(|e| CrmError::Internal(format!("not an SES event: {e}")))?;
    let kind = event
        .event_type
        .or(event.notification_type)
        .unwrap_or_default();
    let Some(tenant_id) = event
        .mail
        .tags
        .get(TAG_TENANT)
        .and_then(|v| v.first())
        .filter(|t| crate::values::ids::is_valid_tenant_id(t))
        .cloned()
    else {
        return Ok(MailEvent::Ignored("the mail has no tenant tag".into()));
    };
    let ses_message_id = event.mail.message_id;
    let now = crate::values::now();
    let entry = |r: &Recipient, reason, at: Option<DateTime<Utc>>, detail: String| Suppression {
        address: r.email_address.trim().to_lowercase(),
        reason,
        at: at.unwrap_or(now),
        detail: match &r.diagnostic_code {
            Some(d) => format!("{detail}: {d}"),
            None => detail,
        },
        ses_message_id: ses_message_id.clone(),
    };
    let entries: Vec<Suppression> = match (kind.as_str(), event.bounce, event.complaint) {
        ("Bounce", Some(b), _) if b.bounce_type == "Permanent" => {
            let detail = format!(
                "Permanent/{}",
                b.bounce_sub_type.as_deref().unwrap_or("General")
            );
            b.bounced_recipients
                .iter()
                .map(|r| entry(r, SuppressionReason::Bounce, b.timestamp, detail.clone()))
                .collect()
        }
        ("Bounce", Some(b), _) => {
            return Ok(MailEvent::Ignored(format!("{} bounce", b.bounce_type)));
        }
        ("Complaint", _, Some(c)) => {
            let detail = format!(
                "complaint ({})",
                c.complaint_feedback_type
                    .as_deref()
                    .unwrap_or("unspecified")
            );
            c.complained_recipients
                .iter()
                .map(|r| entry(r, SuppressionReason::Complaint, c.timestamp, detail.clone()))
                .collect()
        }
        (other, _, _) => return Ok(MailEvent::Ignored(format!("{other} event"))),
    };
    Ok(MailEvent::Suppress { tenant_id, entries })
}

/// Applies one SQS message: the number of addresses newly suppressed.
pub async fn handle(table: &Table, body: &str) -> Result<usize, CrmError> {
    match parse(body)? {
        MailEvent::Ignored(why) => {
            tracing::info!(%why, "mail event ignored");
            Ok(0)
        }
        MailEvent::Suppress { tenant_id, entries } => {
            let mut added = 0;
            for entry in &entries {
                if suppression::add(table, &tenant_id, entry).await? {
                    added += 1;
                }
            }
            Ok(added)
        }
    }
}

/// The SNS envelope AWS delivers to an SQS queue for one SES event (for tests and fixtures).
pub fn sns_envelope(ses_event: &Value) -> Value {
    serde_json::json!({
        "Type": "Notification",
        "MessageId": uuid::Uuid::now_v7().to_string(),
        "TopicArn": "arn:aws:sns:eu-central-1:123456789012:crm-mail-events",
        "Message": ses_event.to_string(),
        "Timestamp": "2026-12-01T10:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-EXAMPLE.pem",
        "UnsubscribeURL": "https://sns.eu-central-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=EXAMPLE"
    })
}

/// An SES event-publishing bounce for `address` of a mail tagged with `tenant` and `contact`.
pub fn bounce_event(tenant: &str, contact: &str, address: &str, bounce_type: &str) -> Value {
    serde_json::json!({
        "eventType": "Bounce",
        "bounce": {
            "feedbackId": "0102017f-example-000000",
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [{
                "emailAddress": address,
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown"
            }],
            "timestamp": "2026-12-01T09:59:58.000Z",
            "reportingMTA": "dsn; a1-2.smtp-out.eu-central-1.amazonses.com"
        },
        "mail": {
            "timestamp": "2026-12-01T09:59:57.000Z",
            "source": "crm@example.com",
            "sendingAccountId": "123456789012",
            "messageId": "0102017f-mail-000000",
            "destination": [address],
            "tags": {
                "ses:configuration-set": ["crm-mail"],
                "tenant": [tenant],
                "contact": [contact]
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s6_4_a_permanent_bounce_suppresses_its_recipient_for_the_tagged_tenant() {
        let body = sns_envelope(&bounce_event("acme", "c1", "Ada@Example.com", "Permanent"));
        match parse(&body.to_string()).unwrap() {
            MailEvent::Suppress { tenant_id, entries } => {
                assert_eq!(tenant_id, "acme");
                assert_eq!(entries.len(), 1);
                assert_eq!(entries[0].address, "ada@example.com");
                assert_eq!(entries[0].reason, SuppressionReason::Bounce);
                assert!(entries[0].detail.contains("550 5.1.1"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn s6_4_transient_bounces_and_untagged_mail_are_ignored() {
        let body = sns_envelope(&bounce_event("acme", "c1", "a@example.com", "Transient"));
        assert!(matches!(
            parse(&body.to_string()).unwrap(),
            MailEvent::Ignored(_)
        ));
        let mut event = bounce_event("acme", "c1", "a@example.com", "Permanent");
        event["mail"]["tags"] = serde_json::json!({});
        let body = sns_envelope(&event);
        assert!(matches!(
            parse(&body.to_string()).unwrap(),
            MailEvent::Ignored(_)
        ));
        assert!(parse("not json").is_err());
    }

    #[test]
    fn s6_4_a_complaint_in_the_identity_notification_shape_suppresses() {
        let event = serde_json::json!({
            "notificationType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": "bob@example.com"}],
                "complaintFeedbackType": "abuse",
                "timestamp": "2026-12-01T10:00:00.000Z"
            },
            "mail": {"messageId": "m", "tags": {"tenant": ["acme"]}}
        });
        match parse(&sns_envelope(&event).to_string()).unwrap() {
            MailEvent::Suppress { entries, .. } => {
                assert_eq!(entries[0].reason, SuppressionReason::Complaint)
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn s6_4_the_same_bounce_twice_suppresses_once() {
        let table = Table::in_memory();
        let body = sns_envelope(&bounce_event("acme", "c1", "a@example.com", "Permanent"));
        assert_eq!(handle(&table, &body.to_string()).await.unwrap(), 1);
        assert_eq!(handle(&table, &body.to_string()).await.unwrap(), 0);
    }
}
