//! Email addresses: `local@domain.tld`, lower-cased. Deliberately practical rather than RFC
//! 5322-complete: no quoted local parts, no IP literals, which no CRM user types and every mail
//! provider refuses.

use super::Invalid;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A checked, lower-cased email address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

/// The longest address accepted (RFC 5321's path limit).
pub const MAX_LENGTH: usize = 254;

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        normalize_email(raw)
            .map(Self)
            .ok_or_else(|| Invalid::new("format", "must be an email address like name@example.com"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Email::parse(&raw).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// Lower-cases and checks an address (`local@domain.tld`); `None` when it is not one.
///
/// Deliberately practical rather than RFC 5322-complete: no quoted local parts, no IP literals,
/// which no CRM user types and every mail provider refuses.
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    if email.len() > 254 {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let domain_ok = super::url::is_domain_name(domain)
        && domain.rsplit('.').next().is_some_and(|tld| {
            tld.chars().count() >= 2 && !tld.chars().all(|c| c.is_ascii_digit())
        });
    (local_ok && domain_ok).then_some(email)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email(" Ada.Lovelace+crm@Example.COM ").as_deref(),
            Some("ada.lovelace+crm@example.com")
        );
        assert_eq!(
            normalize_email("müller@beispiel.de").as_deref(),
            Some("müller@beispiel.de")
        );
        for bad in [
            "",
            "a",
            "a@",
            "@b.co",
            "a@b",
            "a b@c.de",
            "a@-b.de",
            "a..b@c.de",
            "a@b.c",
            "a@1.23",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
            assert_eq!(Email::parse(bad).unwrap_err().rule, "format");
        }
        let e = Email::parse("Ada@Example.COM").unwrap();
        assert_eq!((e.as_str(), e.domain()), ("ada@example.com", "example.com"));
    }

    proptest! {
        // S1.1: a normalised email is a fixed point and always lower-case.
        #[test]
        fn email_normalisation_is_idempotent(local in "[A-Za-z0-9._%+-]{1,20}", domain in "[A-Za-z0-9]{1,10}", tld in "[A-Za-z]{2,6}") {
            let raw = format!("{local}@{domain}.{tld}");
            if let Ok(e) = Email::parse(&raw) {
                prop_assert_eq!(Email::parse(e.as_str()), Ok(e.clone()));
                prop_assert_eq!(e.as_str().to_lowercase(), e.as_str());
            }
        }

        #[test]
        fn email_parser_never_panics(raw in "\\PC{0,80}") {
            if let Ok(e) = Email::parse(&raw) {
                prop_assert!(e.as_str().len() <= MAX_LENGTH);
                prop_assert_eq!(e.as_str().matches('@').count(), 1);
            }
        }
    }
}
