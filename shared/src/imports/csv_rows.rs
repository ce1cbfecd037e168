//! CSV rows → contact input. Headers are matched case-insensitively in English and German.

use super::RowError;
use crate::FieldError;
use crate::contacts::NewContact;

/// A whole-file problem: the import fails with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFailure(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    FirstName,
    LastName,
    /// "Name": split into first and last name at the first space.
    FullName,
    Email,
    Company,
}

impl Target {
    fn from_header(header: &str) -> Option<Self> {
        let h: String = header
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect();
        Some(match h.as_str() {
            "firstname" | "givenname" | "vorname" => Self::FirstName,
            "lastname" | "surname" | "familyname" | "nachname" => Self::LastName,
            "name" | "fullname" | "contactname" | "kontakt" => Self::FullName,
            "email" | "emailaddress" | "mail" | "emailadresse" => Self::Email,
            "company" | "organization" | "organisation" | "firma" | "unternehmen" => Self::Company,
            _ => return None,
        })
    }

    /// The contact field a validation error names.
    fn field(self) -> &'static str {
        match self {
            Self::FirstName | Self::FullName => "first_name",
            Self::LastName => "last_name",
            Self::Email => "email",
            Self::Company => "company",
        }
    }
}

/// Which file column feeds which contact field.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    columns: Vec<(usize, String, Target)>,
}

#[derive(Debug, Clone)]
pub struct ParsedRow {
    /// Line number in the file; the header is line 1.
    pub line: u64,
    pub contact: NewContact,
    /// (header, value) of every mapped cell.
    cells: Vec<(String, Target, String)>,
}

impl ColumnMap {
    /// Turns a validation error of a row into a row error naming the file's column and value.
    pub fn row_error(&self, row: &ParsedRow, e: FieldError) -> RowError {
        let cell = row
            .cells
            .iter()
            .find(|(_, t, _)| t.field() == e.field)
            .or_else(|| {
                row.cells
                    .iter()
                    .find(|(_, t, _)| *t == Target::FullName && e.field == "last_name")
            });
        RowError {
            row: row.line,
            column: Some(cell.map(|(h, _, _)| h.clone()).unwrap_or(e.field)),
            value: cell.map(|(_, _, v)| v.clone()),
            rule: e.rule,
            message: e.message,
        }
    }
}

pub fn parse_contact_rows(bytes: &[u8]) -> Result<(ColumnMap, Vec<ParsedRow>), ReadFailure> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if std::str::from_utf8(bytes).is_err() {
        return Err(ReadFailure("the file is not UTF-8 text".into()));
    }
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| ReadFailure(format!("the header row cannot be read: {e}")))?
        .clone();
    let columns: Vec<(usize, String, Target)> = headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| Target::from_header(h).map(|t| (i, h.trim().to_string(), t)))
        .collect();
    if columns.is_empty() {
        return Err(ReadFailure(
            "no column maps to a contact field; expected headers such as name, first_name, last_name, email, company".into(),
        ));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ReadFailure(format!("the file is not valid CSV: {e}")))?;
        let line = record.position().map_or(0, |p| p.line());
        let mut contact = NewContact::default();
        let mut cells = Vec::new();
        for (i, header, target) in &columns {
            let value = record.get(*i).unwrap_or("").to_string();
            if value.trim().is_empty() {
                continue;
            }
            match target {
                Target::FirstName => contact.first_name = Some(value.clone()),
                Target::LastName => contact.last_name = Some(value.clone()),
                Target::Email => contact.email = Some(value.clone()),
                Target::Company => contact.company = Some(value.clone()),
                Target::FullName => {
                    let trimmed = value.trim();
                    match trimmed.split_once(char::is_whitespace) {
                        Some((first, last)) => {
                            contact.first_name.get_or_insert_with(|| first.to_string());
                            contact
                                .last_name
                                .get_or_insert_with(|| last.trim().to_string());
                        }
                        None => {
                            contact
                                .first_name
                                .get_or_insert_with(|| trimmed.to_string());
                        }
                    }
                }
            }
            cells.push((header.clone(), *target, value));
        }
        // Blank lines in spreadsheets' CSV exports are not rows.
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        rows.push(ParsedRow {
            line,
            contact,
            cells,
        });
    }
    Ok((ColumnMap { columns }, rows))
}

impl ColumnMap {
    pub fn headers(&self) -> Vec<&str> {
        self.columns.iter().map(|(_, h, _)| h.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn s5_1_maps_english_and_german_headers_and_strips_the_bom() {
        let csv = "\u{feff}Name,E-Mail,Firma,ignored\nAda Lovelace,ADA@example.com,Analytical Engines,x\n\n,,,\nGrace,grace@example.com,,y\n";
        let (map, rows) = parse_contact_rows(csv.as_bytes()).unwrap();
        assert_eq!(map.headers(), vec!["Name", "E-Mail", "Firma"]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].contact.first_name.as_deref(), Some("Ada"));
        assert_eq!(rows[0].contact.last_name.as_deref(), Some("Lovelace"));
        assert_eq!(
            rows[0].contact.company.as_deref(),
            Some("Analytical Engines")
        );
        assert_eq!(rows[1].line, 5);
        assert_eq!(rows[1].contact.last_name, None);
    }

    #[test]
    fn s5_3_unreadable_files_fail_with_a_reason() {
        assert!(
            parse_contact_rows(b"foo,bar\n1,2\n")
                .unwrap_err()
                .0
                .contains("no column maps")
        );
        assert!(
            parse_contact_rows(b"name\n\xff\xfe\n")
                .unwrap_err()
                .0
                .contains("UTF-8")
        );
    }

    #[test]
    fn row_errors_name_the_file_column_and_value() {
        let (map, rows) = parse_contact_rows(b"name,email\nBob,not-an-email\n").unwrap();
        let e = map.row_error(&rows[0], FieldError::new("email", "format", "bad"));
        assert_eq!(
            (e.row, e.column.as_deref(), e.value.as_deref()),
            (2, Some("email"), Some("not-an-email"))
        );
    }

    proptest! {
        // Any cell text survives CSV quoting and lands in the mapped field unchanged.
        #[test]
        fn cells_round_trip_through_csv(first in "[^\u{0}\u{feff}]{1,30}", email in "[a-z]{1,8}@[a-z]{1,8}\\.de") {
            prop_assume!(!first.trim().is_empty());
            let mut w = csv::Writer::from_writer(vec![]);
            w.write_record(["first_name", "email"]).unwrap();
            w.write_record([first.as_str(), email.as_str()]).unwrap();
            let bytes = w.into_inner().unwrap();
            let (_, rows) = parse_contact_rows(&bytes).unwrap();
            prop_assert_eq!(rows.len(), 1);
            prop_assert_eq!(rows[0].contact.first_name.as_deref(), Some(first.as_str()));
            prop_assert_eq!(rows[0].contact.email.as_deref(), Some(email.as_str()));
        }
    }
}
