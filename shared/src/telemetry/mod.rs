//! Operational telemetry the core and the adapters feed without knowing where it goes: business
//! counters ([`metrics`]) and X-Ray subsegments of DynamoDB calls ([`xray`]). Both are ambient
//! per invocation (a tokio task-local the function edge sets up) and do nothing outside one, so
//! the core's rules and its tests are untouched by them. The edge (`api_kit::observe`) turns
//! the counters into one CloudWatch embedded-metric-format document per invocation.

pub mod metrics;
pub mod xray;

use std::borrow::Cow;
use std::sync::OnceLock;

/// `text` for a log line, with anything shaped like an email address replaced by `<email>`:
/// SDK errors quote the addresses they refuse (SES's "not verified: ada@example.com"), and the
/// logs carry no personal data.
pub fn redact(text: &str) -> Cow<'_, str> {
    static EMAIL: OnceLock<regex::Regex> = OnceLock::new();
    let email = EMAIL.get_or_init(|| {
        regex::Regex::new(r#"[^\s@:;,<>()\[\]"'`]+@[^\s@:;,<>()\[\]"'`]+"#).expect("valid pattern")
    });
    email.replace_all(text, "<email>")
}

/// A value shown through [`redact`] (`tracing::error!(error = %Redacted(&e), …)`).
pub struct Redacted<'a, T: ?Sized>(pub &'a T);

impl<T: std::fmt::Display + ?Sized> std::fmt::Display for Redacted<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.0.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_redacted_and_the_rest_is_kept() {
        let ses = "SendEmail: MessageRejected: Email address is not verified. The following \
                   identities failed the check in region EU-CENTRAL-1: crm@example.com, \
                   <ada.lovelace+crm@mail.example.org>";
        assert_eq!(
            Redacted(ses).to_string(),
            "SendEmail: MessageRejected: Email address is not verified. The following \
             identities failed the check in region EU-CENTRAL-1: <email>, <<email>>"
        );
        assert_eq!(redact("run 42 failed: timeout"), "run 42 failed: timeout");
    }
}
