//! Client companies (S2): master data, communication preferences, currency and billing terms,
//! and the parent / subsidiary hierarchy (cycles refused).

mod store;

pub use store::{DynamoClients, client_pk};

use crate::access::visibility::{Access, Principal, RecordKind, Visibility};
use crate::audit::{AuditAction, AuditEntry};
use crate::custom_fields::entries::Terms;
use crate::custom_fields::entries::{read_entry, term_of_sk};
use crate::custom_fields::filter::{
    FieldFilter, FieldSort, MAX_FILTERS, Op, RawFilter, TermRange, accepts_all, is_first_match,
    narrowest, raw_filter, resolve, visible_definition,
};
use crate::custom_fields::reader::EntryReader;
use crate::custom_fields::values::{CustomValues, join_validation};
use crate::custom_fields::{Entity, FieldValue};
use crate::errors::{FieldErrors, FieldPath};
use crate::store::cursor::{ListQuery, Page};
use crate::values::Patch;
use crate::values::phone::Phone;
use crate::values::{Currency, ids, money};
use crate::{Caller, CrmError, FieldError, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Deepest parent chain accepted (a client, its parent, …).
pub const MAX_HIERARCHY_DEPTH: usize = 10;
/// Most clients returned by one hierarchy roll-up.
pub const MAX_ROLLUP_CLIENTS: usize = 1000;
pub const DEFAULT_CURRENCY: &str = "EUR";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientStatus {
    Lead,
    Prospect,
    Active,
    Inactive,
    Churned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum CompanySize {
    #[serde(rename = "1-10")]
    Micro,
    #[serde(rename = "11-50")]
    Small,
    #[serde(rename = "51-200")]
    Medium,
    #[serde(rename = "201-1000")]
    Large,
    #[serde(rename = "1001+")]
    Enterprise,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Phone,
    Sms,
    Post,
    Chat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    BankTransfer,
    DirectDebit,
    Card,
    Paypal,
    Cash,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2, upper-case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunicationPreferences {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_channel: Option<Channel>,
    /// BCP 47 tag, e.g. `de` or `de-AT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// IANA zone, e.g. `Europe/Berlin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub do_not_contact: bool,
    #[serde(default)]
    pub email_opt_out: bool,
}

/// The fields a caller sets on create (and, field by field, on PATCH).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientFields {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_name: Option<String>,
    /// Web domain, lower-cased, e.g. `acme.example`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<CompanySize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ClientStatus>,
    /// User id of the owner; the creator when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The team the client belongs to (default: the creator's team when they have one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Uuid>,
    /// Who besides the owner sees the client (S1.4).
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// VAT / tax id as printed, e.g. `DE123456789`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat_id: Option<String>,
    #[serde(default)]
    pub communication: CommunicationPreferences,
    /// ISO 4217; the tenant's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Days until an invoice is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_terms_days: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<PaymentMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_email: Option<String>,
    /// Decimal string in the client's currency, e.g. `"95.50"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_hourly_rate: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Client {
    pub id: Uuid,
    #[serde(flatten)]
    pub fields: ClientFields,
    /// Users and teams the client is shared with (S9.4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<Principal>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub version: u64,
    /// Custom field values (S3.3) in their stored form; responses show the caller's visible
    /// ones in the plain shape.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub custom_fields: BTreeMap<String, FieldValue>,
    /// The terms the values are indexed under (`custom_fields::entries`); never shown.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(ignore)]
    pub custom_terms: Terms,
}

/// What remains of a deleted client beside its audit trail: enough to say what the trail
/// belongs to and who deleted it (`T#t#CLIENT#{id}` / `DELETED`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientTombstone {
    pub id: Uuid,
    pub name: String,
    pub deleted_at: DateTime<Utc>,
    pub deleted_by: String,
    /// The client's last version.
    pub version: u64,
}

/// Body of `PATCH /clients/{id}`: JSON merge patch; nested objects are replaced whole.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub legal_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub domain: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub industry: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<CompanySize>)]
    pub size: Patch<CompanySize>,
    #[serde(default)]
    #[schema(value_type = Option<ClientStatus>)]
    pub status: Patch<ClientStatus>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub owner: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub team: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Visibility>)]
    pub visibility: Patch<Visibility>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Address>)]
    pub billing_address: Patch<Address>,
    #[serde(default)]
    #[schema(value_type = Option<Address>)]
    pub shipping_address: Patch<Address>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub website: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub vat_id: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<CommunicationPreferences>)]
    pub communication: Patch<CommunicationPreferences>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub currency: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<u16>)]
    pub payment_terms_days: Patch<u16>,
    #[serde(default)]
    #[schema(value_type = Option<PaymentMethod>)]
    pub payment_method: Patch<PaymentMethod>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub billing_email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub default_hourly_rate: Patch<String>,
    /// Custom field values by key, merge-patch style: a value sets, `null` clears, an absent
    /// key keeps (S3.3).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Map<String, Value>>,
}

impl ClientPatch {
    fn apply(self, f: ClientFields) -> ClientFields {
        ClientFields {
            name: match self.name {
                Patch::Absent => f.name,
                Patch::Clear => String::new(),
                Patch::Set(v) => v,
            },
            legal_name: self.legal_name.apply(f.legal_name),
            domain: self.domain.apply(f.domain),
            industry: self.industry.apply(f.industry),
            size: self.size.apply(f.size),
            status: self.status.apply(f.status),
            owner: self.owner.apply(f.owner),
            team: self.team.apply(f.team),
            visibility: self
                .visibility
                .apply(Some(f.visibility))
                .unwrap_or_default(),
            tags: self.tags.apply(Some(f.tags)).unwrap_or_default(),
            parent_id: self.parent_id.apply(f.parent_id),
            billing_address: self.billing_address.apply(f.billing_address),
            shipping_address: self.shipping_address.apply(f.shipping_address),
            phone: self.phone.apply(f.phone),
            email: self.email.apply(f.email),
            website: self.website.apply(f.website),
            vat_id: self.vat_id.apply(f.vat_id),
            communication: self
                .communication
                .apply(Some(f.communication))
                .unwrap_or_default(),
            currency: self.currency.apply(f.currency),
            payment_terms_days: self.payment_terms_days.apply(f.payment_terms_days),
            payment_method: self.payment_method.apply(f.payment_method),
            billing_email: self.billing_email.apply(f.billing_email),
            default_hourly_rate: self.default_hourly_rate.apply(f.default_hourly_rate),
        }
    }
}

fn is_domain(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

fn validate_address(e: &mut FieldErrors, field: &str, value: Option<Address>) -> Option<Address> {
    let a = value?;
    let path = FieldPath::new(field);
    let address = Address {
        street: e.text(path.field("street"), a.street, 200),
        postal_code: e.text(path.field("postal_code"), a.postal_code, 20),
        city: e.text(path.field("city"), a.city, 100),
        region: e.text(path.field("region"), a.region, 100),
        country: e.country(path.field("country"), a.country),
    };
    (address != Address::default()).then_some(address)
}

impl ClientFields {
    /// Normalises and validates every field; reports every broken rule.
    pub fn validate(self) -> Result<Self, Vec<FieldError>> {
        let mut e = FieldErrors::new();
        let name = e.text("name", Some(self.name), 200).unwrap_or_default();
        if name.is_empty() && e.is_empty() {
            e.push("name", "required", "name must not be empty");
        }
        let domain = e.text("domain", self.domain, 253).map(|d| d.to_lowercase());
        if domain.as_deref().is_some_and(|d| !is_domain(d)) {
            e.push("domain", "format", "must be a domain such as acme.example");
        }
        let website = e.url("website", self.website, 2000);
        let phone = e
            .text("phone", self.phone, 40)
            .and_then(|p| e.check("phone", Phone::parse(&p, None)))
            .map(|p| p.display().to_string());
        let vat_id = e
            .text("vat_id", self.vat_id, 30)
            .map(|v| v.replace(' ', "").to_uppercase());
        if vat_id
            .as_deref()
            .is_some_and(|v| !v.chars().all(|ch| ch.is_ascii_alphanumeric()))
        {
            e.push(
                "vat_id",
                "format",
                "must be letters and digits, e.g. DE123456789",
            );
        }
        let mut tags: Vec<String> = Vec::new();
        for (i, tag) in self.tags.into_iter().enumerate() {
            if let Some(t) = e.text(FieldPath::new("tags").index(i), Some(tag), 50) {
                if !tags.iter().any(|x| x.eq_ignore_ascii_case(&t)) {
                    tags.push(t);
                }
            }
        }
        if tags.len() > 50 {
            e.push("tags", "max_items", "at most 50 tags");
        }
        let currency = e.check(
            "currency",
            Currency::parse(self.currency.as_deref().unwrap_or(DEFAULT_CURRENCY)),
        );
        let default_hourly_rate = match (self.default_hourly_rate, currency) {
            (Some(rate), Some(currency)) => {
                let normalised = money::normalize_amount(&rate, currency.code());
                if normalised.is_none() {
                    e.push(
                        "default_hourly_rate",
                        "amount",
                        format!(
                            "must be a non-negative amount with at most the decimals of {currency}"
                        ),
                    );
                }
                normalised
            }
            (other, _) => other,
        };
        if self.payment_terms_days.is_some_and(|d| d > 365) {
            e.push("payment_terms_days", "range", "must be from 0 to 365");
        }
        let language = e.text("communication.language", self.communication.language, 35);
        if language.as_deref().is_some_and(|l| {
            let mut parts = l.split('-');
            let primary = parts.next().unwrap_or("");
            !(2..=3).contains(&primary.len())
                || !primary.bytes().all(|b| b.is_ascii_alphabetic())
                || !parts.all(|p| {
                    !p.is_empty() && p.len() <= 8 && p.bytes().all(|b| b.is_ascii_alphanumeric())
                })
        }) {
            e.push(
                "communication.language",
                "bcp_47",
                "must be a language tag such as de or de-AT",
            );
        }
        let time_zone = e.text("communication.time_zone", self.communication.time_zone, 64);
        if time_zone.as_deref().is_some_and(|z| {
            z != "UTC"
                && !(z.contains('/')
                    && z.chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || "/_-+".contains(ch)))
        }) {
            e.push(
                "communication.time_zone",
                "iana",
                "must be an IANA time zone such as Europe/Berlin",
            );
        }
        let owner = self
            .owner
            .filter(|o| !o.trim().is_empty())
            .and_then(|o| e.check("owner", ids::user_id(&o)));
        let fields = ClientFields {
            name,
            legal_name: e.text("legal_name", self.legal_name, 200),
            domain,
            industry: e.text("industry", self.industry, 100),
            size: self.size,
            status: Some(self.status.unwrap_or(ClientStatus::Active)),
            owner,
            team: self.team,
            visibility: self.visibility,
            tags,
            parent_id: self.parent_id,
            billing_address: validate_address(&mut e, "billing_address", self.billing_address),
            shipping_address: validate_address(&mut e, "shipping_address", self.shipping_address),
            phone,
            email: e.email("email", self.email),
            website,
            vat_id,
            communication: CommunicationPreferences {
                language,
                time_zone,
                ..self.communication
            },
            currency: Some(
                currency.map_or_else(|| DEFAULT_CURRENCY.to_string(), |c| c.code().to_string()),
            ),
            payment_terms_days: self.payment_terms_days,
            payment_method: self.payment_method,
            billing_email: e.email("billing_email", self.billing_email),
            default_hourly_rate,
        };
        e.finish(fields)
    }
}

impl Client {
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }

    pub fn access(&self) -> Access<'_> {
        Access {
            kind: RecordKind::Client,
            id: self.id,
            owner: self.fields.owner.as_deref(),
            team: self.fields.team,
            visibility: self.fields.visibility,
            shared_with: &self.shared_with,
        }
    }
}

/// The owner and team a client refers to must exist in the tenant (checked when they change).
async fn check_references(
    repo: &DynamoClients,
    caller: &Caller,
    fields: &ClientFields,
    before: Option<&ClientFields>,
) -> Result<(), CrmError> {
    crate::directory::Directory::new(repo.table().store())
        .check_assignment(
            caller,
            fields.owner.as_deref(),
            fields.team,
            before.map(|b| (b.owner.as_deref(), b.team)),
        )
        .await
}

fn require_write(caller: &Caller) -> Result<(), CrmError> {
    if caller.role.can_write() {
        Ok(())
    } else {
        Err(CrmError::Forbidden(
            "this role cannot change clients".into(),
        ))
    }
}

/// Portal users will see only their own client (S9.5); until then, none.
fn require_read(caller: &Caller) -> Result<(), CrmError> {
    if caller.role == Role::Portal {
        Err(CrmError::NotFound)
    } else {
        Ok(())
    }
}

/// Refuses a parent that does not exist, would close a cycle, or makes the chain too deep.
async fn check_parent(
    repo: &DynamoClients,
    tenant: &str,
    id: Uuid,
    parent: Option<Uuid>,
) -> Result<(), CrmError> {
    let mut next = parent;
    let mut depth = 0;
    while let Some(p) = next {
        if p == id {
            return Err(CrmError::validation(
                "parent_id",
                "no_cycle",
                "a client cannot be its own parent or ancestor",
            ));
        }
        depth += 1;
        if depth > MAX_HIERARCHY_DEPTH {
            return Err(CrmError::validation(
                "parent_id",
                "max_depth",
                format!("a hierarchy is at most {MAX_HIERARCHY_DEPTH} levels deep"),
            ));
        }
        let Some(parent) = repo.get(tenant, p).await? else {
            return Err(CrmError::validation(
                "parent_id",
                "exists",
                "no such client",
            ));
        };
        next = parent.fields.parent_id;
    }
    Ok(())
}

fn custom_values(repo: &DynamoClients) -> CustomValues {
    CustomValues::new(repo.table().clone())
}

/// A client as a response shows it to the caller: custom field values filtered to the fields
/// they may see, in the plain JSON shape.
pub async fn present(
    repo: &DynamoClients,
    caller: &Caller,
    client: &Client,
) -> Result<Value, CrmError> {
    let visible = custom_values(repo)
        .visible_json(caller, Entity::Client, &client.custom_fields)
        .await?;
    crate::custom_fields::values::present(client, visible)
}

/// Any response holding clients (a page, a tree) as the caller may read it.
pub async fn present_all<T: Serialize>(
    repo: &DynamoClients,
    caller: &Caller,
    value: &T,
) -> Result<Value, CrmError> {
    let mut json = serde_json::to_value(value).map_err(CrmError::internal)?;
    let defs = custom_values(repo)
        .definitions(caller, Entity::Client)
        .await?;
    crate::custom_fields::values::present_nested(&mut json, &defs, caller);
    Ok(json)
}

pub async fn create(
    repo: &DynamoClients,
    caller: &Caller,
    input: ClientFields,
    custom_input: Option<Map<String, Value>>,
) -> Result<Client, CrmError> {
    require_write(caller)?;
    let custom = custom_values(repo)
        .write(caller, Entity::Client, custom_input.as_ref(), None)
        .await;
    let (mut fields, custom) = join_validation(input.validate(), custom)?;
    fields.owner.get_or_insert_with(|| caller.user_id.clone());
    if fields.team.is_none() {
        if let [team] = caller.teams.as_slice() {
            fields.team = Some(*team);
        }
    }
    check_references(repo, caller, &fields, None).await?;
    let id = crate::values::new_id();
    check_parent(repo, &caller.tenant_id, id, fields.parent_id).await?;
    let now = crate::values::now();
    let client = Client {
        id,
        fields,
        shared_with: Vec::new(),
        created_at: now,
        created_by: caller.user_id.clone(),
        updated_at: now,
        updated_by: caller.user_id.clone(),
        version: 1,
        custom_fields: BTreeMap::new(),
        custom_terms: Terms::new(),
    };
    let client = match custom {
        Some(c) => Client {
            custom_fields: c.values,
            custom_terms: c.terms,
            ..client
        },
        None => client,
    };
    let audit = AuditEntry::of_records(
        AuditAction::Created,
        None,
        Some(&client),
        &caller.user_id,
        client.version,
    )?;
    repo.insert(&caller.tenant_id, &client, &audit).await?;
    Ok(client)
}

/// The client, if it exists and the caller may see it (S1.4; portal users: their own client).
pub async fn get(repo: &DynamoClients, caller: &Caller, id: Uuid) -> Result<Client, CrmError> {
    repo.get(&caller.tenant_id, id)
        .await?
        .filter(|c| caller.sees(&c.access()))
        .ok_or(CrmError::NotFound)
}

pub async fn patch(
    repo: &DynamoClients,
    caller: &Caller,
    id: Uuid,
    patch: ClientPatch,
    if_match: Option<u64>,
) -> Result<Client, CrmError> {
    let current = get(repo, caller, id).await?;
    require_write(caller)?;
    if if_match.is_some_and(|v| v != current.version) {
        return Err(CrmError::PreconditionFailed);
    }
    let mut patch = patch;
    let custom_input = patch.custom_fields.take();
    let custom = custom_values(repo)
        .write(
            caller,
            Entity::Client,
            custom_input.as_ref(),
            Some(&current.custom_fields),
        )
        .await;
    let (fields, custom) = join_validation(patch.apply(current.fields.clone()).validate(), custom)?;
    let custom = custom.filter(|c| c.values != current.custom_fields);
    if fields == current.fields && custom.is_none() {
        return Ok(current);
    }
    if fields.parent_id != current.fields.parent_id {
        check_parent(repo, &caller.tenant_id, id, fields.parent_id).await?;
    }
    check_references(repo, caller, &fields, Some(&current.fields)).await?;
    let mut next = Client {
        fields,
        updated_at: crate::values::now(),
        updated_by: caller.user_id.clone(),
        version: current.version + 1,
        ..current.clone()
    };
    if let Some(c) = custom {
        next.custom_fields = c.values;
        next.custom_terms = c.terms;
    }
    let audit = AuditEntry::of_records(
        AuditAction::Updated,
        Some(&current),
        Some(&next),
        &caller.user_id,
        next.version,
    )?;
    repo.replace(&caller.tenant_id, &current, &next, &audit)
        .await?;
    Ok(next)
}

/// Deletes a client that has no subsidiaries and no linked contacts (move or unlink first).
///
/// The client is gone for good (404 on every route, out of every list), but its audit trail is
/// kept: a CRM must still answer "who deleted ACME, and what did it hold?". In the same
/// transaction as the delete and its `deleted` entry (which holds every field's last value), a
/// tombstone (`DELETED`: id, name, who, when) takes the client's place in its partition, so
/// that `GET /clients/{id}/history` keeps answering, for owners and admins only.
pub async fn delete(
    repo: &DynamoClients,
    caller: &Caller,
    id: Uuid,
    if_match: Option<u64>,
) -> Result<(), CrmError> {
    let current = get(repo, caller, id).await?;
    require_write(caller)?;
    if if_match.is_some_and(|v| v != current.version) {
        return Err(CrmError::PreconditionFailed);
    }
    if !repo
        .subsidiaries(&caller.tenant_id, id, 1, None)
        .await?
        .0
        .is_empty()
    {
        return Err(CrmError::Conflict {
            detail: "the client has subsidiaries; move or delete them first".into(),
            errors: vec![FieldError::new(
                "id",
                "no_subsidiaries",
                "the client has subsidiaries",
            )],
        });
    }
    if repo.has_linked_contacts(&caller.tenant_id, id).await? {
        return Err(CrmError::Conflict {
            detail: "contacts are linked to the client; unlink them first".into(),
            errors: vec![FieldError::new(
                "id",
                "no_linked_contacts",
                "contacts are linked to the client",
            )],
        });
    }
    let audit = AuditEntry::of_records(
        AuditAction::Deleted,
        Some(&current),
        None,
        &caller.user_id,
        current.version,
    )?;
    let tombstone = ClientTombstone {
        id,
        name: current.fields.name.clone(),
        deleted_at: audit.at,
        deleted_by: caller.user_id.clone(),
        version: current.version,
    };
    repo.delete(&caller.tenant_id, &current, &tombstone, &audit)
        .await
}

/// `GET /clients/{id}/history`: the client's audit trail, newest first (S6.5): every create,
/// change and delete with actor, time and each field's old → new value.
///
/// Whoever may read the client may read its trail. After the client is deleted, its trail stays
/// readable for owners and admins (through its tombstone, see [`delete`]); everyone else gets
/// 404, as for any record they cannot see.
pub async fn history(
    repo: &DynamoClients,
    caller: &Caller,
    id: Uuid,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<AuditEntry>, CrmError> {
    require_read(caller)?;
    let tenant = &caller.tenant_id;
    let visible = repo
        .get(tenant, id)
        .await?
        .filter(|c| caller.sees(&c.access()));
    if visible.is_none() && !(caller.role.is_admin() && repo.tombstone(tenant, id).await?.is_some())
    {
        return Err(CrmError::NotFound);
    }
    let query = ListQuery::new(tenant, format!("client-history:{id}"));
    let (mut items, last) = repo
        .history(tenant, id, limit, query.start(cursor)?)
        .await?;
    let prefix = crate::audit::CUSTOM_FIELD_PREFIX;
    if items
        .iter()
        .any(|e| e.changes.iter().any(|c| c.field.starts_with(prefix)))
    {
        let defs = custom_values(repo)
            .definitions(caller, Entity::Client)
            .await?;
        crate::audit::hide_custom_fields(&mut items, |key| {
            defs.iter().any(|d| d.key == key && d.visible_to(caller))
        });
    }
    Ok(query.page(items, last))
}

pub async fn list(
    repo: &DynamoClients,
    caller: &Caller,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<Client>, CrmError> {
    if caller.role == Role::Portal {
        // A portal user's list holds their own client at most.
        let own = match caller.portal_client_id.filter(|_| cursor.is_none()) {
            Some(id) => get(repo, caller, id).await.ok().into_iter().collect(),
            None => vec![],
        };
        return Ok(Page {
            items: own,
            next_cursor: None,
        });
    }
    let query = ListQuery::new(
        &caller.tenant_id,
        format!("clients:newest:{}", caller.user_id),
    );
    let (mut items, last) = repo
        .list(&caller.tenant_id, limit, query.start(cursor)?)
        .await?;
    // Clients are far fewer than contacts; visibility is checked on the page read (a page can
    // come back short, with a cursor), so a request reads at most `limit` clients.
    items.retain(|c| caller.sees(&c.access()));
    Ok(query.page(items, last))
}

/// The parameters of `GET /clients`: custom field filters (`cf.{key}`, `cf.{key}[op]`) and
/// `sort=cf.{key}` / `-cf.{key}` (S3.5), besides `limit` and `cursor`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientQuery {
    pub custom: Vec<RawFilter>,
    /// The sort key and whether descending.
    pub sort: Option<(String, bool)>,
}

impl ClientQuery {
    pub fn parse(params: &BTreeMap<String, String>) -> Result<Self, CrmError> {
        let mut q = Self::default();
        let mut errors = Vec::new();
        for (name, value) in params {
            if let Some(raw) = raw_filter(name, value) {
                q.custom.push(raw);
                continue;
            }
            match name.as_str() {
                "limit" | "cursor" => {}
                "sort" => {
                    let (desc, field) = match value.trim().strip_prefix('-') {
                        Some(f) => (true, f),
                        None => (false, value.trim()),
                    };
                    match field.strip_prefix("cf.") {
                        Some(key) => q.sort = Some((key.to_string(), desc)),
                        None => errors.push(FieldError::new(
                            "sort",
                            "one_of",
                            "must be cf.{key}, with - for descending (default: newest first)",
                        )),
                    }
                }
                _ => errors.push(FieldError::new(
                    name.clone(),
                    "unknown_parameter",
                    "not a parameter of this list",
                )),
            }
        }
        if q.custom.len() > MAX_FILTERS {
            errors.push(FieldError::new(
                "cf",
                "max_items",
                format!("at most {MAX_FILTERS} custom field filters"),
            ));
        }
        if errors.is_empty() {
            Ok(q)
        } else {
            Err(CrmError::Validation(errors))
        }
    }
}

/// Queries one filtered client list request makes at most (besides its read budget).
const MAX_REQUESTS: usize = 100;

/// `GET /clients` with custom field filters or a custom field sort (S3.5). The most selective
/// indexed filter (or the sort field) drives: its value entries are read in term order across
/// shards, the clients they name are read in one BatchGetItem per page, and visibility and
/// the other filters are checked on them. Filters no index answers (`ne`, `empty=true`) are
/// checked on the pages of the plain list. A request reads at most `read_budget(limit)` value
/// entries; a sort lists clients without a value after the others.
pub async fn list_filtered(
    repo: &DynamoClients,
    caller: &Caller,
    q: &ClientQuery,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<Client>, CrmError> {
    if q.custom.is_empty() && q.sort.is_none() {
        return list(repo, caller, limit, cursor).await;
    }
    require_read(caller)?;
    let tenant = &caller.tenant_id;
    let defs = custom_values(repo)
        .definitions(caller, Entity::Client)
        .await?;
    let mut filters = Vec::new();
    let mut errors = Vec::new();
    for raw in &q.custom {
        match resolve(&defs, caller, raw) {
            Ok(f) => filters.push(f),
            Err(e) => errors.extend(e),
        }
    }
    let sort = match &q.sort {
        Some((key, desc)) => match visible_definition(&defs, caller, key, "sort") {
            Ok(def) => Some(FieldSort {
                def: def.clone(),
                descending: *desc,
            }),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        None => None,
    };
    if !errors.is_empty() {
        return Err(CrmError::Validation(errors));
    }
    if caller.role == Role::Portal {
        let own = match caller.portal_client_id.filter(|_| cursor.is_none()) {
            Some(id) => get(repo, caller, id)
                .await
                .ok()
                .filter(|c| accepts_all(&filters, &c.custom_fields))
                .into_iter()
                .collect(),
            None => vec![],
        };
        return Ok(Page {
            items: own,
            next_cursor: None,
        });
    }
    let query = ListQuery::new(tenant, format!("clients:{q:?}:{}", caller.user_id));
    let start = query.start(cursor)?;
    let in_phase2 = start.as_ref().is_some_and(|k| k.get("phase").is_some());
    let with_empties = sort.as_ref().is_some_and(|s| {
        !filters
            .iter()
            .any(|f| f.def.key == s.def.key && !matches!(f.op, Op::Empty(true) | Op::Ne(_)))
    });
    // The driving field and its ranges.
    let driver: Option<(String, Vec<TermRange>, bool)> = match &sort {
        Some(s) if !in_phase2 => Some((
            s.def.key.clone(),
            narrowest(&filters, &s.def.key).unwrap_or_else(|| vec![s.range()]),
            s.descending,
        )),
        Some(_) => None,
        None => filters
            .iter()
            .filter(|f| f.ranges().is_some())
            .max_by_key(|f| f.selectivity())
            .and_then(|f| narrowest(&filters, &f.def.key).map(|r| (f.def.key.clone(), r, false))),
    };
    let Some((field, ranges, descending)) = driver else {
        // No index answers the filters (or the clients without a value of the sort field):
        // the plain list's pages, with every filter checked on the records.
        let mut residual = filters.clone();
        if let Some(s) = sort.as_ref().filter(|_| in_phase2) {
            residual.push(FieldFilter {
                def: s.def.clone(),
                op: Op::Empty(true),
            });
        }
        // The phase marker is not part of the key; phase 2 starts at the list's top.
        let start = start
            .map(|mut k| {
                k.remove("phase");
                k
            })
            .filter(|k| !k.is_empty());
        let (mut items, last) = repo.list(tenant, limit, start).await?;
        items.retain(|c| caller.sees(&c.access()) && accepts_all(&residual, &c.custom_fields));
        let last = last.map(|mut k| {
            if in_phase2 {
                k.insert("phase".into(), crate::table::s("2"));
            }
            k
        });
        return Ok(query.page(items, last));
    };
    let after = start.as_ref().and_then(|k| match k.get("pos") {
        Some(aws_sdk_dynamodb::types::AttributeValue::S(p)) => Some(p.clone()),
        _ => None,
    });
    let partitions =
        crate::custom_fields::entries::field_partitions(tenant, Entity::Client, &field);
    let table = repo.table();
    let mut reader = EntryReader::new(table, &partitions, &ranges, descending, after.as_deref());
    let budget = crate::contacts::search::read_budget(limit);
    let (on_field, residual): (Vec<&FieldFilter>, Vec<&FieldFilter>) =
        filters.iter().partition(|f| f.def.key == field);
    let limit = limit as usize;
    let mut out: Vec<Client> = Vec::new();
    // The last entry taken off the reader: every entry up to it has been decided.
    let mut last_pos: Option<String> = None;
    let cursor_at =
        |pos: String| crate::table::Item::from([("pos".to_string(), crate::table::s(pos))]);
    loop {
        let need = limit - out.len();
        let mut candidates: Vec<(String, Uuid)> = Vec::new();
        while candidates.len() < need
            && reader.items_read < budget
            && reader.requests < MAX_REQUESTS
        {
            let Some((pos, item)) = reader.next((need + 1) as i32).await? else {
                break;
            };
            last_pos = Some(pos.clone());
            let entry = read_entry(&item)?;
            let listed_here = is_first_match(
                term_of_sk(&pos),
                entry.record,
                &entry.terms,
                &ranges,
                descending,
            );
            if listed_here && on_field.iter().all(|f| f.accepts(Some(&entry.value))) {
                candidates.push((pos, entry.record));
            }
        }
        let ids: Vec<Uuid> = candidates.iter().map(|(_, id)| *id).collect();
        let found = repo.get_many(tenant, &ids).await?;
        let total = candidates.len();
        for (n, (pos, id)) in candidates.into_iter().enumerate() {
            let Some(client) = found.get(&id) else {
                continue;
            };
            if caller.sees(&client.access())
                && residual
                    .iter()
                    .all(|f| f.accepts(client.custom_fields.get(&f.def.key)))
            {
                out.push(client.clone());
                if out.len() == limit {
                    let more = n + 1 < total || reader.has_more() || with_empties;
                    return Ok(query.page(out, more.then(|| cursor_at(pos))));
                }
            }
        }
        if !reader.has_more() {
            // The field's entries are done: next, the clients without a value (sort only).
            let next = with_empties
                .then(|| crate::table::Item::from([("phase".to_string(), crate::table::s("2"))]));
            return Ok(query.page(out, next));
        }
        if reader.items_read >= budget || reader.requests >= MAX_REQUESTS {
            // Out of budget: a short page, continued from the last entry decided.
            return Ok(query.page(out, last_pos.map(cursor_at)));
        }
    }
}

/// Direct subsidiaries of a client, paginated (C8).
pub async fn subsidiaries(
    repo: &DynamoClients,
    caller: &Caller,
    id: Uuid,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<Client>, CrmError> {
    get(repo, caller, id).await?;
    let query = ListQuery::new(&caller.tenant_id, format!("client-subsidiaries:{id}"));
    let (mut items, last) = repo
        .subsidiaries(&caller.tenant_id, id, limit, query.start(cursor)?)
        .await?;
    items.retain(|c| caller.sees(&c.access()));
    Ok(query.page(items, last))
}

/// A client with all its subsidiaries below it (S2.2 roll-up).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientTree {
    pub client: Client,
    #[schema(no_recursion)]
    pub subsidiaries: Vec<ClientTree>,
}

/// The roll-up of a client: its whole subtree, at most `MAX_ROLLUP_CLIENTS` clients (bounded by
/// the depth limit, so never the tenant's size).
pub async fn hierarchy(
    repo: &DynamoClients,
    caller: &Caller,
    id: Uuid,
) -> Result<ClientTree, CrmError> {
    let root = get(repo, caller, id).await?;
    let tenant = &caller.tenant_id;
    // Breadth-first: collect (client, parent index) pairs, then fold into the tree.
    let mut nodes: Vec<(Client, Option<usize>)> = vec![(root, None)];
    let mut frontier = vec![0usize];
    while let Some(index) = frontier.pop() {
        let parent_id = nodes[index].0.id;
        let mut start = None;
        loop {
            let (children, last) = repo.subsidiaries(tenant, parent_id, 200, start).await?;
            // A subsidiary the caller may not see is left out, with what lies below it.
            for child in children.into_iter().filter(|c| caller.sees(&c.access())) {
                if nodes.len() >= MAX_ROLLUP_CLIENTS {
                    return Err(CrmError::validation(
                        "id",
                        "rollup_size",
                        format!("the hierarchy has more than {MAX_ROLLUP_CLIENTS} clients"),
                    ));
                }
                nodes.push((child, Some(index)));
                frontier.push(nodes.len() - 1);
            }
            match last {
                Some(k) => start = Some(k),
                None => break,
            }
        }
    }
    let mut trees: Vec<Option<ClientTree>> = nodes
        .iter()
        .map(|(c, _)| {
            Some(ClientTree {
                client: c.clone(),
                subsidiaries: vec![],
            })
        })
        .collect();
    for i in (1..nodes.len()).rev() {
        let parent = nodes[i].1.expect("non-root has a parent");
        let tree = trees[i].take().expect("each node folds once");
        trees[parent]
            .as_mut()
            .expect("parents fold after children")
            .subsidiaries
            .insert(0, tree);
    }
    Ok(trees[0].take().expect("the root"))
}

/// Shares the client with a user or team of the tenant (S9.4); sharing twice changes nothing.
pub async fn share(
    repo: &DynamoClients,
    caller: &Caller,
    id: Uuid,
    principal: Principal,
) -> Result<Client, CrmError> {
    let current = get(repo, caller, id).await?;
    require_write(caller)?;
    if current.shared_with.contains(&principal) {
        return Ok(current);
    }
    crate::directory::Directory::new(repo.table().store())
        .check_share(caller, &current.shared_with, &principal)
        .await?;
    let tenant = &caller.tenant_id;
    let mut next = Client {
        updated_at: crate::values::now(),
        updated_by: caller.user_id.clone(),
        version: current.version + 1,
        ..current.clone()
    };
    next.shared_with.push(principal);
    next.shared_with.sort();
    let audit = AuditEntry::of_records(
        AuditAction::Shared,
        Some(&current),
        Some(&next),
        &caller.user_id,
        next.version,
    )?;
    repo.replace(tenant, &current, &next, &audit).await?;
    Ok(next)
}

pub async fn unshare(
    repo: &DynamoClients,
    caller: &Caller,
    id: Uuid,
    principal: Principal,
) -> Result<Client, CrmError> {
    let current = get(repo, caller, id).await?;
    require_write(caller)?;
    if !current.shared_with.contains(&principal) {
        return Err(CrmError::NotFound);
    }
    let mut next = Client {
        updated_at: crate::values::now(),
        updated_by: caller.user_id.clone(),
        version: current.version + 1,
        ..current.clone()
    };
    next.shared_with.retain(|p| p != &principal);
    let audit = AuditEntry::of_records(
        AuditAction::Unshared,
        Some(&current),
        Some(&next),
        &caller.user_id,
        next.version,
    )?;
    repo.replace(&caller.tenant_id, &current, &next, &audit)
        .await?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(name: &str) -> ClientFields {
        ClientFields {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn s2_1_defaults_and_normalisation() {
        let f = ClientFields {
            domain: Some(" ACME.Example ".into()),
            vat_id: Some("de 123 456 789".into()),
            tags: vec!["VIP".into(), "vip".into(), " key  account ".into()],
            default_hourly_rate: Some("95.5".into()),
            ..fields(" ACME  GmbH ")
        }
        .validate()
        .unwrap();
        assert_eq!(f.name, "ACME GmbH");
        assert_eq!(f.domain.as_deref(), Some("acme.example"));
        assert_eq!(f.vat_id.as_deref(), Some("DE123456789"));
        assert_eq!(f.tags, vec!["VIP", "key account"]);
        assert_eq!(f.currency.as_deref(), Some("EUR"));
        assert_eq!(f.status, Some(ClientStatus::Active));
        assert_eq!(f.default_hourly_rate.as_deref(), Some("95.50"));
    }

    #[test]
    fn s2_3_every_broken_rule_is_named() {
        let errs = ClientFields {
            currency: Some("EURO".into()),
            email: Some("nope".into()),
            billing_address: Some(Address {
                country: Some("Germany".into()),
                ..Default::default()
            }),
            communication: CommunicationPreferences {
                language: Some("german!".into()),
                time_zone: Some("Berlin".into()),
                ..Default::default()
            },
            payment_terms_days: Some(400),
            ..fields("")
        }
        .validate()
        .unwrap_err();
        let got: Vec<(&str, &str)> = errs
            .iter()
            .map(|e| (e.field.as_str(), e.rule.as_str()))
            .collect();
        for expected in [
            ("name", "required"),
            ("currency", "iso_4217"),
            ("payment_terms_days", "range"),
            ("communication.language", "bcp_47"),
            ("communication.time_zone", "iana"),
            ("billing_address.country", "iso_3166"),
            ("email", "format"),
        ] {
            assert!(got.contains(&expected), "{expected:?} in {got:?}");
        }
    }

    #[test]
    fn a_client_address_country_follows_the_one_country_rule() {
        // "ZZ" is two capital letters but no ISO 3166-1 country: refused on a client as on a
        // contact (it used to pass the client's own two-letter check).
        let client = ClientFields {
            billing_address: Some(Address {
                country: Some("ZZ".into()),
                ..Default::default()
            }),
            ..fields("Acme")
        }
        .validate()
        .unwrap_err();
        let contact = crate::contacts::ContactFields::validate(crate::contacts::NewContact {
            first_name: Some("Ada".into()),
            addresses: Some(vec![crate::contacts::ContactAddress {
                country: Some("ZZ".into()),
                ..Default::default()
            }]),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            (client[0].field.as_str(), client[0].rule.as_str()),
            ("billing_address.country", "iso_3166")
        );
        assert_eq!(
            (contact[0].field.as_str(), contact[0].rule.as_str()),
            ("addresses[0].country", "iso_3166")
        );
    }
}
