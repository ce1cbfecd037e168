//! A merge patch of a client (`PATCH /clients/{id}`).

use super::fields::{
    Address, ClientFields, ClientStatus, CommunicationPreferences, CompanySize, PaymentMethod,
};
use crate::access::visibility::Visibility;
use crate::values::Patch;
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

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
    #[schema(value_type = Option<u16>, minimum = 0, maximum = 365)]
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
    /// A patch that sets what `input` holds and keeps everything else (an import's update:
    /// blank cells never overwrite). The name is the match key and stays as it is.
    pub fn filling(input: ClientFields) -> Self {
        fn set<T>(v: Option<T>) -> Patch<T> {
            v.map_or(Patch::Absent, Patch::Set)
        }
        Self {
            legal_name: set(input.legal_name),
            domain: set(input.domain),
            industry: set(input.industry),
            size: set(input.size),
            status: set(input.status),
            owner: set(input.owner),
            team: set(input.team),
            tags: set((!input.tags.is_empty()).then_some(input.tags)),
            parent_id: set(input.parent_id),
            billing_address: set(input.billing_address),
            shipping_address: set(input.shipping_address),
            phone: set(input.phone),
            email: set(input.email),
            website: set(input.website),
            vat_id: set(input.vat_id),
            currency: set(input.currency),
            payment_terms_days: set(input.payment_terms_days),
            payment_method: set(input.payment_method),
            billing_email: set(input.billing_email),
            default_hourly_rate: set(input.default_hourly_rate),
            ..Self::default()
        }
    }

    pub fn apply(self, f: ClientFields) -> ClientFields {
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
