//! The inbound mail use case: an object SES stored in the inbox bucket becomes, for each tenant
//! it is addressed to, an inbound email activity on every contact it matches, threaded, with its
//! attachments stored; or a failed inbound message with the reason. Every step is safe to run
//! again (a redelivered event, a crash midway): ids derive from the object, writes are
//! conditional or overwrite the same bytes, and the inbound-message item, written last on
//! condition that it is new, ends the work for that tenant.

use super::address::{Addressee, MailDomain, addressees};
use super::messages::{
    InboundMessage, InboundMessages, InboundStatus, NO_TENANT, PREVIEW_CHARS, StoredAttachment,
};
use super::parse::{self, HEADER_BYTES, MAX_MESSAGE_BYTES, Mailbox, ParsedMessage, Rejection};
use super::threads::{Direction, ThreadEntry, Threads, normalise};
use crate::activities::{self, ActivityAttachment, NewActivity, Origin};
use crate::catalog::Catalog;
use crate::contacts::{LifecycleStatus, NewContact, email_pk};
use crate::directory::Directory;
use crate::records::Record;
use crate::settings::SettingsStore;
use crate::store::{Key, from_item};
use crate::values::derived_id;
use crate::values::email::normalize_email;
use crate::{Caller, CrmError, Role};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// The actor inbound mail acts as (audit entries, the leads it creates).
pub const SYSTEM_ACTOR: &str = "system:inbound-email";
/// The lead source of leads created from inbound mail.
pub const LEAD_SOURCE: &str = "inbound_email";
/// The activities' limits: an email's subject and body, its contacts and recipients.
const SUBJECT_CHARS: usize = 300;
const BODY_CHARS: usize = 100_000;
const MAX_LINKS: usize = 50;
/// Where SES stores mail in the inbox bucket.
pub const INBOUND_PREFIX: &str = "inbound/";

/// An object of the inbox bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub size: i64,
    pub last_modified: DateTime<Utc>,
}

/// The inbox bucket: the port the use case takes (S3 in functions, memory in tests).
pub trait MailObjects: Send + Sync {
    /// Whether `bucket` is the inbox bucket.
    fn holds(&self, bucket: &str) -> bool;
    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<ObjectInfo>, CrmError>>;
    /// At most `bytes` bytes from the start of the object.
    fn read<'a>(&'a self, key: &'a str, bytes: i64) -> BoxFuture<'a, Result<Vec<u8>, CrmError>>;
    fn put<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), CrmError>>;
    /// Deletes objects (gone ones too: a retried erasure finds them deleted).
    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<(), CrmError>>;
}

/// The inbound email activity of a message, as the activities module will take it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundEmail {
    pub activity_id: Uuid,
    pub tenant: String,
    /// The tenant's user who sent it (mail they copied to their BCC dropbox): then it is
    /// their outbound email, logged as theirs, and a touch of its contacts.
    pub sent_by: Option<String>,
    pub contact_ids: Vec<Uuid>,
    pub subject: Option<String>,
    pub from: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub message_id: Option<String>,
    pub thread_id: Uuid,
    pub in_reply_to: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<StoredAttachment>,
}

/// What became of an object for one tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub tenant: String,
    pub message: InboundMessage,
    /// `false` when an earlier delivery had already settled it.
    pub new: bool,
}

#[derive(Clone)]
pub struct Inbox {
    catalog: Catalog,
    /// Leads are made as every path makes them: assignment, lead event, notifications.
    leads: crate::leads::Leads,
    settings: Arc<SettingsStore>,
    threads: Threads,
    messages: InboundMessages,
    files: Arc<dyn MailObjects>,
    domain: MailDomain,
}

/// A whole message read and parsed, or why not (with the headers, when they could be read).
struct Read {
    parsed: Result<ParsedMessage, Rejection>,
    headers: Option<ParsedMessage>,
}

impl Inbox {
    pub fn new(catalog: Catalog, files: Arc<dyn MailObjects>, domain: MailDomain) -> Self {
        let table = catalog.table().clone();
        Self {
            leads: crate::leads::Leads::new(catalog.clone(), None),
            settings: Arc::new(SettingsStore::new(table.clone())),
            threads: Threads::new(table.clone()),
            messages: InboundMessages::new(table),
            catalog,
            files,
            domain,
        }
    }

    /// Leads announced with mail to the users who asked for it.
    pub fn with_leads(self, leads: crate::leads::Leads) -> Self {
        Self { leads, ..self }
    }

    pub fn files(&self) -> &dyn MailObjects {
        self.files.as_ref()
    }

    pub fn messages(&self) -> &InboundMessages {
        &self.messages
    }

    pub fn threads(&self) -> &Threads {
        &self.threads
    }

    /// The object `key` of the inbox bucket, delivered to the tenants it is addressed to
    /// (`receipt`: the recipients SES names, when the event carries them). An `Err` is a
    /// passing fault (the table, the bucket): the event should be delivered again.
    pub async fn on_object(&self, key: &str, receipt: &[String]) -> Result<Vec<Outcome>, CrmError> {
        let Some(info) = self.files.head(key).await? else {
            tracing::info!(%key, "inbound object is gone");
            return Ok(Vec::new());
        };
        let read = self.read(key, &info).await?;
        let headers = match (&read.parsed, &read.headers) {
            (Ok(parsed), _) => Some(parsed),
            (Err(_), h) => h.as_ref(),
        };
        let named = headers.map_or_else(Vec::new, |h| addressees(h, receipt, &self.domain));
        let mut tenants = Vec::new();
        for addressee in named {
            if self.is_tenant(&addressee.tenant).await? {
                tenants.push(addressee);
            }
        }
        if tenants.is_empty() {
            let id = self.message_id(NO_TENANT, key, &info);
            let reason = match &read.parsed {
                Err(r) => format!("no tenant: {}", r.reason),
                Ok(_) => format!(
                    "no tenant: no recipient is a tenant's address at {}",
                    self.domain.as_str()
                ),
            };
            let failed = InboundMessage::failed(
                id,
                key,
                info.size,
                info.last_modified,
                "no_tenant",
                &reason,
            );
            return Ok(vec![self.settle(NO_TENANT, failed).await?]);
        }
        let mut outcomes = Vec::new();
        for addressee in tenants {
            outcomes.push(
                self.for_tenant(&addressee, key, &info, &read.parsed)
                    .await?,
            );
        }
        Ok(outcomes)
    }

    async fn read(&self, key: &str, info: &ObjectInfo) -> Result<Read, CrmError> {
        if info.size > MAX_MESSAGE_BYTES {
            let head = self.files.read(key, HEADER_BYTES).await?;
            return Ok(Read {
                parsed: Err(Rejection::too_large(info.size)),
                headers: parse::parse_headers(&head).ok(),
            });
        }
        let raw = self.files.read(key, MAX_MESSAGE_BYTES).await?;
        let parsed = parse::parse(&raw);
        let headers = match &parsed {
            Ok(_) => None,
            Err(_) => parse::parse_headers(&raw).ok(),
        };
        Ok(Read { parsed, headers })
    }

    /// A tenant exists when it saved its settings or has a user record.
    async fn is_tenant(&self, tenant: &str) -> Result<bool, CrmError> {
        if self.settings.get(tenant).await?.version > 0 {
            return Ok(true);
        }
        self.catalog.ctx.directory.has_users(tenant).await
    }

    fn message_id(&self, tenant: &str, key: &str, info: &ObjectInfo) -> Uuid {
        derived_id(
            info.last_modified,
            &[b"inbound", tenant.as_bytes(), key.as_bytes()],
        )
    }

    async fn settle(&self, tenant: &str, message: InboundMessage) -> Result<Outcome, CrmError> {
        let new = self.messages.settle(tenant, &message).await?;
        let message = if new {
            message
        } else {
            self.messages
                .get(tenant, message.id)
                .await?
                .unwrap_or(message)
        };
        tracing::info!(tenant, id = %message.id, status = ?message.status, new, "inbound message settled");
        Ok(Outcome {
            tenant: tenant.to_string(),
            message,
            new,
        })
    }

    async fn for_tenant(
        &self,
        addressee: &Addressee,
        key: &str,
        info: &ObjectInfo,
        parsed: &Result<ParsedMessage, Rejection>,
    ) -> Result<Outcome, CrmError> {
        let tenant = addressee.tenant.as_str();
        let id = self.message_id(tenant, key, info);
        if let Some(done) = self.messages.get(tenant, id).await? {
            return Ok(Outcome {
                tenant: tenant.to_string(),
                message: done,
                new: false,
            });
        }
        let message = match parsed {
            Err(r) => {
                InboundMessage::failed(id, key, info.size, info.last_modified, r.rule, &r.reason)
            }
            Ok(m) => self.log(addressee, id, key, info, m).await?,
        };
        self.settle(tenant, message).await
    }

    async fn log(
        &self,
        addressee: &Addressee,
        id: Uuid,
        key: &str,
        info: &ObjectInfo,
        m: &ParsedMessage,
    ) -> Result<InboundMessage, CrmError> {
        let tenant = addressee.tenant.as_str();
        let activity_id = derived_id(
            info.last_modified,
            &[b"inbound-activity", tenant.as_bytes(), key.as_bytes()],
        );
        let message_id = m.message_id.as_deref().and_then(normalise);
        let mut out = InboundMessage {
            status: InboundStatus::Processed,
            rule: None,
            reason: None,
            from: m.from.clone(),
            subject: m.subject.clone(),
            message_id: message_id.clone(),
            preview: m.text.as_deref().map(|t| {
                t.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(PREVIEW_CHARS)
                    .collect()
            }),
            ..InboundMessage::failed(id, key, info.size, info.last_modified, "", "")
        };

        // The same message logged before (another copy of it): nothing more.
        if let Some(mid) = &message_id {
            if let Some(seen) = self.threads.entry(tenant, mid).await? {
                if seen.activity_id != activity_id {
                    out.note = Some("a message with this Message-ID is already logged".into());
                    out.duplicate_of = Some(seen.activity_id);
                    out.thread_id = Some(seen.thread_id);
                    return Ok(out);
                }
            }
        }

        let (mut contacts, sender) = self.match_contacts(tenant, m).await?;
        let sent_by = self.sending_user(tenant, m).await?;
        if sender.is_none() && sent_by.is_none() && addressee.direct {
            if let Some(from) = &m.from {
                match self.auto_lead(tenant, from).await? {
                    Lead::Created(lead) => {
                        out.lead_id = Some(lead);
                        contacts.insert(0, lead);
                    }
                    Lead::Existing(c) => contacts.insert(0, c),
                    Lead::Off => {}
                    Lead::Refused(why) => out.note = Some(format!("no lead created: {why}")),
                }
            }
        }
        contacts.dedup();
        let mut seen = std::collections::HashSet::new();
        contacts.retain(|c| seen.insert(*c));
        if contacts.is_empty() {
            out.note
                .get_or_insert_with(|| "no contact matched the sender or a recipient".into());
            return Ok(out);
        }

        out.attachments = self.store_attachments(tenant, id, m).await?;
        let thread_id = self
            .threads
            .thread_for(tenant, &m.parents(), activity_id)
            .await?;
        if let Some(mid) = &message_id {
            let entry = ThreadEntry {
                message_id: mid.clone(),
                thread_id,
                activity_id,
                direction: if sent_by.is_some() {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                },
                recorded_at: info.last_modified,
            };
            if let Err(other) = self.threads.record(tenant, &entry).await? {
                // Another copy won the race: that one is logged.
                out.note = Some("a message with this Message-ID is already logged".into());
                out.duplicate_of = Some(other.activity_id);
                out.thread_id = Some(other.thread_id);
                return Ok(out);
            }
        }
        let email = InboundEmail {
            activity_id,
            tenant: tenant.to_string(),
            sent_by,
            contact_ids: contacts.clone(),
            subject: m.subject.clone(),
            from: m.from.clone(),
            to: m.to.clone(),
            cc: m.cc.clone(),
            message_id,
            thread_id,
            in_reply_to: m.in_reply_to.first().and_then(|p| normalise(p)),
            sent_at: m.date,
            received_at: info.last_modified,
            text: m.text.clone(),
            html: m.html.clone(),
            attachments: out.attachments.clone(),
        };
        self.log_activity(&email).await?;
        out.thread_id = Some(thread_id);
        out.activity_id = Some(activity_id);
        out.contact_ids = contacts;
        Ok(out)
    }

    /// The one place an inbound email becomes an activity: `activities::log_once` with the id
    /// derived from the object, so a redelivery finds it (and only completes its touches). It
    /// is made for the owner of its first contact (the sender's), in that contact's team; an
    /// inbound email is not a touch (it does not move last contact).
    async fn log_activity(&self, email: &InboundEmail) -> Result<(), CrmError> {
        if let Some(user) = &email.sent_by {
            let teams = Directory::new(self.catalog.table().clone())
                .user(&email.tenant, user)
                .await?
                .map(|u| u.teams)
                .unwrap_or_default();
            let caller = Caller {
                teams,
                ..Caller::new(&email.tenant, user.as_str(), Role::Admin)
            };
            activities::log_once(
                &self.catalog.activities(),
                &caller,
                email.activity_id,
                Origin::InboundEmail,
                NewActivity(activity_body(email)),
            )
            .await?;
            return Ok(());
        }
        let first = email.contact_ids.first().copied();
        let contact = match first {
            Some(id) => self.catalog.contacts().store.get(&email.tenant, id).await?,
            None => None,
        };
        let access = contact.as_ref().map(|c| c.access());
        let owner = access
            .as_ref()
            .and_then(|a| a.owner)
            .unwrap_or(SYSTEM_ACTOR);
        let caller = Caller {
            teams: access.as_ref().and_then(|a| a.team).into_iter().collect(),
            ..Caller::new(&email.tenant, owner, Role::Admin)
        };
        let input = NewActivity(activity_body(email));
        activities::log_once(
            &self.catalog.activities(),
            &caller,
            email.activity_id,
            Origin::InboundEmail,
            input,
        )
        .await?;
        Ok(())
    }

    /// The tenant's active user whose address sent the message, if any.
    async fn sending_user(
        &self,
        tenant: &str,
        m: &ParsedMessage,
    ) -> Result<Option<String>, CrmError> {
        let Some(from) = m.from.as_ref().and_then(|f| normalize_email(&f.address)) else {
            return Ok(None);
        };
        let (users, _) = Directory::new(self.catalog.table().clone())
            .everyone(tenant)
            .await?;
        Ok(users
            .into_iter()
            .find(|u| {
                u.status == crate::directory::UserStatus::Active
                    && u.email.as_deref().and_then(normalize_email).as_deref()
                        == Some(from.as_str())
            })
            .map(|u| u.user_id))
    }

    /// The contacts the sender and the recipients are (by any of their addresses; inbox
    /// addresses excluded): the sender's first. One BatchGetItem of the email claims.
    async fn match_contacts(
        &self,
        tenant: &str,
        m: &ParsedMessage,
    ) -> Result<(Vec<Uuid>, Option<Uuid>), CrmError> {
        let sender = m.from.as_ref().and_then(|f| normalize_email(&f.address));
        let mut addresses: Vec<String> = sender.iter().cloned().collect();
        for a in m.recipients() {
            if self.domain.holds(a) {
                continue;
            }
            if let Some(e) = normalize_email(a) {
                if !addresses.contains(&e) {
                    addresses.push(e);
                }
            }
        }
        addresses.truncate(100);
        let holders = self.holders(tenant, &addresses).await?;
        let sender_contact = sender.as_ref().and_then(|s| holders.get(s).copied());
        let contacts = addresses
            .iter()
            .filter_map(|a| holders.get(a).copied())
            .collect();
        Ok((contacts, sender_contact))
    }

    /// Address → the live contact holding it.
    async fn holders(
        &self,
        tenant: &str,
        addresses: &[String],
    ) -> Result<HashMap<String, Uuid>, CrmError> {
        if addresses.is_empty() {
            return Ok(HashMap::new());
        }
        #[derive(serde::Deserialize)]
        struct Claim {
            #[serde(rename = "PK")]
            pk: String,
            contact_id: Uuid,
        }
        let keys = addresses
            .iter()
            .map(|a| Key::new(email_pk(tenant, a), "EMAIL"))
            .collect();
        let prefix = email_pk(tenant, "");
        let mut out = HashMap::new();
        for item in self.catalog.table().batch_get(keys, None).await? {
            let claim: Claim = from_item(item)?;
            if let Some(address) = claim.pk.strip_prefix(&prefix) {
                out.insert(address.to_string(), claim.contact_id);
            }
        }
        Ok(out)
    }

    async fn auto_lead(&self, tenant: &str, from: &Mailbox) -> Result<Lead, CrmError> {
        if !self.settings.get(tenant).await?.inbound_auto_lead {
            return Ok(Lead::Off);
        }
        let Some(address) = normalize_email(&from.address) else {
            return Ok(Lead::Refused(format!(
                "{:?} is not an address a contact can have",
                from.address
            )));
        };
        let (first_name, last_name) = split_name(from.name.as_deref());
        let input = NewContact {
            email: Some(address.clone()),
            first_name,
            last_name,
            lead_source: Some(LEAD_SOURCE.into()),
            lifecycle_status: Some(LifecycleStatus::Lead),
            ..NewContact::default()
        };
        let system = Caller::new(tenant, SYSTEM_ACTOR, Role::Admin);
        let entry = crate::contacts::EntryInput {
            path: crate::contacts::EntryPath::InboundEmail,
            utm_source: None,
            utm_medium: None,
            utm_campaign: None,
        };
        let created = self
            .leads
            .create_contact(&system, input, None, entry, None)
            .await;
        match created {
            Ok(c) => {
                tracing::info!(tenant, contact = %c.id, "lead created from inbound mail");
                Ok(Lead::Created(c.id))
            }
            // Created meanwhile (a redelivery running beside this one): that contact.
            Err(CrmError::Conflict { .. }) => Ok(self
                .holders(tenant, std::slice::from_ref(&address))
                .await?
                .get(&address)
                .map_or_else(
                    || Lead::Refused("the address is taken".into()),
                    |c| Lead::Existing(*c),
                )),
            Err(CrmError::Validation(errors)) => Ok(Lead::Refused(
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            )),
            Err(e) => Err(e),
        }
    }

    /// Stores each attachment as `attachments/{tenant}/{message}/{n}` (the same key each time).
    async fn store_attachments(
        &self,
        tenant: &str,
        id: Uuid,
        m: &ParsedMessage,
    ) -> Result<Vec<StoredAttachment>, CrmError> {
        let mut out = Vec::new();
        for (n, a) in m.attachments.iter().enumerate() {
            let object_key = format!("attachments/{tenant}/{id}/{}", n + 1);
            self.files
                .put(&object_key, a.bytes.clone(), &a.content_type)
                .await?;
            out.push(StoredAttachment {
                file_name: a.file_name.clone(),
                content_type: a.content_type.clone(),
                size: a.bytes.len() as u64,
                object_key,
            });
        }
        Ok(out)
    }
}

/// The activity's fields within the activities' limits: addresses that are not ones a contact
/// could have are left out, texts cut to their length.
fn activity_body(email: &InboundEmail) -> Map<String, Value> {
    let addresses = |list: &[Mailbox]| -> Vec<String> {
        list.iter()
            .filter_map(|m| normalize_email(&m.address))
            .take(MAX_LINKS)
            .collect()
    };
    let cut = |s: &str, n: usize| -> String { s.chars().take(n).collect() };
    // When it was sent, unless the sender's clock claims the future.
    let occurred = email
        .sent_at
        .filter(|t| *t <= email.received_at + chrono::Duration::hours(1))
        .unwrap_or(email.received_at);
    let direction = if email.sent_by.is_some() {
        "outbound"
    } else {
        "inbound"
    };
    let mut body = json!({
        "type": "email",
        "direction": direction,
        "occurred_at": occurred,
        "contact_ids": email.contact_ids.iter().take(MAX_LINKS).collect::<Vec<_>>(),
        "thread_id": email.thread_id.to_string(),
    });
    let b = body.as_object_mut().expect("an object");
    let from = email
        .from
        .as_ref()
        .and_then(|f| normalize_email(&f.address));
    if let Some(from) = from {
        b.insert("from".into(), json!(from));
    }
    let (to, cc) = (addresses(&email.to), addresses(&email.cc));
    if !to.is_empty() {
        b.insert("to".into(), json!(to));
    }
    if !cc.is_empty() {
        b.insert("cc".into(), json!(cc));
    }
    if let Some(s) = &email.subject {
        b.insert("subject".into(), json!(cut(s, SUBJECT_CHARS)));
    }
    if let Some(id) = &email.message_id {
        b.insert("message_id".into(), json!(cut(id, 998)));
    }
    if let Some(id) = &email.in_reply_to {
        b.insert("in_reply_to".into(), json!(cut(id, 998)));
    }
    if let Some(text) = &email.text {
        b.insert("body".into(), json!(cut(text, BODY_CHARS)));
    }
    if !email.attachments.is_empty() {
        let files: Vec<ActivityAttachment> = email
            .attachments
            .iter()
            .map(|a| ActivityAttachment {
                file_name: a.file_name.clone(),
                content_type: a.content_type.clone(),
                size: a.size,
                key: a.object_key.clone(),
            })
            .collect();
        b.insert("attachments".into(), json!(files));
    }
    body.as_object().cloned().unwrap_or_default()
}

enum Lead {
    Off,
    Created(Uuid),
    Existing(Uuid),
    Refused(String),
}

/// "Ada Lovelace" → (Ada, Lovelace); "Lovelace, Ada" → (Ada, Lovelace); one word → a first name.
fn split_name(name: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(name) = name
        .map(str::trim)
        .filter(|n| !n.is_empty() && !n.contains('@'))
    else {
        return (None, None);
    };
    let name: String = name.chars().take(200).collect();
    if let Some((last, first)) = name.split_once(',') {
        let (first, last) = (first.trim(), last.trim());
        if !first.is_empty() && !last.is_empty() {
            return (Some(first.into()), Some(last.into()));
        }
    }
    match name.trim().rsplit_once(' ') {
        Some((first, last)) => (Some(first.trim().into()), Some(last.trim().into())),
        None => (Some(name.trim().into()), None),
    }
}

#[cfg(test)]
mod tests {
    use super::split_name;

    #[test]
    fn display_names_split_into_first_and_last() {
        let s = |n: Option<&str>| split_name(n);
        assert_eq!(
            s(Some("Ada Lovelace")),
            (Some("Ada".into()), Some("Lovelace".into()))
        );
        assert_eq!(
            s(Some("Lovelace, Ada")),
            (Some("Ada".into()), Some("Lovelace".into()))
        );
        assert_eq!(
            s(Some("Ada King Lovelace")),
            (Some("Ada King".into()), Some("Lovelace".into()))
        );
        assert_eq!(s(Some("Ada")), (Some("Ada".into()), None));
        assert_eq!(s(Some("ada@example.com")), (None, None));
        assert_eq!(s(None), (None, None));
    }
}
