//! Money: an exact amount in a currency's minor units, and conversion between currencies.
//!
//! **Amounts** are exact decimals ([`Exact`]), never floats: `{"amount": "12.50", "currency":
//! "EUR"}` keeps every digit through JSON and DynamoDB.
//!
//! **Rates** ([`normalize_rate`]) are quotes against a base currency as exact decimal strings:
//! `"USD": "0.92"` with base `EUR` means 1 USD = 0.92 EUR; greater than 0, at most
//! [`MAX_RATE_INTEGER_DIGITS`] integer and [`MAX_RATE_FRACTION_DIGITS`] fractional digits,
//! without redundant zeros.
//!
//! **Conversion** ([`convert`]) is decimal arithmetic (`rust_decimal`, 28 significant digits),
//! rounded once, at the end, to the minor units of the target currency, half away from zero
//! ("commercial" rounding: 0.005 → 0.01, −0.005 → −0.01), the rule of the euro conversions
//! (Council Regulation (EC) No 1103/97, art. 5). Between two currencies that are not the base,
//! the amount goes through the base without rounding in between.

use super::Invalid;
use super::currency::{Currency, minor_digits};
use super::decimal::Exact;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MAX_RATE_INTEGER_DIGITS: usize = 12;
pub const MAX_RATE_FRACTION_DIGITS: usize = 12;
/// Most integer digits of an amount given to [`convert`].
pub const MAX_AMOUNT_INTEGER_DIGITS: usize = 16;
/// Most fractional digits of an amount given to [`convert`].
pub const MAX_AMOUNT_FRACTION_DIGITS: usize = 12;
/// Integer digits of a price such as an hourly rate ([`normalize_amount`]).
pub const MAX_PRICE_INTEGER_DIGITS: usize = 12;

/// An exact amount of money. The amount has exactly the currency's minor digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    pub amount: Exact,
    /// ISO 4217, upper-case.
    pub currency: String,
}

impl Money {
    /// `amount` in `currency`, written with exactly its minor digits (`12.5` EUR → `12.50`);
    /// refused when a non-zero digit beyond them would be lost (`1.234` EUR).
    pub fn new(amount: Exact, currency: Currency) -> Result<Self, Invalid> {
        let digits = currency.minor_digits();
        let fitted = amount.fit_scale(digits).ok_or_else(|| {
            Invalid::new(
                "scale",
                format!("must have at most {digits} decimal places in {currency}"),
            )
        })?;
        Ok(Self {
            amount: fitted.with_scale(digits),
            currency: currency.code().to_string(),
        })
    }
}

/// Checks a non-negative decimal amount (`"95.5"`, `"1200"`) against the currency's minor
/// digits and returns it normalised to exactly that many decimals (`"95.50"`). Exact: strings,
/// never floats.
pub fn normalize_amount(raw: &str, currency: &str) -> Option<String> {
    let digits = minor_digits(currency)? as usize;
    let raw = raw.trim();
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let ok = !whole.is_empty()
        && whole.len() <= MAX_PRICE_INTEGER_DIGITS
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= digits
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(raw.contains('.') && frac.is_empty());
    if !ok {
        return None;
    }
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    Some(if digits == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{frac:0<digits$}")
    })
}

/// A rate as stored: digits only, `> 0`, within the digit limits, without redundant zeros.
pub fn normalize_rate(raw: &str) -> Option<String> {
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = !whole.is_empty()
        && whole.len() <= MAX_RATE_INTEGER_DIGITS
        && frac.len() <= MAX_RATE_FRACTION_DIGITS
        && digits(whole)
        && digits(frac)
        && !(raw.contains('.') && frac.is_empty());
    if !well_formed {
        return None;
    }
    let whole = whole.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    if whole.is_empty() && frac.is_empty() {
        return None; // zero
    }
    let whole = if whole.is_empty() { "0" } else { whole };
    Some(if frac.is_empty() {
        whole.to_string()
    } else {
        format!("{whole}.{frac}")
    })
}

/// Why an amount could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    #[error("not an amount: {0:?}")]
    InvalidAmount(String),
    #[error("not an ISO 4217 currency: {0:?}")]
    UnknownCurrency(String),
    #[error("no exchange rate for {0}")]
    MissingRate(String),
    #[error("the converted amount is out of range")]
    Overflow,
}

/// An amount as [`convert`] takes it: an optional minus, digits, an optional point with digits.
pub fn parse_amount(raw: &str) -> Option<Decimal> {
    let unsigned = raw.strip_prefix('-').unwrap_or(raw);
    let (whole, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = !whole.is_empty()
        && whole.len() <= MAX_AMOUNT_INTEGER_DIGITS
        && frac.len() <= MAX_AMOUNT_FRACTION_DIGITS
        && digits(whole)
        && digits(frac)
        && !(unsigned.contains('.') && frac.is_empty());
    well_formed
        .then(|| Decimal::from_str_exact(raw).ok())
        .flatten()
}

/// The stored rate of `code` (checked when it was saved).
fn rate_of(rates: &BTreeMap<String, String>, code: &str) -> Result<Decimal, ConversionError> {
    rates
        .get(code)
        .and_then(|r| Decimal::from_str_exact(r).ok())
        .filter(|r| *r > Decimal::ZERO)
        .ok_or_else(|| ConversionError::MissingRate(code.to_string()))
}

/// Converts `amount` (a decimal string such as `"-1200.5"`) from currency `from` to `to` with
/// `rates` against `base`, rounded half away from zero to the minor units of `to` and written
/// with exactly that many decimals (`"1104.46"`). Converting to the same currency only rounds
/// (and pads) the amount. Fails, never panics, on a malformed amount, an unknown currency, a
/// missing rate, or a result out of range.
pub fn convert(
    amount: &str,
    from: &str,
    to: &str,
    base: &str,
    rates: &BTreeMap<String, String>,
) -> Result<String, ConversionError> {
    let value =
        parse_amount(amount).ok_or_else(|| ConversionError::InvalidAmount(amount.to_string()))?;
    for code in [from, to] {
        if minor_digits(code).is_none() {
            return Err(ConversionError::UnknownCurrency(code.to_string()));
        }
    }
    let digits = minor_digits(to).unwrap_or(0);
    let converted = if from == to {
        value
    } else {
        // Into the base (multiply by the rate of `from`), then out of it (divide by the rate of
        // `to`), unrounded in between.
        let in_base = if from == base {
            value
        } else {
            value
                .checked_mul(rate_of(rates, from)?)
                .ok_or(ConversionError::Overflow)?
        };
        if to == base {
            in_base
        } else {
            in_base
                .checked_div(rate_of(rates, to)?)
                .ok_or(ConversionError::Overflow)?
        }
    };
    let mut rounded =
        converted.round_dp_with_strategy(digits, RoundingStrategy::MidpointAwayFromZero);
    if rounded.is_zero() {
        rounded.set_sign_positive(true);
    }
    // Pads to the minor units ("5" → "5.00"); never rounds again, the scale is at most `digits`.
    rounded.rescale(digits);
    if rounded.scale() != digits {
        return Err(ConversionError::Overflow); // too large to carry the minor units
    }
    Ok(rounded.to_string())
}

/// Exact sums in several currencies as one amount in `base`: each currency's sum converted
/// once with its rate (units of `base` per unit), unrounded, then the total rounded once, half
/// away from zero, to the minor units of `base`. A currency without a rate is named.
pub fn total_in_base<'a>(
    sums: impl IntoIterator<Item = (&'a str, Decimal)>,
    base: &str,
    rates: &BTreeMap<String, String>,
) -> Result<Decimal, ConversionError> {
    let digits =
        minor_digits(base).ok_or_else(|| ConversionError::UnknownCurrency(base.to_string()))?;
    let mut total = Decimal::ZERO;
    for (code, sum) in sums {
        let in_base = if code == base {
            sum
        } else {
            sum.checked_mul(rate_of(rates, code)?)
                .ok_or(ConversionError::Overflow)?
        };
        total = total
            .checked_add(in_base)
            .ok_or(ConversionError::Overflow)?;
    }
    let mut rounded = total.round_dp_with_strategy(digits, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(digits);
    Ok(rounded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn s2_4_amounts_are_exact_and_normalised() {
        assert_eq!(normalize_amount("95.5", "EUR").as_deref(), Some("95.50"));
        assert_eq!(normalize_amount("007", "EUR").as_deref(), Some("7.00"));
        assert_eq!(normalize_amount("1200", "JPY").as_deref(), Some("1200"));
        assert_eq!(normalize_amount("1.5", "JPY"), None);
        assert_eq!(normalize_amount("1.234", "EUR"), None);
        assert_eq!(normalize_amount("-1", "EUR"), None);
        assert_eq!(normalize_amount("1.", "EUR"), None);
        assert_eq!(normalize_amount("1e3", "EUR"), None);
    }

    #[test]
    fn sums_in_several_currencies_convert_once_each_and_round_once() {
        let rates = BTreeMap::from([("USD".to_string(), "0.9".to_string())]);
        let d = |s: &str| Decimal::from_str_exact(s).unwrap();
        // 0.005 + 0.005 EUR and 0.01 USD × 0.9 = 0.019 → 0.02 (rounding each would give 0.03).
        let sums = [("EUR", d("0.01")), ("USD", d("0.01"))];
        assert_eq!(
            total_in_base(sums, "EUR", &rates).unwrap().to_string(),
            "0.02"
        );
        let missing = total_in_base([("GBP", d("1"))], "EUR", &rates).unwrap_err();
        assert_eq!(missing, ConversionError::MissingRate("GBP".into()));
        assert_eq!(total_in_base([], "JPY", &rates).unwrap().to_string(), "0");
    }

    #[test]
    fn money_takes_the_minor_units_of_its_currency() {
        let eur = Currency::parse("EUR").unwrap();
        let m = Money::new(Exact::parse("12.5").unwrap(), eur).unwrap();
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::json!({"amount": "12.50", "currency": "EUR"})
        );
        assert_eq!(
            Money::new(Exact::parse("1.234").unwrap(), eur)
                .unwrap_err()
                .rule,
            "scale"
        );
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(
            Money::new(Exact::parse("1200.00").unwrap(), jpy)
                .unwrap()
                .amount
                .to_string(),
            "1200"
        );
    }

    proptest! {
        // Any amount with at most the currency's decimals round-trips exactly (no float ever).
        #[test]
        fn amounts_round_trip(whole in 0u64..1_000_000_000_000, cents in 0u32..100) {
            let raw = format!("{whole}.{cents:02}");
            let normalised = normalize_amount(&raw, "EUR").unwrap();
            prop_assert_eq!(&normalised, &raw);
            prop_assert_eq!(normalize_amount(&normalised, "EUR"), Some(normalised.clone()));
        }

        // A rate is a fixed point of its normalisation and never zero.
        #[test]
        fn rates_are_canonical(whole in "[0-9]{1,12}", frac in "[0-9]{0,12}") {
            let raw = if frac.is_empty() { whole.clone() } else { format!("{whole}.{frac}") };
            if let Some(r) = normalize_rate(&raw) {
                prop_assert_eq!(normalize_rate(&r), Some(r.clone()));
                prop_assert!(Decimal::from_str_exact(&r).unwrap() > Decimal::ZERO);
                prop_assert_eq!(Decimal::from_str_exact(&r).unwrap(), Decimal::from_str_exact(&raw).unwrap());
            }
        }

        // Converting to the same currency is rounding alone; there and back through the base
        // at rate 1 changes nothing but the rounding.
        #[test]
        fn conversion_rounds_once_half_away_from_zero(cents in -10_000_000i64..10_000_000, mills in 0i64..10) {
            let amount = Decimal::new(cents * 10 + mills, 3).to_string();
            let rates = BTreeMap::new();
            let same = convert(&amount, "EUR", "EUR", "EUR", &rates).unwrap();
            let expected = Decimal::from_str_exact(&amount).unwrap()
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            prop_assert_eq!(Decimal::from_str_exact(&same).unwrap(), expected);
            prop_assert_eq!(Decimal::from_str_exact(&same).unwrap().scale(), 2);
        }
    }
}
