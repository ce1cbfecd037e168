//! The checks of one value per field type: each parses the raw JSON into a [`FieldValue`] or
//! names the rule it broke under the value's path.

use super::*;

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
    // unsigned_abs: `i64::MIN.abs()` overflows.
    let Some(n) = n.filter(|n| n.unsigned_abs() <= INTEGER_MAX.unsigned_abs()) else {
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
