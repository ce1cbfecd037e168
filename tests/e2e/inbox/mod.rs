//! Inbound email (S6.4): `.eml` files put into the inbox bucket under `inbound/`, as SES's
//! receipt rule stores them, reach `inbound-mail` through the bucket's S3 event (each event
//! delivered twice); the message is matched to contacts by any of their addresses, threaded,
//! its attachments stored; unknown senders become leads when the tenant wants it; a malformed
//! message is recorded failed with its reason; mail for one tenant never touches another's.

use crm_e2e_tests::{Stack, json};
use crm_shared::inbox::{InboundMessage, InboundMessages, InboundStatus, Outcome};

const MULTIPART: &[u8] = include_bytes!("../../fixtures/mail/multipart-attachment.eml");
const LATIN_1: &[u8] = include_bytes!("../../fixtures/mail/iso-8859-1.eml");
const REPLY: &[u8] = include_bytes!("../../fixtures/mail/reply.eml");
const UNKNOWN: &[u8] = include_bytes!("../../fixtures/mail/unknown-sender.eml");
const MALFORMED: &[u8] = include_bytes!("../../fixtures/mail/malformed.eml");
const SENT_BY_USER: &[u8] = include_bytes!("../../fixtures/mail/sent-by-user.eml");

fn inbox_bucket(stack: &Stack) -> String {
    stack.runtime.provisioned.resolved.refs["InboxBucket"].clone()
}

/// Stores `raw` as SES does: `inbound/{name}` in the inbox bucket.
async fn store(stack: &Stack, name: &str, raw: &[u8]) {
    stack
        .runtime
        .aws
        .s3
        .put_object()
        .bucket(inbox_bucket(stack))
        .key(format!("inbound/{name}"))
        .body(raw.to_vec().into())
        .send()
        .await
        .expect("PutObject");
}

/// Delivers every pending notification of the inbox bucket to `inbound-mail` twice, then
/// acknowledges it: what the first delivery settled (the second settles nothing anew).
async fn deliver_twice(stack: &Stack) -> Vec<Outcome> {
    let handler = &stack.runtime.functions.inbound_mail;
    let mut outcomes = Vec::new();
    loop {
        let events = stack.runtime.receive_s3_events().await.unwrap();
        if events.is_empty() {
            return outcomes;
        }
        for delivery in events {
            assert_eq!(delivery.function, "inbound-mail");
            let first = handler.handle(delivery.event.clone()).await.unwrap();
            let again = handler.handle(delivery.event.clone()).await.unwrap();
            assert_eq!(first.len(), again.len());
            for (a, b) in first.iter().zip(&again) {
                assert!(!b.new, "a redelivered event settles nothing anew");
                assert_eq!(a.message, b.message);
            }
            stack.runtime.ack_s3_event(&delivery.receipt).await.unwrap();
            outcomes.extend(first);
        }
    }
}

/// The one message settled for `tenant`.
fn only_for<'a>(outcomes: &'a [Outcome], tenant: &str) -> &'a InboundMessage {
    let mine: Vec<&Outcome> = outcomes.iter().filter(|o| o.tenant == tenant).collect();
    assert_eq!(mine.len(), 1, "{outcomes:?}");
    &mine[0].message
}

async fn logged(stack: &Stack, tenant: &str) -> Vec<InboundMessage> {
    InboundMessages::new(stack.table())
        .page(tenant, 100, None)
        .await
        .unwrap()
        .0
}

/// A tenant inbound mail knows: it has a user record (auto-lead stays off).
async fn tenant(stack: &Stack, tenant: &str) -> String {
    let admin = stack.token(tenant, "alice", "admin");
    stack
        .put_user(&admin, "alice", json!({"role": "admin"}))
        .await;
    stack
        .put_user(&admin, "bob", json!({"role": "member"}))
        .await;
    admin
}

async fn contacts(stack: &Stack, token: &str) -> Vec<serde_json::Value> {
    stack.list_all("/contacts", token).await
}

#[tokio::test]
async fn s6_4_mail_is_logged_on_every_matching_contact_threaded_and_stored_once() {
    let stack = Stack::start().await;
    let admin = tenant(&stack, "acme").await;
    // Ada is matched by her second address, whatever its case in the mail.
    let ada = stack
        .create_contact(
            &admin,
            json!({"first_name": "Ada", "emails": [
                {"address": "ada@home.example", "primary": true},
                {"address": "ada@example.com"}]}),
        )
        .await;
    let bob = stack
        .create_contact(
            &admin,
            json!({"first_name": "Bob", "email": "bob@example.com"}),
        )
        .await;

    store(&stack, "offer", MULTIPART).await;
    let out = deliver_twice(&stack).await;
    let m = only_for(&out, "acme");
    assert_eq!(m.status, InboundStatus::Processed, "{m:?}");
    let ids: Vec<String> = m.contact_ids.iter().map(|c| c.to_string()).collect();
    assert_eq!(
        ids,
        [ada.clone(), bob.clone()],
        "the sender first; the unknown Cc is no one"
    );
    assert_eq!(m.subject.as_deref(), Some("Angebot für Q3"));
    assert_eq!(m.message_id.as_deref(), Some("offer-1@mail.example.com"));
    assert_eq!(m.preview.as_deref(), Some("Hallo, anbei das Angebot – Ada"));
    assert_eq!(m.lead_id, None, "auto-lead is off");
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(
        (a.file_name.as_str(), a.content_type.as_str()),
        ("Angebot Q3.pdf", "application/pdf")
    );
    assert!(a.object_key.starts_with("attachments/acme/"));
    let stored = stack
        .runtime
        .aws
        .s3
        .get_object()
        .bucket(inbox_bucket(&stack))
        .key(&a.object_key)
        .send()
        .await
        .expect("the attachment is stored");
    let bytes = stored.body.collect().await.unwrap().into_bytes();
    assert!(bytes.starts_with(b"%PDF-1.7"));
    assert_eq!(bytes.len() as u64, a.size);

    // One inbound email activity (the event came twice), on both contacts' timelines.
    let activity = m.activity_id.unwrap().to_string();
    let a = stack.get(&format!("/activities/{activity}"), &admin).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(
        (
            &a.body["type"],
            &a.body["direction"],
            &a.body["origin"],
            &a.body["from"]
        ),
        (
            &json!("email"),
            &json!("inbound"),
            &json!("inbound_email"),
            &json!("ada@example.com")
        )
    );
    assert_eq!(a.body["subject"], "Angebot für Q3");
    assert_eq!(a.body["message_id"], "offer-1@mail.example.com");
    assert_eq!(a.body["thread_id"], m.thread_id.unwrap().to_string());
    assert_eq!(
        a.body["cc"],
        json!(["bob@example.com", "someone-new@example.com"])
    );
    assert!(
        a.body["body"]
            .as_str()
            .unwrap()
            .contains("anbei das Angebot")
    );
    assert_eq!(
        a.body["attachments"][0]["key"],
        json!(m.attachments[0].object_key)
    );
    assert_eq!(a.body["contact_ids"], json!([ada, bob]));
    for contact in [&ada, &bob] {
        let timeline = stack
            .list_all(&format!("/contacts/{contact}/activities"), &admin)
            .await;
        assert_eq!(timeline.len(), 1, "{timeline:?}");
        assert_eq!(timeline[0]["id"], json!(activity));
    }
    // Inbound mail is not a touch: last contact stays unset.
    let c = stack.get(&format!("/contacts/{ada}"), &admin).await;
    assert!(c.body["last_contacted_at"].is_null());

    // A reply (to the tenant's dropbox) joins the offer's thread by In-Reply-To.
    store(&stack, "reply", REPLY).await;
    let out = deliver_twice(&stack).await;
    let reply = only_for(&out, "acme");
    assert_eq!(reply.thread_id, m.thread_id);
    assert_ne!(reply.activity_id, m.activity_id);
    assert_eq!(reply.contact_ids.len(), 1);
    assert_eq!(reply.contact_ids[0].to_string(), ada);
    let timeline = stack
        .list_all(&format!("/contacts/{ada}/activities"), &admin)
        .await;
    assert_eq!(timeline.len(), 2);

    // ISO-8859-1 headers and body come out right.
    stack
        .create_contact(
            &admin,
            json!({"first_name": "José", "email": "jose@example.com"}),
        )
        .await;
    store(&stack, "latin-1", LATIN_1).await;
    let out = deliver_twice(&stack).await;
    let latin = only_for(&out, "acme");
    assert_eq!(latin.subject.as_deref(), Some("Grüße aus München"));
    assert_eq!(
        latin.preview.as_deref(),
        Some("Schöne Grüße aus München, José.")
    );
    assert_eq!(
        latin.from.as_ref().unwrap().name.as_deref(),
        Some("José Müller")
    );
    assert_ne!(latin.thread_id, m.thread_id, "a thread of its own");

    // Three messages, each logged once; no contact was made.
    assert_eq!(logged(&stack, "acme").await.len(), 3);
    assert_eq!(contacts(&stack, &admin).await.len(), 3);
}

#[tokio::test]
async fn s6_4_an_unknown_sender_becomes_a_lead_only_with_auto_lead() {
    let stack = Stack::start().await;
    let admin = tenant(&stack, "acme").await;

    // Off (the default): the message is recorded, nobody is created.
    store(&stack, "grace-1", UNKNOWN).await;
    let out = deliver_twice(&stack).await;
    let m = only_for(&out, "acme");
    assert_eq!(m.status, InboundStatus::Processed);
    assert!(m.contact_ids.is_empty());
    assert!(m.note.as_deref().unwrap().contains("no contact matched"));
    assert!(contacts(&stack, &admin).await.is_empty());

    // On: a lead named after the From display name, through the contacts' create use case.
    let r = stack
        .call(
            "PATCH",
            "/settings",
            &admin,
            Some(json!({"inbound_auto_lead": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["inbound_auto_lead"], true);
    store(&stack, "grace-2", UNKNOWN).await;
    let out = deliver_twice(&stack).await;
    let m = only_for(&out, "acme");
    let lead = m.lead_id.expect("a lead").to_string();
    assert_eq!(m.contact_ids.len(), 1);
    let c = stack.get(&format!("/contacts/{lead}"), &admin).await;
    assert_eq!(c.status, 200, "{:?}", c.body);
    assert_eq!(
        (
            &c.body["display_name"],
            &c.body["email"],
            &c.body["lead_source"],
            &c.body["lifecycle_status"]
        ),
        (
            &json!("Grace Hopper"),
            &json!("grace@navy.example"),
            &json!("inbound_email"),
            &json!("lead")
        )
    );
    let timeline = stack
        .list_all(&format!("/contacts/{lead}/activities"), &admin)
        .await;
    assert_eq!(timeline.len(), 1, "the message is logged on the lead");
    // One lead, made once although the event came twice.
    assert_eq!(contacts(&stack, &admin).await.len(), 1);
    let history = stack
        .get(&format!("/contacts/{lead}/history"), &admin)
        .await;
    assert_eq!(history.body["items"][0]["actor"], "system:inbound-email");
    // A new lead from any path (S8.4): it entered by inbound mail, and nobody owns it, so the
    // tenant's admins are told, once.
    assert_eq!(c.body["entry"]["path"], "inbound_email");
    let alice = stack.list_all("/me/notifications", &admin).await;
    assert_eq!(alice.len(), 1, "{alice:?}");
    assert_eq!(alice[0]["kind"], "new_lead");
    assert_eq!(alice[0]["contact_id"], lead.as_str());
}

#[tokio::test]
async fn s6_4_a_malformed_message_is_recorded_failed_and_the_batch_goes_on() {
    let stack = Stack::start().await;
    let admin = tenant(&stack, "acme").await;
    stack
        .create_contact(
            &admin,
            json!({"first_name": "Ada", "email": "ada@example.com"}),
        )
        .await;
    store(&stack, "broken", MALFORMED).await;
    store(&stack, "fine", MULTIPART).await;
    store(&stack, "garbage", b"\x00\x01\x02 not a message at all").await;
    // The three notifications as one event with three records.
    let mut event: Option<aws_lambda_events::event::s3::S3Event> = None;
    let mut receipts = Vec::new();
    while event.as_ref().map_or(0, |e| e.records.len()) < 3 {
        for d in stack.runtime.receive_s3_events().await.unwrap() {
            match &mut event {
                Some(e) => e.records.extend(d.event.records),
                None => event = Some(d.event),
            }
            receipts.push(d.receipt);
        }
    }
    let event = event.unwrap();
    let handler = &stack.runtime.functions.inbound_mail;
    let out = handler
        .handle(event.clone())
        .await
        .expect("the invocation succeeds");
    let again = handler.handle(event).await.unwrap();
    assert!(again.iter().all(|o| !o.new));
    for r in receipts {
        stack.runtime.ack_s3_event(&r).await.unwrap();
    }
    assert_eq!(out.len(), 3);
    let acme: Vec<&InboundMessage> = out
        .iter()
        .filter(|o| o.tenant == "acme")
        .map(|o| &o.message)
        .collect();
    let failed = acme
        .iter()
        .find(|m| m.status == InboundStatus::Failed)
        .expect("the malformed one");
    assert_eq!(failed.rule.as_deref(), Some("no_from"));
    assert_eq!(
        failed.reason.as_deref(),
        Some("the message has no From address")
    );
    assert!(failed.object_key.ends_with("broken"));
    assert!(
        acme.iter()
            .any(|m| m.status == InboundStatus::Processed && m.contact_ids.len() == 1)
    );
    // Garbage names no tenant: kept apart, failed.
    let lost = out.iter().find(|o| o.tenant != "acme").unwrap();
    assert_eq!(lost.message.rule.as_deref(), Some("no_tenant"));
    assert_eq!(logged(&stack, "acme").await.len(), 2);
    // The log through the API: admins read it page by page, failures with their reason.
    let all = stack.list_all("/inbound-messages?limit=1", &admin).await;
    assert_eq!(all.len(), 2);
    let failed: Vec<_> = all.iter().filter(|m| m["status"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["rule"], "no_from");
    assert_eq!(failed[0]["reason"], "the message has no From address");
    let bob = stack.token("acme", "bob", "member");
    assert_eq!(
        stack.status("GET", "/inbound-messages", &bob, None).await,
        403
    );
    assert_eq!(
        stack
            .status("GET", "/inbound-messages?cursor=nope", &admin, None)
            .await,
        400
    );
    let other = stack.token("beta", "carol", "owner");
    assert_eq!(
        stack
            .call("GET", "/inbound-messages", &other, None)
            .await
            .body["items"],
        json!([])
    );
}

#[tokio::test]
async fn s6_4_mail_for_one_tenant_never_lands_on_another_tenants_contact() {
    let stack = Stack::start().await;
    let acme = tenant(&stack, "acme").await;
    let beta = tenant(&stack, "beta").await;
    // Both tenants know Ada and Bob by the same addresses; beta would even make leads.
    let r = stack
        .call(
            "PATCH",
            "/settings",
            &beta,
            Some(json!({"inbound_auto_lead": true})),
        )
        .await;
    assert_eq!(r.status, 200);
    let theirs = stack
        .create_contact(
            &beta,
            json!({"first_name": "Ada", "email": "ada@example.com"}),
        )
        .await;
    let ours = stack
        .create_contact(
            &acme,
            json!({"first_name": "Ada", "email": "ada@example.com"}),
        )
        .await;

    store(&stack, "offer", MULTIPART).await;
    store(&stack, "grace", UNKNOWN).await;
    let out = deliver_twice(&stack).await;
    assert!(out.iter().all(|o| o.tenant == "acme"), "{out:?}");
    let offer = out
        .iter()
        .find(|o| o.message.message_id.as_deref() == Some("offer-1@mail.example.com"))
        .unwrap();
    let ids: Vec<String> = offer
        .message
        .contact_ids
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(ids, [ours]);
    assert!(!ids.contains(&theirs));
    assert!(logged(&stack, "beta").await.is_empty());
    assert_eq!(contacts(&stack, &beta).await.len(), 1, "no lead in beta");
    // A tenant that does not exist gets nothing; its mail is recorded apart.
    store(
        &stack,
        "ghost",
        &MULTIPART.to_vec().replace_tenant("acme@in", "ghost@in"),
    )
    .await;
    let out = deliver_twice(&stack).await;
    assert_eq!(out[0].message.rule.as_deref(), Some("no_tenant"));
}

trait ReplaceTenant {
    fn replace_tenant(&self, from: &str, to: &str) -> Vec<u8>;
}

impl ReplaceTenant for Vec<u8> {
    fn replace_tenant(&self, from: &str, to: &str) -> Vec<u8> {
        String::from_utf8_lossy(self).replace(from, to).into_bytes()
    }
}

/// S1.2 with S6.4 and S8: a contact's export holds its stored mail, outreach and the
/// notifications about it; its erasure deletes the stored message and attachment objects,
/// their items and Message-ID, its outreach and those notifications.
#[tokio::test]
async fn s1_2_erasing_a_contact_removes_its_stored_mail_outreach_and_notifications() {
    let stack = Stack::start().await;
    let admin = tenant(&stack, "acme").await;
    let bob_token = stack.token("acme", "bob", "member");
    // A lead for Bob: he is told of it.
    let ada = stack
        .create_contact(
            &admin,
            json!({"first_name": "Ada", "email": "ada@example.com", "owner": "bob", "lifecycle_status": "lead"}),
        )
        .await;
    stack
        .create_contact(
            &admin,
            json!({"first_name": "Bob", "email": "bob@example.com"}),
        )
        .await;
    assert_eq!(
        stack.list_all("/me/notifications", &bob_token).await.len(),
        1
    );
    let outreach = stack
        .create(
            "/outreach",
            &admin,
            json!({"contact_id": ada, "type": "email", "email_address": "ada@example.com"}),
        )
        .await;
    store(&stack, "offer", MULTIPART).await;
    let out = deliver_twice(&stack).await;
    let m = only_for(&out, "acme").clone();
    let objects = [
        "inbound/offer".to_string(),
        m.attachments[0].object_key.clone(),
    ];

    let export = stack.get(&format!("/contacts/{ada}/export"), &admin).await;
    assert_eq!(export.status, 200, "{:?}", export.body);
    assert_eq!(export.body["inbound_messages"][0]["id"], m.id.to_string());
    assert_eq!(export.body["outreach"][0]["id"], outreach.as_str());
    assert_eq!(export.body["notifications"][0]["kind"], "new_lead");
    assert_eq!(export.body["activities"].as_array().unwrap().len(), 1);

    let r = stack
        .call("POST", &format!("/contacts/{ada}/erase"), &admin, None)
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let bucket = inbox_bucket(&stack);
    for key in objects {
        let head = stack
            .runtime
            .aws
            .s3
            .head_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await;
        assert!(head.is_err(), "{key} is deleted");
    }
    assert!(
        logged(&stack, "acme").await.is_empty(),
        "the message item is gone"
    );
    let threads = crm_shared::inbox::Threads::new(stack.table());
    assert!(
        threads
            .entry("acme", "offer-1@mail.example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        stack
            .get(&format!("/outreach/{outreach}"), &admin)
            .await
            .status,
        404
    );
    assert!(
        stack
            .list_all("/me/notifications", &bob_token)
            .await
            .is_empty()
    );
}

/// Mail a user of the tenant sent and copied to their BCC dropbox is their outbound email:
/// logged as theirs on the recipients' contacts, a touch (S8.5), no lead made of them.
#[tokio::test]
async fn s6_4_mail_a_user_copies_to_the_dropbox_is_their_outbound_email() {
    let stack = Stack::start().await;
    let admin = tenant(&stack, "acme").await;
    stack
        .put_user(
            &admin,
            "alice",
            json!({"role": "admin", "email": "alice@acme.example"}),
        )
        .await;
    let ada = stack
        .create_contact(
            &admin,
            json!({"first_name": "Ada", "email": "ada@example.com"}),
        )
        .await;
    store(&stack, "sent", SENT_BY_USER).await;
    let out = deliver_twice(&stack).await;
    let m = only_for(&out, "acme");
    assert_eq!(m.contact_ids.len(), 1, "{m:?}");
    let timeline = stack
        .list_all(&format!("/contacts/{ada}/activities"), &admin)
        .await;
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0]["direction"], "outbound");
    assert_eq!(timeline[0]["owner"], "alice");
    let c = stack.get(&format!("/contacts/{ada}"), &admin).await;
    assert_eq!(c.body["last_contacted_at"], "2026-11-30T08:00:00Z");
}
