//! Phone numbers (S1.1: "phones normalised to E.164 where a country is known"). Pure functions.
//!
//! Parsing and validation against the numbering plans is done by the `phonenumber` crate (the
//! Rust port of Google's libphonenumber, with its metadata). This module adds what a CRM needs
//! around it: a plausibility check that also holds for numbers whose country is unknown, a
//! practical extension syntax (`ext. 12`, `x12`), `00` as an international prefix, and rule
//! codes for the API's field errors.
//!
//! The first call loads libphonenumber's metadata (about 0.1 s in a release build); each
//! region's patterns are compiled on first use of that region and cached.

use super::country::validate_country;
use phonenumber::country::Id;

/// Digits a phone number must have, not counting an extension.
const MIN_DIGITS: usize = 3;
const MAX_DIGITS: usize = 20;
/// Digits an extension may have.
const MAX_EXTENSION_DIGITS: usize = 10;
/// Characters of raw input looked at at all; anything longer is not a phone number.
const MAX_INPUT_CHARS: usize = 64;

/// A phone number as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPhone {
    /// `+4930123456`: set when the country is known and the number is valid in its plan.
    pub e164: Option<String>,
    /// For people: the international format with the extension (`+49 30 123456 ext. 12`) when
    /// `e164` is set, else the input trimmed with its whitespace collapsed.
    pub display: String,
    /// The region the number belongs to (`DE`), as libphonenumber names it: an ISO 3166-1
    /// alpha-2 code, or one of its three others (`AC` Ascension, `TA` Tristan da Cunha, `XK`
    /// Kosovo). `None` when not known or the number is non-geographic (`+800 …`).
    pub country: Option<String>,
    /// The extension's digits (`12` for `… ext. 12`), if any. Not part of `e164`.
    pub extension: Option<String>,
}

/// Why a phone number was refused. Use as
/// `FieldError::new(field, rule.code(), rule.message())`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneRule {
    /// Not shaped like a phone number at all (letters, too few or too many digits, …).
    Format,
    /// Shaped like one, but not a valid number in its country's numbering plan.
    InvalidNumber,
    /// The default country is not an ISO 3166-1 alpha-2 code.
    UnknownCountry,
}

impl PhoneRule {
    pub fn code(self) -> &'static str {
        match self {
            Self::Format => "format",
            Self::InvalidNumber => "invalid_number",
            Self::UnknownCountry => "unknown_country",
        }
    }

    pub fn message(self) -> String {
        match self {
            Self::Format => format!(
                "must be a phone number: {MIN_DIGITS} to {MAX_DIGITS} digits, optionally with \
                 spaces, + - ( ) . / and an extension like \"ext. 12\""
            ),
            Self::InvalidNumber => {
                "is not a valid phone number for its country; give it with the country code, \
                 like +49 30 123456"
                    .into()
            }
            Self::UnknownCountry => {
                "the country must be an ISO 3166-1 alpha-2 code like DE or US".into()
            }
        }
    }
}

impl PhoneRule {
    pub fn invalid(self) -> super::Invalid {
        super::Invalid::new(self.code(), self.message())
    }
}

/// A plausible phone number, normalised by [`normalize_phone`]: E.164 when its country is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(NormalizedPhone);

impl Phone {
    /// Parses `raw`, reading a national number in `default_country` (ISO 3166-1 alpha-2).
    pub fn parse(raw: &str, default_country: Option<&str>) -> Result<Self, super::Invalid> {
        normalize_phone(raw, default_country)
            .map(Self)
            .map_err(PhoneRule::invalid)
    }

    pub fn e164(&self) -> Option<&str> {
        self.0.e164.as_deref()
    }

    /// For people: the international format with any extension, or the input tidied.
    pub fn display(&self) -> &str {
        &self.0.display
    }

    pub fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }

    pub fn extension(&self) -> Option<&str> {
        self.0.extension.as_deref()
    }

    /// The one string a single phone value is kept as: E.164 when known and without an
    /// extension (E.164 has no room for one), else the display form, which reads back the same.
    pub fn canonical(&self) -> String {
        match (&self.0.e164, &self.0.extension) {
            (Some(e164), None) => e164.clone(),
            _ => self.0.display.clone(),
        }
    }

    pub fn into_parts(self) -> NormalizedPhone {
        self.0
    }
}

/// Normalises a phone number.
///
/// - `+…` or `00…` (international prefix), or a known `default_country` (ISO 3166-1 alpha-2,
///   any case): the number is parsed and must be valid in its plan; `e164` and `country` are
///   set. With a default country, that country's own international prefix works too (`011 49 …`
///   from `US`), and so does a number that carries its own `+` code.
/// - Otherwise (no country, no international prefix) the number is kept as entered, trimmed and
///   with whitespace collapsed, `e164: None`, once it is plausibly a phone number.
///
/// A blank `default_country` counts as none. A default country that is a real ISO code but has
/// no numbering plan of its own (`AQ`, `BV`, `GS`, `HM`, `PN`, `TF`, `UM`) counts as unknown too.
pub fn normalize_phone(
    raw: &str,
    default_country: Option<&str>,
) -> Result<NormalizedPhone, PhoneRule> {
    let region = match default_country.map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(code) => {
            let code = validate_country(code).ok_or(PhoneRule::UnknownCountry)?;
            code.parse::<Id>().ok()
        }
    };
    let parts = split(raw)?;
    // Only the digits go to the parser: the punctuation has been checked above, and the
    // extension is ours. "00" is read as "+" whatever the default country.
    let international_digits = if parts.plus {
        Some(parts.digits.as_str())
    } else {
        parts.digits.strip_prefix("00")
    };
    let (number, e164) = match (international_digits, region) {
        (Some(digits), _) => parse_international(digits)?,
        (None, Some(region)) => phonenumber::parse(Some(region), &parts.digits)
            .ok()
            .and_then(valid_e164)
            .ok_or(PhoneRule::InvalidNumber)?,
        (None, None) => {
            return Ok(NormalizedPhone {
                e164: None,
                display: collapse_whitespace(raw),
                country: None,
                extension: parts.extension,
            });
        }
    };
    let mut display = number
        .format()
        .mode(phonenumber::Mode::International)
        .to_string();
    if let Some(ext) = &parts.extension {
        display.push_str(" ext. ");
        display.push_str(ext);
    }
    Ok(NormalizedPhone {
        e164: Some(e164),
        display,
        country: number.country().id().map(|id| id.as_ref().to_string()),
        extension: parts.extension,
    })
}

/// Parses `+{digits}`.
///
/// The `phonenumber` crate strips a national prefix from international numbers too, taking the
/// prefix from the default region given, or without one from the number's own region: `+7 820 …`
/// (Russia, national prefix 8) becomes `+7 20 …`, and `+39 06 …` (Rome) with `DE` becomes
/// `+39 6 …`. So the number is parsed without a region and, as needed, with `US` (prefix 1) and
/// `DE` (prefix 0), which cannot both strip the same number; a valid parse that keeps every
/// digit wins. Failing that, a valid parse that dropped a national prefix is taken: that is
/// `+44 (0)20 7946 0958`, a common way of writing `+44 20 7946 0958`.
fn parse_international(digits: &str) -> Result<(phonenumber::PhoneNumber, String), PhoneRule> {
    let exact = format!("+{digits}");
    let mut fallback = None;
    for region in [None, Some(Id::US), Some(Id::DE)] {
        let Some(parsed) = phonenumber::parse(region, &exact).ok().and_then(valid_e164) else {
            continue;
        };
        if parsed.1 == exact {
            return Ok(parsed);
        }
        fallback.get_or_insert(parsed);
    }
    fallback.ok_or(PhoneRule::InvalidNumber)
}

/// The number and its E.164 form when it is valid in its plan and E.164 can hold it
/// (libphonenumber accepts a few national numbers longer than E.164 allows).
fn valid_e164(number: phonenumber::PhoneNumber) -> Option<(phonenumber::PhoneNumber, String)> {
    if !phonenumber::is_valid(&number) {
        return None;
    }
    let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
    is_e164(&e164).then_some((number, e164))
}

/// `+` then 7 to 15 digits, the first not 0: the shape of an E.164 number.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// The parts of a plausible phone number.
struct Parts {
    /// It started with `+`.
    plus: bool,
    /// The digits before any extension.
    digits: String,
    extension: Option<String>,
}

/// Checks that `raw` is plausibly a phone number and takes it apart.
fn split(raw: &str) -> Result<Parts, PhoneRule> {
    let trimmed = raw.trim();
    if trimmed.chars().count() > MAX_INPUT_CHARS {
        return Err(PhoneRule::Format);
    }
    let (main, extension) = split_extension(trimmed)?;
    let main = main.trim_end();
    let (plus, rest) = match main.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, main),
    };
    let mut digits = String::new();
    let mut open_paren = false;
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '(' if !open_paren => open_paren = true,
            ')' if open_paren => open_paren = false,
            '-' | '.' | '/' => {}
            c if c.is_whitespace() => {}
            _ => return Err(PhoneRule::Format),
        }
    }
    if open_paren || !(MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) {
        return Err(PhoneRule::Format);
    }
    Ok(Parts {
        plus,
        digits,
        extension,
    })
}

/// Splits a trailing extension off: `ext 12`, `ext. 12`, `extn. 12`, `extension 12`, `x12`,
/// `x 12` (any case; a `:` may follow the marker). The marker must follow a space or a digit.
fn split_extension(s: &str) -> Result<(&str, Option<String>), PhoneRule> {
    let digits_start = s
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit())
        .last()
        .map(|(i, _)| i);
    let Some(digits_start) = digits_start else {
        return Ok((s, None));
    };
    let before = s[..digits_start].trim_end();
    let lower = before.to_ascii_lowercase();
    for marker in ["extension", "extn.", "extn", "ext.", "ext", "x"] {
        for marker in [format!("{marker}:"), marker.to_string()] {
            if let Some(head) = lower.strip_suffix(marker.as_str()) {
                let main = &before[..head.len()];
                if !(main.ends_with(|c: char| c.is_whitespace() || c.is_ascii_digit())) {
                    continue;
                }
                let ext = &s[digits_start..];
                if ext.len() > MAX_EXTENSION_DIGITS {
                    return Err(PhoneRule::Format);
                }
                return Ok((main, Some(ext.to_string())));
            }
        }
    }
    Ok((s, None))
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::country::ISO_3166_ALPHA2;
    use proptest::prelude::*;

    fn e164(raw: &str, country: Option<&str>) -> Option<String> {
        normalize_phone(raw, country).unwrap().e164
    }

    #[test]
    fn german_numbers() {
        let p = normalize_phone("030 123456", Some("de")).unwrap();
        assert_eq!(p.e164.as_deref(), Some("+4930123456"));
        assert_eq!(p.display, "+49 30 123456");
        assert_eq!(p.country.as_deref(), Some("DE"));
        assert_eq!(
            e164("030/1234567", Some("DE")).as_deref(),
            Some("+49301234567")
        );
        assert_eq!(e164("+49 30 123456", None).as_deref(), Some("+4930123456"));
        assert_eq!(e164("0049 30 123456", None).as_deref(), Some("+4930123456"));
        assert_eq!(
            e164("0049 (30) 123456", Some("FR")).as_deref(),
            Some("+4930123456")
        );
        assert_eq!(
            e164("0171 1234567", Some("DE")).as_deref(),
            Some("+491711234567")
        );
    }

    #[test]
    fn national_prefixes_are_not_stripped_from_international_numbers() {
        // Rome keeps its 0, whatever the default country; Russia's prefix 8 starts numbers too.
        for country in [None, Some("DE"), Some("US"), Some("IT"), Some("RU")] {
            assert_eq!(
                e164("+39 06 6982 1234", country).as_deref(),
                Some("+390669821234"),
                "{country:?}"
            );
            assert_eq!(
                e164("+7 820 000 0000", country).as_deref(),
                Some("+78200000000"),
                "{country:?}"
            );
            assert_eq!(
                e164("0036 1 345 6789", country).as_deref(),
                Some("+3613456789"),
                "{country:?}"
            );
        }
        assert_eq!(
            e164("06 6982 1234", Some("IT")).as_deref(),
            Some("+390669821234")
        );
        assert_eq!(
            e164("8 495 123-45-67", Some("RU")).as_deref(),
            Some("+74951234567")
        );
        // "+44 (0)20 …" is a common way of writing "+44 20 …".
        assert_eq!(
            e164("+44 (0)20 7946 0958", None).as_deref(),
            Some("+442079460958")
        );
    }

    #[test]
    fn us_numbers() {
        let p = normalize_phone("+1 (415) 555-2671", None).unwrap();
        assert_eq!(p.e164.as_deref(), Some("+14155552671"));
        assert_eq!(p.country.as_deref(), Some("US"));
        assert_eq!(p.display, "+1 415-555-2671");
        assert_eq!(
            e164("(415) 555-2671", Some("us")).as_deref(),
            Some("+14155552671")
        );
        assert_eq!(
            e164("415.555.2671", Some("US")).as_deref(),
            Some("+14155552671")
        );
        // The US international prefix, and a number carrying its own code.
        assert_eq!(
            e164("011 49 30 123456", Some("US")).as_deref(),
            Some("+4930123456")
        );
        assert_eq!(
            e164("+49 30 123456", Some("US")).as_deref(),
            Some("+4930123456")
        );
    }

    #[test]
    fn uk_and_french_numbers() {
        let p = normalize_phone("020 7946 0958", Some("GB")).unwrap();
        assert_eq!(p.e164.as_deref(), Some("+442079460958"));
        assert_eq!(p.display, "+44 20 7946 0958");
        assert_eq!(
            e164("+44 20 7946 0958", None).as_deref(),
            Some("+442079460958")
        );
        assert_eq!(
            e164("07911 123456", Some("gb")).as_deref(),
            Some("+447911123456")
        );
        let p = normalize_phone("01 42 68 53 00", Some("FR")).unwrap();
        assert_eq!(p.e164.as_deref(), Some("+33142685300"));
        assert_eq!(p.display, "+33 1 42 68 53 00");
        assert_eq!(p.country.as_deref(), Some("FR"));
        assert_eq!(
            e164("+33 6 12 34 56 78", None).as_deref(),
            Some("+33612345678")
        );
        assert_eq!(
            e164("0033 1.42.68.53.00", None).as_deref(),
            Some("+33142685300")
        );
    }

    #[test]
    fn without_a_country_the_number_is_kept_as_entered() {
        let p = normalize_phone("  030   123 456 ", None).unwrap();
        assert_eq!(
            p,
            NormalizedPhone {
                e164: None,
                display: "030 123 456".into(),
                country: None,
                extension: None,
            }
        );
        assert_eq!(
            normalize_phone("(415) 555-2671", Some(" ")).unwrap().e164,
            None
        );
        // A real ISO code without a numbering plan of its own: as if none was given.
        assert_eq!(normalize_phone("12345", Some("AQ")).unwrap().e164, None);
        assert_eq!(
            normalize_phone("+49 30 123456", Some("AQ"))
                .unwrap()
                .e164
                .as_deref(),
            Some("+4930123456")
        );
    }

    #[test]
    fn extensions_are_kept() {
        let p = normalize_phone("+49 30 123456 ext. 12", None).unwrap();
        assert_eq!(p.e164.as_deref(), Some("+4930123456"));
        assert_eq!(p.extension.as_deref(), Some("12"));
        assert_eq!(p.display, "+49 30 123456 ext. 12");
        let p = normalize_phone("(415) 555-2671 x12", Some("US")).unwrap();
        assert_eq!(p.e164.as_deref(), Some("+14155552671"));
        assert_eq!(p.extension.as_deref(), Some("12"));
        let p = normalize_phone("415 555 2671x7", Some("US")).unwrap();
        assert_eq!(p.extension.as_deref(), Some("7"));
        let p = normalize_phone("030 123456 Ext: 99", None).unwrap();
        assert_eq!(p.display, "030 123456 Ext: 99");
        assert_eq!(p.extension.as_deref(), Some("99"));
        let p = normalize_phone("030 123456 extension 4567", Some("DE")).unwrap();
        assert_eq!(p.display, "+49 30 123456 ext. 4567");
        // Not an extension: no marker, or a marker glued to a letter.
        assert_eq!(
            normalize_phone("030 123456 12", None).unwrap().extension,
            None
        );
        assert_eq!(
            normalize_phone("030 123456 fax 12", None),
            Err(PhoneRule::Format)
        );
        assert_eq!(
            normalize_phone("030 123456 ext. 12345678901", None),
            Err(PhoneRule::Format)
        );
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "   ",
            "abc",
            "call me",
            "12",
            "+1",
            "030 123456 789 123456 789 123",
            "030-12345a",
            "030 (123",
            "030) 123",
            "((030)) 123",
            "+49 +30 123",
            "030 123456\u{0}",
            "030 123456 #12",
            "tel:+4930123456",
        ] {
            assert_eq!(
                normalize_phone(bad, None).map_err(PhoneRule::code),
                Err("format"),
                "{bad:?}"
            );
        }
        for bad in [
            "+49 12",
            "0049",
            "+999 123 456 789",
            "123",
            "+1 415 555 267",
            "07700 900123",
        ] {
            let country = if bad.starts_with('+') {
                None
            } else {
                Some("GB")
            };
            assert_eq!(
                normalize_phone(bad, country).map_err(PhoneRule::code),
                Err("invalid_number"),
                "{bad:?}"
            );
        }
        // Longer than E.164 allows, though libphonenumber takes it.
        assert_eq!(
            normalize_phone("+49 30 1234567890123", None),
            Err(PhoneRule::InvalidNumber)
        );
        for country in ["XX", "UK", "DEU", "1", "XK"] {
            assert_eq!(
                normalize_phone("030 123456", Some(country)),
                Err(PhoneRule::UnknownCountry)
            );
        }
        assert!(!PhoneRule::Format.message().is_empty());
        assert!(!PhoneRule::InvalidNumber.message().is_empty());
        assert!(!PhoneRule::UnknownCountry.message().is_empty());
    }

    #[test]
    fn countries() {
        assert_eq!(validate_country("de").as_deref(), Some("DE"));
        assert_eq!(validate_country(" Us ").as_deref(), Some("US"));
        assert_eq!(validate_country("GB").as_deref(), Some("GB"));
        assert_eq!(validate_country("AQ").as_deref(), Some("AQ"));
        for bad in ["", "D", "DEU", "UK", "XK", "EU", "d1", "ÄÖ", "zz"] {
            assert_eq!(validate_country(bad), None, "{bad}");
        }
        assert!(ISO_3166_ALPHA2.windows(2).all(|w| w[0] < w[1]));
        assert!(
            ISO_3166_ALPHA2
                .iter()
                .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
        // Every code libphonenumber knows a plan for, except its few non-ISO ones, is ISO.
        let non_iso = ["AC", "TA", "XK"];
        let with_plan = ISO_3166_ALPHA2
            .iter()
            .filter(|c| c.parse::<Id>().is_ok())
            .count();
        assert_eq!(with_plan, 249 - 7);
        for c in non_iso {
            assert!(c.parse::<Id>().is_ok() && validate_country(c).is_none());
        }
    }

    #[test]
    fn e164_shape() {
        assert!(is_e164("+4930123456"));
        assert!(!is_e164("4930123456"));
        assert!(!is_e164("+0930123456"));
        assert!(!is_e164("+123456"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("+49 30 123456"));
    }

    /// A number in one of a few common national or international formats.
    fn phone_like() -> impl Strategy<Value = (String, Option<&'static str>)> {
        let country = proptest::option::of(proptest::sample::select(vec![
            "DE", "US", "GB", "FR", "CH", "AT", "IT", "NL", "JP", "IN",
        ]));
        let number = prop_oneof![
            "\\+[1-9][0-9]{6,14}",
            "0[1-9][0-9]{5,11}",
            "00[1-9][0-9]{6,13}",
            "[2-9][0-9]{2}[ .-][0-9]{3}[ .-][0-9]{4}",
            "\\+[1-9][0-9]{0,2} \\(?[0-9]{2,4}\\)? [0-9]{3,8}",
        ];
        (number, country)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        // Normalising an E.164 result again, with no country, gives the same number; and every
        // E.164 result has the E.164 shape `^\+[1-9]\d{6,14}$`.
        #[test]
        fn e164_is_a_fixed_point((raw, country) in phone_like()) {
            if let Ok(p) = normalize_phone(&raw, country) {
                if let Some(e) = &p.e164 {
                    prop_assert!(is_e164(e), "{e}");
                    let again = normalize_phone(e, None).unwrap();
                    prop_assert_eq!(again.e164.as_ref(), Some(e));
                    prop_assert_eq!(again.country, p.country);
                } else {
                    prop_assert!(country.is_none() && !raw.starts_with('+') && !raw.starts_with("00"));
                }
            }
        }

        #[test]
        fn at_most_two_digits_are_refused(
            raw in "[+]?[ ()./-]{0,3}[0-9]{0,2}[ ()./-]{0,3}",
            country in proptest::option::of(proptest::sample::select(vec!["DE", "US", "GB"])),
        ) {
            prop_assert_eq!(normalize_phone(&raw, country), Err(PhoneRule::Format));
        }

        #[test]
        fn never_panics_and_e164_is_well_shaped(raw in "\\PC{0,40}", country in proptest::option::of("[A-Za-z]{2}")) {
            if let Ok(p) = normalize_phone(&raw, country.as_deref()) {
                if let Some(e) = &p.e164 {
                    prop_assert!(is_e164(e), "{e}");
                }
                prop_assert!(!p.display.is_empty());
            }
        }
    }
}
