//! Exact decimal numbers (custom decimal and currency fields, amounts, rates): parsed from
//! strings, never from floats, and written back as strings that keep the scale they were given ("12.50" stays
//! "12.50").

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Digits before the point an exact decimal may have: with 10 after it, 28 in all, which is
/// exact in rust_decimal (and the width of the index encoding of custom field numbers).
pub const MAX_DECIMAL_INTEGER_DIGITS: usize = 18;

/// A decimal number that serialises as a string (`"12.50"`, `"-0.5"`), so no JSON reader or
/// DynamoDB number conversion ever turns it into a float.
///
/// Equality is numeric (`1.5 == 1.50`); the string form keeps the scale it was parsed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Exact(pub Decimal);

/// Why a text is not an exact decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// Not of the form `-123.45` (an optional sign, digits, an optional point with digits).
    Format,
    /// More than [`MAX_DECIMAL_INTEGER_DIGITS`] digits before the point.
    IntegerDigits,
    /// More digits than an exact decimal holds (28 in all).
    Scale,
}

/// Significant digits rust_decimal holds exactly.
const DECIMAL_DIGITS: usize = 28;

impl Exact {
    /// Parses `-123.45`, `+7`, `0012.50` (no exponent, no thousands separators, no spaces
    /// inside). Leading zeros go; the fraction's trailing zeros stay; `-0` becomes `0`.
    pub fn parse(text: &str) -> Result<Self, DecimalError> {
        let unsigned = text
            .strip_prefix('-')
            .or_else(|| text.strip_prefix('+'))
            .unwrap_or(text);
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (unsigned, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
            return Err(DecimalError::Format);
        }
        let whole_digits = whole.trim_start_matches('0').len();
        if whole_digits > MAX_DECIMAL_INTEGER_DIGITS {
            return Err(DecimalError::IntegerDigits);
        }
        if whole_digits + fraction.map_or(0, str::len) > DECIMAL_DIGITS {
            return Err(DecimalError::Scale);
        }
        // The checks above keep the value within rust_decimal's 28 digits, so this is exact.
        let normalised_text = text.strip_prefix('+').unwrap_or(text);
        let mut d = Decimal::from_str_exact(normalised_text).map_err(|_| DecimalError::Format)?;
        if d.is_zero() {
            d.set_sign_positive(true);
        }
        Ok(Self(d))
    }

    /// Digits after the point, as written.
    pub fn scale(self) -> u32 {
        self.0.scale()
    }

    /// The same number with at most `max_scale` fraction digits when only zeros have to go
    /// ("1.500" at scale 2 is "1.50"); `None` when a non-zero digit would be lost.
    pub fn fit_scale(self, max_scale: u32) -> Option<Self> {
        if self.scale() <= max_scale {
            return Some(self);
        }
        let mut d = self.0;
        if d.round_dp(max_scale) != d {
            return None;
        }
        d.rescale(max_scale);
        Some(Self(d))
    }

    /// The same number written with exactly `scale` fraction digits (padding with zeros);
    /// only call with `scale >= self.scale()`.
    pub fn with_scale(self, scale: u32) -> Self {
        let mut d = self.0;
        d.rescale(scale);
        Self(d)
    }
}

impl From<i64> for Exact {
    fn from(n: i64) -> Self {
        Self(Decimal::from(n))
    }
}

impl fmt::Display for Exact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// In the API document: a decimal as a string (a whole number may also come as a JSON integer),
/// with the digits [`Exact::parse`] reads.
impl utoipa::PartialSchema for Exact {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^[+-]?[0-9]{1,15}(\.[0-9]{1,10})?$"))
            .description(Some("An exact decimal, such as \"12.50\""))
            .into()
    }
}

impl utoipa::ToSchema for Exact {}

impl Serialize for Exact {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Exact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Exact;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal number as a string, such as \"12.50\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Exact, E> {
                Exact::parse(v).map_err(|_| E::custom(format!("not an exact decimal: {v:?}")))
            }
            // Whole numbers are exact in JSON too; fractions must come as strings.
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Exact, E> {
                Ok(Exact::from(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Exact, E> {
                i64::try_from(v)
                    .map(Exact::from)
                    .map_err(|_| E::custom("number too large"))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly_and_keeps_the_scale() {
        assert_eq!(Exact::parse("12.50").unwrap().to_string(), "12.50");
        assert_eq!(Exact::parse("+0012.5").unwrap().to_string(), "12.5");
        assert_eq!(Exact::parse("-0.00").unwrap().to_string(), "0.00");
        assert_eq!(Exact::parse("-7").unwrap().to_string(), "-7");
        assert_eq!(
            Exact::parse("123456789012345678.1234567890")
                .unwrap()
                .to_string(),
            "123456789012345678.1234567890"
        );
        for bad in [
            "", "-", ".5", "5.", "1e3", "1,5", " 1", "0x10", "--1", "1.2.3",
        ] {
            assert_eq!(Exact::parse(bad), Err(DecimalError::Format), "{bad}");
        }
        assert_eq!(
            Exact::parse("1234567890123456789"),
            Err(DecimalError::IntegerDigits)
        );
        assert_eq!(
            Exact::parse("0.12345678901234567890123456789"),
            Err(DecimalError::Scale)
        );
    }

    #[test]
    fn fitting_the_scale_only_drops_zeros() {
        let d = Exact::parse("1.500").unwrap();
        assert_eq!(d.fit_scale(2).unwrap().to_string(), "1.50");
        assert_eq!(d.fit_scale(1).unwrap().to_string(), "1.5");
        assert_eq!(Exact::parse("1.55").unwrap().fit_scale(1), None);
        assert_eq!(Exact::parse("7").unwrap().with_scale(2).to_string(), "7.00");
    }

    proptest::proptest! {
        /// Any well-formed decimal parses to itself: digits are never lost or invented.
        #[test]
        fn parsing_round_trips(neg in proptest::bool::ANY, whole in "[0-9]{1,18}", frac in proptest::option::of("[0-9]{1,10}")) {
            let text = match &frac {
                Some(f) => format!("{}{whole}.{f}", if neg { "-" } else { "" }),
                None => format!("{}{whole}", if neg { "-" } else { "" }),
            };
            let d = Exact::parse(&text).unwrap();
            let again = Exact::parse(&d.to_string()).unwrap();
            proptest::prop_assert_eq!(d, again);
            proptest::prop_assert_eq!(d.scale() as usize, frac.map_or(0, |f| f.len()));
            proptest::prop_assert_eq!(serde_json::to_value(d).unwrap(), serde_json::Value::String(d.to_string()));
        }
    }
}
