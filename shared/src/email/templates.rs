//! Email templates (S6.4): a tenant's saved subjects and bodies with merge fields, checked by
//! the renderer when saved (an unknown merge field is a 422 naming the part).
//!
//! | item | PK | SK |
//! |---|---|---|
//! | email template | `T#t#EMAIL_TEMPLATES` | `TEMPLATE#{id}` |

use super::render::MailTemplate;
use crate::access::{Action, Policy, Subject};
use crate::custom_fields::definition::Entity;
use crate::custom_fields::store::FieldStore;
use crate::errors::FieldErrors;
use crate::store::{Key, Query, Table, from_item, key, s, to_item};
use crate::values::Patch;
use crate::{Caller, CrmError, FieldError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_TEMPLATES: usize = 500;
pub const SUBJECT_MAX: usize = 998;
pub const BODY_MAX: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmailTemplate {
    pub id: Uuid,
    pub name: String,
    pub subject: String,
    /// The text part.
    pub text: String,
    /// The HTML part (made from the text when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub version: u64,
}

impl EmailTemplate {
    pub fn mail(&self) -> MailTemplate {
        MailTemplate {
            subject: self.subject.clone(),
            text: self.text.clone(),
            html: self.html.clone(),
        }
    }

    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// Body of `POST /email-templates`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEmailTemplate {
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: String,
    #[schema(min_length = 1, max_length = 998, pattern = "\\S")]
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
}

/// Body of `PATCH /email-templates/{id}` (merge patch; `html: null` removes the HTML part).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailTemplatePatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub html: Patch<String>,
}

fn pk(tenant: &str) -> String {
    format!("T#{tenant}#EMAIL_TEMPLATES")
}

fn sk(id: Uuid) -> String {
    format!("TEMPLATE#{id}")
}

/// Whether the tenant has a contact custom field of this key: the `{{cf.key}}` check.
pub async fn custom_keys(table: &Table, tenant: &str) -> Result<Vec<String>, CrmError> {
    Ok(FieldStore::new(table.clone())
        .definitions(tenant, Entity::CONTACT)
        .await?
        .into_iter()
        .map(|d| d.key)
        .collect())
}

/// The parts' lengths and merge fields; every broken rule named.
pub fn check_mail(mail: &MailTemplate, custom_keys: &[String]) -> Vec<FieldError> {
    let mut e = FieldErrors::new();
    if mail.subject.trim().is_empty() || mail.subject.chars().count() > SUBJECT_MAX {
        e.push(
            "subject",
            "length",
            format!("subject must have 1 to {SUBJECT_MAX} characters"),
        );
    }
    for (field, part) in [("text", Some(&mail.text)), ("html", mail.html.as_ref())] {
        if part.is_some_and(|p| p.len() > BODY_MAX) {
            e.push(
                field,
                "max_length",
                format!("{field} must be at most {BODY_MAX} bytes"),
            );
        }
    }
    if mail.text.trim().is_empty() && mail.html.as_deref().is_none_or(|h| h.trim().is_empty()) {
        e.push("text", "required", "give a text (or an HTML) body");
    }
    e.extend(mail.check(&|key| custom_keys.iter().any(|k| k == key)));
    e.into_vec()
}

fn validate(name: &str, mail: &MailTemplate, custom_keys: &[String]) -> Result<String, CrmError> {
    let mut e = FieldErrors::new();
    let name = e.required_text("name", name, 200);
    e.extend(check_mail(mail, custom_keys));
    e.finish(name).map_err(CrmError::Validation)
}

fn item(tenant: &str, t: &EmailTemplate) -> Result<crate::store::Item, CrmError> {
    let mut keys = key(pk(tenant), sk(t.id));
    keys.insert("entity".into(), s("email_template"));
    to_item(t, keys)
}

/// `GET /email-templates`: by name.
pub async fn list(table: &Table, caller: &Caller) -> Result<Vec<EmailTemplate>, CrmError> {
    Policy::check(caller, Action::Read, Subject::EmailTemplates)?;
    let items = table
        .query_all(Query::partition(pk(&caller.tenant_id)).prefix("TEMPLATE#"))
        .await?;
    let mut out = items
        .into_iter()
        .map(from_item::<EmailTemplate>)
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|t| t.name.to_lowercase());
    Ok(out)
}

/// `GET /email-templates/{id}`.
pub async fn get(table: &Table, caller: &Caller, id: Uuid) -> Result<EmailTemplate, CrmError> {
    Policy::check(caller, Action::Read, Subject::EmailTemplates)?;
    table
        .get_as(Key::new(pk(&caller.tenant_id), sk(id)))
        .await?
        .ok_or(CrmError::NotFound)
}

/// `POST /email-templates`.
pub async fn create(
    table: &Table,
    caller: &Caller,
    input: NewEmailTemplate,
) -> Result<EmailTemplate, CrmError> {
    Policy::check(caller, Action::Write, Subject::EmailTemplates)?;
    let mail = MailTemplate {
        subject: input.subject,
        text: input.text,
        html: input.html,
    };
    let keys = custom_keys(table, &caller.tenant_id).await?;
    let name = validate(&input.name, &mail, &keys)?;
    if list(table, caller).await?.len() >= MAX_TEMPLATES {
        return Err(CrmError::validation(
            "name",
            "limit",
            format!("a tenant keeps at most {MAX_TEMPLATES} email templates"),
        ));
    }
    let now = crate::values::now();
    let template = EmailTemplate {
        id: crate::values::new_id(),
        name,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        created_at: now,
        created_by: caller.user_id.clone(),
        updated_at: now,
        updated_by: caller.user_id.clone(),
        version: 1,
    };
    table
        .put_versioned(item(&caller.tenant_id, &template)?, None)
        .await?;
    Ok(template)
}

/// `PATCH /email-templates/{id}` (If-Match honoured).
pub async fn patch(
    table: &Table,
    caller: &Caller,
    id: Uuid,
    patch: EmailTemplatePatch,
    if_match: Option<u64>,
) -> Result<EmailTemplate, CrmError> {
    let current = get(table, caller, id).await?;
    Policy::check(caller, Action::Write, Subject::EmailTemplates)?;
    if if_match.is_some_and(|v| v != current.version) {
        return Err(CrmError::PreconditionFailed);
    }
    let mail = MailTemplate {
        subject: patch.subject.unwrap_or_else(|| current.subject.clone()),
        text: patch.text.unwrap_or_else(|| current.text.clone()),
        html: patch.html.apply(current.html.clone()),
    };
    let keys = custom_keys(table, &caller.tenant_id).await?;
    let name = validate(patch.name.as_deref().unwrap_or(&current.name), &mail, &keys)?;
    let next = EmailTemplate {
        name,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        updated_at: crate::values::now(),
        updated_by: caller.user_id.clone(),
        version: current.version + 1,
        ..current.clone()
    };
    if next.name == current.name
        && next.subject == current.subject
        && next.text == current.text
        && next.html == current.html
    {
        return Ok(current);
    }
    table
        .put_versioned(item(&caller.tenant_id, &next)?, Some(current.version))
        .await?;
    Ok(next)
}

/// `DELETE /email-templates/{id}`.
pub async fn delete(
    table: &Table,
    caller: &Caller,
    id: Uuid,
    if_match: Option<u64>,
) -> Result<(), CrmError> {
    let current = get(table, caller, id).await?;
    Policy::check(caller, Action::Write, Subject::EmailTemplates)?;
    if if_match.is_some_and(|v| v != current.version) {
        return Err(CrmError::PreconditionFailed);
    }
    table
        .delete_if(
            Key::new(pk(&caller.tenant_id), sk(id)),
            Some(crate::store::Condition::version(current.version)),
        )
        .await
        .map_err(|e| match e {
            crate::store::WriteError::ConditionFailed => CrmError::PreconditionFailed,
            crate::store::WriteError::Other(e) => e,
        })
}
