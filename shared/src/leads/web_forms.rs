//! Public web forms (S8.2): an admin makes a form with its lead source and an optional owner
//! and team; its random key (`{tenant}.{64 hex}`, unguessable) lets anyone without a login
//! submit lead fields only. A submission creates a contact with lifecycle `lead` through the
//! API's creation use case (entry path `web_form`, the UTM values or the source's defaults);
//! a filled honeypot creates nothing yet answers as a success; a counter item with a TTL per
//! form and client address keeps the rate limit.
//!
//! Items: form `T#{t}#WEBFORM#{id}` / `WEBFORM` (GSI1 `T#{t}#WEBFORMS` / `{id}`); its key
//! `T#{t}#FORMKEY#{hex}` / `FORMKEY`; rate counter `T#{t}#FORMRATE#{form}#{address}` /
//! `W#{window}` (TTL).

use super::events::Leads;
use crate::access::{Action, Policy, Role, Subject};
use crate::contacts::{EntryInput, EntryPath, LifecycleStatus, NewContact};
use crate::errors::FieldErrors;
use crate::store::{Condition, Query, Table, WriteError, from_item, key, n, s, to_item};
use crate::values::Patch;
use crate::{Caller, CrmError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Submissions a form takes from one client address per window.
pub const RATE_LIMIT: u64 = 5;
/// The window, in seconds.
pub const RATE_WINDOW_SECONDS: i64 = 600;
/// The honeypot: a field people never see, so never fill.
pub const HONEYPOT: &str = "website_url";
const LEAD_FIELDS: [&str; 8] = [
    "name",
    "email",
    "phone",
    "company",
    "message",
    "utm_source",
    "utm_medium",
    "utm_campaign",
];

fn form_pk(tenant: &str, id: Uuid) -> String {
    format!("T#{tenant}#WEBFORM#{id}")
}

fn key_pk(tenant: &str, secret: &str) -> String {
    format!("T#{tenant}#FORMKEY#{secret}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebForm {
    pub id: Uuid,
    pub name: String,
    /// Goes in the URL: `POST /forms/{form_key}/submissions`.
    pub form_key: String,
    /// A key of the tenant's lead sources.
    pub lead_source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Uuid>,
    pub active: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebForm {
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: String,
    pub lead_source: String,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub team: Option<Uuid>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebFormPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub lead_source: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub owner: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub team: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub active: Patch<bool>,
}

/// What a submission came to (the handler answers each without saying which).
#[derive(Debug, Clone, PartialEq)]
pub enum Submission {
    Created(Uuid),
    /// The honeypot was filled, or the address is a contact's already: nothing created.
    Ignored,
    /// Over the limit: retry after this many seconds.
    RateLimited {
        retry_after: i64,
    },
}

fn random_secret() -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    for _ in 0..3 {
        hash.update(crate::values::new_id().as_bytes());
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

async fn check(leads: &Leads, caller: &Caller, form: &WebForm) -> Result<(), CrmError> {
    let mut e = FieldErrors::new();
    let table = leads.catalog.table();
    let sources = crate::lead_sources::load(table, &caller.tenant_id).await?;
    if !crate::values::ids::is_valid_key(&form.lead_source) {
        e.push("lead_source", "key", "a lead source key");
    } else if let Err(f) = sources.check("lead_source", &form.lead_source) {
        e.extend([f]);
    }
    if form.name.trim().is_empty() {
        e.push("name", "required", "must not be empty");
    }
    e.into_result()?;
    let dir = crate::directory::Directory::new(table.clone());
    dir.check_assignment(caller, form.owner.as_deref(), form.team, None)
        .await
}

pub async fn create(
    leads: &Leads,
    caller: &Caller,
    input: NewWebForm,
) -> Result<WebForm, CrmError> {
    Policy::check(caller, Action::Write, Subject::Settings)?;
    let now = crate::values::now();
    let tenant = &caller.tenant_id;
    let secret = random_secret();
    let form = WebForm {
        id: crate::values::new_id(),
        name: input.name.trim().to_string(),
        form_key: format!("{tenant}.{secret}"),
        lead_source: input.lead_source,
        owner: input.owner,
        team: input.team,
        active: true,
        created_by: caller.user_id.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    check(leads, caller, &form).await?;
    let mut keys = key(form_pk(tenant, form.id), "WEBFORM");
    keys.insert("GSI1PK".into(), s(format!("T#{tenant}#WEBFORMS")));
    keys.insert("GSI1SK".into(), s(form.id.to_string()));
    let mut pointer = key(key_pk(tenant, &secret), "FORMKEY");
    pointer.insert("form_id".into(), s(form.id.to_string()));
    let table = leads.catalog.table();
    table
        .transact(vec![
            crate::store::WriteOp::put_new(to_item(&form, keys)?),
            crate::store::WriteOp::put_new(pointer),
        ])
        .await
        .map_err(|e| e.into_error("web form"))?;
    Ok(form)
}

async fn load(table: &Table, tenant: &str, id: Uuid) -> Result<Option<WebForm>, CrmError> {
    table
        .get(form_pk(tenant, id), "WEBFORM")
        .await?
        .map(from_item)
        .transpose()
}

pub async fn list(table: &Table, caller: &Caller) -> Result<Vec<WebForm>, CrmError> {
    Policy::check(caller, Action::Write, Subject::Settings)?;
    table
        .query_all(Query::index(
            "GSI1",
            format!("T#{}#WEBFORMS", caller.tenant_id),
        ))
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

pub async fn patch(
    leads: &Leads,
    caller: &Caller,
    id: Uuid,
    p: WebFormPatch,
) -> Result<WebForm, CrmError> {
    Policy::check(caller, Action::Write, Subject::Settings)?;
    let table = leads.catalog.table();
    let tenant = &caller.tenant_id;
    let current = load(table, tenant, id).await?.ok_or(CrmError::NotFound)?;
    let next = WebForm {
        name: p.name.apply(Some(current.name.clone())).unwrap_or_default(),
        lead_source: p
            .lead_source
            .apply(Some(current.lead_source.clone()))
            .unwrap_or_default(),
        owner: p.owner.apply(current.owner.clone()),
        team: p.team.apply(current.team),
        active: p.active.apply(Some(current.active)).unwrap_or(true),
        updated_at: crate::values::now(),
        version: current.version + 1,
        ..current.clone()
    };
    check(leads, caller, &next).await?;
    let mut keys = key(form_pk(tenant, id), "WEBFORM");
    keys.insert("GSI1PK".into(), s(format!("T#{tenant}#WEBFORMS")));
    keys.insert("GSI1SK".into(), s(id.to_string()));
    table
        .put_versioned(to_item(&next, keys)?, Some(current.version))
        .await?;
    Ok(next)
}

/// The live form of a key, or `None` (unknown, malformed, or disabled alike).
async fn by_key(table: &Table, form_key: &str) -> Result<Option<(String, WebForm)>, CrmError> {
    let Some((tenant, secret)) = form_key.split_once('.') else {
        return Ok(None);
    };
    let well_formed = crate::values::ids::is_valid_tenant_id(tenant)
        && secret.len() == 64
        && secret
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if !well_formed {
        return Ok(None);
    }
    let Some(pointer) = table.get(key_pk(tenant, secret), "FORMKEY").await? else {
        return Ok(None);
    };
    let Some(id) = crate::store::item::text(&pointer, "form_id").and_then(|i| i.parse().ok())
    else {
        return Ok(None);
    };
    Ok(load(table, tenant, id)
        .await?
        .filter(|f| f.active)
        .map(|f| (tenant.to_string(), f)))
}

/// Counts a submission of `form` from `address` in the current window: `Some(seconds)` to
/// wait when the limit is reached.
async fn over_limit(
    table: &Table,
    tenant: &str,
    form: Uuid,
    address: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, CrmError> {
    let window = now.timestamp().div_euclid(RATE_WINDOW_SECONDS);
    let ends = (window + 1) * RATE_WINDOW_SECONDS;
    let pk = format!("T#{tenant}#FORMRATE#{form}#{address}");
    let sk = format!("W#{window}");
    for _ in 0..50 {
        let count = table
            .get(pk.clone(), sk.clone())
            .await?
            .and_then(|i| i.get("count").and_then(|v| v.as_n().ok()).cloned())
            .and_then(|c| c.parse::<u64>().ok());
        if count.unwrap_or(0) >= RATE_LIMIT {
            return Ok(Some((ends - now.timestamp()).max(1)));
        }
        let mut item = key(pk.clone(), sk.clone());
        item.insert("count".into(), n(count.unwrap_or(0) + 1));
        item.insert("expires_at".into(), n(ends + RATE_WINDOW_SECONDS));
        let condition = match count {
            Some(c) => Condition::eq("count", n(c)),
            None => Condition::NotExists,
        };
        match table.put_if(item, condition).await {
            Ok(()) => return Ok(None),
            Err(WriteError::ConditionFailed) => continue,
            Err(WriteError::Other(e)) => return Err(e),
        }
    }
    Err(CrmError::Internal("the rate counter stayed busy".into()))
}

fn text_of(body: &Map<String, Value>, field: &str, e: &mut FieldErrors) -> Option<String> {
    match body.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) => e.text(field, Some(v.clone()), 2000),
        Some(_) => {
            e.push(field, "type", "must be a string");
            None
        }
    }
}

/// Handles a submission to `form_key` from client `address` (`NotFound` for an unknown or
/// disabled key; 422 naming any field that is not a lead field or breaks a rule).
pub async fn submit(
    leads: &Leads,
    form_key: &str,
    address: &str,
    body: Map<String, Value>,
) -> Result<Submission, CrmError> {
    let table = leads.catalog.table();
    let Some((tenant, form)) = by_key(table, form_key).await? else {
        return Err(CrmError::NotFound);
    };
    let now = crate::values::now();
    if let Some(retry_after) = over_limit(table, &tenant, form.id, address, now).await? {
        return Ok(Submission::RateLimited { retry_after });
    }
    let mut e = FieldErrors::new();
    for field in body.keys() {
        if !LEAD_FIELDS.contains(&field.as_str()) && field != HONEYPOT {
            e.push(
                field.as_str(),
                "unknown_field",
                "a web form takes lead fields only",
            );
        }
    }
    let filled = |f: &str| body.get(f).is_some_and(|v| !v.is_null() && v != "");
    let name = text_of(&body, "name", &mut e);
    let email = text_of(&body, "email", &mut e);
    let phone = text_of(&body, "phone", &mut e);
    let company = text_of(&body, "company", &mut e);
    let message = text_of(&body, "message", &mut e);
    let utm = ["utm_source", "utm_medium", "utm_campaign"].map(|f| text_of(&body, f, &mut e));
    if name.is_none() && email.is_none() {
        e.push("email", "required_one_of", "give a name or an email");
    }
    e.into_result()?;
    if filled(HONEYPOT) {
        return Ok(Submission::Ignored);
    }
    let (first_name, last_name) = match name.as_deref().map(str::trim) {
        Some(full) => match full.rsplit_once(' ') {
            Some((first, last)) => (Some(first.trim().to_string()), Some(last.to_string())),
            None => (Some(full.to_string()), None),
        },
        None => (None, None),
    };
    let input = NewContact {
        first_name,
        last_name,
        email,
        phones: phone.map(|number| {
            vec![crate::contacts::PhoneInput {
                number,
                label: None,
                primary: true,
                country: None,
            }]
        }),
        company,
        owner: form.owner.clone(),
        team: form.team,
        lead_source: Some(form.lead_source.clone()),
        lifecycle_status: Some(LifecycleStatus::Lead),
        ..Default::default()
    };
    let source = crate::lead_sources::load(table, &tenant).await?;
    let defaults = source.get(&form.lead_source);
    let [utm_source, utm_medium, utm_campaign] = utm;
    let entry = EntryInput {
        path: EntryPath::WebForm,
        utm_source: utm_source.or_else(|| defaults.and_then(|d| d.utm_source.clone())),
        utm_medium: utm_medium.or_else(|| defaults.and_then(|d| d.utm_medium.clone())),
        utm_campaign: utm_campaign.or_else(|| defaults.and_then(|d| d.utm_campaign.clone())),
    };
    // Created as by the form's maker, with an admin's reach (the form decides what is made).
    let caller = Caller::new(tenant, form.created_by.clone(), Role::Admin);
    match leads
        .create_contact(&caller, input, None, entry, message)
        .await
    {
        Ok(contact) => Ok(Submission::Created(contact.id)),
        // The address is a contact's already: say nothing about it.
        Err(CrmError::Conflict { .. }) => Ok(Submission::Ignored),
        Err(e) => Err(e),
    }
}
