//! Inbound mail (S6.4): messages parsed per second by the core's parser (`mail-parser` plus
//! what the CRM keeps: addresses, thread headers, text from HTML, attachments decoded), for each
//! `.eml` fixture and a 1 MiB message with a base64 attachment. CPU only: no stack needed.

use crm_shared::inbox::parse;
use std::time::{Duration, Instant};

const FIXTURES: &[(&str, &[u8])] = &[
    (
        "multipart with a PDF attachment",
        include_bytes!("../fixtures/mail/multipart-attachment.eml"),
    ),
    (
        "ISO-8859-1 text",
        include_bytes!("../fixtures/mail/iso-8859-1.eml"),
    ),
    (
        "threaded reply",
        include_bytes!("../fixtures/mail/reply.eml"),
    ),
    (
        "HTML only (unknown sender)",
        include_bytes!("../fixtures/mail/unknown-sender.eml"),
    ),
    (
        "malformed (no From)",
        include_bytes!("../fixtures/mail/malformed.eml"),
    ),
];

/// A message with a text part and a 1 MiB attachment, base64 in 76-character lines.
fn large_message() -> Vec<u8> {
    use base64::Engine;
    let payload: Vec<u8> = (0..1024 * 1024).map(|i| (i * 31 % 251) as u8).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&payload);
    let mut raw = String::from(
        "From: Ada <ada@example.com>\r\nTo: acme@in.example.com\r\nSubject: big\r\n\
Message-ID: <big@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
The file.\r\n--b\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n",
    );
    for line in encoded.as_bytes().chunks(76) {
        raw.push_str(std::str::from_utf8(line).unwrap());
        raw.push_str("\r\n");
    }
    raw.push_str("--b--\r\n");
    raw.into_bytes()
}

fn measure(name: &str, raw: &[u8]) {
    let budget = Duration::from_millis(
        std::env::var("BENCH_INBOX_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1500),
    );
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        std::hint::black_box(parse::parse(std::hint::black_box(raw)).ok());
        n += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name:<34} {:>9} bytes  {:>10.0} messages/s  {:>8.1} MB/s",
        raw.len(),
        n as f64 / secs,
        n as f64 * raw.len() as f64 / secs / 1e6
    );
}

fn main() {
    println!("inbound messages parsed per second (one core):");
    for (name, raw) in FIXTURES {
        measure(name, raw);
    }
    measure("1 MiB base64 attachment", &large_message());
}
