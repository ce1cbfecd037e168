//! The inbound mail use case over the in-memory table and bucket.

use super::*;
use crate::catalog::Catalog;
use crate::contacts::NewContact;
use crate::records::Record;
use crate::settings::{SettingsPatch, SettingsStore};
use crate::store::Table;
use crate::{Caller, Role};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// An object: its bytes, when it was stored, its content type.
type Object = (Vec<u8>, DateTime<Utc>, String);

#[derive(Default)]
struct MemoryObjects(Mutex<HashMap<String, Object>>);

impl MemoryObjects {
    fn put_raw(&self, key: &str, bytes: &[u8]) {
        let at = crate::values::now();
        self.0
            .lock()
            .unwrap()
            .insert(key.into(), (bytes.to_vec(), at, "message/rfc822".into()));
    }
    fn keys(&self, prefix: &str) -> Vec<String> {
        let mut k: Vec<String> = self
            .0
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        k.sort();
        k
    }
}

impl MailObjects for MemoryObjects {
    fn holds(&self, bucket: &str) -> bool {
        bucket == "inbox"
    }
    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<ObjectInfo>, CrmError>> {
        let found = self
            .0
            .lock()
            .unwrap()
            .get(key)
            .map(|(b, at, _)| ObjectInfo {
                size: b.len() as i64,
                last_modified: *at,
            });
        Box::pin(async move { Ok(found) })
    }
    fn read<'a>(&'a self, key: &'a str, bytes: i64) -> BoxFuture<'a, Result<Vec<u8>, CrmError>> {
        let mut b = self.0.lock().unwrap()[key].0.clone();
        b.truncate(bytes as usize);
        Box::pin(async move { Ok(b) })
    }
    fn put<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), CrmError>> {
        self.0.lock().unwrap().insert(
            key.into(),
            (bytes, crate::values::now(), content_type.into()),
        );
        Box::pin(async { Ok(()) })
    }
    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<(), CrmError>> {
        let mut objects = self.0.lock().unwrap();
        for k in keys {
            objects.remove(k);
        }
        Box::pin(async { Ok(()) })
    }
}

struct World {
    catalog: Catalog,
    objects: Arc<MemoryObjects>,
    inbox: Inbox,
}

fn world() -> World {
    let catalog = Catalog::new(Table::in_memory());
    let objects = Arc::new(MemoryObjects::default());
    let inbox = Inbox::new(
        catalog.clone(),
        objects.clone(),
        MailDomain::for_inbound_domain("crm.test"),
    );
    World {
        catalog,
        objects,
        inbox,
    }
}

fn admin(tenant: &str) -> Caller {
    Caller::new(tenant, "alice", Role::Admin)
}

impl World {
    /// Makes the tenant known (its settings saved) with auto-lead on or off.
    async fn tenant(&self, tenant: &str, auto_lead: bool) {
        let store = SettingsStore::new(self.catalog.table().clone());
        let patch: SettingsPatch = serde_json::from_value(
            serde_json::json!({"inbound_auto_lead": auto_lead, "base_currency": "USD"}),
        )
        .unwrap();
        crate::settings::patch(&store, &admin(tenant), patch, None)
            .await
            .unwrap();
    }

    async fn contact(&self, tenant: &str, emails: &[&str]) -> Uuid {
        let input: NewContact = serde_json::from_value(serde_json::json!({
            "first_name": "Known",
            "emails": emails.iter().enumerate().map(|(i, e)| serde_json::json!({"address": e, "primary": i == 0})).collect::<Vec<_>>(),
        }))
        .unwrap();
        self.catalog
            .contacts()
            .create(&admin(tenant), input, None)
            .await
            .unwrap()
            .id
    }

    /// Stores `raw` and delivers its event twice: the second delivery changes nothing.
    async fn deliver(&self, key: &str, raw: &[u8]) -> Vec<Outcome> {
        self.objects.put_raw(key, raw);
        let first = self.inbox.on_object(key, &[]).await.unwrap();
        let again = self.inbox.on_object(key, &[]).await.unwrap();
        assert_eq!(first.len(), again.len());
        for (a, b) in first.iter().zip(&again) {
            assert!(!b.new, "a redelivery settles nothing anew");
            assert_eq!(a.message, b.message);
        }
        first
    }
}

fn mail(from: &str, to: &str, extra: &str, body: &str) -> Vec<u8> {
    format!("From: {from}\r\nTo: {to}\r\nSubject: Hello\r\n{extra}\r\n{body}").into_bytes()
}

const WITH_ATTACHMENT: &str = "Message-ID: <m1@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
See attached.\r\n--b\r\nContent-Type: text/csv; name=\"list.csv\"\r\n\
Content-Disposition: attachment; filename=\"list.csv\"\r\n\r\na,b\r\n--b--\r\n";

#[tokio::test]
async fn a_message_from_a_contact_is_logged_on_it_with_its_attachment_once() {
    let w = world();
    w.tenant("acme", false).await;
    // Matched by its second address, case folded.
    let ada = w
        .contact("acme", &["ada@home.test", "ada@example.com"])
        .await;
    let bob = w.contact("acme", &["bob@example.com"]).await;
    let raw = format!(
        "From: \"Ada\" <ADA@example.com>\r\nTo: acme@in.crm.test\r\nCc: bob@example.com, nobody@example.com\r\nSubject: Offer\r\n{}",
        WITH_ATTACHMENT
    );
    let out = w.deliver("inbound/m1", raw.as_bytes()).await;
    assert_eq!(out.len(), 1);
    let m = &out[0].message;
    assert_eq!(
        (out[0].tenant.as_str(), m.status),
        ("acme", InboundStatus::Processed)
    );
    assert_eq!(m.contact_ids, [ada, bob], "the sender first");
    assert_eq!(m.message_id.as_deref(), Some("m1@example.com"));
    assert_eq!(m.thread_id, m.activity_id, "a new thread");
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].file_name, "list.csv");
    assert_eq!(
        w.objects.keys("attachments/acme/"),
        [format!("attachments/acme/{}/1", m.id)]
    );
    let (listed, _) = w.inbox.messages().page("acme", 10, None).await.unwrap();
    assert_eq!(listed.len(), 1);
    // The inbound email activity, on both contacts.
    let a = w
        .catalog
        .activities()
        .get(&admin("acme"), m.activity_id.unwrap())
        .await
        .unwrap();
    assert_eq!(a.origin, crate::activities::Origin::InboundEmail);
    assert_eq!(a.contact_ids(), [ada, bob]);
    let f = &a.fields;
    assert_eq!(f.from.as_deref(), Some("ada@example.com"));
    assert_eq!(f.subject.as_deref(), Some("Offer"));
    assert_eq!(f.message_id.as_deref(), Some("m1@example.com"));
    assert_eq!(f.thread_id, m.thread_id.map(|t| t.to_string()));
    assert_eq!(f.direction, Some(crate::activities::Direction::Inbound));
    assert!(f.body.as_deref().unwrap().contains("See attached."));
    assert_eq!(
        f.attachments.as_ref().unwrap()[0].key,
        m.attachments[0].object_key
    );
    assert_eq!(
        a.access().owner,
        Some("alice"),
        "made for the sender's contact's owner"
    );
}

#[tokio::test]
async fn a_reply_joins_the_thread_of_the_message_it_answers() {
    let w = world();
    w.tenant("acme", false).await;
    w.contact("acme", &["ada@example.com"]).await;
    let first = w
        .deliver(
            "inbound/a",
            &mail(
                "ada@example.com",
                "acme@in.crm.test",
                "Message-ID: <root@example.com>\r\n",
                "one",
            ),
        )
        .await;
    let thread = first[0].message.thread_id.unwrap();
    let reply = w
        .deliver(
            "inbound/b",
            &mail(
                "ada@example.com",
                "acme@in.crm.test",
                "Message-ID: <r2@example.com>\r\nReferences: <root@example.com> <gone@example.com>\r\nIn-Reply-To: <gone@example.com>\r\n",
                "two",
            ),
        )
        .await;
    assert_eq!(reply[0].message.thread_id, Some(thread));
    assert_ne!(reply[0].message.activity_id, first[0].message.activity_id);
    // A second copy of the first message (another object): logged once.
    let copy = w
        .deliver(
            "inbound/c",
            &mail(
                "ada@example.com",
                "acme@in.crm.test",
                "Message-ID: <root@EXAMPLE.com>\r\n",
                "one",
            ),
        )
        .await;
    assert_eq!(copy[0].message.duplicate_of, first[0].message.activity_id);
    assert_eq!(copy[0].message.activity_id, None);
}

#[tokio::test]
async fn an_unknown_sender_becomes_a_lead_only_when_the_tenant_wants_it() {
    let w = world();
    w.tenant("acme", false).await;
    w.tenant("beta", true).await;
    let raw = mail(
        "\"Grace Hopper\" <grace@navy.test>",
        "acme@in.crm.test, beta@in.crm.test",
        "",
        "hi",
    );
    let out = w.deliver("inbound/g", &raw).await;
    let by: HashMap<&str, &InboundMessage> = out
        .iter()
        .map(|o| (o.tenant.as_str(), &o.message))
        .collect();
    assert!(by["acme"].contact_ids.is_empty());
    assert!(by["acme"].note.as_deref().unwrap().contains("no contact"));
    let lead = by["beta"].lead_id.expect("a lead");
    assert_eq!(by["beta"].contact_ids, [lead]);
    let c = w
        .catalog
        .contacts()
        .get(&admin("beta"), lead)
        .await
        .unwrap();
    assert_eq!(c.display_name, "Grace Hopper");
    assert_eq!(c.fields.lead_source.as_deref(), Some("inbound_email"));
    assert_eq!(c.fields.lifecycle_status.as_str(), "lead");
    assert_eq!(c.created_by, process::SYSTEM_ACTOR);
    // acme has no contact at all.
    assert!(
        w.catalog
            .contacts()
            .get(&admin("acme"), lead)
            .await
            .is_err()
    );

    // Through a dropbox only, the sender is the tenant's user: no lead.
    let raw = mail(
        "me@beta.test",
        "client@example.com",
        "Bcc: beta+log@in.crm.test\r\nDelivered-To: beta+log@in.crm.test\r\n",
        "hi",
    );
    let out = w.deliver("inbound/h", &raw).await;
    assert_eq!(out[0].message.lead_id, None);
}

#[tokio::test]
async fn a_message_for_one_tenant_never_lands_on_anothers_contact() {
    let w = world();
    w.tenant("acme", false).await;
    w.tenant("beta", false).await;
    let theirs = w.contact("beta", &["ada@example.com"]).await;
    let out = w
        .deliver(
            "inbound/x",
            &mail("ada@example.com", "acme@in.crm.test", "", "hi"),
        )
        .await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].tenant, "acme");
    assert!(!out[0].message.contact_ids.contains(&theirs));
    assert!(out[0].message.contact_ids.is_empty());
}

#[tokio::test]
async fn broken_unaddressed_and_oversized_messages_are_recorded_failed() {
    let w = world();
    w.tenant("acme", false).await;
    let out = w
        .deliver(
            "inbound/nofrom",
            b"To: acme@in.crm.test\r\nSubject: x\r\n\r\nbody",
        )
        .await;
    assert_eq!(
        (
            out[0].tenant.as_str(),
            out[0].message.status,
            out[0].message.rule.as_deref()
        ),
        ("acme", InboundStatus::Failed, Some("no_from"))
    );
    let out = w.deliver("inbound/garbage", b"\x00\x01 not mail").await;
    assert_eq!(out[0].tenant, messages::NO_TENANT);
    assert_eq!(out[0].message.rule.as_deref(), Some("no_tenant"));
    assert!(
        out[0]
            .message
            .reason
            .as_deref()
            .unwrap()
            .contains("no header")
    );
    // Addressed to a tenant that does not exist.
    let out = w
        .deliver(
            "inbound/ghost",
            &mail("a@example.com", "ghost@in.crm.test", "", "hi"),
        )
        .await;
    assert_eq!(out[0].message.rule.as_deref(), Some("no_tenant"));
    // Too large: failed, without reading it all, for the tenant its headers name.
    let mut big = mail("a@example.com", "acme@in.crm.test", "", "");
    big.resize(parse::MAX_MESSAGE_BYTES as usize + 1, b'x');
    let out = w.deliver("inbound/big", &big).await;
    assert_eq!(
        (out[0].tenant.as_str(), out[0].message.rule.as_deref()),
        ("acme", Some("too_large"))
    );
}

#[tokio::test]
async fn a_redelivery_after_a_crash_midway_logs_nothing_twice() {
    let w = world();
    w.tenant("acme", true).await;
    let raw = mail(
        "\"New Person\" <new@example.com>",
        "acme@in.crm.test",
        "Message-ID: <crash@example.com>\r\n",
        "hi",
    );
    w.objects.put_raw("inbound/crash", &raw);
    let first = w.inbox.on_object("inbound/crash", &[]).await.unwrap();
    // As if the outcome had never been written: every step runs again.
    let id = first[0].message.id;
    w.catalog
        .table()
        .delete_if(
            crate::store::Key::new(messages::message_pk("acme", id), "INBOUND"),
            None,
        )
        .await
        .unwrap();
    let again = w.inbox.on_object("inbound/crash", &[]).await.unwrap();
    assert!(again[0].new);
    assert_eq!(again[0].message.activity_id, first[0].message.activity_id);
    assert_eq!(again[0].message.thread_id, first[0].message.thread_id);
    assert_eq!(
        again[0].message.contact_ids, first[0].message.contact_ids,
        "the lead is found, not made twice"
    );
    assert_eq!(again[0].message.duplicate_of, None);
}
