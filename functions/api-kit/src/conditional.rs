//! Conditional requests (RFC 9110 §13.1.1) and the request's media type.
//!
//! `If-Match` is either `*` or a list of entity tags. The API's ETags are strong tags carrying a
//! record's version (`"3"`). The header is evaluated with the strong comparison function:
//! - absent → no precondition (If-Match stays optional); an empty value, a list of no tags,
//!   matches nothing → 412;
//! - `*` → matches any existing record (a missing one still answers 404);
//! - a list → matches when one of its strong tags is the record's ETag. A well-formed tag this
//!   API never issued (`"stale-0"`, a weak `W/"3"`) matches nothing: 412, not 400;
//! - a value that is not `*` nor a list of entity tags → 400.

use crm_shared::{CrmError, FieldError};

/// A parsed `If-Match` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current representation.
    Any,
    /// A list of entity tags (at least one).
    Tags(Vec<EntityTag>),
}

/// One entity tag: `"opaque"` or `W/"opaque"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    pub weak: bool,
    pub opaque: String,
}

impl EntityTag {
    /// The record version this tag names under the strong comparison: a strong tag whose
    /// opaque part is a version this API issues (decimal, no sign, no leading zeros).
    pub fn version(&self) -> Option<u64> {
        if self.weak || self.opaque.is_empty() {
            return None;
        }
        if self.opaque.len() > 1 && self.opaque.starts_with('0') {
            return None;
        }
        if !self.opaque.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.opaque.parse().ok()
    }
}

/// A version no record ever has: the precondition of a list of tags none of which this API
/// issued. The core compares it with the record's version after the existence check, so a
/// missing record still answers 404 and an existing one 412.
pub const NO_VERSION: u64 = u64::MAX;

impl IfMatch {
    /// Whether the precondition holds for a record at `version`.
    pub fn matches(&self, version: u64) -> bool {
        match self {
            IfMatch::Any => true,
            IfMatch::Tags(tags) => tags.iter().any(|t| t.version() == Some(version)),
        }
    }

    /// The versions the list names (strong tags only), deduplicated in order.
    pub fn versions(&self) -> Vec<u64> {
        let mut out = Vec::new();
        if let IfMatch::Tags(tags) = self {
            for v in tags.iter().filter_map(EntityTag::version) {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        out
    }

    /// The precondition as the core takes it (`Option<u64>`, the expected version): `*` is no
    /// constraint beyond existence; a list none of whose tags this API issued is
    /// [`NO_VERSION`]; a list naming one version is that version. For a list naming several
    /// versions, `current` (the record's version if the caller read it) picks the one that
    /// matches; without it the newest named version is expected.
    pub fn expected_version(&self, current: Option<u64>) -> Option<u64> {
        match self {
            IfMatch::Any => None,
            IfMatch::Tags(_) => {
                let versions = self.versions();
                match (versions.as_slice(), current) {
                    ([], _) => Some(NO_VERSION),
                    ([one], _) => Some(*one),
                    (many, Some(cur)) if many.contains(&cur) => Some(cur),
                    (_, Some(_)) => Some(NO_VERSION),
                    (many, None) => many.iter().copied().max(),
                }
            }
        }
    }
}

fn bad_header() -> CrmError {
    CrmError::BadRequest {
        detail: "If-Match must be * or a list of entity tags such as \"3\"".into(),
        errors: vec![FieldError::new(
            "If-Match",
            "etag",
            "must be * or a comma-separated list of entity tags such as \"3\"",
        )],
    }
}

/// `etagc = %x21 / %x23-7E / obs-text` (RFC 9110 §8.8.3).
fn is_etagc(c: char) -> bool {
    c == '\x21' || ('\x23'..='\x7e').contains(&c) || (c as u32) >= 0x80
}

/// Parses an `If-Match` field value: `*` or `#entity-tag` (empty list elements are allowed
/// and ignored, as RFC 9110 §5.6.1 asks of recipients).
pub fn parse_if_match(raw: &str) -> Result<IfMatch, CrmError> {
    let value = raw.trim_matches([' ', '\t']);
    if value == "*" {
        return Ok(IfMatch::Any);
    }
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let (weak, after) = match rest.strip_prefix("W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let after = after.strip_prefix('"').ok_or_else(bad_header)?;
        let end = after.find('"').ok_or_else(bad_header)?;
        let opaque = &after[..end];
        if !opaque.chars().all(is_etagc) {
            return Err(bad_header());
        }
        tags.push(EntityTag {
            weak,
            opaque: opaque.to_string(),
        });
        rest = after[end + 1..].trim_start_matches([' ', '\t']);
        if !(rest.is_empty() || rest.starts_with(',')) {
            return Err(bad_header());
        }
    }
    if tags.is_empty() {
        return Err(bad_header());
    }
    Ok(IfMatch::Tags(tags))
}

/// The request's `If-Match`, if it sent one.
pub fn if_match_header(
    headers: &lambda_http::http::HeaderMap,
) -> Result<Option<IfMatch>, CrmError> {
    let mut values = headers.get_all(lambda_http::http::header::IF_MATCH).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    // Several field lines combine into one list (RFC 9110 §5.3).
    let mut joined = first.to_str().map_err(|_| bad_header())?.to_string();
    for more in values {
        joined.push(',');
        joined.push_str(more.to_str().map_err(|_| bad_header())?);
    }
    // An empty field value is an empty list (`#entity-tag` allows none, RFC 9110 §5.6.1): it
    // matches no record, so the write is refused with 412, never done unconditionally.
    if joined.trim_matches([' ', '\t', ',']).is_empty() {
        return Ok(Some(IfMatch::Tags(Vec::new())));
    }
    parse_if_match(&joined).map(Some)
}

/// A JSON body must be sent as `application/json` (parameters such as `charset` allowed, and
/// `+json` structured suffixes): anything else is 415.
pub fn require_json(content_type: Option<&str>) -> Result<(), CrmError> {
    let essence = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(CrmError::UnsupportedMediaType {
            detail: format!(
                "send the body as application/json (got {})",
                if essence.is_empty() {
                    "no Content-Type"
                } else {
                    essence.as_str()
                }
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tag(weak: bool, opaque: &str) -> EntityTag {
        EntityTag {
            weak,
            opaque: opaque.into(),
        }
    }

    #[test]
    fn star_lists_and_weak_tags() {
        assert_eq!(parse_if_match("*").unwrap(), IfMatch::Any);
        assert_eq!(
            parse_if_match("\"1\", W/\"2\" ,\"stale-0\"").unwrap(),
            IfMatch::Tags(vec![tag(false, "1"), tag(true, "2"), tag(false, "stale-0")])
        );
        assert_eq!(
            parse_if_match("\"\"").unwrap(),
            IfMatch::Tags(vec![tag(false, "")])
        );
        for bad in [
            "",
            "3",
            "\"3",
            "abc",
            "\"1\" \"2\"",
            "*, \"1\"",
            "w/\"1\"",
            ",",
        ] {
            assert!(parse_if_match(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn a_foreign_or_weak_tag_matches_nothing() {
        let m = parse_if_match("\"stale-0\"").unwrap();
        assert!(!m.matches(0));
        assert_eq!(m.expected_version(None), Some(NO_VERSION));
        let weak = parse_if_match("W/\"4\"").unwrap();
        assert!(!weak.matches(4));
        assert_eq!(
            parse_if_match("\"007\"").unwrap().versions(),
            Vec::<u64>::new()
        );
    }

    #[test]
    fn a_list_matches_any_of_its_versions() {
        let m = parse_if_match("\"1\", \"2\"").unwrap();
        assert!(m.matches(1) && m.matches(2) && !m.matches(3));
        assert_eq!(m.expected_version(Some(1)), Some(1));
        assert_eq!(m.expected_version(Some(3)), Some(NO_VERSION));
        assert_eq!(m.expected_version(None), Some(2));
        assert_eq!(IfMatch::Any.expected_version(Some(9)), None);
    }

    #[test]
    fn json_media_types() {
        assert!(require_json(Some("application/json")).is_ok());
        assert!(require_json(Some("Application/JSON; charset=utf-8")).is_ok());
        assert!(require_json(Some("application/merge-patch+json")).is_ok());
        for bad in [
            None,
            Some(""),
            Some("text/plain"),
            Some("application/jsonx"),
        ] {
            assert!(matches!(
                require_json(bad),
                Err(CrmError::UnsupportedMediaType { .. })
            ));
        }
    }

    fn opaque() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![Just('!'), proptest::char::range('#', '~'), Just('é')],
            0..12,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        /// Any list of well-formed tags, however spaced, parses back to the same tags; a
        /// version matches exactly when a strong tag names it.
        #[test]
        fn tag_lists_round_trip(
            tags in proptest::collection::vec((any::<bool>(), opaque()), 1..6),
            sep in prop_oneof![Just(","), Just(", "), Just(" ,\t"), Just(",,")],
            version in 0u64..20,
        ) {
            let text = tags
                .iter()
                .map(|(w, o)| format!("{}\"{o}\"", if *w { "W/" } else { "" }))
                .collect::<Vec<_>>()
                .join(sep);
            let parsed = parse_if_match(&format!(" {text} ")).unwrap();
            let expected: Vec<EntityTag> = tags.iter().map(|(w, o)| tag(*w, o)).collect();
            prop_assert_eq!(&parsed, &IfMatch::Tags(expected));
            let named = tags.iter().any(|(w, o)| !*w && *o == version.to_string());
            prop_assert_eq!(parsed.matches(version), named);
            match parsed.expected_version(Some(version)) {
                None => prop_assert!(false, "a list always constrains"),
                Some(v) => prop_assert_eq!(v == version, named),
            }
        }

        /// Whatever the header holds, parsing never panics, and what parses is `*` or tags.
        #[test]
        fn arbitrary_values_never_panic(raw in "\\PC{0,40}") {
            if let Ok(IfMatch::Tags(tags)) = parse_if_match(&raw) {
                prop_assert!(!tags.is_empty());
            }
        }
    }
}
