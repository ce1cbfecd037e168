//! An uploaded file as CSV text (S5.1): its encoding and its delimiter, told from its bytes.
//!
//! - Encoding: a byte order mark decides (UTF-8, UTF-16 LE / BE); without one, text that is
//!   valid UTF-8 is UTF-8, anything else is read as Windows-1252 (what Excel writes on German
//!   and Western European Windows; it is a superset of ISO-8859-1's printable characters, which
//!   is why the WHATWG decoders treat the two as one). Decoding is `encoding_rs`'s.
//! - Delimiter: of `,` `;` tab `|`, the one that splits the first records (outside quotes) into
//!   the same number of fields most often, the header's count first; ties go in that order.
//! - A file that is not text (a spreadsheet or PDF uploaded as CSV, anything with NUL bytes
//!   after decoding) fails with a reason naming what it looks like.

use super::ReadFailure;
use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use std::borrow::Cow;

/// Candidate delimiters, in the order ties go.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// Records the delimiter is told from.
const SAMPLE_RECORDS: usize = 50;

/// What was told of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// `csv`, or the workbook's: `xlsx`, `xls`, `ods`, `xlsb`.
    pub format: &'static str,
    /// CSV: `utf-8`, `utf-16le`, `utf-16be` or `windows-1252`.
    pub encoding: Option<&'static str>,
    /// Whether the file began with a byte order mark.
    pub bom: bool,
    /// CSV: the delimiter.
    pub delimiter: Option<u8>,
    /// Workbooks: the sheet read.
    pub sheet: Option<String>,
}

/// The file's text (without a byte order mark) and its encoding.
pub fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, &'static Encoding, bool), ReadFailure> {
    if let Some(kind) = binary_kind(bytes) {
        return Err(ReadFailure(format!(
            "the file is {kind}, not CSV text or a spreadsheet"
        )));
    }
    let (encoding, bom) = match Encoding::for_bom(bytes) {
        Some((encoding, len)) => (encoding, len > 0),
        None if std::str::from_utf8(bytes).is_ok() => (UTF_8, false),
        None => (WINDOWS_1252, false),
    };
    // Without a BOM, a UTF-16 file is not told apart from binary: NULs give it away below.
    let (text, _, malformed) = encoding.decode(bytes);
    if malformed && encoding != WINDOWS_1252 {
        return Err(ReadFailure(format!(
            "the file is not valid {} text",
            encoding.name()
        )));
    }
    if text.contains('\0') {
        return Err(ReadFailure(
            "the file is not text (it holds NUL bytes); save it as CSV".into(),
        ));
    }
    Ok((text, encoding, bom))
}

/// How a file's text is encoded, told from its first bytes (`whole`: they are all of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// UTF-8 or Windows-1252 (ASCII-compatible: CSV can be split on its bytes); `bom`: the
    /// byte order mark's length.
    Bytes {
        encoding: &'static Encoding,
        bom: usize,
    },
    /// UTF-16: decoded whole before it is read.
    Utf16,
}

/// Sniffs the start of a file: binary files are refused as in [`decode`]; a UTF-8 prefix
/// (its last character may be cut off) is UTF-8, anything else Windows-1252. A later cell that
/// is not UTF-8 is read as Windows-1252 on its own ([`decode_cell`]).
pub fn sniff(start: &[u8]) -> Result<Sniffed, ReadFailure> {
    if let Some(kind) = binary_kind(start) {
        return Err(ReadFailure(format!(
            "the file is {kind}, not CSV text or a spreadsheet"
        )));
    }
    match Encoding::for_bom(start) {
        Some((encoding, _)) if encoding == UTF_16LE || encoding == UTF_16BE => {
            return Ok(Sniffed::Utf16);
        }
        Some((encoding, bom)) => return Ok(Sniffed::Bytes { encoding, bom }),
        None => {}
    }
    if start.contains(&0) {
        return Err(ReadFailure(
            "the file is not text (it holds NUL bytes); save it as CSV".into(),
        ));
    }
    let utf8 = match std::str::from_utf8(start) {
        Ok(_) => true,
        // Only a character cut off at the end of the sample.
        Err(e) => e.error_len().is_none(),
    };
    Ok(Sniffed::Bytes {
        encoding: if utf8 { UTF_8 } else { WINDOWS_1252 },
        bom: 0,
    })
}

/// One cell's bytes as text: UTF-8 when they are, else Windows-1252 (a UTF-8 guess from the
/// file's start may meet a Windows-1252 cell further down).
pub fn decode_cell(bytes: &[u8], encoding: &'static Encoding) -> String {
    if encoding == UTF_8 {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return text.to_string();
        }
    }
    WINDOWS_1252
        .decode_without_bom_handling(bytes)
        .0
        .into_owned()
}

/// The name an encoding is reported by.
pub fn encoding_name(encoding: &'static Encoding) -> &'static str {
    if encoding == UTF_16LE {
        "utf-16le"
    } else if encoding == UTF_16BE {
        "utf-16be"
    } else if encoding == UTF_8 {
        "utf-8"
    } else {
        "windows-1252"
    }
}

/// The encoding of a name [`encoding_name`] gave.
pub fn encoding_of(name: &str) -> &'static Encoding {
    match name {
        "utf-8" => UTF_8,
        "utf-16le" => UTF_16LE,
        "utf-16be" => UTF_16BE,
        _ => WINDOWS_1252,
    }
}

/// What a binary file looks like, from its magic number.
fn binary_kind(bytes: &[u8]) -> Option<&'static str> {
    const KINDS: [(&[u8], &str); 5] = [
        (
            b"PK\x03\x04",
            "a zip archive (an .xlsx, .docx or .zip file)",
        ),
        (
            b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
            "an old Office file (.xls or .doc)",
        ),
        (b"%PDF", "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
    ];
    KINDS
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, kind)| *kind)
}

/// The delimiter of CSV text (see the module's comment); `,` when nothing tells.
pub fn detect_delimiter(text: &str) -> u8 {
    let counts = field_counts(text);
    let Some(header) = counts.first() else {
        return b',';
    };
    let mut best: Option<(usize, usize, u8)> = None;
    for (i, d) in DELIMITERS.iter().enumerate() {
        let in_header = header[i];
        if in_header == 0 {
            continue;
        }
        let agreeing = counts.iter().filter(|c| c[i] == in_header).count();
        let score = (agreeing, in_header);
        if best.is_none_or(|(a, h, _)| score > (a, h)) {
            best = Some((agreeing, in_header, *d));
        }
    }
    best.map_or(b',', |(_, _, d)| d)
}

/// For the first records of `text` (blank ones left out), how many of each delimiter each holds
/// outside quotes. Quoted fields may hold delimiters and line breaks.
fn field_counts(text: &str) -> Vec<[usize; 4]> {
    let mut records = Vec::new();
    let mut current = [0usize; 4];
    let mut blank = true;
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                } else {
                    quoted = false;
                }
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                blank = false;
            }
            '\n' | '\r' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                if !blank {
                    records.push(current);
                    if records.len() == SAMPLE_RECORDS {
                        return records;
                    }
                }
                current = [0; 4];
                blank = true;
            }
            _ => {
                if let Some(i) = DELIMITERS.iter().position(|d| *d as char == c) {
                    current[i] += 1;
                } else if !c.is_whitespace() {
                    blank = false;
                }
            }
        }
    }
    if !blank {
        records.push(current);
    }
    records
}

/// The file's text and what was told of it.
pub fn read_csv_text(bytes: &[u8]) -> Result<(Cow<'_, str>, Detected), ReadFailure> {
    let (text, encoding, bom) = decode(bytes)?;
    let delimiter = detect_delimiter(&text);
    let name = encoding_name(encoding);
    Ok((
        text,
        Detected {
            format: "csv",
            encoding: Some(name),
            bom,
            delimiter: Some(delimiter),
            sheet: None,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utf16(text: &str, le: bool) -> Vec<u8> {
        let mut out = if le {
            vec![0xFF, 0xFE]
        } else {
            vec![0xFE, 0xFF]
        };
        for unit in text.encode_utf16() {
            let b = if le {
                unit.to_le_bytes()
            } else {
                unit.to_be_bytes()
            };
            out.extend(b);
        }
        out
    }

    #[test]
    fn s5_1_a_german_excel_export_is_windows_1252_and_semicolon_separated() {
        let text = "Anrede;Vorname;Nachname;Firma;E-Mail;Straße\r\nFrau;Jürgen;Müller;\"Müller; Söhne\";j@example.de;\"Hauptstraße 1\r\n2. Hof\"\r\n";
        let (bytes, _, _) = WINDOWS_1252.encode(text);
        assert!(std::str::from_utf8(&bytes).is_err(), "not UTF-8");
        let (read, detected) = read_csv_text(&bytes).unwrap();
        assert_eq!(read, text);
        assert_eq!(
            (detected.encoding, detected.bom, detected.delimiter),
            (Some("windows-1252"), false, Some(b';'))
        );
    }

    #[test]
    fn s5_1_byte_order_marks_decide_the_encoding() {
        let text = "name\temail\nZoë\tzoe@example.com\n";
        for (bytes, name) in [
            (utf16(text, true), "utf-16le"),
            (utf16(text, false), "utf-16be"),
            (
                [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
                "utf-8",
            ),
        ] {
            let (read, detected) = read_csv_text(&bytes).unwrap();
            assert_eq!((read.as_ref(), detected.encoding), (text, Some(name)));
            assert!(detected.bom);
            assert_eq!(detected.delimiter, Some(b'\t'));
        }
        let (_, plain) = read_csv_text(text.as_bytes()).unwrap();
        assert_eq!((plain.encoding, plain.bom), (Some("utf-8"), false));
    }

    #[test]
    fn s5_1_binary_files_are_refused_naming_what_they_look_like() {
        for (bytes, kind) in [
            (b"PK\x03\x04\x14\0\x06\0".as_slice(), "zip archive"),
            (b"%PDF-1.7\n", "PDF"),
            (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0", "old Office"),
            (b"name\nab\0cd\n", "NUL"),
        ] {
            let reason = read_csv_text(bytes).unwrap_err().0;
            assert!(reason.contains(kind), "{reason}");
        }
    }

    #[test]
    fn s5_1_the_delimiter_is_the_consistent_one() {
        assert_eq!(detect_delimiter("a,b,c\n1,2,3\n"), b',');
        assert_eq!(detect_delimiter("a;b;c\n1,5;2,5;3\n"), b';');
        assert_eq!(detect_delimiter("a|b\n1|2\n"), b'|');
        // Delimiters inside quotes, even across lines, do not count.
        assert_eq!(
            detect_delimiter("name;note\n\"Ada, Countess\";\"a,\nb,c\"\nBob;x\n"),
            b';'
        );
        // A one-column file: nothing tells, the comma stands.
        assert_eq!(detect_delimiter("email\na@example.com\n"), b',');
        assert_eq!(detect_delimiter(""), b',');
    }

    #[test]
    fn s5_1_bytes_valid_as_both_are_read_as_utf8() {
        let (bytes, _, _) = WINDOWS_1252.encode("Ü€");
        assert_eq!(bytes.as_ref(), b"\xDC\x80");
        let (read, detected) = read_csv_text(&bytes).unwrap();
        assert_eq!(
            (read.as_ref(), detected.encoding),
            ("\u{700}", Some("utf-8"))
        );
    }

    proptest! {
        /// Any table written with any of the delimiters (cells with quotes, delimiters and line
        /// breaks quoted by the csv writer) is detected with that delimiter.
        #[test]
        fn s5_1_the_writers_delimiter_is_detected(
            d in proptest::sample::select(DELIMITERS.to_vec()),
            rows in proptest::collection::vec(proptest::collection::vec("[a-zA-Zäöü ,;|\t\"\n0-9]{0,12}", 3), 1..8),
        ) {
            let mut w = csv::WriterBuilder::new().delimiter(d).from_writer(vec![]);
            w.write_record(["first", "second", "third"]).unwrap();
            for r in &rows {
                w.write_record(r).unwrap();
            }
            let bytes = w.into_inner().unwrap();
            let (_, detected) = read_csv_text(&bytes).unwrap();
            prop_assert_eq!(detected.delimiter, Some(d));
        }

        /// Windows-1252 text round-trips whatever it holds, unless its bytes also happen to be
        /// valid UTF-8 with something beyond ASCII ("Ü€" is `DC 80`, which is UTF-8 for U+0700):
        /// such a file is read as UTF-8, as every detector without a byte order mark must.
        #[test]
        fn s5_1_windows_1252_text_round_trips(text in "[a-zA-Z0-9äöüÄÖÜß€é ;,\n]{1,60}") {
            let (bytes, _, _) = WINDOWS_1252.encode(&text);
            prop_assume!(bytes.is_ascii() || std::str::from_utf8(&bytes).is_err());
            let (read, _) = read_csv_text(&bytes).unwrap();
            prop_assert_eq!(read.as_ref(), text.as_str());
        }

    }
}
