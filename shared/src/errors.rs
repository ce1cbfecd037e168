//! Errors of the core: [`CrmError`] for every failure, [`FieldError`] for one broken rule on one
//! field, and the one collector validators use, [`FieldErrors`], with one path style
//! ([`FieldPath`]: `a.b[0].c`).

use crate::values::text::text;
use crate::values::{Country, Email, Invalid, WebUrl};
use serde::Serialize;

/// One violated rule on one field: `field` is its path in one style, `a.b[0].c` (`email`,
/// `steps[1].minutes`, `billing_address.country`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub rule: String,
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        rule: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    /// The body is not what the endpoint accepts (malformed JSON, unknown or read-only fields).
    #[error("bad request: {detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// Well-formed input that breaks a rule.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// Absent, or not visible to the caller: the two are indistinguishable by design.
    #[error("not found")]
    NotFound,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("conflict: {detail}")]
    Conflict {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// A definition change refused because stored values would not survive it (S3.3).
    #[error("change refused: {detail}")]
    ChangeRefused {
        detail: String,
        affected_records: u64,
        errors: Vec<FieldError>,
    },
    #[error("precondition failed: the record changed since it was read")]
    PreconditionFailed,
    #[error("idempotency key reused with a different request")]
    IdempotencyMismatch,
    #[error("a request with this idempotency key is still in progress")]
    IdempotencyInProgress,
    /// A per-tenant quota or rate is used up; retry after the given seconds (429 with
    /// `Retry-After`).
    #[error("too many requests: {detail}")]
    TooManyRequests {
        detail: String,
        retry_after_secs: u64,
    },
    /// A dependency is temporarily unavailable (throttled after retries); nothing was changed,
    /// retry after the given seconds (503 with `Retry-After`).
    #[error("unavailable: {detail}")]
    Unavailable {
        detail: String,
        retry_after_secs: u64,
    },
    /// The request body exceeds the size the endpoint accepts (413).
    #[error("payload too large: {detail}")]
    PayloadTooLarge { detail: String },
    /// The body is in a media type the endpoint does not accept (415).
    #[error("unsupported media type: {detail}")]
    UnsupportedMediaType { detail: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl CrmError {
    pub fn validation(field: &str, rule: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, rule, message)])
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }
}

/// Formats an AWS SDK error with its whole source chain, for logs.
pub fn sdk_error<E: std::error::Error>(what: &str, e: E) -> CrmError {
    let mut text = format!("{what}: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    CrmError::Internal(text)
}

/// A path to a field in the one style every error uses: `emails[1].address`,
/// `billing_address.country`, `exchange_rates.GBP`, `custom_fields.tier`, `steps[0].subject`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(String);

/// A path built only when an error names it (a row's fields are mostly valid, and building
/// `addresses[0].street` for each is most of a valid row's allocations).
pub struct LazyPath<F>(pub F);

impl<F: FnOnce() -> FieldPath> From<LazyPath<F>> for FieldPath {
    fn from(lazy: LazyPath<F>) -> Self {
        (lazy.0)()
    }
}

impl FieldPath {
    pub fn new(root: &str) -> Self {
        Self(root.to_string())
    }

    /// A member of an object: `a` → `a.b`.
    pub fn field(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Self(name.to_string())
        } else {
            Self(format!("{}.{name}", self.0))
        }
    }

    /// An element of a list: `a` → `a[2]`.
    pub fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for FieldPath {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for FieldPath {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&String> for FieldPath {
    fn from(s: &String) -> Self {
        Self(s.clone())
    }
}

impl From<&FieldPath> for FieldPath {
    fn from(p: &FieldPath) -> Self {
        p.clone()
    }
}

/// The one collector of a validator's findings: every broken rule is kept (a client fixes a
/// form in one round trip), each under its [`FieldPath`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(
        &mut self,
        path: impl Into<FieldPath>,
        rule: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.0.push(FieldError::new(path.into().0, rule, message));
    }

    /// Records a value's refusal under `path`.
    pub fn invalid(&mut self, path: impl Into<FieldPath>, invalid: Invalid) {
        self.push(path, invalid.rule, invalid.message);
    }

    /// The parsed value, or `None` with its refusal recorded under `path`.
    pub fn check<T>(
        &mut self,
        path: impl Into<FieldPath>,
        parsed: Result<T, Invalid>,
    ) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(e) => {
                self.invalid(path, e);
                None
            }
        }
    }

    /// Free text, normalised ([`crate::values::text::normalize_text`]); blank is `None`.
    pub fn text(
        &mut self,
        path: impl Into<FieldPath>,
        raw: Option<String>,
        max_chars: usize,
    ) -> Option<String> {
        self.check(path, text(&raw?, max_chars)).flatten()
    }

    /// Free text given as a string slice; blank is `None`.
    pub fn text_of(
        &mut self,
        path: impl Into<FieldPath>,
        raw: &str,
        max_chars: usize,
    ) -> Option<String> {
        self.check(path, text(raw, max_chars)).flatten()
    }

    /// Free text that must not be blank (`required`).
    pub fn required_text(
        &mut self,
        path: impl Into<FieldPath>,
        raw: &str,
        max_chars: usize,
    ) -> String {
        let path = path.into();
        let before = self.len();
        let t = self.text_of(&path, raw, max_chars);
        if t.is_none() && self.len() == before {
            self.push(path, "required", "must not be empty");
        }
        t.unwrap_or_default()
    }

    /// A minimum that is greater than its maximum (`range`).
    pub fn range<T: PartialOrd + std::fmt::Display>(
        &mut self,
        path: impl Into<FieldPath>,
        min: Option<T>,
        max: Option<T>,
    ) {
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                self.push(
                    path,
                    "range",
                    format!("the minimum {min} is greater than the maximum {max}"),
                );
            }
        }
    }

    /// A value above its limit (`max`).
    pub fn at_most<T: PartialOrd + std::fmt::Display>(
        &mut self,
        path: impl Into<FieldPath>,
        value: Option<T>,
        limit: T,
    ) {
        if value.is_some_and(|v| v > limit) {
            self.push(path, "max", format!("must be at most {limit}"));
        }
    }

    /// An optional email address, lower-cased; blank is `None`.
    pub fn email(&mut self, path: impl Into<FieldPath>, raw: Option<String>) -> Option<String> {
        let path = path.into();
        let t = self.text(&path, raw, crate::values::email::MAX_LENGTH)?;
        self.check(path, Email::parse(&t)).map(Email::into_string)
    }

    /// An optional ISO 3166-1 country code, upper-cased; blank is `None`.
    pub fn country(&mut self, path: impl Into<FieldPath>, raw: Option<String>) -> Option<String> {
        let raw = raw.filter(|c| !c.trim().is_empty())?;
        self.check(path, Country::parse(&raw)).map(String::from)
    }

    /// An optional web address; blank is `None`.
    pub fn url(
        &mut self,
        path: impl Into<FieldPath>,
        raw: Option<String>,
        max_chars: usize,
    ) -> Option<String> {
        let path = path.into();
        let t = self.text(&path, raw, max_chars)?;
        self.check(path, WebUrl::parse(&t, max_chars))
            .map(WebUrl::into_string)
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = FieldError>) {
        self.0.extend(other);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    /// Renames the findings recorded since `mark` (see [`Self::len`]) to `path`: a shorthand
    /// field (`email`) reports its findings under the name the caller sent.
    pub fn rename_since(&mut self, mark: usize, path: &str) {
        for e in &mut self.0[mark..] {
            e.field = path.to_string();
        }
    }

    /// `value` when nothing was found, else every finding.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }

    /// As a 422 problem when anything was found.
    pub fn into_result(self) -> Result<(), CrmError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(CrmError::Validation(self.0))
        }
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

impl From<FieldErrors> for Vec<FieldError> {
    fn from(e: FieldErrors) -> Self {
        e.0
    }
}

/// Standard fields' and custom fields' findings reported together, in one problem.
pub fn join_validation<A, B>(
    a: Result<A, Vec<FieldError>>,
    b: Result<B, CrmError>,
) -> Result<(A, B), CrmError> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(mut x), Err(CrmError::Validation(y))) => {
            x.extend(y);
            Err(CrmError::Validation(x))
        }
        (Err(x), Ok(_)) => Err(CrmError::Validation(x)),
        (_, Err(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_path_style() {
        let p = FieldPath::new("addresses").index(0).field("country");
        assert_eq!(p.as_str(), "addresses[0].country");
        assert_eq!(
            FieldPath::new("exchange_rates").field("GBP").as_str(),
            "exchange_rates.GBP"
        );
        assert_eq!(
            FieldPath::new("custom_fields").field("k").index(2).as_str(),
            "custom_fields.k[2]"
        );
        assert_eq!(FieldPath::new("").field("a").as_str(), "a");
    }

    #[test]
    fn every_finding_is_kept_under_its_path() {
        let mut e = FieldErrors::new();
        assert_eq!(
            e.country("billing_address.country", Some("ZZ".into())),
            None
        );
        assert_eq!(e.country("x", Some(" de ".into())).as_deref(), Some("DE"));
        assert_eq!(e.email("email", Some("nope".into())), None);
        assert_eq!(e.text("name", Some("a\u{1}".into()), 10), None);
        let found: Vec<_> = e
            .iter()
            .map(|f| (f.field.as_str(), f.rule.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("billing_address.country", "iso_3166"),
                ("email", "format"),
                ("name", "no_control_characters")
            ]
        );
    }
}
