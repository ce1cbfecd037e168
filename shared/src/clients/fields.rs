//! The fields of a client company (S2.1–S2.4) and their rules.

use crate::FieldError;
use crate::access::visibility::Visibility;
use crate::errors::{FieldErrors, FieldPath};
use crate::values::phone::Phone;
use crate::values::{Currency, ids, money};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
    #[schema(minimum = 0, maximum = 365)]
    pub payment_terms_days: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<PaymentMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_email: Option<String>,
    /// Decimal string in the client's currency, e.g. `"95.50"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_hourly_rate: Option<String>,
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
        if domain
            .as_deref()
            .is_some_and(|d| !crate::values::url::is_domain_name(d))
        {
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
