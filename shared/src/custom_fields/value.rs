//! The one typed value model of custom fields and the one validator every write path uses
//! (S3.2, S3.3): API create and PATCH, imports, workflow actions.
//!
//! [`validate`] turns a raw JSON value into a normalised [`FieldValue`] or reports every
//! broken rule; [`validate_values`] applies the `custom_fields` object of a create or PATCH
//! body to a record's stored values (merge-patch semantics, required, archived, visibility);
//! [`visible_values`] is what a caller reads.
//!
//! Besides the plain JSON shapes (see the module above), the validator takes the text form an
//! import file carries for integers (`"42"`) and booleans (`"true"`), a select option's label
//! instead of its id, and a single option id for a multi-select. It never takes a JSON float
//! for a decimal or an amount: the float may already have lost digits.

use super::definition::{FieldDefinition, FieldType, SelectOption};
use super::limits::*;
use crate::errors::FieldErrors;
use crate::values::currency::minor_digits;
use crate::values::decimal::{DecimalError, Exact};
use crate::values::email::normalize_email;
use crate::values::phone::Phone;
use crate::values::text::normalize_text;
use crate::{Caller, FieldError};
use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use uuid::Uuid;

/// A validated, normalised custom field value. Its serde form is self-describing
/// (`{"decimal": "12.50"}`) and is what storage keeps, so a stored value can be checked
/// against a changed definition; [`Self::to_json`] is the plain shape a client reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldValue {
    /// Text, long text, email (lower-cased), phone (E.164 when known), URL.
    Text(String),
    Integer(i64),
    Decimal(Exact),
    Currency(Money),
    Date(NaiveDate),
    /// UTC, millisecond precision.
    DateTime(DateTime<Utc>),
    Boolean(bool),
    /// A select field's option id.
    Select(String),
    /// A multi-select field's option ids, without repeats, in the definition's option order.
    MultiSelect(Vec<String>),
    User(String),
    Contact(Uuid),
    Client(Uuid),
}

pub use crate::values::money::Money;

/// A record a value points at; whether it exists and the writer may see it is the caller's
/// check (it needs storage).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reference {
    User(String),
    Contact(Uuid),
    Client(Uuid),
}

impl FieldValue {
    /// The plain JSON shape a web client sends and reads.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Text(s) | Self::Select(s) | Self::User(s) => Value::String(s.clone()),
            Self::Integer(n) => Value::from(*n),
            Self::Decimal(d) => Value::String(d.to_string()),
            Self::Currency(m) => serde_json::json!({
                "amount": m.amount.to_string(),
                "currency": m.currency,
            }),
            Self::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
            Self::DateTime(t) => Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true)),
            Self::Boolean(b) => Value::Bool(*b),
            Self::MultiSelect(ids) => Value::from(ids.clone()),
            Self::Contact(id) | Self::Client(id) => Value::String(id.to_string()),
        }
    }

    /// The records this value points at.
    pub fn references(&self) -> Vec<Reference> {
        match self {
            Self::User(u) => vec![Reference::User(u.clone())],
            Self::Contact(id) => vec![Reference::Contact(*id)],
            Self::Client(id) => vec![Reference::Client(*id)],
            _ => Vec::new(),
        }
    }
}

/// The values in the plain JSON shape, keyed by field key: a record's `custom_fields` as the
/// API returns it.
pub fn values_to_json(values: &BTreeMap<String, FieldValue>) -> Map<String, Value> {
    values
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json()))
        .collect()
}

/// The references a write introduces (set or changed, not kept as they were), with their
/// field keys: each must exist in the tenant and be visible to the writer, or the write is
/// refused with [`reference_error`].
pub fn changed_references(
    before: Option<&BTreeMap<String, FieldValue>>,
    after: &BTreeMap<String, FieldValue>,
) -> Vec<(String, Reference)> {
    after
        .iter()
        .filter(|(k, v)| before.and_then(|b| b.get(*k)) != Some(*v))
        .flat_map(|(k, v)| v.references().into_iter().map(move |r| (k.clone(), r)))
        .collect()
}

/// The error for a reference that does not exist or that the writer may not see: both read
/// the same, so the answer reveals nothing.
pub fn reference_error(key: &str) -> FieldError {
    FieldError::new(
        crate::errors::FieldPath::new("custom_fields")
            .field(key)
            .as_str(),
        "reference",
        "must refer to an existing record you can see",
    )
}

/// Validates and normalises one value against its definition; `field_path` names it in the
/// errors (`custom_fields.budget`). `null`, a blank string and an empty list are "no value":
/// an error `required` here; [`validate_values`] reads them as "clear".
pub fn validate(
    def: &FieldDefinition,
    raw: &Value,
    field_path: &str,
) -> Result<FieldValue, Vec<FieldError>> {
    match validate_type(&def.field_type, raw, field_path, None)? {
        Some(v) => Ok(v),
        None => Err(vec![required(field_path)]),
    }
}

fn required(path: &str) -> FieldError {
    FieldError::new(path, "required", "a value is required")
}

/// The validator proper: `Ok(None)` for "no value". `existing` is the stored value, which may
/// keep an archived option.
pub(crate) fn validate_type(
    ty: &FieldType,
    raw: &Value,
    path: &str,
    existing: Option<&FieldValue>,
) -> Result<Option<FieldValue>, Vec<FieldError>> {
    if raw.is_null() {
        return Ok(None);
    }
    let mut c = Check {
        path,
        errors: FieldErrors::new(),
    };
    let value = match ty {
        FieldType::Text {
            min_length,
            max_length,
            regex,
        } => text(&mut c, raw, *min_length, *max_length, regex.as_deref()),
        FieldType::LongText { max_length } => long_text(&mut c, raw, *max_length),
        FieldType::Integer { min, max } => integer(&mut c, raw, *min, *max),
        FieldType::Decimal { min, max, scale } => decimal(&mut c, raw, *min, *max, *scale),
        FieldType::Currency {
            currencies,
            min,
            max,
        } => currency(&mut c, raw, currencies.as_deref(), *min, *max),
        FieldType::Date { min, max } => date(&mut c, raw, *min, *max),
        FieldType::DateTime { min, max } => date_time(&mut c, raw, *min, *max),
        FieldType::Boolean => boolean(&mut c, raw),
        FieldType::Select { options } => select(&mut c, raw, options, existing),
        FieldType::MultiSelect {
            options,
            min_items,
            max_items,
        } => multi_select(&mut c, raw, options, *min_items, *max_items, existing),
        FieldType::Email => email(&mut c, raw),
        FieldType::Phone { default_country } => phone(&mut c, raw, default_country.as_deref()),
        FieldType::Url => url(&mut c, raw),
        FieldType::UserRef => user_ref(&mut c, raw),
        FieldType::ContactRef => c.uuid(raw).map(FieldValue::Contact),
        FieldType::ClientRef => c.uuid(raw).map(FieldValue::Client),
    };
    c.errors.finish(value)
}

/// The errors of one value, all under its path.
struct Check<'a> {
    path: &'a str,
    errors: FieldErrors,
}

impl Check<'_> {
    fn push(&mut self, rule: &str, message: impl Into<String>) {
        self.errors.push(self.path, rule, message);
    }

    /// A finding deeper in the value: `suffix` is `.amount`, `[2]`, …
    fn push_at(&mut self, suffix: &str, rule: &str, message: impl Into<String>) {
        self.errors
            .push(format!("{}{suffix}", self.path), rule, message);
    }

    fn type_error(&mut self, expected: &str) {
        self.push("type", format!("must be {expected}"));
    }

    /// The trimmed string, or `None` (with a type error when it is not a string, without
    /// one when it is blank).
    fn string<'v>(&mut self, raw: &'v Value, expected: &str) -> Option<&'v str> {
        match raw {
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.trim()),
            _ => {
                self.type_error(expected);
                None
            }
        }
    }

    fn uuid(&mut self, raw: &Value) -> Option<Uuid> {
        let s = self.string(raw, "an id string")?;
        let id = Uuid::parse_str(s).ok();
        if id.is_none() {
            self.push("format", "must be a record id (a UUID)");
        }
        id
    }

    fn bounds<T: PartialOrd + std::fmt::Display>(
        &mut self,
        suffix: &str,
        value: &T,
        min: Option<T>,
        max: Option<T>,
    ) {
        if let Some(min) = min.filter(|m| value < m) {
            self.push_at(suffix, "min", format!("must be at least {min}"));
        }
        if let Some(max) = max.filter(|m| value > m) {
            self.push_at(suffix, "max", format!("must be at most {max}"));
        }
    }
}

fn text(
    c: &mut Check,
    raw: &Value,
    min_length: Option<u32>,
    max_length: Option<u32>,
    regex: Option<&str>,
) -> Option<FieldValue> {
    let s = c.string(raw, "a string")?;
    let max = max_length.map_or(TEXT_MAX, |m| m as usize);
    let t = match normalize_text(s, max) {
        Ok(t) => t?,
        Err(rule) => {
            c.push(rule.code(), rule.message(max));
            return None;
        }
    };
    if let Some(min) = min_length.filter(|m| t.chars().count() < *m as usize) {
        c.push("min_length", format!("must be at least {min} characters"));
    }
    if let Some(pattern) = regex {
        // A definition's pattern compiled when it was validated; a failure here is a stored
        // definition that bypassed validation, and is reported rather than ignored.
        if !compile_pattern(pattern).is_ok_and(|re| re.is_match(&t)) {
            c.push("pattern", format!("must match the pattern {pattern}"));
        }
    }
    Some(FieldValue::Text(t))
}

/// Line breaks are kept (normalised to `\n`), other control characters refused; leading and
/// trailing whitespace trimmed.
fn long_text(c: &mut Check, raw: &Value, max_length: Option<u32>) -> Option<FieldValue> {
    let s = c.string(raw, "a string")?;
    let t = s.replace("\r\n", "\n").replace('\r', "\n");
    if t.chars()
        .any(|ch| ch.is_control() && ch != '\n' && ch != '\t')
    {
        c.push(
            "no_control_characters",
            "must not contain control characters",
        );
        return None;
    }
    let max = max_length.map_or(LONG_TEXT_MAX, |m| m as usize);
    if t.chars().count() > max {
        c.push("max_length", format!("must be at most {max} characters"));
        return None;
    }
    Some(FieldValue::Text(t))
}

fn integer(c: &mut Check, raw: &Value, min: Option<i64>, max: Option<i64>) -> Option<FieldValue> {
    let n = match raw {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() <= INTEGER_MAX as f64)
                .map(|f| f as i64)
        }),
        Value::String(s) if s.trim().is_empty() => return None,
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    let Some(n) = n.filter(|n| n.abs() <= INTEGER_MAX) else {
        c.type_error(&format!("a whole number within ±{INTEGER_MAX}"));
        return None;
    };
    c.bounds("", &n, min, max);
    Some(FieldValue::Integer(n))
}

/// The decimal text of a raw value: a string, or a whole JSON number (exact); a JSON float is
/// refused because it may already have lost digits.
fn decimal_text(c: &mut Check, raw: &Value, suffix: &str) -> Option<String> {
    match raw {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        Value::Number(_) => {
            c.push_at(
                suffix,
                "type",
                "give decimals as a string such as \"12.50\": a JSON number may already have lost digits",
            );
            None
        }
        _ => {
            c.push_at(
                suffix,
                "type",
                "must be a decimal number as a string, such as \"12.50\"",
            );
            None
        }
    }
}

/// Parses and fits the scale; errors under `suffix`.
fn parse_exact(c: &mut Check, text: &str, max_scale: u32, suffix: &str) -> Option<Exact> {
    let scale_error = |c: &mut Check| {
        c.push_at(
            suffix,
            "scale",
            format!("must have at most {max_scale} decimal places"),
        )
    };
    match Exact::parse(text) {
        Ok(d) => {
            let fitted = d.fit_scale(max_scale);
            if fitted.is_none() {
                scale_error(c);
            }
            fitted
        }
        Err(DecimalError::Scale) => {
            scale_error(c);
            None
        }
        Err(DecimalError::Format | DecimalError::IntegerDigits) => {
            c.push_at(
                suffix,
                "format",
                format!(
                    "must be a decimal number like -1234.56, with at most {MAX_DECIMAL_INTEGER_DIGITS} digits before the point"
                ),
            );
            None
        }
    }
}

fn decimal(
    c: &mut Check,
    raw: &Value,
    min: Option<Exact>,
    max: Option<Exact>,
    scale: Option<u32>,
) -> Option<FieldValue> {
    let text = decimal_text(c, raw, "")?;
    let d = parse_exact(c, &text, scale.unwrap_or(MAX_DECIMAL_SCALE), "")?;
    c.bounds("", &d, min, max);
    Some(FieldValue::Decimal(d))
}

fn currency(
    c: &mut Check,
    raw: &Value,
    allowed: Option<&[String]>,
    min: Option<Exact>,
    max: Option<Exact>,
) -> Option<FieldValue> {
    let Value::Object(obj) = raw else {
        c.type_error("an object like {\"amount\": \"12.50\", \"currency\": \"EUR\"}");
        return None;
    };
    for key in obj.keys().filter(|k| *k != "amount" && *k != "currency") {
        c.push_at(
            &format!(".{key}"),
            "unknown_field",
            "only amount and currency",
        );
    }
    let code = currency_code(c, obj.get("currency"), allowed);
    let amount_raw = obj.get("amount").unwrap_or(&Value::Null);
    let text = decimal_text(c, amount_raw, ".amount");
    if text.is_none() && c.errors.is_empty() {
        c.push_at(".amount", "required", "an amount is required");
    }
    let (code, text) = (code?, text?);
    let digits = minor_digits(&code)?;
    let amount = parse_exact(c, &text, digits, ".amount")?.with_scale(digits);
    c.bounds(".amount", &amount, min, max);
    Some(FieldValue::Currency(Money {
        amount,
        currency: code,
    }))
}

/// The upper-cased ISO 4217 code; when it is missing and the field allows exactly one
/// currency, that one.
fn currency_code(c: &mut Check, raw: Option<&Value>, allowed: Option<&[String]>) -> Option<String> {
    let given = match raw {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_ascii_uppercase()),
        Some(_) => {
            c.push_at(".currency", "type", "must be an ISO 4217 code like \"EUR\"");
            return None;
        }
    };
    let code = match (given, allowed) {
        (Some(code), _) => code,
        (None, Some([only])) => only.clone(),
        (None, _) => {
            c.push_at(".currency", "required", "a currency is required");
            return None;
        }
    };
    if minor_digits(&code).is_none() {
        c.push_at(
            ".currency",
            "currency",
            "must be an ISO 4217 currency code like EUR",
        );
        return None;
    }
    if let Some(list) = allowed.filter(|l| !l.contains(&code)) {
        c.push_at(
            ".currency",
            "currency",
            format!("must be one of {}", list.join(", ")),
        );
        return None;
    }
    Some(code)
}

fn in_year_range(year: i32) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&year)
}

fn date(
    c: &mut Check,
    raw: &Value,
    min: Option<NaiveDate>,
    max: Option<NaiveDate>,
) -> Option<FieldValue> {
    let s = c.string(raw, "a date string like \"2026-11-29\"")?;
    // Exactly YYYY-MM-DD: chrono alone would also take "2026-1-5".
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| s.len() == 10 && in_year_range(d.year()));
    let Some(d) = d else {
        c.push("format", "must be a date like 2026-11-29");
        return None;
    };
    c.bounds("", &d, min, max);
    Some(FieldValue::Date(d))
}

fn date_time(
    c: &mut Check,
    raw: &Value,
    min: Option<DateTime<Utc>>,
    max: Option<DateTime<Utc>>,
) -> Option<FieldValue> {
    let s = c.string(raw, "an RFC 3339 date-time string")?;
    let t = DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| in_year_range(t.year()))
        .and_then(|t| DateTime::from_timestamp_millis(t.timestamp_millis()));
    let Some(t) = t else {
        c.push(
            "format",
            "must be an RFC 3339 date-time like 2026-11-29T14:30:00Z",
        );
        return None;
    };
    c.bounds("", &t, min, max);
    Some(FieldValue::DateTime(t))
}

fn boolean(c: &mut Check, raw: &Value) -> Option<FieldValue> {
    let b = match raw {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().is_empty() => return None,
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    };
    if b.is_none() {
        c.type_error("true or false");
    }
    b.map(FieldValue::Boolean)
}

/// The option an id (or, failing that, a label, case- and accent-insensitively) names.
/// Archived options are found only when `keep` allows their id (the stored value had it).
fn find_option<'o>(
    options: &'o [SelectOption],
    given: &str,
    keep: &dyn Fn(&str) -> bool,
) -> Result<&'o SelectOption, &'static str> {
    if let Some(o) = options.iter().find(|o| o.id == given) {
        return if o.archived && !keep(&o.id) {
            Err("archived")
        } else {
            Ok(o)
        };
    }
    let folded = crate::values::search::fold(given);
    options
        .iter()
        .find(|o| !o.archived && crate::values::search::fold(&o.label) == folded)
        .ok_or("unknown")
}

fn option_error(c: &mut Check, suffix: &str, options: &[SelectOption], why: &str) {
    let message = if why == "archived" {
        "the option is archived and cannot be chosen any more".to_string()
    } else {
        let ids: Vec<&str> = options
            .iter()
            .filter(|o| !o.archived)
            .map(|o| o.id.as_str())
            .take(20)
            .collect();
        format!("must be one of the options: {}", ids.join(", "))
    };
    c.push_at(suffix, "option", message);
}

fn select(
    c: &mut Check,
    raw: &Value,
    options: &[SelectOption],
    existing: Option<&FieldValue>,
) -> Option<FieldValue> {
    let given = c.string(raw, "an option id string")?;
    let keep = |id: &str| matches!(existing, Some(FieldValue::Select(e)) if e == id);
    match find_option(options, given, &keep) {
        Ok(o) => Some(FieldValue::Select(o.id.clone())),
        Err(why) => {
            option_error(c, "", options, why);
            None
        }
    }
}

fn multi_select(
    c: &mut Check,
    raw: &Value,
    options: &[SelectOption],
    min_items: Option<u32>,
    max_items: Option<u32>,
    existing: Option<&FieldValue>,
) -> Option<FieldValue> {
    let items: Vec<&Value> = match raw {
        Value::Array(items) => items.iter().collect(),
        // One id for a one-item list: also what a select value becomes after select → multi.
        Value::String(_) => vec![raw],
        _ => {
            c.type_error("a list of option ids");
            return None;
        }
    };
    let kept: &[String] = match existing {
        Some(FieldValue::MultiSelect(ids)) => ids,
        Some(FieldValue::Select(id)) => std::slice::from_ref(id),
        _ => &[],
    };
    let keep = |id: &str| kept.iter().any(|k| k == id);
    let mut chosen: Vec<usize> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let suffix = format!("[{i}]");
        let Value::String(given) = item else {
            c.push_at(&suffix, "type", "must be an option id string");
            continue;
        };
        if given.trim().is_empty() && items.len() == 1 {
            return None;
        }
        match find_option(options, given.trim(), &keep) {
            Ok(o) => chosen.push(options.iter().position(|x| x.id == o.id).unwrap_or(0)),
            Err(why) => option_error(c, &suffix, options, why),
        }
    }
    if !c.errors.is_empty() {
        return None; // Counting a partly wrong list would only mislead.
    }
    // Canonical: without repeats, in the definition's order.
    chosen.sort_unstable();
    chosen.dedup();
    if chosen.is_empty() {
        return None;
    }
    let count = chosen.len();
    if let Some(min) = min_items.filter(|m| count < *m as usize) {
        c.push("min_items", format!("choose at least {min} options"));
    }
    let max = max_items.map_or(MAX_MULTI_ITEMS, |m| m as usize);
    if count > max {
        c.push("max_items", format!("choose at most {max} options"));
    }
    Some(FieldValue::MultiSelect(
        chosen.into_iter().map(|i| options[i].id.clone()).collect(),
    ))
}

fn email(c: &mut Check, raw: &Value) -> Option<FieldValue> {
    let s = c.string(raw, "an email address string")?;
    let e = normalize_email(s);
    if e.is_none() {
        c.push("format", "must be an email address like name@example.com");
    }
    e.map(FieldValue::Text)
}

fn phone(c: &mut Check, raw: &Value, default_country: Option<&str>) -> Option<FieldValue> {
    let s = c.string(raw, "a phone number string")?;
    match Phone::parse(s, default_country) {
        // E.164 alone loses an extension; the canonical form keeps it and reads back the same.
        Ok(p) => Some(FieldValue::Text(p.canonical())),
        Err(invalid) => {
            c.push(invalid.rule, invalid.message);
            None
        }
    }
}

fn url(c: &mut Check, raw: &Value) -> Option<FieldValue> {
    let s = c.string(raw, "a URL string")?;
    if s.chars().count() > URL_MAX {
        c.push(
            "max_length",
            format!("must be at most {URL_MAX} characters"),
        );
        return None;
    }
    if !crate::values::url::is_web_url(s) {
        c.push("format", "must be an http(s) URL like https://example.com");
        return None;
    }
    Some(FieldValue::Text(s.to_string()))
}

fn user_ref(c: &mut Check, raw: &Value) -> Option<FieldValue> {
    let s = c.string(raw, "a user id string")?;
    if !crate::values::ids::is_valid_user_id(s) {
        c.push("format", "must be a user id of this tenant");
        return None;
    }
    Some(FieldValue::User(s.to_string()))
}

/// An admin's pattern, anchored to match the whole value and bounded in compiled size;
/// compiled patterns are cached, since every write of a record checks them.
pub(crate) fn compile_pattern(pattern: &str) -> Result<Regex, regex::Error> {
    static CACHE: OnceLock<Mutex<HashMap<String, Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(re) = cache.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return Ok(re);
    }
    let re = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(REGEX_COMPILED_MAX)
        .build()?;
    if let Ok(mut c) = cache.lock() {
        // Patterns are few per tenant; the bound only guards against unbounded growth.
        if c.len() >= 1_000 {
            c.clear();
        }
        c.insert(pattern.to_string(), re.clone());
    }
    Ok(re)
}

/// Applies the `custom_fields` object of a create or PATCH body to a record's values.
///
/// - `defs`: the definitions of the record's entity (all of them, archived included).
/// - Merge patch: a key that is absent keeps its value, `null` (or a blank string, an empty
///   list) clears it, a value sets it.
/// - A key with no definition, or one the caller may not see, is `unknown_field`: the error
///   does not reveal that a hidden field exists.
/// - Archived fields keep their values and may be cleared, but not set to a new value
///   (`archived`); sending the stored value back unchanged is accepted.
/// - Required (non-archived) fields: on create each one the caller sees must have a value
///   after defaults; on any write, clearing one is `required`. A field that became required
///   after a record was stored is not forced on unrelated PATCHes.
/// - On create, defaults fill every non-archived field without a value, hidden ones too (the
///   admin's default is not the caller's write).
///
/// Every broken rule is reported. References in the result are checked by the caller
/// ([`changed_references`]).
pub fn validate_values(
    defs: &[FieldDefinition],
    input: &Map<String, Value>,
    existing: Option<&BTreeMap<String, FieldValue>>,
    caller: &Caller,
    is_create: bool,
) -> Result<BTreeMap<String, FieldValue>, Vec<FieldError>> {
    let mut values = existing.cloned().unwrap_or_default();
    let mut errors = FieldErrors::new();
    let root = crate::errors::FieldPath::new("custom_fields");
    for (key, raw) in input {
        let path = root.field(key);
        let Some(def) = defs.iter().find(|d| &d.key == key && d.visible_to(caller)) else {
            errors.push(
                path,
                "unknown_field",
                "there is no custom field with this key",
            );
            continue;
        };
        let stored = values.get(key);
        match validate_type(&def.field_type, raw, path.as_str(), stored) {
            Err(errs) => errors.extend(errs),
            Ok(None) if def.required && !def.archived => errors.push(
                path,
                "required",
                "the field is required and cannot be cleared",
            ),
            Ok(None) => {
                values.remove(key);
            }
            Ok(Some(v)) if def.archived && stored != Some(&v) => errors.push(
                path,
                "archived",
                "the field is archived: its value can be cleared but not changed",
            ),
            Ok(Some(v)) => {
                values.insert(key.clone(), v);
            }
        }
    }
    if is_create {
        apply_defaults(defs, input, &mut values);
        for def in defs
            .iter()
            .filter(|d| d.required && !d.archived && d.visible_to(caller))
        {
            // A key the body named was either set or already reported.
            if !input.contains_key(&def.key) && !values.contains_key(&def.key) {
                errors.extend([required(root.field(&def.key).as_str())]);
            }
        }
    }
    errors.finish(values)
}

/// Defaults fill fields the create left without a value; a field the body cleared
/// explicitly (`null`) stays empty.
fn apply_defaults(
    defs: &[FieldDefinition],
    input: &Map<String, Value>,
    values: &mut BTreeMap<String, FieldValue>,
) {
    for def in defs.iter().filter(|d| !d.archived) {
        if let Some(default) = &def.default {
            if !values.contains_key(&def.key) && !input.contains_key(&def.key) {
                values.insert(def.key.clone(), default.clone());
            }
        }
    }
}

/// The values the caller may read: those of fields visible to them (archived fields
/// included: they keep their values). Values without a definition are left out.
pub fn visible_values(
    defs: &[FieldDefinition],
    values: &BTreeMap<String, FieldValue>,
    caller: &Caller,
) -> BTreeMap<String, FieldValue> {
    values
        .iter()
        .filter(|(k, _)| defs.iter().any(|d| &d.key == *k && d.visible_to(caller)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
