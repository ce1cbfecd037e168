//! Normalisation of free text and emails. Pure functions; property-tested below.

/// Why a text value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextRule {
    MaxLength,
    NoControlCharacters,
}

impl TextRule {
    pub fn code(self) -> &'static str {
        match self {
            Self::MaxLength => "max_length",
            Self::NoControlCharacters => "no_control_characters",
        }
    }

    pub fn message(self, max: usize) -> String {
        match self {
            Self::MaxLength => format!("must be at most {max} characters"),
            Self::NoControlCharacters => "must not contain control characters".into(),
        }
    }
}

/// Trims and collapses inner whitespace; empty becomes `None`.
pub fn normalize_text(raw: &str, max_chars: usize) -> Result<Option<String>, TextRule> {
    if raw.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(TextRule::NoControlCharacters);
    }
    let collapsed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() > max_chars {
        return Err(TextRule::MaxLength);
    }
    Ok(if collapsed.is_empty() {
        None
    } else {
        Some(collapsed)
    })
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
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| {
            tld.chars().count() >= 2 && !tld.chars().all(|c| c.is_ascii_digit())
        });
    (local_ok && domain_ok).then_some(email)
}

/// S1.1: explicit > "First Last" > company > email.
pub fn display_name(
    explicit: Option<&str>,
    first: Option<&str>,
    last: Option<&str>,
    company: Option<&str>,
    email: Option<&str>,
) -> Option<String> {
    if let Some(e) = explicit {
        return Some(e.to_string());
    }
    let full = [first, last]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !full.is_empty() {
        return Some(full);
    }
    company.or(email).map(str::to_string)
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
        }
    }

    #[test]
    fn text() {
        assert_eq!(
            normalize_text("  Ada \t  Lovelace ", 100),
            Ok(Some("Ada Lovelace".into()))
        );
        assert_eq!(normalize_text("   ", 100), Ok(None));
        assert_eq!(normalize_text("abc", 2), Err(TextRule::MaxLength));
        assert_eq!(
            normalize_text("a\u{7}", 10),
            Err(TextRule::NoControlCharacters)
        );
    }

    proptest! {
        // S1.1: a normalised email is a fixed point and always lower-case.
        #[test]
        fn email_normalisation_is_idempotent(local in "[A-Za-z0-9._%+-]{1,20}", domain in "[A-Za-z0-9]{1,10}", tld in "[A-Za-z]{2,6}") {
            let raw = format!("{local}@{domain}.{tld}");
            if let Some(e) = normalize_email(&raw) {
                prop_assert_eq!(normalize_email(&e), Some(e.clone()));
                prop_assert_eq!(e.to_lowercase(), e);
            }
        }

        #[test]
        fn email_normaliser_never_panics(raw in "\\PC{0,80}") {
            let _ = normalize_email(&raw);
        }

        // Normalised text has no leading/trailing or doubled whitespace and is a fixed point.
        #[test]
        fn text_normalisation_is_idempotent(raw in "[ a-zA-ZäöüÄÖÜß\t]{0,60}") {
            if let Ok(Some(t)) = normalize_text(&raw, 100) {
                prop_assert_eq!(t.trim(), t.as_str());
                prop_assert!(!t.contains("  "));
                prop_assert_eq!(normalize_text(&t, 100), Ok(Some(t.clone())));
            }
        }

        #[test]
        fn display_name_is_present_when_any_part_is(first in proptest::option::of("[a-z]{1,5}"), company in proptest::option::of("[a-z]{1,5}"), email in proptest::option::of("[a-z]{1,5}@x.de")) {
            let d = display_name(None, first.as_deref(), None, company.as_deref(), email.as_deref());
            prop_assert_eq!(d.is_some(), first.is_some() || company.is_some() || email.is_some());
        }
    }
}
