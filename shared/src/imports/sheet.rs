//! Spreadsheets as imported tables (S5.1): `.xlsx`, `.xls` and `.ods` read with calamine, one
//! sheet (the one named, else the first that holds data). Cells become the text a person sees:
//! dates as ISO dates (with the time only when there is one), whole numbers without `.0`, other
//! numbers in full decimals (never `1.23E+09`), booleans as `true` / `false`, error cells empty.

use super::ReadFailure;
use super::table::Table;
use calamine::{Data, Reader, open_workbook_auto_from_rs};
use std::io::Cursor;

/// Whether the bytes are a workbook container (zip: `.xlsx` / `.ods`; OLE: `.xls`).
pub fn looks_like_workbook(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")
}

/// The table of sheet `sheet` (or of the first sheet with data), its format and the sheet read.
pub fn read_workbook(
    bytes: &[u8],
    sheet: Option<&str>,
) -> Result<(Table, &'static str, String), ReadFailure> {
    let mut workbook = open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| {
        ReadFailure(format!(
            "the file is not a spreadsheet that can be read (.xlsx, .xls, .ods): {e}"
        ))
    })?;
    let format = match &workbook {
        calamine::Sheets::Xlsx(_) => "xlsx",
        calamine::Sheets::Xls(_) => "xls",
        calamine::Sheets::Ods(_) => "ods",
        calamine::Sheets::Xlsb(_) => "xlsb",
    };
    let names = workbook.sheet_names();
    let chosen: Vec<String> = match sheet {
        Some(name) => match names.iter().find(|n| n.as_str() == name) {
            Some(n) => vec![n.clone()],
            None => {
                return Err(ReadFailure(format!(
                    "the workbook has no sheet \"{name}\"; its sheets: {}",
                    names.join(", ")
                )));
            }
        },
        None => names.clone(),
    };
    for name in chosen {
        let range = workbook
            .worksheet_range(&name)
            .map_err(|e| ReadFailure(format!("sheet \"{name}\" cannot be read: {e}")))?;
        let mut rows = range.rows().enumerate().map(|(i, cells)| {
            // Lines count from the sheet's first row, as the spreadsheet shows them.
            let line = (range.start().map_or(0, |(r, _)| r) as u64) + i as u64 + 1;
            (line, cells.iter().map(cell_text).collect::<Vec<String>>())
        });
        let Some((_, headers)) = rows.find(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()))
        else {
            if sheet.is_some() {
                return Err(ReadFailure(format!("sheet \"{name}\" is empty")));
            }
            continue;
        };
        let table = Table {
            headers,
            rows: rows.collect(),
        };
        return Ok((table, format, name));
    }
    Err(ReadFailure("the workbook holds no data".into()))
}

/// A cell as the text a person sees in it.
pub fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Bool(b) => b.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f),
        Data::DateTime(dt) => {
            let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            if (h, mi, s) == (0, 0, 0) {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
            }
        }
    }
}

/// A number in plain decimals: whole numbers without a fraction, others as Rust prints them
/// (the shortest text that reads back as the same number, never an exponent).
fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn s5_1_numbers_are_plain_decimals() {
        assert_eq!(number_text(1_234_567_890.0), "1234567890");
        assert_eq!(number_text(4930123456.0), "4930123456");
        assert_eq!(number_text(0.1), "0.1");
        assert_eq!(number_text(-2.5), "-2.5");
        assert_eq!(number_text(1e20), "100000000000000000000");
    }

    proptest! {
        /// Any finite number's text has no exponent and reads back as the same number.
        #[test]
        fn s5_1_number_text_round_trips(f in proptest::num::f64::NORMAL | proptest::num::f64::ZERO) {
            let text = number_text(f);
            prop_assert!(!text.contains(['e', 'E']), "{}", text);
            prop_assert_eq!(text.parse::<f64>().unwrap(), f);
        }
    }
}
