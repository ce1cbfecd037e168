use serde::Serialize;

/// One violated rule on one field: `field` is a JSON-pointer-like path (`email`, `steps/1/minutes`).
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
