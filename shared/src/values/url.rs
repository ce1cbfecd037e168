//! Web addresses: `http(s)://host.tld…` without whitespace, the one rule for a contact's or a
//! client's website, a social profile and a URL custom field.

use super::Invalid;
use std::fmt;

/// A checked `http://` or `https://` address whose host has a dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WebUrl(String);

impl WebUrl {
    /// Parses a trimmed address of at most `max_chars` characters.
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, Invalid> {
        let s = raw.trim();
        if s.chars().count() > max_chars {
            return Err(Invalid::new(
                "max_length",
                format!("must be at most {max_chars} characters"),
            ));
        }
        if !is_web_url(s) {
            return Err(Invalid::new(
                "url",
                "must be an http(s) URL like https://example.com",
            ));
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for WebUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `d` is a domain name: dot-separated labels (two at least) of letters, digits and
/// inner hyphens, each 1–63 characters, 253 in all.
pub fn is_domain_name(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// Whether `s` is an `http(s)://` address with a dotted host and no whitespace.
pub fn is_web_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        host.contains('.') && !host.starts_with('.') && !host.chars().any(char::is_whitespace)
    }) && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn web_addresses() {
        assert_eq!(
            WebUrl::parse(" https://acme.example/x ", 100)
                .unwrap()
                .as_str(),
            "https://acme.example/x"
        );
        for bad in [
            "acme.example",
            "ftp://acme.example",
            "https://localhost",
            "https://a b.de",
            "https://.de",
        ] {
            assert_eq!(WebUrl::parse(bad, 100).unwrap_err().rule, "url", "{bad}");
        }
        assert_eq!(
            WebUrl::parse("https://acme.example/long", 10)
                .unwrap_err()
                .rule,
            "max_length"
        );
    }

    proptest! {
        #[test]
        fn parsed_addresses_are_fixed_points(host in "[a-z]{1,10}\\.[a-z]{2,5}", path in "(/[a-z0-9]{0,8}){0,3}") {
            let url = WebUrl::parse(&format!("https://{host}{path}"), 200).unwrap();
            prop_assert_eq!(WebUrl::parse(url.as_str(), 200), Ok(url.clone()));
        }

        #[test]
        fn the_parser_never_panics(raw in "\\PC{0,40}") {
            if let Ok(u) = WebUrl::parse(&raw, 40) {
                prop_assert!(!u.as_str().chars().any(char::is_whitespace));
            }
        }
    }
}
