//! CSV rows → contact input. Headers are matched case-insensitively in English and German and
//! as HubSpot, Salesforce, Pipedrive and LinkedIn exports name them (see `targets`), or as an
//! explicit mapping says; every standard contact field has a column (several email and phone
//! columns fill the lists, the owner is a user's email, the team its name, a tag column is
//! split at `,` `;` or `|`, birthdays are ISO or `dd.mm.yyyy`); a column named like a custom
//! field (its key, `cf.{key}` or its label) feeds that field (S3.3, S3.5). Every row is
//! validated like every other write.

use super::ImportEntity;
use super::sheet::{looks_like_workbook, read_workbook};
use super::table::Table;
use super::targets::{ColumnMapping, DateOrder, Mapping, Target, targets_of};
use super::text::{Detected, read_csv_text};
use super::{FileFormat, RowError};
use crate::FieldError;
use crate::contacts::NewContact;
use crate::contacts::{ContactAddress, ContactLabel, EmailInput, LifecycleStatus, PhoneInput};
use crate::custom_fields::FieldDefinition;
use serde::Serialize;
use serde_json::{Map, Value};

/// A whole-file problem: the import fails with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFailure(pub String);

#[derive(Debug, Clone)]
pub(super) struct Column {
    pub(super) index: usize,
    pub(super) header: String,
    pub(super) target: Target,
    pub(super) separator: Option<String>,
}

/// A column of the file with the target a preview suggests for it, and why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    /// Its position, from 0.
    pub index: usize,
    /// Its header.
    pub column: String,
    /// The suggested target (as in a mapping), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub reason: String,
}

/// Which file column feeds which field of the import's entity.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    pub(super) entity: ImportEntity,
    pub(super) columns: Vec<Column>,
    date_order: Option<DateOrder>,
}

#[derive(Debug, Clone)]
pub struct ParsedRow {
    /// Line number in the file; the header is line 1.
    pub line: u64,
    pub contact: NewContact,
    /// A clients import: the row's client.
    pub client: crate::clients::ClientFields,
    /// The custom field cells, by field key, as text (the validator reads text forms).
    pub custom: Map<String, Value>,
    /// The record's cells as they were in the file.
    pub record: csv::StringRecord,
    /// The position in the column map of every mapped cell that is not blank.
    pub(super) cells: Vec<usize>,
    /// Cells that could not be read as their field (a date that is no date): the row fails
    /// with these, as with a validation error.
    pub problems: Vec<FieldError>,
    /// The note cell: a note activity on the row's contact.
    pub note: Option<String>,
    /// The owner cell (a user's email or id) and the team cell (a team's name or id), until
    /// they are resolved to ids.
    pub owner_cell: Option<String>,
    pub team_cell: Option<String>,
}

impl ColumnMap {
    /// Turns a validation error of a row into a row error naming the file's column and value.
    pub fn row_error(&self, row: &ParsedRow, e: FieldError) -> RowError {
        let target = |c: &usize| &self.columns[*c].target;
        let cell = row
            .cells
            .iter()
            .find(|c| {
                let f = target(c).field_of(self.entity);
                e.field == f
                    || e.field
                        .strip_prefix(f.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            })
            .or_else(|| {
                row.cells
                    .iter()
                    .find(|c| *target(c) == Target::FullName && e.field == "last_name")
            });
        RowError {
            row: row.line,
            column: Some(
                cell.map(|c| self.columns[*c].header.clone())
                    .unwrap_or(e.field),
            ),
            value: cell.and_then(|c| row.record.get(self.columns[*c].index).map(str::to_string)),
            rule: e.rule,
            message: e.message,
        }
    }
}

/// The file's rows as contact input: a workbook's sheet (`sheet`, else the first with data) or
/// CSV text. `defs`: the custom fields the importer may write.
pub fn parse_contact_rows(
    bytes: &[u8],
    defs: &[FieldDefinition],
    sheet: Option<&str>,
) -> Result<(ColumnMap, Vec<ParsedRow>, Detected), ReadFailure> {
    let (table, detected) = read_any(bytes, sheet)?;
    let (columns, rows) = map_table(table, defs)?;
    Ok((columns, rows, detected))
}

/// A whole file as a table: a workbook's sheet or CSV text (for files that are converted
/// before they are read in chunks: spreadsheets and UTF-16 text).
pub fn read_table(bytes: &[u8], sheet: Option<&str>) -> Result<(Table, FileFormat), ReadFailure> {
    let (table, d) = read_any(bytes, sheet)?;
    let format = FileFormat {
        format: d.format.to_string(),
        encoding: d.encoding.map(str::to_string),
        delimiter: d.delimiter.map(|c| (c as char).to_string()),
        sheet: d.sheet,
    };
    Ok((table, format))
}

fn read_any(bytes: &[u8], sheet: Option<&str>) -> Result<(Table, Detected), ReadFailure> {
    if looks_like_workbook(bytes) {
        let (table, format, name) = read_workbook(bytes, sheet)?;
        let detected = Detected {
            format,
            encoding: None,
            bom: false,
            delimiter: None,
            sheet: Some(name),
        };
        return Ok((table, detected));
    }
    let (text, detected) = read_csv_text(bytes)?;
    if text.trim().is_empty() {
        return Err(ReadFailure("the file is empty".into()));
    }
    let table = csv_table(&text, detected.delimiter.unwrap_or(b','))?;
    Ok((table, detected))
}

/// CSV text as a table (records of any width; quoted delimiters and line breaks).
fn csv_table(text: &str, delimiter: u8) -> Result<Table, ReadFailure> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ReadFailure(format!("the header row cannot be read: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ReadFailure(format!("the file is not valid CSV: {e}")))?;
        let line = record.position().map_or(0, |p| p.line());
        rows.push((line, record.iter().map(str::to_string).collect()));
    }
    Ok(Table { headers, rows })
}

/// The table's rows as contact input, by the columns its headers name.
fn map_table(
    table: Table,
    defs: &[FieldDefinition],
) -> Result<(ColumnMap, Vec<ParsedRow>), ReadFailure> {
    let columns = ColumnMap::from_headers(ImportEntity::Contacts, &table.headers, defs)?;
    let rows = table
        .rows
        .into_iter()
        .filter_map(|(line, record)| columns.row(line, csv::StringRecord::from(record)))
        .collect();
    Ok((columns, rows))
}

impl ColumnMap {
    /// The columns the headers name (see the module's comment); refused when none maps.
    pub fn from_headers(
        entity: ImportEntity,
        headers: &[String],
        defs: &[FieldDefinition],
    ) -> Result<ColumnMap, ReadFailure> {
        let columns: Vec<Column> = headers
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                Target::from_header(entity, h, defs).map(|target| Column {
                    index: i,
                    header: h.trim().to_string(),
                    target,
                    separator: None,
                })
            })
            .collect();
        if columns.is_empty() {
            return Err(ReadFailure(match entity {
                ImportEntity::Contacts => "no column maps to a contact field; expected headers such as name, first_name, last_name, email, company".into(),
                ImportEntity::Clients => "no column maps to a client field; expected headers such as name, domain, industry, vat_id".into(),
            }));
        }
        Ok(ColumnMap {
            entity,
            columns,
            date_order: None,
        })
    }

    /// The columns an explicit mapping names; every mistake is named by its place in the
    /// mapping (`mapping.columns[2].target`, …).
    pub fn from_mapping(
        entity: ImportEntity,
        headers: &[String],
        mapping: &Mapping,
        defs: &[FieldDefinition],
    ) -> Result<ColumnMap, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut columns: Vec<Column> = Vec::new();
        for (n, m) in mapping.columns.iter().enumerate() {
            let at = |field: &str| format!("mapping.columns[{n}].{field}");
            let Some(index) = headers.iter().position(|h| h.trim() == m.column.trim()) else {
                errors.push(FieldError::new(
                    at("column"),
                    "one_of",
                    format!(
                        "the file has no column \"{}\"; its columns: {}",
                        m.column,
                        headers.join(", ")
                    ),
                ));
                continue;
            };
            if m.target == "ignore" {
                continue;
            }
            let Some(target) = Target::from_name(entity, &m.target, defs) else {
                errors.push(FieldError::new(
                    at("target"),
                    "one_of",
                    format!(
                        "a {} field ({}), cf.{{key}} of a custom field you may write, or ignore",
                        entity.noun(),
                        targets_of(entity)
                            .iter()
                            .map(Target::name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
                continue;
            };
            if !target.repeats(entity) && columns.iter().any(|c| c.target == target) {
                errors.push(FieldError::new(
                    at("target"),
                    "unique",
                    format!("another column already fills {}", m.target),
                ));
                continue;
            }
            if columns.iter().any(|c| c.index == index) {
                errors.push(FieldError::new(
                    at("column"),
                    "unique",
                    "this column is mapped twice",
                ));
                continue;
            }
            if m.separator
                .as_deref()
                .is_some_and(|s| s.is_empty() || target != Target::Tags)
            {
                errors.push(FieldError::new(
                    at("separator"),
                    "tags_only",
                    "a non-empty separator, for a tags column only",
                ));
                continue;
            }
            columns.push(Column {
                index,
                header: headers[index].trim().to_string(),
                target,
                separator: m.separator.clone(),
            });
        }
        if errors.is_empty() && columns.is_empty() {
            errors.push(FieldError::new(
                "mapping.columns",
                "required",
                format!("map at least one column to a {} field", entity.noun()),
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ColumnMap {
            entity,
            columns,
            date_order: mapping.date_order,
        })
    }

    /// Each header with the target it would get and why (a preview's suggestions).
    pub fn suggestions(
        entity: ImportEntity,
        headers: &[String],
        defs: &[FieldDefinition],
    ) -> Vec<Suggestion> {
        headers
            .iter()
            .enumerate()
            .map(|(index, h)| {
                let (target, reason) = match Target::standard_of(entity, h) {
                    Some(t) => (
                        Some(t.name()),
                        "the header is a name of this field (English, German, or as HubSpot, Salesforce, Pipedrive or LinkedIn export it)",
                    ),
                    None => match Target::from_header(entity, h, defs) {
                        Some(t) => (Some(t.name()), "the header is this custom field's key, cf.key or label"),
                        None => (None, "no field has this name; the column is ignored unless mapped"),
                    },
                };
                Suggestion {
                    index,
                    column: h.clone(),
                    target,
                    reason: reason.into(),
                }
            })
            .collect()
    }

    /// The mapping this column map is (for the import record and templates).
    pub fn to_mapping(&self) -> Mapping {
        Mapping {
            columns: self
                .columns
                .iter()
                .map(|c| ColumnMapping {
                    column: c.header.clone(),
                    target: c.target.name(),
                    separator: c.separator.clone(),
                })
                .collect(),
            date_order: self.date_order,
        }
    }

    /// One record of the file as contact input; `None` for a blank one (spreadsheets' CSV
    /// exports hold blank lines that are not rows).
    pub fn row(&self, line: u64, record: csv::StringRecord) -> Option<ParsedRow> {
        if record.iter().all(|c| c.trim().is_empty()) {
            return None;
        }
        if self.entity == ImportEntity::Clients {
            return Some(self.client_row(line, record));
        }
        let mut contact = NewContact::default();
        let mut custom = Map::new();
        let mut cells = Vec::new();
        let mut problems = Vec::new();
        let mut phones: Vec<PhoneInput> = Vec::new();
        let mut address = ContactAddress::default();
        let mut emails: Vec<String> = Vec::new();
        let (mut owner_cell, mut team_cell) = (None, None);
        let mut note = None;
        for (position, column) in self.columns.iter().enumerate() {
            let Column {
                index,
                target,
                separator,
                ..
            } = column;
            let Some(value) = record.get(*index).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            match target {
                Target::FirstName => contact.first_name = Some(value.to_string()),
                Target::LastName => contact.last_name = Some(value.to_string()),
                Target::Email => emails.push(value.to_string()),
                Target::Company => contact.company = Some(value.to_string()),
                Target::JobTitle => contact.job_title = Some(value.to_string()),
                Target::Website => contact.website = Some(value.to_string()),
                Target::Street => address.street = Some(value.to_string()),
                Target::PostalCode => address.postal_code = Some(value.to_string()),
                Target::City => address.city = Some(value.to_string()),
                Target::Region => address.region = Some(value.to_string()),
                Target::Country => address.country = Some(value.trim().to_uppercase()),
                Target::Phone { mobile } => phones.push(PhoneInput {
                    number: value.to_string(),
                    label: mobile.then_some(ContactLabel::Mobile),
                    primary: phones.is_empty(),
                    country: None,
                }),
                Target::Birthday => match parse_date_in(value, self.date_order) {
                    Some(day) => contact.birthday = Some(day),
                    None => problems.push(FieldError::new(
                        "birthday",
                        "date",
                        "a date such as 1970-02-01 or 01.02.1970",
                    )),
                },
                Target::Tags => contact
                    .tags
                    .get_or_insert_with(Vec::new)
                    .extend(split_tags(value, separator.as_deref())),
                Target::LeadSource => contact.lead_source = Some(source_key(value)),
                Target::Status => match lifecycle_status(value) {
                    Some(status) => contact.lifecycle_status = Some(status),
                    None => problems.push(FieldError::new(
                        "lifecycle_status",
                        "one_of",
                        "lead, prospect, customer or inactive (or their German or HubSpot names)",
                    )),
                },
                Target::Custom(key) => {
                    custom.insert(key.clone(), Value::String(value.to_string()));
                }
                Target::Owner => owner_cell = Some(value.trim().to_string()),
                Target::Team => team_cell = Some(value.trim().to_string()),
                Target::Note => note = Some(value.to_string()),
                // A clients import's targets (its rows are read by `client_row`).
                Target::ClientName
                | Target::LegalName
                | Target::Domain
                | Target::Industry
                | Target::Size
                | Target::VatId
                | Target::Currency
                | Target::PaymentTerms => continue,
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
            cells.push(position);
        }
        match emails.len() {
            0 => {}
            1 => contact.email = emails.pop(),
            _ => {
                contact.emails = Some(
                    emails
                        .into_iter()
                        .enumerate()
                        .map(|(i, address)| EmailInput {
                            address,
                            label: None,
                            primary: i == 0,
                        })
                        .collect(),
                );
            }
        }
        if !phones.is_empty() {
            contact.phones = Some(phones);
        }
        if address != ContactAddress::default() {
            contact.addresses = Some(vec![address]);
        }
        Some(ParsedRow {
            line,
            contact,
            client: Default::default(),
            custom,
            record,
            cells,
            problems,
            note,
            owner_cell,
            team_cell,
        })
    }
}

/// A tags cell split at its column's separator (default: any of `,` `;` `|`).
pub(super) fn split_tags(value: &str, separator: Option<&str>) -> Vec<String> {
    let parts: Vec<&str> = match separator {
        Some(sep) => value.split(sep).collect(),
        None => value.split([',', ';', '|']).collect(),
    };
    parts
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// A date cell as [`parse_date`] reads it, and slashed dates in the order a mapping gives.
fn parse_date_in(raw: &str, order: Option<DateOrder>) -> Option<chrono::NaiveDate> {
    parse_date(raw).or_else(|| {
        let day = raw.trim().split([' ', 'T']).next().unwrap_or("");
        let format = match order? {
            DateOrder::Dmy => "%d/%m/%Y",
            DateOrder::Mdy => "%m/%d/%Y",
        };
        chrono::NaiveDate::parse_from_str(day, format).ok()
    })
}

/// A date cell: ISO (`1970-02-01`, also with a time after it) or German (`01.02.1970`,
/// `1.2.1970`). Slashed dates are refused: `01/02/1970` is January or February depending on
/// who wrote it.
pub fn parse_date(raw: &str) -> Option<chrono::NaiveDate> {
    let raw = raw.trim();
    let day = raw.split([' ', 'T']).next().unwrap_or(raw);
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(day, "%d.%m.%Y"))
        .ok()
}

/// A lead source cell as a key: `Web Form` → `web-form`.
fn source_key(raw: &str) -> String {
    let mut key = String::new();
    for c in raw.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            key.push(c);
        } else if !key.ends_with('-') && !key.is_empty() {
            key.push('-');
        }
    }
    key.trim_end_matches('-').to_string()
}

/// A lifecycle status cell in English, German or as HubSpot's lifecycle stages.
fn lifecycle_status(raw: &str) -> Option<LifecycleStatus> {
    let folded: String = raw
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    Some(match folded.as_str() {
        "lead" | "subscriber" | "neu" => LifecycleStatus::Lead,
        "prospect"
        | "interessent"
        | "marketingqualifiedlead"
        | "salesqualifiedlead"
        | "opportunity"
        | "qualifiziert" => LifecycleStatus::Prospect,
        "customer" | "kunde" | "evangelist" => LifecycleStatus::Customer,
        "inactive" | "inaktiv" | "other" => LifecycleStatus::Inactive,
        _ => return None,
    })
}

impl ColumnMap {
    pub fn headers(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.header.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn s5_1_maps_english_and_german_headers_and_strips_the_bom() {
        let csv = "\u{feff}Name,E-Mail,Firma,ignored\nAda Lovelace,ADA@example.com,Analytical Engines,x\n\n,,,\nGrace,grace@example.com,,y\n";
        let (map, rows, _) = parse_contact_rows(csv.as_bytes(), &[], None).unwrap();
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
    fn s5_2_every_standard_field_has_a_column_in_english_german_and_hubspot_names() {
        let german = "Anrede;Vorname;Nachname;Firma;E-Mail;Telefon;Handy;Straße;PLZ;Ort;Land;Geburtstag;Position;Schlagworte;Quelle;Status\n\
                      Herr;Jürgen;Müller;ACME;j@example.de;030 123;0171 9;Hauptstr. 1;10115;Berlin;de;01.02.1970;CEO;\"vip, b2b\";Messe 2026;Kunde\n";
        let (map, rows, _) = parse_contact_rows(german.as_bytes(), &[], None).unwrap();
        assert_eq!(
            map.headers().len(),
            15,
            "all but Anrede: {:?}",
            map.headers()
        );
        let c = &rows[0].contact;
        let phones: Vec<_> = c
            .phones
            .as_ref()
            .unwrap()
            .iter()
            .map(|p| (p.number.as_str(), p.label, p.primary))
            .collect();
        assert_eq!(
            phones,
            [
                ("030 123", None, true),
                ("0171 9", Some(ContactLabel::Mobile), false)
            ]
        );
        let a = &c.addresses.as_ref().unwrap()[0];
        assert_eq!(
            (
                a.street.as_deref(),
                a.postal_code.as_deref(),
                a.city.as_deref(),
                a.country.as_deref()
            ),
            (
                Some("Hauptstr. 1"),
                Some("10115"),
                Some("Berlin"),
                Some("DE")
            )
        );
        assert_eq!(c.birthday, chrono::NaiveDate::from_ymd_opt(1970, 2, 1));
        assert_eq!(c.job_title.as_deref(), Some("CEO"));
        assert_eq!(c.tags, Some(vec!["vip".to_string(), "b2b".to_string()]));
        assert_eq!(c.lead_source.as_deref(), Some("messe-2026"));
        assert_eq!(c.lifecycle_status, Some(LifecycleStatus::Customer));

        let hubspot = "First Name,Last Name,Email,Phone Number,Mobile Phone Number,Company Name,Job Title,Street Address,City,State/Region,Postal Code,Country/Region,Lifecycle Stage,Original Source,Website URL\n\
                       Ada,Lovelace,ada@example.com,+44 20 1,+44 7700 1,Engines,Countess,1 Street,London,,N1,GB,salesqualifiedlead,Organic Search,https://ada.example\n";
        let (map, rows, _) = parse_contact_rows(hubspot.as_bytes(), &[], None).unwrap();
        assert_eq!(map.headers().len(), 15, "{:?}", map.headers());
        let c = &rows[0].contact;
        assert_eq!(c.lifecycle_status, Some(LifecycleStatus::Prospect));
        assert_eq!(c.lead_source.as_deref(), Some("organic-search"));
        assert_eq!(c.website.as_deref(), Some("https://ada.example"));
    }

    #[test]
    fn s5_3_a_cell_that_is_not_its_fields_kind_fails_the_row() {
        let (map, rows, _) = parse_contact_rows(
            b"email,birthday,status\na@example.com,02/01/1970,vip\n",
            &[],
            None,
        )
        .unwrap();
        let rules: Vec<_> = rows[0]
            .problems
            .iter()
            .map(|p| (p.field.as_str(), p.rule.as_str()))
            .collect();
        assert_eq!(
            rules,
            [("birthday", "date"), ("lifecycle_status", "one_of")]
        );
        let e = map.row_error(&rows[0], rows[0].problems[0].clone());
        assert_eq!(
            (e.column.as_deref(), e.value.as_deref()),
            (Some("birthday"), Some("02/01/1970"))
        );
    }

    #[test]
    fn s5_3_unreadable_files_fail_with_a_reason() {
        assert!(
            parse_contact_rows(b"foo,bar\n1,2\n", &[], None)
                .unwrap_err()
                .0
                .contains("no column maps")
        );
        assert!(
            parse_contact_rows(b"name\nab\0c\n", &[], None)
                .unwrap_err()
                .0
                .contains("not text")
        );
    }

    #[test]
    fn row_errors_name_the_file_column_and_value() {
        let (map, rows, _) =
            parse_contact_rows(b"name,email\nBob,not-an-email\n", &[], None).unwrap();
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
            let (_, rows, _) = parse_contact_rows(&bytes, &[], None).unwrap();
            prop_assert_eq!(rows.len(), 1);
            prop_assert_eq!(rows[0].contact.first_name.as_deref(), Some(first.as_str()));
            prop_assert_eq!(rows[0].contact.email.as_deref(), Some(email.as_str()));
        }
    }
}
