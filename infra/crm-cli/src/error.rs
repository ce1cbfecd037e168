//! What can go wrong, as a person at the terminal should read it, and the exit code of each.

use serde::Deserialize;
use std::fmt;

/// An RFC 9457 problem (`application/problem+json`) as the API answers a refused request, or
/// what could be read of another error body (API Gateway's own `{"message": …}`, plain text).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Problem {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    /// API Gateway's errors (401 of the authorizer) carry only this.
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FieldError {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub rule: String,
    #[serde(default)]
    pub message: String,
}

impl Problem {
    /// Reads an error body: a problem, `{"message": …}`, or the start of whatever text it is.
    pub fn from_body(body: &str) -> Self {
        match serde_json::from_str::<Problem>(body) {
            Ok(problem) => problem,
            Err(_) => {
                let text: String = body.trim().chars().take(300).collect();
                Problem {
                    detail: (!text.is_empty()).then_some(text),
                    ..Problem::default()
                }
            }
        }
    }

    /// The one-line explanation: its detail, else its message, else its title.
    pub fn summary(&self) -> Option<&str> {
        self.detail
            .as_deref()
            .or(self.message.as_deref())
            .or(self.title.as_deref())
            .filter(|s| !s.is_empty())
    }

    /// [`Self::summary`] unless a field error below says it already (a problem of one field
    /// often repeats its message as the detail).
    fn headline(&self) -> Option<&str> {
        self.summary().filter(|summary| {
            !self
                .errors
                .iter()
                .any(|e| !e.message.is_empty() && summary.contains(&e.message))
        })
    }
}

/// An HTTP status as `422 Unprocessable Entity`.
pub fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

#[derive(Debug)]
pub enum Failure {
    /// Bad arguments: a missing input file, an unreadable mapping, no token.
    Usage(String),
    /// The API did not answer (connection refused, DNS, TLS, timeout).
    Unreachable {
        url: String,
        cause: String,
    },
    /// 401 or 403: the token is wrong, expired, or its role may not do this.
    TokenRefused {
        status: u16,
        problem: Problem,
    },
    /// Another 4xx: the request (file name, mapping, columns, …) was refused.
    Refused {
        status: u16,
        problem: Problem,
    },
    /// 5xx, or an answer that is not what the API documents.
    Server {
        status: u16,
        problem: Problem,
    },
    Protocol(String),
    /// The presigned upload or download was refused by the storage.
    Transfer {
        what: String,
        status: u16,
        body: String,
    },
    /// The import ended without completing (the file refused whole, or cancelled).
    ImportEnded {
        id: String,
        status: String,
        reason: String,
    },
    ExportFailed {
        id: String,
        reason: String,
    },
    /// A local file could not be read or written.
    Io {
        path: String,
        error: std::io::Error,
    },
}

impl Failure {
    /// 1: the operation failed; 2: usage; 3: the token was refused; 4: the API is not
    /// reachable; 5: the API refused the request.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::TokenRefused { .. } => 3,
            Failure::Unreachable { .. } => 4,
            Failure::Refused { .. } => 5,
            Failure::Server { .. }
            | Failure::Protocol(_)
            | Failure::Transfer { .. }
            | Failure::ImportEnded { .. }
            | Failure::ExportFailed { .. }
            | Failure::Io { .. } => 1,
        }
    }

    /// Worth polling again: the API or the network stumbled once.
    pub fn is_transient(&self) -> bool {
        match self {
            Failure::Unreachable { .. } => true,
            Failure::Server { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    pub fn io(path: &std::path::Path, error: std::io::Error) -> Self {
        Failure::Io {
            path: path.display().to_string(),
            error,
        }
    }
}

fn write_field_errors(f: &mut fmt::Formatter<'_>, problem: &Problem) -> fmt::Result {
    for e in &problem.errors {
        write!(f, "\n  - {}: {}", e.field, e.message)?;
        if !e.rule.is_empty() {
            write!(f, " ({})", e.rule)?;
        }
    }
    Ok(())
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(message) => write!(f, "{message}"),
            Failure::Unreachable { url, cause } => write!(
                f,
                "cannot reach the API at {url}: {cause}\n  \
                 Is it running (`make dev`)? Point to it with --api-url or CRM_API_URL."
            ),
            Failure::TokenRefused { status, problem } => {
                write!(f, "the API refused the token ({})", status_text(*status))?;
                if let Some(summary) = problem.summary() {
                    write!(f, ": {summary}")?;
                }
                if *status == 401 {
                    write!(
                        f,
                        "\n  The token is wrong or expired: get a new one (`make token TENANT=… \
                         USER=… ROLE=…` for `make dev`) and pass it with --token or CRM_TOKEN."
                    )
                } else {
                    write!(f, "\n  The token's role may not do this.")
                }
            }
            Failure::Refused { status, problem } => {
                write!(f, "the API refused the request ({})", status_text(*status))?;
                if let Some(summary) = problem.headline() {
                    write!(f, ": {summary}")?;
                }
                write_field_errors(f, problem)
            }
            Failure::Server { status, problem } => {
                write!(f, "the API failed ({})", status_text(*status))?;
                if let Some(summary) = problem.headline() {
                    write!(f, ": {summary}")?;
                }
                write_field_errors(f, problem)
            }
            Failure::Protocol(message) => write!(f, "unexpected answer from the API: {message}"),
            Failure::Transfer { what, status, body } => {
                write!(f, "the {what} was refused ({})", status_text(*status))?;
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
            Failure::ImportEnded { id, status, reason } => {
                write!(f, "the import {id} {status}: {reason}")
            }
            Failure::ExportFailed { id, reason } => write!(f, "the export {id} failed: {reason}"),
            Failure::Io { path, error } => write!(f, "{path}: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_prints_its_detail_and_each_field_error() {
        let problem = Problem::from_body(
            r#"{"type":"/problems/validation","title":"Unprocessable Entity","status":422,
                "detail":"1 field is invalid","errors":[{"field":"file_name","rule":"file_type",
                "message":"a .csv, .tsv, .txt, .xlsx, .xlsm, .xls or .ods file"}]}"#,
        );
        let text = Failure::Refused {
            status: 422,
            problem,
        }
        .to_string();
        assert_eq!(
            text,
            "the API refused the request (422 Unprocessable Entity): 1 field is invalid\n  \
             - file_name: a .csv, .tsv, .txt, .xlsx, .xlsm, .xls or .ods file (file_type)"
        );
    }

    #[test]
    fn a_detail_that_repeats_its_field_error_is_said_once() {
        let problem = Problem::from_body(
            r#"{"title":"Bad Request","status":400,
                "detail":"unknown variant `deals`, expected `contacts` or `clients` at line 1",
                "errors":[{"field":"body","rule":"json",
                "message":"unknown variant `deals`, expected `contacts` or `clients` at line 1"}]}"#,
        );
        assert_eq!(
            Failure::Refused {
                status: 400,
                problem
            }
            .to_string(),
            "the API refused the request (400 Bad Request)\n  \
             - body: unknown variant `deals`, expected `contacts` or `clients` at line 1 (json)"
        );
    }

    #[test]
    fn gateway_messages_and_plain_text_are_read_too() {
        assert_eq!(
            Problem::from_body(r#"{"message":"Unauthorized"}"#).summary(),
            Some("Unauthorized")
        );
        assert_eq!(
            Problem::from_body("<html>Bad Gateway</html>").summary(),
            Some("<html>Bad Gateway</html>")
        );
        assert_eq!(Problem::from_body("").summary(), None);
    }

    #[test]
    fn exit_codes_tell_the_kinds_apart() {
        let problem = Problem::default();
        assert_eq!(Failure::Usage("x".into()).exit_code(), 2);
        assert_eq!(
            Failure::TokenRefused {
                status: 401,
                problem: problem.clone()
            }
            .exit_code(),
            3
        );
        assert_eq!(
            Failure::Unreachable {
                url: "u".into(),
                cause: "c".into()
            }
            .exit_code(),
            4
        );
        assert_eq!(
            Failure::Refused {
                status: 422,
                problem
            }
            .exit_code(),
            5
        );
    }
}
