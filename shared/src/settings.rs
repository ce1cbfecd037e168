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
    let (base_currency, exchange_rates) = patch.apply(&current).map_err(CrmError::Validation)?;
    if base_currency == current.base_currency && exchange_rates == current.exchange_rates {
        return Ok(current);
    }
    let next = TenantSettings {
        base_currency,
        exchange_rates,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use serde_json::json;

    fn settings(base: &str, rates: &[(&str, &str)]) -> TenantSettings {
        TenantSettings {
            base_currency: base.into(),
            exchange_rates: rates
                .iter()
                .map(|(c, r)| (c.to_string(), r.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    fn patch(body: Value) -> SettingsPatch {
        serde_json::from_value(body).unwrap()
    }

    fn broken(
        result: Result<(String, BTreeMap<String, String>), Vec<FieldError>>,
    ) -> Vec<(String, String)> {
        result
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.rule))
            .collect()
    }

    fn pair(field: &str, rule: &str) -> (String, String) {
        (field.to_string(), rule.to_string())
    }

    #[test]
    fn s2_4_defaults_are_eur_without_rates_at_version_0() {
        let d = TenantSettings::default();
        assert_eq!((d.base_currency.as_str(), d.version), ("EUR", 0));
        assert!(d.exchange_rates.is_empty());
        assert_eq!(d.etag(), "\"0\"");
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"base_currency": "EUR", "exchange_rates": {}, "version": 0})
        );
    }

    #[test]
    fn s2_4_rates_are_exact_positive_decimals_stored_without_redundant_zeros() {
        assert_eq!(normalize_rate("0.9200").as_deref(), Some("0.92"));
        assert_eq!(normalize_rate("007").as_deref(), Some("7"));
        assert_eq!(normalize_rate("2.000").as_deref(), Some("2"));
        assert_eq!(
            normalize_rate("0.000000000001").as_deref(),
            Some("0.000000000001")
        );
        assert_eq!(
            normalize_rate("999999999999.999999999999").as_deref(),
            Some("999999999999.999999999999")
        );
        for bad in [
            "0",
            "0.000",
            "-1",
            "+1",
            "1.",
            ".5",
            "1e3",
            "1,5",
            "1_000",
            "",
            "0.0000000000001",
            "1000000000000",
            " 1",
        ] {
            assert_eq!(normalize_rate(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn s2_4_rates_merge_entry_by_entry() {
        let current = settings("EUR", &[("USD", "0.9"), ("GBP", "1.17")]);
        let (base, rates) =
            patch(json!({"exchange_rates": {"usd": "0.9200", "GBP": null, "CHF": "1.05"}}))
                .apply(&current)
                .unwrap();
        assert_eq!(base, "EUR");
        assert_eq!(
            rates,
            BTreeMap::from([("CHF".into(), "1.05".into()), ("USD".into(), "0.92".into())])
        );
        let (_, cleared) = patch(json!({"exchange_rates": null}))
            .apply(&current)
            .unwrap();
        assert!(cleared.is_empty());
        let (_, kept) = patch(json!({})).apply(&current).unwrap();
        assert_eq!(kept, current.exchange_rates);
    }

    #[test]
    fn s2_4_every_broken_rate_rule_is_named() {
        let got = broken(
            patch(json!({"base_currency": "EURO", "exchange_rates": {
                "XYZ": "1", "USD": "0", "GBP": 1.17, "EUR": "1", "CHF": "1.0000000000001"
            }}))
            .apply(&TenantSettings::default()),
        );
        for expected in [
            pair("base_currency", "iso_4217"),
            pair("exchange_rates.XYZ", "iso_4217"),
            pair("exchange_rates.USD", "rate"),
            pair("exchange_rates.GBP", "decimal_string"),
            pair("exchange_rates.CHF", "rate"),
        ] {
            assert!(got.contains(&expected), "{expected:?} in {got:?}");
        }
        assert_eq!(
            broken(
                patch(json!({"exchange_rates": {"EUR": "1"}})).apply(&TenantSettings::default())
            ),
            vec![pair("exchange_rates.EUR", "not_base")]
        );
        assert_eq!(
            broken(patch(json!({"base_currency": null})).apply(&TenantSettings::default())),
            vec![pair("base_currency", "required")]
        );
        assert_eq!(
            broken(
                patch(json!({"exchange_rates": {"USD": "1", "usd": "2"}}))
                    .apply(&TenantSettings::default())
            ),
            vec![pair("exchange_rates.usd", "duplicate")]
        );
    }

    #[test]
    fn s2_4_changing_the_base_restates_or_clears_every_rate() {
        let current = settings("EUR", &[("USD", "0.92"), ("GBP", "1.17")]);
        // Carried over silently: refused, naming each stale rate (and the new base's own rate).
        assert_eq!(
            broken(patch(json!({"base_currency": "USD"})).apply(&current)),
            vec![
                pair("exchange_rates.GBP", "restate_on_base_change"),
                pair("exchange_rates.USD", "not_base"),
            ]
        );
        assert_eq!(
            broken(
                patch(json!({"base_currency": "USD", "exchange_rates": {"USD": null}}))
                    .apply(&current)
            ),
            vec![pair("exchange_rates.GBP", "restate_on_base_change")]
        );
        // Restated in the new base: accepted.
        let (base, rates) = patch(json!({"base_currency": "usd",
            "exchange_rates": {"USD": null, "GBP": "1.27", "EUR": "1.087"}}))
        .apply(&current)
        .unwrap();
        assert_eq!(base, "USD");
        assert_eq!(
            rates,
            BTreeMap::from([
                ("EUR".into(), "1.087".into()),
                ("GBP".into(), "1.27".into())
            ])
        );
        // Or all cleared.
        let (_, rates) = patch(json!({"base_currency": "USD", "exchange_rates": null}))
            .apply(&current)
            .unwrap();
        assert!(rates.is_empty());
        // Restating the same base changes nothing about the rule.
        assert!(
            patch(json!({"base_currency": "eur"}))
                .apply(&current)
                .is_ok()
        );
    }

    #[test]
    fn s2_4_conversion_goes_through_the_base_and_rounds_half_away_from_zero() {
        let s = settings("EUR", &[("USD", "0.92"), ("JPY", "0.0061"), ("KWD", "3")]);
        assert_eq!(convert("100", "USD", "EUR", &s).unwrap(), "92.00");
        assert_eq!(convert("92", "EUR", "USD", &s).unwrap(), "100.00");
        assert_eq!(convert("1", "EUR", "USD", &s).unwrap(), "1.09"); // 1.0869…
        assert_eq!(convert("10000", "JPY", "EUR", &s).unwrap(), "61.00");
        assert_eq!(convert("1", "EUR", "JPY", &s).unwrap(), "164"); // 163.93…
        assert_eq!(convert("1", "EUR", "KWD", &s).unwrap(), "0.333");
        // USD → JPY through EUR, unrounded in between: 100 × 0.92 / 0.0061 = 15081.967…
        assert_eq!(convert("100", "USD", "JPY", &s).unwrap(), "15082");
        // Half away from zero, on both signs.
        assert_eq!(convert("0.005", "EUR", "EUR", &s).unwrap(), "0.01");
        assert_eq!(convert("-0.005", "EUR", "EUR", &s).unwrap(), "-0.01");
        assert_eq!(convert("0.0049", "EUR", "EUR", &s).unwrap(), "0.00");
        assert_eq!(convert("-0.001", "EUR", "EUR", &s).unwrap(), "0.00");
        assert_eq!(convert("2.5", "JPY", "JPY", &s).unwrap(), "3");
        assert_eq!(convert("5", "EUR", "EUR", &s).unwrap(), "5.00");
    }

    #[test]
    fn s2_4_conversion_errors_name_what_is_missing() {
        let s = settings("EUR", &[("USD", "0.92")]);
        assert_eq!(
            convert("1", "GBP", "EUR", &s),
            Err(ConversionError::MissingRate("GBP".into()))
        );
        assert_eq!(
            convert("1", "USD", "CHF", &s),
            Err(ConversionError::MissingRate("CHF".into()))
        );
        assert_eq!(
            convert("1", "EURO", "EUR", &s),
            Err(ConversionError::UnknownCurrency("EURO".into()))
        );
        for bad in [
            "",
            "1e3",
            "1.",
            ".5",
            "+1",
            "--1",
            "1,5",
            "1_0",
            "NaN",
            "12345678901234567",
        ] {
            assert_eq!(
                convert(bad, "EUR", "EUR", &s),
                Err(ConversionError::InvalidAmount(bad.into())),
                "{bad:?}"
            );
        }
        let extreme = settings("EUR", &[("USD", "999999999999"), ("JPY", "0.000000000001")]);
        assert_eq!(
            convert("9999999999999999", "USD", "JPY", &extreme),
            Err(ConversionError::Overflow)
        );
        // Representable, but not with the two decimals of USD.
        assert_eq!(
            convert(
                "9999999999999999",
                "EUR",
                "USD",
                &settings("EUR", &[("USD", "0.000000000001")])
            ),
            Err(ConversionError::Overflow)
        );
        let e: CrmError = ConversionError::MissingRate("GBP".into()).into();
        assert!(
            matches!(e, CrmError::Validation(ref v) if v[0].field == "exchange_rates.GBP" && v[0].rule == "rate_missing")
        );
    }

    /// Codes with their minor digits, for the property tests.
    fn code() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["EUR", "USD", "JPY", "KWD", "GBP", "CLP", "BHD", "CHF"])
    }

    /// A rate as the API stores it, from 0.000000000001 to 999999, over every magnitude.
    fn rate() -> impl Strategy<Value = String> {
        (1i64..1_000_000, 0u32..=12).prop_map(|(mantissa, scale)| {
            normalize_rate(&Decimal::new(mantissa, scale).to_string()).expect("a valid rate")
        })
    }

    fn amount_in(code: &str, whole: u64, frac: u64, negative: bool) -> String {
        let digits = currency::minor_digits(code).unwrap() as usize;
        let sign = if negative { "-" } else { "" };
        if digits == 0 {
            format!("{sign}{whole}")
        } else {
            let frac = frac % 10u64.pow(digits as u32);
            format!("{sign}{whole}.{frac:0digits$}")
        }
    }

    proptest! {
        #[test]
        fn converting_to_the_same_currency_is_identity(
            c in code(), whole in 0u64..10_000_000_000_000_000, frac in 0u64..1000, negative: bool,
        ) {
            let amount = amount_in(c, whole, frac, negative);
            let zero = amount.trim_start_matches('-').bytes().all(|b| b == b'0' || b == b'.');
            prop_assume!(!(negative && zero)); // "-0.00" is written "0.00"
            prop_assert_eq!(convert(&amount, c, c, &TenantSettings::default()), Ok(amount.clone()));
        }

        #[test]
        fn converting_never_panics(
            amount in "-?[0-9]{0,20}(\\.[0-9]{0,14})?|\\PC{0,12}",
            from in code(), to in code(), base in code(),
            rates in prop::collection::btree_map(code(), rate(), 0..8),
        ) {
            let settings = TenantSettings {
                base_currency: base.to_string(),
                exchange_rates: rates.into_iter().map(|(c, r)| (c.to_string(), r)).collect(),
                ..Default::default()
            };
            let _ = convert(&amount, from, to, &settings);
        }

        /// base → X → base loses at most one minor unit of the base when one minor unit of X is
        /// worth at most one of the base. (When it is worth more, no rounding to X can do
        /// better than half an X minor unit: 1 GBP penny is about 18 KRW.)
        #[test]
        fn a_base_round_trip_stays_within_one_minor_unit(
            base in code(), x in code(), r in rate(), whole in 0u64..1_000_000_000, frac in 0u64..1000,
        ) {
            prop_assume!(base != x);
            let (db, dx) = (currency::minor_digits(base).unwrap(), currency::minor_digits(x).unwrap());
            let rate = Decimal::from_str_exact(&r).unwrap();
            // Value in base minor units of one minor unit of X: rate × 10^(db − dx).
            let minor_of_x = rate * Decimal::from(10u64.pow(db)) / Decimal::from(10u64.pow(dx));
            prop_assume!(minor_of_x <= Decimal::ONE);
            let settings = TenantSettings {
                base_currency: base.to_string(),
                exchange_rates: BTreeMap::from([(x.to_string(), r.clone())]),
                ..Default::default()
            };
            let amount = amount_in(base, whole, frac, false);
            let there = convert(&amount, base, x, &settings).unwrap();
            // A tiny rate can make the amount in X longer than an amount may be.
            prop_assume!(money::parse_amount(&there).is_some());
            let back = convert(&there, x, base, &settings).unwrap();
            let diff = (Decimal::from_str_exact(&back).unwrap() - Decimal::from_str_exact(&amount).unwrap()).abs();
            let one_minor = Decimal::ONE / Decimal::from(10u64.pow(db));
            prop_assert!(diff <= one_minor, "{amount} {base} → {x} → {back} {base}");
        }
    }

    #[tokio::test]
    async fn s2_4_settings_are_saved_with_their_audit_entry_and_guarded_by_version() {
        let table = Table::in_memory();
        let repo = SettingsStore::new(table.clone());
        let admin = Caller::new("t", "a", crate::Role::Admin);
        let member = Caller::new("t", "m", crate::Role::Member);
        assert_eq!(
            get(&repo, &member).await.unwrap(),
            TenantSettings::default()
        );
        let rates = |v: serde_json::Value| serde_json::from_value::<SettingsPatch>(v).unwrap();
        assert!(matches!(
            super::patch(&repo, &member, rates(json!({"base_currency": "USD"})), None).await,
            Err(CrmError::Forbidden(_))
        ));
        let saved = super::patch(
            &repo,
            &admin,
            rates(json!({"exchange_rates": {"USD": "0.92"}})),
            Some(0),
        )
        .await
        .unwrap();
        assert_eq!(saved.version, 1);
        assert!(matches!(
            super::patch(
                &repo,
                &admin,
                rates(json!({"exchange_rates": {"USD": "0.93"}})),
                Some(0)
            )
            .await,
            Err(CrmError::PreconditionFailed)
        ));
        let (history, _) = crate::audit::history(&table, settings_pk("t"), 10, None)
            .await
            .unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].changes[0].field, "exchange_rates");
        assert_eq!(get(&repo, &member).await.unwrap(), saved);
        let portal = Caller::new("t", "p", crate::Role::Portal);
        assert!(matches!(
            get(&repo, &portal).await,
            Err(CrmError::Forbidden(_))
        ));
    }
}
