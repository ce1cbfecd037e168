//! A raw message (RFC 5322 / MIME) to what the CRM keeps of it, with `mail-parser`: addresses,
//! subject (encoded words decoded), date, Message-ID and the thread headers, the text body
//! (from the HTML one when there is no text part), the HTML body and the attachments, whatever
//! the transfer encoding (quoted-printable, base64) and charset. A message that is not one is a
//! [`Rejection`] with its reason; nothing here panics on any input (property-tested).

use chrono::{DateTime, Utc};
use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};

/// Largest message processed (the S3 object's size is checked before it is read).
pub const MAX_MESSAGE_BYTES: i64 = 10 * 1024 * 1024;
/// Bytes read from the start of an oversized object, to learn whom it was for.
pub const HEADER_BYTES: i64 = 64 * 1024;
/// Most `References` entries kept (the newest).
const MAX_REFERENCES: usize = 50;

/// Why a message was not processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// A stable code: `no_headers`, `no_from`, `too_large`, `empty`.
    pub rule: &'static str,
    pub reason: String,
}

impl Rejection {
    pub fn new(rule: &'static str, reason: impl Into<String>) -> Self {
        Self {
            rule,
            reason: reason.into(),
        }
    }

    pub fn too_large(size: i64) -> Self {
        Self::new(
            "too_large",
            format!(
                "the message is {size} bytes; at most {MAX_MESSAGE_BYTES} bytes ({} MiB) are processed",
                MAX_MESSAGE_BYTES / 1024 / 1024
            ),
        )
    }
}

/// A mailbox: an address (as written; lower-cased where it is compared) and its display name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Mailbox {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttachment {
    /// The name the sender gave it (`attachment-{n}` when none).
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// What the CRM keeps of a message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedMessage {
    pub from: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    /// Envelope recipients the message carries: `Delivered-To`, `X-Original-To`,
    /// `X-Forwarded-To`, and the `for` of `Received` headers (how a BCC recipient shows).
    pub envelope_to: Vec<String>,
    pub subject: Option<String>,
    pub date: Option<DateTime<Utc>>,
    /// Without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    /// Oldest first, as in the header.
    pub references: Vec<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<MailAttachment>,
}

impl ParsedMessage {
    /// Every recipient address the message names (To, Cc, envelope), as written.
    pub fn recipients(&self) -> impl Iterator<Item = &str> {
        self.to
            .iter()
            .chain(&self.cc)
            .map(|m| m.address.as_str())
            .chain(self.envelope_to.iter().map(String::as_str))
    }

    /// The Message-IDs this message answers: In-Reply-To first, then References newest first.
    pub fn parents(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.in_reply_to.iter().map(String::as_str).collect();
        for r in self.references.iter().rev() {
            if !out.contains(&r.as_str()) {
                out.push(r);
            }
        }
        out
    }
}

/// Parses a whole message. A message must have headers and a `From` address.
pub fn parse(raw: &[u8]) -> Result<ParsedMessage, Rejection> {
    let message = parse_any(raw, false)?;
    if message.from.is_none() {
        return Err(Rejection::new("no_from", "the message has no From address"));
    }
    Ok(message)
}

/// Parses only the headers (of a message's first bytes): whom it is for, even when it is too
/// large or broken. Never fails on a From missing.
pub fn parse_headers(raw: &[u8]) -> Result<ParsedMessage, Rejection> {
    parse_any(raw, true)
}

fn parse_any(raw: &[u8], headers_only: bool) -> Result<ParsedMessage, Rejection> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::new("empty", "the message is empty"));
    }
    let parser = MessageParser::default();
    let parsed = if headers_only {
        parser.parse_headers(raw)
    } else {
        parser.parse(raw)
    };
    let Some(message) = parsed.filter(|m| !m.headers().is_empty() && looks_like_headers(raw))
    else {
        return Err(Rejection::new(
            "no_headers",
            "the message has no header section (it is not an RFC 5322 message)",
        ));
    };

    let mut out = ParsedMessage {
        from: message.from().and_then(first_mailbox),
        to: message.all_to().flat_map(mailboxes).collect(),
        cc: message.all_cc().flat_map(mailboxes).collect(),
        subject: message.subject().map(clean_text).filter(|s| !s.is_empty()),
        date: message
            .date()
            .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0)),
        message_id: message.message_id().map(strip_id).filter(|s| !s.is_empty()),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        ..ParsedMessage::default()
    };
    if out.references.len() > MAX_REFERENCES {
        out.references
            .drain(..out.references.len() - MAX_REFERENCES);
    }
    for (name, value) in message.headers_raw() {
        let name = name.trim();
        if ["delivered-to", "x-original-to", "x-forwarded-to"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
        {
            out.envelope_to.extend(
                value
                    .split(',')
                    .map(|a| strip_id(a.trim()))
                    .filter(|a| a.contains('@')),
            );
        }
    }
    for received in message.received_all() {
        if let Some(to) = received.for_() {
            out.envelope_to.push(strip_id(to));
        }
    }
    out.envelope_to.sort();
    out.envelope_to.dedup();
    if headers_only {
        return Ok(out);
    }

    out.text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .filter(|t| !t.trim().is_empty());
    out.html = message
        .html_part(0)
        .and_then(|p| match &p.body {
            PartType::Html(h) => Some(h.to_string()),
            _ => None,
        })
        .filter(|h| !h.trim().is_empty());
    for (n, part) in message.attachments().enumerate() {
        let bytes = match &part.body {
            PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
            PartType::Text(t) | PartType::Html(t) => t.as_bytes().to_vec(),
            PartType::Message(m) => m.raw_message().to_vec(),
            PartType::Multipart(_) => continue,
        };
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into())
            .to_ascii_lowercase();
        let file_name = part
            .attachment_name()
            .map(clean_text)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("attachment-{}", n + 1));
        out.attachments.push(MailAttachment {
            file_name,
            content_type,
            bytes,
        });
    }
    Ok(out)
}

/// The first line is a header field (`Name: value`, or a `From ` mbox line before one).
fn looks_like_headers(raw: &[u8]) -> bool {
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let line = &raw[start..];
    let line = if line.starts_with(b"From ") {
        match line.iter().position(|&b| b == b'\n') {
            Some(end) => &line[end + 1..],
            None => return false,
        }
    } else {
        line
    };
    let name_end = line.iter().position(|&b| b == b':');
    match name_end {
        Some(end) if end > 0 => line[..end].iter().all(|b| b.is_ascii_graphic()),
        _ => false,
    }
}

/// Control characters (a folded header's CR/LF among them) become spaces; trimmed.
fn clean_text(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn strip_id(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<String> = match value {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    };
    raw.iter()
        .flat_map(|t| t.split_whitespace())
        .map(strip_id)
        .filter(|s| !s.is_empty())
        .collect()
}

fn mailbox(addr: &mail_parser::Addr<'_>) -> Option<Mailbox> {
    let address = addr.address()?.trim();
    if address.is_empty() || !address.contains('@') {
        return None;
    }
    Some(Mailbox {
        address: address.to_string(),
        name: addr.name().map(clean_text).filter(|n| !n.is_empty()),
    })
}

fn mailboxes(a: &Address<'_>) -> Vec<Mailbox> {
    a.iter().filter_map(mailbox).collect()
}

fn first_mailbox(a: &Address<'_>) -> Option<Mailbox> {
    a.iter().find_map(mailbox)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MULTIPART: &[u8] = b"From: \"Ada Lovelace\" <Ada@Example.com>\r\n\
To: acme@in.crm.test, Bob <bob@example.com>\r\n\
Cc: carol@example.com\r\n\
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Z=C3=BCrich?=\r\n\
Date: Tue, 3 Mar 2026 10:00:00 +0100\r\n\
Message-ID: <abc@mail.example.com>\r\n\
In-Reply-To: <parent@crm.test>\r\n\
References: <root@crm.test> <parent@crm.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Hallo =E2=80=93 see attached.\r\n\
--b1\r\n\
Content-Type: application/pdf; name=\"offer.pdf\"\r\n\
Content-Disposition: attachment; filename=\"offer.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjcK\r\n\
--b1--\r\n";

    #[test]
    fn a_multipart_message_gives_its_headers_body_and_attachment() {
        let m = parse(MULTIPART).unwrap();
        assert_eq!(
            m.from,
            Some(Mailbox {
                address: "Ada@Example.com".into(),
                name: Some("Ada Lovelace".into())
            })
        );
        assert_eq!(
            m.to.iter().map(|t| t.address.as_str()).collect::<Vec<_>>(),
            ["acme@in.crm.test", "bob@example.com"]
        );
        assert_eq!(m.cc[0].address, "carol@example.com");
        assert_eq!(m.subject.as_deref(), Some("Grüße aus Zürich"));
        assert_eq!(m.date.unwrap().to_rfc3339(), "2026-03-03T09:00:00+00:00");
        assert_eq!(m.message_id.as_deref(), Some("abc@mail.example.com"));
        assert_eq!(m.in_reply_to, ["parent@crm.test"]);
        assert_eq!(m.references, ["root@crm.test", "parent@crm.test"]);
        assert_eq!(m.parents(), ["parent@crm.test", "root@crm.test"]);
        assert_eq!(
            m.text.as_deref().map(str::trim),
            Some("Hallo – see attached.")
        );
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].file_name, "offer.pdf");
        assert_eq!(m.attachments[0].content_type, "application/pdf");
        assert_eq!(m.attachments[0].bytes, b"%PDF-1.7\n");
    }

    #[test]
    fn an_iso_8859_1_body_and_subject_come_out_right() {
        let raw = b"From: jose@example.com\r\nTo: acme@in.crm.test\r\n\
Subject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?=\r\n\
Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
Bon app\xe9tit, \xe0 bient\xf4t\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(m.subject.as_deref(), Some("Café crème"));
        assert!(m.text.unwrap().contains("Bon appétit"));
    }

    #[test]
    fn html_only_gives_a_text_body_too() {
        let raw = b"From: a@example.com\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>world</b></p>";
        let m = parse(raw).unwrap();
        assert!(m.html.unwrap().contains("<b>world</b>"));
        assert!(m.text.unwrap().contains("Hello world"));
    }

    #[test]
    fn envelope_recipients_come_from_delivery_headers_and_received() {
        let raw = b"Received: from mx.example.com by inbound-smtp.eu-west-1.amazonaws.com with SMTP id x for acme+deals@in.crm.test; Tue, 3 Mar 2026 10:00:00 +0000\r\n\
Delivered-To: <acme@in.crm.test>\r\nX-Original-To: other@in.crm.test\r\nFrom: a@example.com\r\n\r\nhi";
        let m = parse(raw).unwrap();
        assert!(m.envelope_to.contains(&"acme@in.crm.test".to_string()));
        assert!(m.envelope_to.contains(&"other@in.crm.test".to_string()));
        assert!(
            m.envelope_to
                .contains(&"acme+deals@in.crm.test".to_string()),
            "{:?}",
            m.envelope_to
        );
    }

    #[test]
    fn broken_messages_are_refused_with_a_reason() {
        assert_eq!(parse(b"").unwrap_err().rule, "empty");
        assert_eq!(parse(b"   \r\n").unwrap_err().rule, "empty");
        assert_eq!(
            parse(b"this is just some text\nwithout any header\n")
                .unwrap_err()
                .rule,
            "no_headers"
        );
        assert_eq!(
            parse(b"\x00\x01\x02\xff\xfe binary").unwrap_err().rule,
            "no_headers"
        );
        assert_eq!(
            parse(b"To: acme@in.crm.test\r\nSubject: hi\r\n\r\nbody")
                .unwrap_err()
                .rule,
            "no_from"
        );
        // Headers alone still tell whom it was for.
        let h = parse_headers(b"To: acme@in.crm.test\r\nSubject: hi\r\n\r\nbody").unwrap();
        assert_eq!(h.to[0].address, "acme@in.crm.test");
        assert_eq!(Rejection::too_large(11 << 20).rule, "too_large");
    }

    #[test]
    fn header_values_lose_control_characters() {
        let raw = b"From: =?UTF-8?B?RXZpbA0KQmNjOiB4QHkuY29t?= <e@example.com>\r\nSubject: =?UTF-8?Q?a=0D=0Ab=E2=80=A8c?=\r\n\r\n.";
        let m = parse(raw).unwrap();
        assert_eq!(m.subject.as_deref(), Some("a b c"));
        assert!(!m.from.unwrap().name.unwrap().contains('\n'));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse(&raw);
            let _ = parse_headers(&raw);
        }

        #[test]
        fn arbitrary_header_like_text_never_panics(
            lines in proptest::collection::vec("[A-Za-z-]{1,12}: [ -~]{0,60}", 0..12),
            body in "[ -~\r\n]{0,200}",
            boundary in "[a-z]{1,5}",
        ) {
            let raw = format!(
                "{}\r\nContent-Type: multipart/mixed; boundary={boundary}\r\n\r\n--{boundary}\r\n{body}\r\n--{boundary}--",
                lines.join("\r\n")
            );
            let _ = parse(raw.as_bytes());
        }
    }
}
