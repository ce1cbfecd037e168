//! Sending one email to one contact (S6.4): the checks (opt-out, do-not-contact, suppression),
//! the merge values, the renderer, the MIME message, and the provider behind a port. Both
//! `POST /contacts/{id}/messages` (and from a deal) and workflow `send_email` steps go through
//! [`prepare`].

use super::mime::{self, Envelope};
use super::render::{MailTemplate, MergeField, classify};
use super::suppression;
use super::templates::{self, check_mail};
use super::unsubscribe::{TokenSigner, Unsubscription};
use crate::access::{Action, Policy, Subject};
use crate::catalog::Catalog;
use crate::contacts::Contact;
use crate::custom_fields::FieldValue;
use crate::custom_fields::definition::{Entity, FieldDefinition};
use crate::custom_fields::store::FieldStore;
use crate::directory::Directory;
use crate::errors::sdk_error;
use crate::settings::SettingsStore;
use crate::store::Table;
use crate::{Caller, CrmError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The SES tags a sent mail carries, so that a bounce maps back to its tenant and contact.
pub const TAG_TENANT: &str = "tenant";
pub const TAG_CONTACT: &str = "contact";

/// What every send needs from the stack: the verified sender, and for the unsubscribe link
/// the signing secret and the API's public URL.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub sender: String,
    pub unsubscribe: Option<TokenSigner>,
    /// `https://…` without a trailing slash.
    pub public_url: Option<String>,
}

impl MailSettings {
    /// The one-click link for `u`; an error when the stack has no secret or URL configured.
    pub fn unsubscribe_url(&self, u: &Unsubscription) -> Result<String, CrmError> {
        match (&self.unsubscribe, &self.public_url) {
            (Some(signer), Some(base)) => Ok(format!(
                "{}/unsubscribe/{}",
                base.trim_end_matches('/'),
                signer.sign(u)
            )),
            _ => Err(CrmError::Internal(
                "bulk mail needs UNSUBSCRIBE_SECRET and PUBLIC_API_URL".into(),
            )),
        }
    }
}

/// A message ready for the provider.
#[derive(Debug, Clone)]
pub struct OutboundMail {
    pub to: String,
    pub subject: String,
    pub raw: Vec<u8>,
    /// Without angle brackets.
    pub message_id: String,
    /// The rendered text part (what the outbound activity keeps as its body).
    pub text: String,
    /// `(name, value)` SES message tags.
    pub tags: Vec<(String, String)>,
}

/// Sends raw messages (SES v2 in the stack; a fake in unit tests).
#[allow(async_fn_in_trait)]
pub trait Mailer {
    /// Sends `mail`; the provider's message id.
    async fn send_raw(&self, mail: &OutboundMail) -> Result<String, CrmError>;
}

/// SES v2 `SendEmail` with Raw content, in the stack's configuration set (bounce and
/// complaint events go from there to the `mail-events` function).
#[derive(Debug, Clone)]
pub struct SesMailer {
    pub sesv2: crate::sdk_client::SdkClient<aws_sdk_sesv2::Client>,
    pub sender: String,
    pub configuration_set: Option<String>,
}

impl Mailer for SesMailer {
    async fn send_raw(&self, mail: &OutboundMail) -> Result<String, CrmError> {
        use aws_sdk_sesv2::primitives::Blob;
        use aws_sdk_sesv2::types::{Destination, EmailContent, MessageTag, RawMessage};
        let raw = RawMessage::builder()
            .data(Blob::new(mail.raw.clone()))
            .build()
            .map_err(CrmError::internal)?;
        let mut request = self
            .sesv2
            .send_email()
            .from_email_address(&self.sender)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(EmailContent::builder().raw(raw).build())
            .set_configuration_set_name(self.configuration_set.clone());
        for (name, value) in &mail.tags {
            request = request.email_tags(
                MessageTag::builder()
                    .name(name)
                    .value(value)
                    .build()
                    .map_err(CrmError::internal)?,
            );
        }
        let out = request
            .send()
            .await
            .map_err(|e| sdk_error("SendEmail", e))?;
        crate::telemetry::metrics::count(crate::telemetry::metrics::Counter::EmailsSent, 1);
        Ok(out.message_id.unwrap_or_default())
    }
}

/// The text a custom field value merges as (select options by their label).
fn custom_text(value: &FieldValue, def: Option<&FieldDefinition>) -> String {
    let label = |id: &str| {
        def.and_then(|d| d.field_type.options().iter().find(|o| o.id == id))
            .map_or_else(|| id.to_string(), |o| o.label.clone())
    };
    match value {
        FieldValue::Select(id) => label(id),
        FieldValue::MultiSelect(ids) => ids.iter().map(|i| label(i)).collect::<Vec<_>>().join(", "),
        FieldValue::Currency(m) => format!("{} {}", m.amount, m.currency),
        FieldValue::Boolean(b) => if *b { "yes" } else { "no" }.to_string(),
        other => match other.to_json() {
            serde_json::Value::String(s) => s,
            v => v.to_string(),
        },
    }
}

/// The value of merge field `name` for `contact`: `None` when no such field exists.
fn merge_value(
    contact: &Contact,
    defs: &[FieldDefinition],
    owner_name: &str,
    tenant_name: &str,
    name: &str,
) -> Option<String> {
    let f = &contact.fields;
    Some(match classify(name)? {
        MergeField::Contact(field) => match field {
            "first_name" => f.first_name.clone().unwrap_or_default(),
            "last_name" => f.last_name.clone().unwrap_or_default(),
            "display_name" => contact.display_name.clone(),
            "email" => contact.email.clone().unwrap_or_default(),
            "company" => f.company.clone().unwrap_or_default(),
            "job_title" => f.job_title.clone().unwrap_or_default(),
            "phone" => f
                .phones
                .first()
                .map(|p| p.e164.clone().unwrap_or_else(|| p.number.clone()))
                .unwrap_or_default(),
            _ => return None,
        },
        MergeField::Custom(key) => {
            let def = defs.iter().find(|d| d.key == key)?;
            contact
                .custom_fields
                .get(key)
                .map(|v| custom_text(v, Some(def)))
                .unwrap_or_default()
        }
        MergeField::OwnerName => owner_name.to_string(),
        MergeField::TenantName => tenant_name.to_string(),
    })
}

/// The tenant's display name (settings), else its id.
pub async fn tenant_name(table: &Table, tenant: &str) -> Result<String, CrmError> {
    let settings = SettingsStore::new(table.clone()).get(tenant).await?;
    Ok(settings
        .display_name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| tenant.to_string()))
}

/// Who is refused mail, and why: `Err` with the problem the caller gets (nothing is sent).
pub async fn check_recipient(
    table: &Table,
    tenant: &str,
    contact: &Contact,
) -> Result<String, CrmError> {
    let f = &contact.fields;
    if f.do_not_contact {
        return Err(CrmError::validation(
            "do_not_contact",
            "do_not_contact",
            "the contact is marked do-not-contact; nothing was sent",
        ));
    }
    if f.email_opt_out {
        return Err(CrmError::validation(
            "email_opt_out",
            "opted_out",
            "the contact opted out of email; nothing was sent",
        ));
    }
    let Some(to) = contact.email.clone() else {
        return Err(CrmError::validation(
            "email",
            "required",
            "the contact has no email address",
        ));
    };
    if let Some(entry) = suppression::find(table, tenant, &to).await? {
        return Err(suppression::refusal(&entry));
    }
    Ok(to)
}

/// Checks the recipient, renders `template` for `contact` and builds the message from
/// `sender_user` (Reply-To). `bulk` adds the one-click unsubscribe headers.
pub async fn prepare(
    table: &Table,
    settings: &MailSettings,
    tenant: &str,
    contact: &Contact,
    sender_user: &str,
    template: &MailTemplate,
    bulk: bool,
) -> Result<OutboundMail, CrmError> {
    let to = check_recipient(table, tenant, contact).await?;
    let directory = Directory::new(table.clone());
    let defs = FieldStore::new(table.clone())
        .definitions(tenant, Entity::CONTACT)
        .await?;
    let owner_name = match &contact.fields.owner {
        Some(owner) => directory
            .user(tenant, owner)
            .await?
            .and_then(|u| u.name)
            .unwrap_or_else(|| owner.clone()),
        None => String::new(),
    };
    let tenant_name = tenant_name(table, tenant).await?;
    let rendered = template
        .render(&|name| merge_value(contact, &defs, &owner_name, &tenant_name, name))
        .map_err(CrmError::Validation)?;
    let sender = directory.user(tenant, sender_user).await?;
    let reply_to = sender.as_ref().and_then(|u| {
        u.email
            .as_deref()
            .map(|e| (u.name.as_deref().unwrap_or(""), e))
    });
    let unsubscribe_url = if bulk {
        Some(settings.unsubscribe_url(&Unsubscription {
            tenant_id: tenant.to_string(),
            contact_id: contact.id,
            address: to.clone(),
        })?)
    } else {
        None
    };
    let built = mime::build(&Envelope {
        from_name: &tenant_name,
        from_address: &settings.sender,
        reply_to,
        to_name: &contact.display_name,
        to_address: &to,
        subject: &rendered.subject,
        text: &rendered.text,
        html: &rendered.html,
        unsubscribe_url: unsubscribe_url.as_deref(),
    })?;
    Ok(OutboundMail {
        to,
        subject: rendered.subject,
        raw: built.raw,
        message_id: built.message_id,
        text: rendered.text,
        tags: vec![
            (TAG_TENANT.into(), tenant.to_string()),
            (TAG_CONTACT.into(), contact.id.to_string()),
        ],
    })
}

/// Body of `POST /contacts/{id}/messages` and `POST /deals/{id}/messages`: a template, or a
/// subject and a text (and an HTML) body, with merge fields.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    #[serde(default)]
    pub template_id: Option<Uuid>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub html: Option<String>,
    /// Bulk mail: adds `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 8058).
    #[serde(default)]
    pub bulk: bool,
    /// From a deal: one of the deal's contacts (default: its primary contact).
    #[serde(default)]
    pub contact_id: Option<Uuid>,
}

/// What was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SentMessage {
    /// SES's message id (bounces and complaints name it).
    pub ses_message_id: String,
    /// The `Message-ID` header, without angle brackets: replies are threaded by it.
    pub message_id: String,
    pub contact_id: Uuid,
    pub to: String,
    pub subject: String,
    pub sent_at: DateTime<Utc>,
    /// The outbound email activity logged for it (absent only if logging it failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<Uuid>,
}

/// The template a message body names, checked.
async fn mail_of(
    table: &Table,
    caller: &Caller,
    input: &NewMessage,
) -> Result<MailTemplate, CrmError> {
    let inline = input.subject.is_some() || input.text.is_some() || input.html.is_some();
    match input.template_id {
        Some(_) if inline => Err(CrmError::validation(
            "template_id",
            "one_of",
            "give a template_id or a subject and text, not both",
        )),
        Some(id) => Ok(templates::get(table, caller, id).await?.mail()),
        None => {
            let mail = MailTemplate {
                subject: input.subject.clone().unwrap_or_default(),
                text: input.text.clone().unwrap_or_default(),
                html: input.html.clone(),
            };
            let keys = templates::custom_keys(table, &caller.tenant_id).await?;
            let errors = check_mail(&mail, &keys);
            if errors.is_empty() {
                Ok(mail)
            } else {
                Err(CrmError::Validation(errors))
            }
        }
    }
}

/// `POST /contacts/{id}/messages`.
pub async fn send_to_contact(
    catalog: &Catalog,
    mailer: &impl Mailer,
    settings: &MailSettings,
    caller: &Caller,
    contact_id: Uuid,
    input: NewMessage,
) -> Result<SentMessage, CrmError> {
    Policy::check_exists(caller, Action::Write, Subject::Messages)?;
    let contact = catalog.contacts().get(caller, contact_id).await?;
    Policy::check(caller, Action::Write, Subject::Messages)?;
    if input.contact_id.is_some_and(|c| c != contact_id) {
        return Err(CrmError::validation(
            "contact_id",
            "not_allowed",
            "the contact is the one of the path",
        ));
    }
    send(catalog, mailer, settings, caller, &contact, None, &input).await
}

/// `POST /deals/{id}/messages`: to the deal's primary contact, or `contact_id` among its
/// contacts.
pub async fn send_for_deal(
    catalog: &Catalog,
    mailer: &impl Mailer,
    settings: &MailSettings,
    caller: &Caller,
    deal_id: Uuid,
    input: NewMessage,
) -> Result<SentMessage, CrmError> {
    Policy::check_exists(caller, Action::Write, Subject::Messages)?;
    let deal = catalog.deals().get(caller, deal_id).await?;
    Policy::check(caller, Action::Write, Subject::Messages)?;
    let contact_id = match input.contact_id {
        Some(id) if deal.contact_ids.contains(&id) => id,
        Some(_) => {
            return Err(CrmError::validation(
                "contact_id",
                "deal_contact",
                "not one of the deal's contacts",
            ));
        }
        None => deal.primary_contact().ok_or_else(|| {
            CrmError::validation(
                "contact_id",
                "required",
                "the deal has no contacts; give contact_id",
            )
        })?,
    };
    let contact = catalog.contacts().get(caller, contact_id).await?;
    send(
        catalog,
        mailer,
        settings,
        caller,
        &contact,
        Some(deal.id),
        &input,
    )
    .await
}

async fn send(
    catalog: &Catalog,
    mailer: &impl Mailer,
    settings: &MailSettings,
    caller: &Caller,
    contact: &Contact,
    deal_id: Option<Uuid>,
    input: &NewMessage,
) -> Result<SentMessage, CrmError> {
    let table = catalog.table();
    let mail = mail_of(table, caller, input).await?;
    let outbound = prepare(
        table,
        settings,
        &caller.tenant_id,
        contact,
        &caller.user_id,
        &mail,
        input.bulk,
    )
    .await?;
    // Bounded per tenant (issue 14 item 3): 429 with Retry-After, nothing sent.
    crate::quotas::EMAILS
        .consume(table, &caller.tenant_id, crate::values::now())
        .await?;
    let ses_message_id = mailer.send_raw(&outbound).await?;
    let sent_at = crate::values::now();
    // The outbound email activity (it keeps the contact's last contact and the deal's last
    // activity). The mail is gone: a failure here is logged, not answered as a failed send.
    let activity = crate::activities::log_once(
        &catalog.activities(),
        caller,
        crate::values::new_id(),
        crate::activities::Origin::OutboundEmail,
        crate::activities::NewActivity(outbound_activity(
            settings,
            contact,
            deal_id,
            &outbound,
            &ses_message_id,
            sent_at,
        )),
    )
    .await;
    let activity_id = match activity {
        Ok(a) => Some(a.id),
        Err(error) => {
            tracing::error!(error = %crate::telemetry::Redacted(&error), ses_message_id, "the sent email's activity was not logged");
            None
        }
    };
    Ok(SentMessage {
        ses_message_id,
        message_id: outbound.message_id,
        contact_id: contact.id,
        to: outbound.to,
        subject: outbound.subject,
        sent_at,
        activity_id,
    })
}

/// The create body of the outbound email activity of a sent message.
pub fn outbound_activity(
    settings: &MailSettings,
    contact: &Contact,
    deal_id: Option<Uuid>,
    mail: &OutboundMail,
    ses_message_id: &str,
    sent_at: DateTime<Utc>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut body = serde_json::json!({
        "type": "email",
        "direction": "outbound",
        "occurred_at": sent_at,
        "subject": mail.subject,
        "from": settings.sender,
        "to": [mail.to],
        "message_id": mail.message_id,
        "thread_id": mail.message_id,
        "ses_message_id": ses_message_id,
        "body": mail.text,
        "contact_ids": [contact.id],
    });
    if let Some(deal) = deal_id {
        body["deal_id"] = serde_json::json!(deal);
    }
    match body {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}
