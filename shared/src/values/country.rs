//! Countries: officially assigned ISO 3166-1 alpha-2 codes (`DE`, `US`), the one rule for every
//! address, phone and custom field that names a country.

use super::Invalid;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// An officially assigned ISO 3166-1 alpha-2 code, upper-case. User-assigned codes such as
/// `XK` or `ZZ` are not countries here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub struct Country([u8; 2]);

impl Country {
    /// Parses a code in any case, surrounded by whitespace or not (`" de "` → `DE`).
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        validate_country(raw)
            .map(|c| {
                let b = c.as_bytes();
                Self([b[0], b[1]])
            })
            .ok_or_else(|| {
                Invalid::new(
                    "iso_3166",
                    "must be an ISO 3166-1 alpha-2 country code such as DE",
                )
            })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII letters")
    }
}

impl From<Country> for String {
    fn from(c: Country) -> String {
        c.as_str().to_string()
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Country {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Country::parse(&raw).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// The upper-cased code when `code` is an officially assigned ISO 3166-1 alpha-2 code
/// (`"de"` → `"DE"`). User-assigned codes such as `XK` are not accepted.
pub fn validate_country(code: &str) -> Option<String> {
    let code = code.trim();
    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let upper = code.to_ascii_uppercase();
    ISO_3166_ALPHA2
        .binary_search(&upper.as_str())
        .is_ok()
        .then_some(upper)
}

/// The officially assigned ISO 3166-1 alpha-2 codes, sorted.
pub const ISO_3166_ALPHA2: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn assigned_codes_only() {
        assert_eq!(Country::parse(" de ").unwrap().as_str(), "DE");
        for bad in ["ZZ", "XK", "D", "DEU", "", "1A", "Germany"] {
            assert_eq!(Country::parse(bad).unwrap_err().rule, "iso_3166", "{bad}");
        }
        assert!(ISO_3166_ALPHA2.windows(2).all(|w| w[0] < w[1]));
    }

    proptest! {
        #[test]
        fn parsing_is_case_insensitive_and_round_trips(i in 0usize..249, lower in any::<bool>()) {
            let code = ISO_3166_ALPHA2[i];
            let raw = if lower { code.to_lowercase() } else { code.to_string() };
            let c = Country::parse(&raw).unwrap();
            prop_assert_eq!(c.as_str(), code);
            prop_assert_eq!(Country::parse(c.as_str()), Ok(c));
        }

        #[test]
        fn only_two_letter_codes_parse(raw in "\\PC{0,6}") {
            if let Ok(c) = Country::parse(&raw) {
                prop_assert_eq!(c.as_str().len(), 2);
                prop_assert!(c.as_str().bytes().all(|b| b.is_ascii_uppercase()));
            }
        }
    }
}
