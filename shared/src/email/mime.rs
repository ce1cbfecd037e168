//! The raw MIME message of an outbound email (built with `mail-builder`): multipart/alternative
//! with a text and an HTML part; `From: "<tenant display name>" <stack sender>`, `Reply-To:`
//! the sending user, `To`, `Subject`, a generated `Message-ID` (returned: replies are threaded
//! by it), and for bulk and workflow mail the one-click unsubscribe headers of RFC 8058.
//!
//! Header injection is impossible by refusal, not by repair: every value that reaches a header
//! (subject, display names, addresses, the unsubscribe URL) is checked first, and one holding
//! CR, LF, NUL, another control character, U+0085, U+2028 or U+2029 — or an RFC 2047 encoded
//! word that decodes to one of them — is a 422 naming the field.

use crate::{CrmError, FieldError};
use base64::Engine;
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::raw::Raw;

/// What goes into one message.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    /// The tenant's display name.
    pub from_name: &'a str,
    /// The stack's verified sender.
    pub from_address: &'a str,
    /// The sending user (name, address), when the directory knows their address.
    pub reply_to: Option<(&'a str, &'a str)>,
    pub to_name: &'a str,
    pub to_address: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    /// Bulk and workflow mail: the one-click unsubscribe URL.
    pub unsubscribe_url: Option<&'a str>,
}

/// A built message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltMessage {
    pub raw: Vec<u8>,
    /// Without angle brackets: `0190…@example.com`.
    pub message_id: String,
}

/// Builds the message, or names every header value that could inject a header.
pub fn build(envelope: &Envelope<'_>) -> Result<BuiltMessage, CrmError> {
    let mut errors = Vec::new();
    let mut check = |field: &str, value: &str| {
        if let Err(e) = check_header_value(field, value) {
            errors.push(e);
        }
    };
    check("from_name", envelope.from_name);
    check("from", envelope.from_address);
    if let Some((name, address)) = envelope.reply_to {
        check("reply_to_name", name);
        check("reply_to", address);
    }
    check("to_name", envelope.to_name);
    check("to", envelope.to_address);
    check("subject", envelope.subject);
    if let Some(url) = envelope.unsubscribe_url {
        check("unsubscribe_url", url);
        if url.contains(['<', '>', ',', ' ']) {
            errors.push(FieldError::new(
                "unsubscribe_url",
                "url",
                "must be a plain URL",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(CrmError::Validation(errors));
    }
    let domain = envelope
        .from_address
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    let message_id = format!("{}@{domain}", uuid::Uuid::now_v7().simple());
    let mut builder = MessageBuilder::new()
        .from((envelope.from_name, envelope.from_address))
        .to((envelope.to_name, envelope.to_address))
        .subject(envelope.subject)
        .message_id(message_id.clone())
        .date(crate::values::now().timestamp())
        .text_body(envelope.text)
        .html_body(envelope.html);
    if let Some((name, address)) = envelope.reply_to {
        builder = builder.reply_to(Address::new_address(Some(name), address));
    }
    if let Some(url) = envelope.unsubscribe_url {
        builder = builder
            .header("List-Unsubscribe", Raw::new(format!("<{url}>")))
            .header(
                "List-Unsubscribe-Post",
                Raw::new("List-Unsubscribe=One-Click"),
            );
    }
    let raw = builder.write_to_vec().map_err(CrmError::internal)?;
    Ok(BuiltMessage { raw, message_id })
}

/// Characters that end or break a header line (or that some clients treat as a line break).
fn is_line_breaking(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// A header value, or the 422 naming `field` when it could inject a header.
pub fn check_header_value(field: &str, value: &str) -> Result<(), FieldError> {
    let refuse = || {
        FieldError::new(
            field,
            "header_injection",
            "must not contain line breaks or control characters (CR, LF, NUL, U+2028, U+2029, \
             U+0085), not even as an encoded word",
        )
    };
    if value.chars().any(is_line_breaking) {
        return Err(refuse());
    }
    if encoded_words(value).into_iter().any(|decoded| {
        String::from_utf8_lossy(&decoded)
            .chars()
            .any(is_line_breaking)
    }) {
        return Err(refuse());
    }
    Ok(())
}

/// The decoded bytes of every RFC 2047 encoded word (`=?charset?Q|B?text?=`) in `value`.
fn encoded_words(value: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("=?") {
        let word = &rest[start + 2..];
        let mut parts = word.splitn(3, '?');
        let (Some(_charset), Some(encoding), Some(tail)) =
            (parts.next(), parts.next(), parts.next())
        else {
            break;
        };
        let Some(end) = tail.find("?=") else { break };
        let text = &tail[..end];
        let decoded = match encoding {
            "Q" | "q" => Some(decode_q(text)),
            "B" | "b" => base64::engine::general_purpose::STANDARD
                .decode(text.trim_end_matches('='))
                .or_else(|_| {
                    base64::engine::general_purpose::STANDARD_NO_PAD
                        .decode(text.trim_end_matches('='))
                })
                .ok(),
            _ => None,
        };
        out.extend(decoded);
        // Go on after the start of this word (words may be malformed or nested).
        rest = &rest[start + 2..];
    }
    out
}

fn decode_q(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'='),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn envelope<'a>(subject: &'a str, to_name: &'a str, from_name: &'a str) -> Envelope<'a> {
        Envelope {
            from_name,
            from_address: "crm@example.com",
            reply_to: Some(("Alice", "alice@acme.example")),
            to_name,
            to_address: "ada@example.com",
            subject,
            text: "Hello",
            html: "<p>Hello</p>",
            unsubscribe_url: Some("https://api.example/unsubscribe/abc.def"),
        }
    }

    fn headers(raw: &[u8]) -> String {
        let text = String::from_utf8(raw.to_vec()).unwrap();
        text.split("\r\n\r\n").next().unwrap().to_string()
    }

    fn refused_field(e: CrmError) -> Vec<(String, String)> {
        match e {
            CrmError::Validation(errors) => errors.into_iter().map(|e| (e.field, e.rule)).collect(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn s6_4_the_message_has_every_header_and_both_parts() {
        let built = build(&envelope("Hi Ada", "Ada Lovelace", "Acme GmbH")).unwrap();
        let text = String::from_utf8(built.raw.clone()).unwrap();
        let h = headers(&built.raw);
        assert!(h.contains("From: \"Acme GmbH\" <crm@example.com>"), "{h}");
        assert!(
            h.contains("Reply-To: \"Alice\" <alice@acme.example>"),
            "{h}"
        );
        assert!(h.contains("To: \"Ada Lovelace\" <ada@example.com>"), "{h}");
        assert!(h.contains("Subject: Hi Ada"), "{h}");
        assert!(
            h.contains(&format!("Message-ID: <{}>", built.message_id)),
            "{h}"
        );
        assert!(h.contains("List-Unsubscribe: <https://api.example/unsubscribe/abc.def>"));
        assert!(h.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(text.contains("multipart/alternative"));
        assert!(text.contains("text/plain") && text.contains("text/html"));
        assert!(built.message_id.ends_with("@example.com"));
    }

    #[test]
    fn s6_4_crlf_in_a_subject_is_refused() {
        let e = build(&envelope("Hi\r\nBcc: x@evil.example", "Ada", "Acme")).unwrap_err();
        assert_eq!(
            refused_field(e),
            vec![("subject".into(), "header_injection".into())]
        );
        let e = build(&envelope("Hi\nBcc: x@evil.example", "Ada", "Acme")).unwrap_err();
        assert_eq!(refused_field(e)[0].0, "subject");
    }

    #[test]
    fn s6_4_an_encoded_word_hiding_a_newline_is_refused() {
        for subject in [
            "=?UTF-8?Q?a=0D=0ABcc:_x@evil?=",
            "Hi =?utf-8?q?=0Ax?=",
            "=?UTF-8?B?YQ0KQmNjOiB4QGV2aWw=?=",
            "=?UTF-8?Q?a=E2=80=A8b?=",
        ] {
            let e = build(&envelope(subject, "Ada", "Acme")).unwrap_err();
            assert_eq!(refused_field(e)[0].0, "subject", "{subject}");
        }
        // An encoded word without a line break is just text.
        assert!(build(&envelope("=?UTF-8?Q?caf=C3=A9?=", "Ada", "Acme")).is_ok());
    }

    #[test]
    fn s6_4_u2028_in_names_and_subjects_is_refused() {
        let e = build(&envelope("a\u{2028}b", "Ada\u{2029}", "Acme\u{85}")).unwrap_err();
        let fields: Vec<String> = refused_field(e).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, vec!["from_name", "to_name", "subject"]);
        let e = build(&envelope("ok", "Ada\0", "Acme")).unwrap_err();
        assert_eq!(refused_field(e)[0].0, "to_name");
    }

    #[test]
    fn non_ascii_names_and_subjects_are_encoded() {
        let built = build(&envelope("Grüße, Zoë", "Zoë Müller", "Bäckerei")).unwrap();
        let h = headers(&built.raw);
        assert!(h.is_ascii(), "{h}");
        assert!(h.contains("=?utf-8?"), "{h}");
    }

    /// Header lines of a message, continuation lines joined to theirs.
    fn header_names(raw: &[u8]) -> Vec<String> {
        headers(raw)
            .split("\r\n")
            .filter(|l| !l.starts_with([' ', '\t']))
            .map(|l| l.split(':').next().unwrap_or("").to_string())
            .collect()
    }

    proptest! {
        // Whatever the values, a built message has exactly the header lines it should: no value
        // adds one (and no bare CR or LF hides in the header block).
        #[test]
        fn s6_4_no_value_adds_a_header_line(
            subject in "\\PC{0,120}|[a-z \r\n:=?_]{0,60}|.{0,60}",
            to_name in "\\PC{0,60}|[a-zA-Z \r\n\u{2028}\u{85}:]{0,40}",
            from_name in "\\PC{0,60}|[a-zA-Z \r\n:]{0,40}",
        ) {
            let expected = header_names(&build(&envelope("x", "y", "z")).unwrap().raw);
            if let Ok(built) = build(&envelope(&subject, &to_name, &from_name)) {
                let h = headers(&built.raw);
                prop_assert!(!h.replace("\r\n", "").contains(['\r', '\n']));
                prop_assert_eq!(header_names(&built.raw), expected);
            }
        }
    }
}
