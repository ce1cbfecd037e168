//! Tenant settings (S2.4): the tenant's base currency and the exchange rates that reports use to
//! convert amounts into it. One item per tenant, `T#{tenant}#SETTINGS` / `SETTINGS`, with its
//! audit entries (`AUDIT#{uuidv7}`) in the same partition, written in the same transaction.
//!
//! **Rates** are quotes against the base currency, as exact decimal strings: `"USD": "0.92"`
//! with base `EUR` means 1 USD = 0.92 EUR. A rate is greater than 0 and has at most
//! [`MAX_RATE_INTEGER_DIGITS`] integer and [`MAX_RATE_FRACTION_DIGITS`] fractional digits; it is
//! stored without redundant zeros (`"0.9200"` → `"0.92"`). Its key is an ISO 4217 code, never the
//! base currency itself (1 EUR is always 1 EUR).
//!
//! **Changing the base currency** makes every stored rate wrong: each one is a price in the old
//! base. So the PATCH that changes `base_currency` must also restate (set) or clear (`null`)
//! every rate that is to remain, or clear them all with `"exchange_rates": null`; a rate carried
//! over silently is refused (422, `exchange_rates.{code}`, rule `restate_on_base_change`), and so
//! is a rate left for the new base (`not_base`). The API never derives rates itself (e.g. by
//! dividing through the old rate of the new base): a derived number nobody entered cannot be
//! traced to a source, which is what a finance user checks first.
//!
//! **Conversion** ([`convert`]) is decimal arithmetic (`rust_decimal`, 28 significant digits,
//! never floats), rounded once, at the end, to the minor units of the target currency, half away
//! from zero ("commercial" rounding: 0.005 → 0.01, −0.005 → −0.01), the rule of the euro
//! conversions (Council Regulation (EC) No 1103/97, art. 5) and the one people check by hand.
//! Between two currencies that are not the base, the amount goes through the base without
//! rounding in between.

use crate::access::{Action, Policy, Subject};
use crate::audit::{AuditAction, AuditEntry};
use crate::errors::{FieldErrors, FieldPath};
use crate::store::{Condition, Item, Key, Table, WriteOp, key, s, to_item};
use crate::values::Patch;
use crate::values::currency;
use crate::values::money::{self, normalize_rate};
pub use crate::values::money::{
    ConversionError, MAX_AMOUNT_FRACTION_DIGITS, MAX_AMOUNT_INTEGER_DIGITS,
    MAX_RATE_FRACTION_DIGITS, MAX_RATE_INTEGER_DIGITS,
};
use crate::{Caller, CrmError, FieldError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub const DEFAULT_BASE_CURRENCY: &str = "EUR";
/// Most entries in one PATCH's `exchange_rates` (there are fewer currencies).
pub const MAX_RATE_ENTRIES: usize = 200;
const SETTINGS_SK: &str = "SETTINGS";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TenantSettings {
    /// ISO 4217 code of the currency reports are in.
    pub base_currency: String,
    /// Currency code → how many units of the base currency one unit of it is worth, as an
    /// exact decimal string, e.g. `{"USD": "0.92"}` with base `EUR`.
    pub exchange_rates: BTreeMap<String, String>,
    /// The tenant's name as its outbound email shows it (`From: "<display name>" <sender>`,
    /// `{{tenant.name}}`); the tenant id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Inbound mail (S6.4): mail to the tenant's address from an unknown sender creates a lead
    /// (lead source `inbound_email`). Off (and not shown) by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inbound_auto_lead: bool,
    /// Inbound mail from a contact counts as a touch (sets last contact, S8.5). Off (and not
    /// shown) by default: only what the tenant's people do counts.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inbound_email_touches: bool,
    /// 0 while the settings were never saved (the defaults).
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

impl Default for TenantSettings {
    /// The settings of a tenant that never saved any: base EUR, no rates, version 0.
    fn default() -> Self {
        Self {
            base_currency: DEFAULT_BASE_CURRENCY.to_string(),
            exchange_rates: BTreeMap::new(),
            display_name: None,
            inbound_auto_lead: false,
            inbound_email_touches: false,
            version: 0,
            updated_at: None,
            updated_by: None,
        }
    }
}

impl TenantSettings {
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// Body of `PATCH /settings`: JSON merge patch. `exchange_rates` is merged entry by entry: a
/// string sets that rate, `null` clears it; `"exchange_rates": null` clears them all.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "EUR")]
    pub base_currency: Patch<String>,
    /// Currency code → rate as a decimal string (sets it) or `null` (clears it).
    // Values are checked by `apply`, not by the parser: a number instead of a string is a 422
    // naming the entry.
    #[serde(default)]
    #[schema(value_type = Option<BTreeMap<String, Option<String>>>)]
    pub exchange_rates: Patch<BTreeMap<String, Option<Value>>>,
    /// The tenant's display name for outbound email (1–100 characters; `null` clears it).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub display_name: Patch<String>,
    /// `true`: mail from unknown senders creates leads; `null` resets to the default (`false`).
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub inbound_auto_lead: Patch<bool>,
    /// `true`: inbound mail sets the contact's last contact; `null` resets to `false`.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub inbound_email_touches: Patch<bool>,
}

fn rate_field(code: &str) -> String {
    FieldPath::new("exchange_rates").field(code).to_string()
}

impl SettingsPatch {
    /// The base currency and rates after this patch, or every rule it breaks.
    pub fn apply(
        self,
        current: &TenantSettings,
    ) -> Result<(String, BTreeMap<String, String>), Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        let mut base_valid = true;
        let base = match self.base_currency {
            Patch::Absent => current.base_currency.clone(),
            Patch::Clear => {
                errors.push(
                    "base_currency",
                    "required",
                    "the tenant always has a base currency",
                );
                current.base_currency.clone()
            }
            Patch::Set(code) => {
                let code = code.trim().to_uppercase();
                if currency::minor_digits(&code).is_none() {
                    base_valid = false;
                    errors.push(
                        "base_currency",
                        "iso_4217",
                        "must be an ISO 4217 currency code such as EUR",
                    );
                }
                code
            }
        };
        // Rates given (set or cleared) in this request, by normalised code.
        let mut restated = BTreeSet::new();
        let rates = match self.exchange_rates {
            Patch::Absent => current.exchange_rates.clone(),
            Patch::Clear => BTreeMap::new(),
            Patch::Set(entries) if entries.len() > MAX_RATE_ENTRIES => {
                errors.push(
                    "exchange_rates",
                    "max_items",
                    format!("at most {MAX_RATE_ENTRIES} entries per request"),
                );
                current.exchange_rates.clone()
            }
            Patch::Set(entries) => {
                let mut rates = current.exchange_rates.clone();
                for (raw_code, value) in entries {
                    let code = raw_code.trim().to_uppercase();
                    let field = rate_field(&raw_code);
                    if currency::minor_digits(&code).is_none() {
                        errors.push(
                            field,
                            "iso_4217",
                            "rates are keyed by ISO 4217 currency codes such as USD",
                        );
                        continue;
                    }
                    if !restated.insert(code.clone()) {
                        errors.push(
                            field,
                            "duplicate",
                            format!("{code} is given more than once"),
                        );
                        continue;
                    }
                    match value {
                        None => {
                            rates.remove(&code);
                        }
                        Some(Value::String(raw)) => match normalize_rate(raw.trim()) {
                            Some(rate) => {
                                rates.insert(code, rate);
                            }
                            None => errors.push(
                                field,
                                "rate",
                                format!(
                                    "must be a decimal greater than 0 with at most \
                                     {MAX_RATE_INTEGER_DIGITS} integer and \
                                     {MAX_RATE_FRACTION_DIGITS} fractional digits, e.g. \"0.92\""
                                ),
                            ),
                        },
                        Some(_) => errors.push(
                            field,
                            "decimal_string",
                            "give the rate as a string such as \"0.92\", so that no digit is lost",
                        ),
                    }
                }
                rates
            }
        };
        let base_changed = base_valid && base != current.base_currency;
        for code in rates.keys() {
            if *code == base {
                errors.push(
                    rate_field(code),
                    "not_base",
                    format!("{base} is the base currency and has no rate; clear it (null)"),
                );
            } else if base_changed && !restated.contains(code) {
                errors.push(
                    rate_field(code),
                    "restate_on_base_change",
                    format!(
                        "this rate is in {}; give it in {base} or clear it (null) in the request \
                         that changes the base currency",
                        current.base_currency
                    ),
                );
            }
        }
        errors.finish((base, rates))
    }
}

impl From<ConversionError> for CrmError {
    fn from(e: ConversionError) -> Self {
        let message = e.to_string();
        match e {
            ConversionError::InvalidAmount(_) => CrmError::validation("amount", "amount", message),
            ConversionError::UnknownCurrency(_) => {
                CrmError::validation("currency", "iso_4217", message)
            }
            ConversionError::MissingRate(code) => {
                CrmError::validation(&rate_field(&code), "rate_missing", message)
            }
            ConversionError::Overflow => CrmError::validation("amount", "range", message),
        }
    }
}

/// Converts `amount` from currency `from` to `to` with the tenant's rates (see
/// [`crate::values::money::convert`]): exact, rounded once, half away from zero, to the minor
/// units of `to`.
pub fn convert(
    amount: &str,
    from: &str,
    to: &str,
    settings: &TenantSettings,
) -> Result<String, ConversionError> {
    money::convert(
        amount,
        from,
        to,
        &settings.base_currency,
        &settings.exchange_rates,
    )
}

pub fn settings_pk(tenant: &str) -> String {
    format!("T#{tenant}#SETTINGS")
}

pub struct SettingsStore {
    table: Table,
}

impl SettingsStore {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// The tenant's settings; the defaults when they were never saved.
    pub async fn get(&self, tenant: &str) -> Result<TenantSettings, CrmError> {
        Ok(self
            .table
            .get_as(Key::new(settings_pk(tenant), SETTINGS_SK))
            .await?
            .unwrap_or_default())
    }

    /// Saves `next` over the settings at `current_version` (0: never saved) with its audit
    /// entry; `PreconditionFailed` when they changed meanwhile.
    pub async fn save(
        &self,
        tenant: &str,
        current_version: u64,
        next: &TenantSettings,
        audit: &AuditEntry,
    ) -> Result<(), CrmError> {
        let mut keys: Item = key(settings_pk(tenant), SETTINGS_SK);
        keys.insert("entity".into(), s("settings"));
        keys.insert("tenant_id".into(), s(tenant));
        let condition = if current_version == 0 {
            Condition::NotExists
        } else {
            Condition::version(current_version)
        };
        let writes = vec![
            WriteOp::put_if(to_item(next, keys)?, condition),
            audit.write(settings_pk(tenant), "settings_audit")?,
        ];
        match self.table.transact(writes).await {
            Ok(()) => Ok(()),
            Err(e) if e.failed_at(0) => Err(CrmError::PreconditionFailed),
            Err(e) => Err(e.into_error("settings update")),
        }
    }
}

/// `GET /settings`: every signed-in role but portal users may read the tenant's settings.
pub async fn get(repo: &SettingsStore, caller: &Caller) -> Result<TenantSettings, CrmError> {
    Policy::check(caller, Action::Read, Subject::Settings)?;
    repo.get(&caller.tenant_id).await
}

/// `PATCH /settings`: owners and admins change the base currency and the rates (see the module
/// documentation for the base-currency rule). A patch that changes nothing writes nothing.
pub async fn patch(
    repo: &SettingsStore,
    caller: &Caller,
    patch: SettingsPatch,
    if_match: Option<u64>,
) -> Result<TenantSettings, CrmError> {
    // Only owners and admins change the settings; others get 403, whatever their request says.
    Policy::check(caller, Action::Write, Subject::Settings)?;
    let current = repo.get(&caller.tenant_id).await?;
    if if_match.is_some_and(|v| v != current.version) {
        return Err(CrmError::PreconditionFailed);
    }
    let switch = |p: &Patch<bool>, now: bool| match p {
        Patch::Absent => now,
        Patch::Clear => false,
        Patch::Set(on) => *on,
    };
    let inbound_auto_lead = switch(&patch.inbound_auto_lead, current.inbound_auto_lead);
    let inbound_email_touches = switch(&patch.inbound_email_touches, current.inbound_email_touches);
    let mut patch = patch;
    let display_name = display_name(
        std::mem::take(&mut patch.display_name),
        current.display_name.clone(),
    );
    let rates = patch.apply(&current);
    let (base_currency, exchange_rates, display_name) = match (rates, display_name) {
        (Ok((base, rates)), Ok(name)) => (base, rates, name),
        (rates, name) => {
            let mut errors = rates.err().unwrap_or_default();
            errors.extend(name.err());
            return Err(CrmError::Validation(errors));
        }
    };
    if base_currency == current.base_currency
        && exchange_rates == current.exchange_rates
        && display_name == current.display_name
        && inbound_auto_lead == current.inbound_auto_lead
        && inbound_email_touches == current.inbound_email_touches
    {
        return Ok(current);
    }
    let next = TenantSettings {
        base_currency,
        exchange_rates,
        display_name,
        inbound_auto_lead,
        inbound_email_touches,
        version: current.version + 1,
        updated_at: Some(crate::values::now()),
        updated_by: Some(caller.user_id.clone()),
    };
    // Diffed against what was in force, the defaults included.
    let audit = AuditEntry::of_records(
        AuditAction::Updated,
        Some(&current),
        Some(&next),
        &caller.user_id,
        next.version,
    )?;
    repo.save(&caller.tenant_id, current.version, &next, &audit)
        .await?;
    Ok(next)
}

/// The display name after a patch: trimmed, 1–100 characters, one line.
fn display_name(
    patch: Patch<String>,
    current: Option<String>,
) -> Result<Option<String>, FieldError> {
    let next = patch.apply(current);
    match next.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(name) if name.chars().count() > 100 || name.chars().any(char::is_control) => {
            Err(FieldError::new(
                "display_name",
                "text",
                "must be 1 to 100 characters on one line",
            ))
        }
        Some(name) => Ok(Some(name.to_string())),
    }
}

#[cfg(test)]
mod tests;
