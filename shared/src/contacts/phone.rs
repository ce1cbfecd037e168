//! STUB (replaced by the search-keys branch): phone normalisation to E.164.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPhone {
    pub e164: Option<String>,
    pub display: String,
    pub country: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneRule {
    Format,
}

impl PhoneRule {
    pub fn code(self) -> &'static str {
        "format"
    }
    pub fn message(self) -> String {
        "must be a phone number".into()
    }
}

pub fn normalize_phone(raw: &str, _default_country: Option<&str>) -> Result<NormalizedPhone, PhoneRule> {
    let display = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let digits: String = display.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() < 3 || digits.len() > 20 {
        return Err(PhoneRule::Format);
    }
    let e164 = display.starts_with('+').then(|| format!("+{digits}"));
    Ok(NormalizedPhone { e164, display, country: None })
}

pub fn validate_country(code: &str) -> Option<String> {
    (code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic())).then(|| code.to_ascii_uppercase())
}
