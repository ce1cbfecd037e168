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
    // What the crate's E.164 formatter writes, without the format lookup it makes first.
    let e164 = format!("+{}{}", number.code().value(), number.national());
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
mod tests;
