//! API10:2023 Unsafe Consumption of APIs. What the CRM takes in from other systems is
//! validated before it changes anything: SES event notifications (SNS → SQS → `mail-events`),
//! S3 object events (`import-processor`, `attachment-processor`) and inbound mail
//! (`inbound-mail`: malformed, oversized and unaddressed mail is recorded failed, see
//! `inbox::s6_4_a_malformed_message_is_recorded_failed_and_the_batch_goes_on`; mail for one
//! tenant never lands on another's, `inbox::s6_4_mail_for_one_tenant_never_lands_on_another_tenants_contact`;
//! a redelivered bounce suppresses once, `messages::s6_4_a_bounce_delivered_twice_suppresses_the_address_once_and_stops_sends`).
//! Here: malformed and forged third-party payloads change nothing.

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use crm_e2e_tests::{Stack, json};
use crm_shared::email::events::{bounce_event, sns_envelope};
use serde_json::Value;

fn sqs(body: String) -> SqsEvent {
    let mut message = SqsMessage::default();
    message.message_id = Some(uuid::Uuid::now_v7().to_string());
    message.body = Some(body);
    let mut event = SqsEvent::default();
    event.records = vec![message];
    event
}

/// The sample S3 event with `bucket` and `key`.
fn s3_event(bucket: &str, key: &str) -> S3Event {
    let mut event: Value =
        serde_json::from_str(include_str!("../../../events/s3-object-created.json")).unwrap();
    event["Records"][0]["s3"]["bucket"]["name"] = json!(bucket);
    event["Records"][0]["s3"]["bucket"]["arn"] = json!(format!("arn:aws:s3:::{bucket}"));
    event["Records"][0]["s3"]["object"]["key"] = json!(key);
    serde_json::from_value(event).unwrap()
}

#[tokio::test]
async fn api10_malformed_and_forged_third_party_payloads_change_nothing() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let address = format!("ext-{}@example.com", stack.prefix);
    let contact = stack
        .create_contact(
            &admin,
            json!({"first_name": "Ext", "email": address, "lifecycle_status": "customer"}),
        )
        .await;
    let before = stack
        .get(&format!("/contacts/{contact}"), &admin)
        .await
        .body;

    // SES events: not JSON, an envelope around garbage, a bounce for a tenant id that cannot
    // be one, one without tags, one for another tenant, a recipient with a header injection.
    let mut forged_tenant = bounce_event("acme", &contact, &address, "Permanent");
    forged_tenant["mail"]["tags"]["tenant"] = json!(["acme#evil"]);
    let mut untagged = bounce_event("acme", &contact, &address, "Permanent");
    untagged["mail"]["tags"] = json!({});
    let mut injected = bounce_event("acme", &contact, &address, "Permanent");
    injected["bounce"]["bouncedRecipients"][0]["emailAddress"] =
        json!(format!("{address}\r\nBcc: all@example.com"));
    let bodies = [
        "not json".to_string(),
        json!({"Type": "Notification", "Message": "{{{"}).to_string(),
        json!({"Type": "Notification"}).to_string(),
        sns_envelope(&json!({"eventType": "Bounce"})).to_string(),
        sns_envelope(&forged_tenant).to_string(),
        sns_envelope(&untagged).to_string(),
        sns_envelope(&bounce_event("globex", &contact, &address, "Permanent")).to_string(),
        sns_envelope(&injected).to_string(),
    ];
    let mail_events = &stack.runtime.functions.mail_events;
    for body in bodies {
        let _ = mail_events.handle(sqs(body)).await;
    }
    let suppressed = stack
        .table()
        .query_all(crm_shared::store::Query::partition(
            crm_shared::email::suppression::suppression_pk("acme", &address),
        ))
        .await
        .unwrap();
    assert!(
        suppressed.is_empty(),
        "a forged SES event suppressed acme's address"
    );
    // S3 events naming objects that are not there, or keys of no import or attachment.
    let refs = &stack.runtime.provisioned.resolved.refs;
    let imports = refs["ImportsBucket"].clone();
    let attachments = refs["AttachmentsBucket"].clone();
    let nobody = uuid::Uuid::now_v7();
    for (bucket, key) in [
        (&imports, format!("imports/acme/{nobody}/source.csv")),
        (&imports, "imports/../../etc/passwd".to_string()),
        (&imports, "imports/acme#evil/x/source.csv".to_string()),
    ] {
        let _ = stack
            .runtime
            .functions
            .import_processor
            .handle(s3_event(bucket, &key))
            .await;
    }
    for key in [
        format!("attachments/acme/{nobody}/{nobody}"),
        "attachments/../x".to_string(),
    ] {
        let _ = stack
            .runtime
            .functions
            .attachment_processor
            .handle(s3_event(&attachments, &key))
            .await;
    }
    assert!(
        stack.ids("/imports", &admin).await.is_empty(),
        "no import appeared"
    );
    assert_eq!(stack.ids("/contacts", &admin).await, vec![contact.clone()]);
    let after = stack
        .get(&format!("/contacts/{contact}"), &admin)
        .await
        .body;
    assert_eq!(
        after["version"], before["version"],
        "the contact did not change"
    );
    assert_eq!(after["email_opt_out"], before["email_opt_out"]);
    // And the address still gets mail.
    let r = stack
        .call(
            "POST",
            &format!("/contacts/{contact}/messages"),
            &admin,
            Some(json!({"subject": "Still reachable", "text": "Hi"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}
