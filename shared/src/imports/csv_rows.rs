//! CSV rows → contact input. Headers are matched case-insensitively in English and German;
//! a column named like a custom field (its key, `cf.{key}` or its label) feeds that field (S3.3,
//! S3.5), validated like every other write.

use super::RowError;
use super::text::{Detected, read_csv_text};
use crate::FieldError;
use crate::contacts::NewContact;
use crate::custom_fields::FieldDefinition;
use serde_json::{Map, Value};

/// A whole-file problem: the import fails with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFailure(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    FirstName,
    LastName,
    /// "Name": split into first and last name at the first space.
    FullName,
    Email,
    Company,
    /// A custom field, by key.
    Custom(String),
}

impl Target {
    /// A standard field by its English or German name, else a custom field by key, `cf.{key}`
    /// or label (archived fields take no new values and are not mapped).
    fn from_header(header: &str, defs: &[FieldDefinition]) -> Option<Self> {
        if let Some(t) = Self::standard(header) {
            return Some(t);
        }
        let h = header.trim();
        let key = h.strip_prefix("cf.").unwrap_or(h);
        defs.iter()
            .filter(|d| !d.archived)
            .find(|d| d.key == key || d.label.eq_ignore_ascii_case(h))
            .map(|d| Self::Custom(d.key.clone()))
    }

    fn standard(header: &str) -> Option<Self> {
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
    fn field(&self) -> String {
        match self {
            Self::FirstName | Self::FullName => "first_name".into(),
            Self::LastName => "last_name".into(),
            Self::Email => "email".into(),
            Self::Company => "company".into(),
            Self::Custom(key) => format!("custom_fields.{key}"),
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
    /// The custom field cells, by field key, as text (the validator reads text forms).
    pub custom: Map<String, Value>,
    /// (header, value) of every mapped cell.
    cells: Vec<(String, Target, String)>,
}

impl ColumnMap {
    /// Turns a validation error of a row into a row error naming the file's column and value.
    pub fn row_error(&self, row: &ParsedRow, e: FieldError) -> RowError {
        let cell = row
            .cells
            .iter()
            .find(|(_, t, _)| {
                let f = t.field();
                e.field == f || e.field.starts_with(&format!("{f}."))
            })
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

/// `defs`: the custom fields the importer may write.
pub fn parse_contact_rows(
    bytes: &[u8],
    defs: &[FieldDefinition],
) -> Result<(ColumnMap, Vec<ParsedRow>, Detected), ReadFailure> {
    let (text, detected) = read_csv_text(bytes)?;
    if text.trim().is_empty() {
        return Err(ReadFailure("the file is empty".into()));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .delimiter(detected.delimiter)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ReadFailure(format!("the header row cannot be read: {e}")))?
        .clone();
    let columns: Vec<(usize, String, Target)> = headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| Target::from_header(h, defs).map(|t| (i, h.trim().to_string(), t)))
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
        let mut custom = Map::new();
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
                Target::Custom(key) => {
                    custom.insert(key.clone(), Value::String(value.clone()));
                }
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
            cells.push((header.clone(), target.clone(), value));
        }
        // Blank lines in spreadsheets' CSV exports are not rows.
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        rows.push(ParsedRow {
            line,
            contact,
            custom,
            cells,
        });
    }
    Ok((ColumnMap { columns }, rows, detected))
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
        let (map, rows, _) = parse_contact_rows(csv.as_bytes(), &[]).unwrap();
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
            parse_contact_rows(b"foo,bar\n1,2\n", &[])
                .unwrap_err()
                .0
                .contains("no column maps")
        );
        assert!(
            parse_contact_rows(b"name\nab\0c\n", &[])
                .unwrap_err()
                .0
                .contains("not text")
        );
    }

    #[test]
    fn row_errors_name_the_file_column_and_value() {
        let (map, rows, _) = parse_contact_rows(b"name,email\nBob,not-an-email\n", &[]).unwrap();
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
            let (_, rows, _) = parse_contact_rows(&bytes, &[]).unwrap();
            prop_assert_eq!(rows.len(), 1);
            prop_assert_eq!(rows[0].contact.first_name.as_deref(), Some(first.as_str()));
            prop_assert_eq!(rows[0].contact.email.as_deref(), Some(email.as_str()));
        }
    }
}
