//! Filters and sorting on custom field values (S3.5), pure: parsing a list's `cf.*`
//! parameters, the exact check of a value, and the key ranges of the value entries
//! ([`super::entries`]) a filter can be answered from.
//!
//! # Syntax
//!
//! `cf.{key}=v` (equals), `cf.{key}[op]=v` with `op` one of `eq`, `ne`, `lt`, `gt`, `lte`,
//! `gte`, `contains`, `in` (comma-separated, at most [`MAX_IN`]), `empty` (`true` / `false`);
//! `sort=cf.{key}` or `sort=-cf.{key}`. Filter values are read with the field's own validator
//! with its rules lifted (a filter `cf.score[gte]=-5` on a field with `min: 0` is fine), so
//! they are normalised exactly like stored values: a select takes an option id or label, a
//! currency `"12.50 EUR"`, a date `2026-11-29`.
//!
//! | operator | types | answered from |
//! |---|---|---|
//! | `eq`, `in` | all but long text | the value's term: `begins_with(sk, "{term}#")` per value |
//! | `lt` `gt` `lte` `gte` | integer, decimal, currency (one currency), date, datetime | `sk BETWEEN` (order-preserving terms) |
//! | `contains` | text, email: word prefixes; multi-select: an option | text: the longest word's `w:` prefix plus the overflow entries, other words checked on the value; multi-select: the option's term |
//! | `contains` | long text | checked on the value only (its words are not indexed) |
//! | `empty=false` | all | the field's whole partition |
//! | `ne`, `empty=true` | all | checked on the value only: no index holds "records without this value" |
//!
//! `ne` includes records without a value (they are not equal). Equality on text is case- and
//! accent-insensitive (like search); on email case-insensitive; on a multi-select "has this
//! option" (several: has all of them).

use super::definition::{FieldDefinition, FieldKind, FieldType, SelectOption};
use super::entries::{OVERFLOW_TERM, stored_terms};
use super::value::{FieldValue, Money, validate_type};
use crate::values::search as search_keys;
use crate::{Caller, FieldError};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Values one `in` filter may list.
pub const MAX_IN: usize = 20;
/// Custom field filters one list request may combine.
pub const MAX_FILTERS: usize = 10;

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Eq(FieldValue),
    Ne(FieldValue),
    Lt(FieldValue),
    Gt(FieldValue),
    Lte(FieldValue),
    Gte(FieldValue),
    /// Text: all these words are prefixes of the value's words; multi-select: has the option.
    Contains(Contains),
    In(Vec<FieldValue>),
    Empty(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Contains {
    Words(Vec<String>),
    Option(String),
}

/// One filter, resolved against its definition.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldFilter {
    pub def: FieldDefinition,
    pub op: Op,
}

/// A `cf.*` parameter as given, before its definition is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFilter {
    /// The query parameter's name, for errors.
    pub param: String,
    pub key: String,
    pub op: String,
    pub value: String,
}

/// Reads `cf.{key}` / `cf.{key}[op]`; `None` for other parameter names.
pub fn raw_filter(param: &str, value: &str) -> Option<RawFilter> {
    let rest = param.strip_prefix("cf.")?;
    let (key, op) = match rest.split_once('[') {
        Some((key, op)) => (key, op.strip_suffix(']').unwrap_or("?")),
        None => (rest, "eq"),
    };
    Some(RawFilter {
        param: param.to_string(),
        key: key.to_string(),
        op: op.to_string(),
        value: value.to_string(),
    })
}

/// The definition of `key` visible to the caller, or `unknown_field` under `param`: a hidden
/// field reads like one that does not exist.
pub fn visible_definition<'a>(
    defs: &'a [FieldDefinition],
    caller: &Caller,
    key: &str,
    param: &str,
) -> Result<&'a FieldDefinition, FieldError> {
    defs.iter()
        .find(|d| d.key == key && d.visible_to(caller))
        .ok_or_else(|| {
            FieldError::new(
                param,
                "unknown_field",
                "there is no custom field with this key",
            )
        })
}

/// Resolves a raw filter against the caller's visible definitions.
pub fn resolve(
    defs: &[FieldDefinition],
    caller: &Caller,
    raw: &RawFilter,
) -> Result<FieldFilter, Vec<FieldError>> {
    let def = visible_definition(defs, caller, &raw.key, &raw.param).map_err(|e| vec![e])?;
    let kind = def.kind();
    let unsupported = || {
        vec![FieldError::new(
            raw.param.clone(),
            "operator",
            format!("{} is not a filter of {} fields", raw.op, kind.as_str()),
        )]
    };
    let value = |text: &str| filter_value(def, text, &raw.param);
    let op = match raw.op.as_str() {
        "eq" if kind == FieldKind::LongText => return Err(unsupported()),
        "eq" => Op::Eq(value(&raw.value)?),
        "ne" => Op::Ne(value(&raw.value)?),
        "lt" | "gt" | "lte" | "gte" if !is_ordered(kind) => return Err(unsupported()),
        "lt" => Op::Lt(value(&raw.value)?),
        "gt" => Op::Gt(value(&raw.value)?),
        "lte" => Op::Lte(value(&raw.value)?),
        "gte" => Op::Gte(value(&raw.value)?),
        "contains" => match kind {
            FieldKind::Text | FieldKind::LongText | FieldKind::Email => {
                let words = search_keys::query_words(&raw.value);
                if words.is_empty() {
                    return Err(vec![FieldError::new(
                        raw.param.clone(),
                        "searchable",
                        "must contain a letter or digit",
                    )]);
                }
                Op::Contains(Contains::Words(words))
            }
            FieldKind::MultiSelect => match value(&raw.value)? {
                FieldValue::MultiSelect(ids) if ids.len() == 1 => {
                    Op::Contains(Contains::Option(ids[0].clone()))
                }
                _ => {
                    return Err(vec![FieldError::new(
                        raw.param.clone(),
                        "option",
                        "give one option",
                    )]);
                }
            },
            _ => return Err(unsupported()),
        },
        "in" if kind == FieldKind::LongText || kind == FieldKind::Currency => {
            return Err(unsupported());
        }
        "in" => {
            let parts: Vec<&str> = raw
                .value
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            if parts.is_empty() || parts.len() > MAX_IN {
                return Err(vec![FieldError::new(
                    raw.param.clone(),
                    "max_items",
                    format!("give 1 to {MAX_IN} comma-separated values"),
                )]);
            }
            let mut values = Vec::new();
            let mut errors = Vec::new();
            for p in parts {
                match value(p) {
                    Ok(v) if !values.contains(&v) => values.push(v),
                    Ok(_) => {}
                    Err(e) => errors.extend(e),
                }
            }
            if !errors.is_empty() {
                return Err(errors);
            }
            Op::In(values)
        }
        "empty" => match raw.value.trim() {
            "true" => Op::Empty(true),
            "false" => Op::Empty(false),
            _ => {
                return Err(vec![FieldError::new(
                    raw.param.clone(),
                    "type",
                    "must be true or false",
                )]);
            }
        },
        _ => {
            return Err(vec![FieldError::new(
                raw.param.clone(),
                "operator",
                "must be one of eq, ne, lt, gt, lte, gte, contains, in, empty",
            )]);
        }
    };
    Ok(FieldFilter {
        def: def.clone(),
        op,
    })
}

fn is_ordered(kind: FieldKind) -> bool {
    matches!(
        kind,
        FieldKind::Integer
            | FieldKind::Decimal
            | FieldKind::Currency
            | FieldKind::Date
            | FieldKind::DateTime
    )
}

/// A filter's value, read by the field's validator without the field's rules. A currency is
/// written `12.50 EUR` (or `EUR 12.50`).
fn filter_value(
    def: &FieldDefinition,
    text: &str,
    param: &str,
) -> Result<FieldValue, Vec<FieldError>> {
    let raw = match def.kind() {
        FieldKind::Currency => {
            let parts: Vec<&str> = text.split_whitespace().collect();
            match parts.as_slice() {
                [a, c] if c.chars().all(|ch| ch.is_ascii_alphabetic()) => {
                    serde_json::json!({"amount": a, "currency": c})
                }
                [c, a] if c.chars().all(|ch| ch.is_ascii_alphabetic()) => {
                    serde_json::json!({"amount": a, "currency": c})
                }
                _ => {
                    return Err(vec![FieldError::new(
                        param,
                        "format",
                        "must be an amount and its currency, such as 12.50 EUR",
                    )]);
                }
            }
        }
        _ => Value::String(text.to_string()),
    };
    let relaxed = relaxed(&def.field_type);
    match validate_type(&relaxed, &raw, param, None) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(vec![FieldError::new(
            param,
            "required",
            "a value is required (use [empty] for records without one)",
        )]),
        Err(errors) => Err(errors),
    }
}

/// The type without the rules a stored value must meet: a filter may name any value of the
/// type, archived options included.
fn relaxed(ty: &FieldType) -> FieldType {
    let options = |opts: &[SelectOption]| -> Vec<SelectOption> {
        opts.iter()
            .map(|o| SelectOption {
                archived: false,
                ..o.clone()
            })
            .collect()
    };
    match ty {
        FieldType::Text { .. } => FieldType::Text {
            min_length: None,
            max_length: None,
            regex: None,
        },
        FieldType::LongText { .. } => FieldType::LongText { max_length: None },
        FieldType::Integer { .. } => FieldType::Integer {
            min: None,
            max: None,
        },
        FieldType::Decimal { .. } => FieldType::Decimal {
            min: None,
            max: None,
            scale: None,
        },
        FieldType::Currency { .. } => FieldType::Currency {
            currencies: None,
            min: None,
            max: None,
        },
        FieldType::Date { .. } => FieldType::Date {
            min: None,
            max: None,
        },
        FieldType::DateTime { .. } => FieldType::DateTime {
            min: None,
            max: None,
        },
        FieldType::Select { options: o } => FieldType::Select {
            options: options(o),
        },
        FieldType::MultiSelect { options: o, .. } => FieldType::MultiSelect {
            options: options(o),
            min_items: None,
            max_items: None,
        },
        other => other.clone(),
    }
}

/// A key range of the value entries' sort keys (`{term}#{record id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermRange {
    Prefix(String),
    /// Inclusive.
    Between(String, String),
}

/// Above every term.
const TOP: &str = "\u{10FFFF}";

impl TermRange {
    /// Whether the entry of `term` for `record` lies in the range.
    pub fn holds(&self, term: &str, record: Uuid) -> bool {
        let sk = format!("{term}#{record}");
        match self {
            Self::Prefix(p) => sk.starts_with(p.as_str()),
            Self::Between(lo, hi) => lo.as_str() <= sk.as_str() && sk.as_str() <= hi.as_str(),
        }
    }

    /// Where a reader resumes in this range after sort key `pos` (ascending or not).
    pub fn resume(&self, pos: &str, descending: bool) -> Resume {
        // Within the range or below its upper end.
        let (lo, within_or_below) = match self {
            Self::Prefix(p) => (p.as_str(), pos.starts_with(p.as_str()) || pos < p.as_str()),
            Self::Between(lo, hi) => (lo.as_str(), pos <= hi.as_str()),
        };
        let below = pos < lo;
        match (descending, below, within_or_below) {
            (false, true, _) => Resume::FromStart,
            (false, false, true) => Resume::After,
            (false, false, false) => Resume::Done,
            (true, true, _) => Resume::Done,
            (true, false, true) => Resume::After,
            (true, false, false) => Resume::FromStart,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    FromStart,
    After,
    Done,
}

/// The primary term of a value: the one an equality reads (a text's whole-value term).
fn primary_term(def: &FieldDefinition, value: &FieldValue) -> Option<String> {
    let terms = stored_terms(def, value);
    match def.kind() {
        FieldKind::Text
        | FieldKind::LongText
        | FieldKind::Email
        | FieldKind::Phone
        | FieldKind::Url => terms.into_iter().find(|t| t.starts_with("v:")),
        _ => terms.into_iter().next(),
    }
}

fn exact(term: String) -> TermRange {
    TermRange::Prefix(format!("{term}#"))
}

/// The whole term space of a field's values (text kinds: their whole-value terms).
fn all_values(kind: FieldKind) -> TermRange {
    match kind {
        FieldKind::Text
        | FieldKind::LongText
        | FieldKind::Email
        | FieldKind::Phone
        | FieldKind::Url => TermRange::Prefix("v:".into()),
        _ => TermRange::Between("!".into(), TOP.into()),
    }
}

impl FieldFilter {
    /// The entry ranges that hold every record the filter accepts, or `None` when no index
    /// does (the filter is then checked on each candidate's value).
    pub fn ranges(&self) -> Option<Vec<TermRange>> {
        let def = &self.def;
        let kind = def.kind();
        let term = |v: &FieldValue| primary_term(def, v);
        match &self.op {
            Op::Eq(v) => Some(vec![exact(term(v)?)]),
            Op::In(vs) => vs.iter().map(|v| term(v).map(exact)).collect(),
            Op::Lt(v) | Op::Lte(v) | Op::Gt(v) | Op::Gte(v) => {
                let t = term(v)?;
                let (space_lo, space_hi) = match v {
                    FieldValue::Currency(Money { currency, .. }) => {
                        (format!("{currency}:"), format!("{currency}:~"))
                    }
                    _ => ("!".to_string(), TOP.to_string()),
                };
                Some(vec![match &self.op {
                    Op::Lt(_) => TermRange::Between(space_lo, format!("{t}#")),
                    Op::Lte(_) => TermRange::Between(space_lo, format!("{t}#~")),
                    Op::Gt(_) => TermRange::Between(format!("{t}#~"), space_hi),
                    _ => TermRange::Between(format!("{t}#"), space_hi),
                }])
            }
            Op::Contains(Contains::Option(id)) => Some(vec![exact(id.clone())]),
            Op::Contains(Contains::Words(words)) if kind != FieldKind::LongText => {
                let longest = words.iter().max_by_key(|w| w.chars().count())?;
                Some(vec![
                    TermRange::Prefix(format!("w:{longest}")),
                    exact(OVERFLOW_TERM.to_string()),
                ])
            }
            Op::Empty(false) => Some(vec![all_values(kind)]),
            _ => None,
        }
    }

    /// How well the filter narrows a list when it drives it (higher: read it first).
    pub fn selectivity(&self) -> u8 {
        match &self.op {
            Op::Eq(_) | Op::Contains(Contains::Option(_)) => 4,
            Op::In(_) => 3,
            Op::Contains(_) => 2,
            Op::Lt(_) | Op::Lte(_) | Op::Gt(_) | Op::Gte(_) => 2,
            _ => 1,
        }
    }

    /// Whether a record whose value of this field is `value` passes.
    pub fn accepts(&self, value: Option<&FieldValue>) -> bool {
        match (&self.op, value) {
            (Op::Empty(empty), v) => v.is_none() == *empty,
            (Op::Ne(x), v) => v.is_none_or(|v| !equals(v, x)),
            (_, None) => false,
            (Op::Eq(x), Some(v)) => equals(v, x),
            (Op::In(xs), Some(v)) => xs.iter().any(|x| equals(v, x)),
            (Op::Lt(x), Some(v)) => compare(v, x) == Some(Ordering::Less),
            (Op::Lte(x), Some(v)) => {
                matches!(compare(v, x), Some(Ordering::Less | Ordering::Equal))
            }
            (Op::Gt(x), Some(v)) => compare(v, x) == Some(Ordering::Greater),
            (Op::Gte(x), Some(v)) => {
                matches!(compare(v, x), Some(Ordering::Greater | Ordering::Equal))
            }
            (Op::Contains(Contains::Option(id)), Some(FieldValue::MultiSelect(ids))) => {
                ids.contains(id)
            }
            (Op::Contains(Contains::Words(words)), Some(FieldValue::Text(t))) => {
                let tokens = match self.def.kind() {
                    FieldKind::Email => search_keys::email_tokens(t),
                    _ => all_words(t),
                };
                search_keys::matches_all(words, &tokens)
            }
            _ => false,
        }
    }
}

/// Every word of a text, folded and transliterated: unlike the index tokens, not capped, so
/// a long value's last words are checked too.
fn all_words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = search_keys::fold(text)
        .split(' ')
        .chain(search_keys::transliterate_de(text).split(' '))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    words.sort();
    words.dedup();
    words
}

/// Equality as filters mean it (module comment).
fn equals(v: &FieldValue, x: &FieldValue) -> bool {
    match (v, x) {
        (FieldValue::Text(a), FieldValue::Text(b)) => {
            search_keys::fold(a) == search_keys::fold(b) || a.eq_ignore_ascii_case(b)
        }
        (FieldValue::MultiSelect(have), FieldValue::MultiSelect(want)) => {
            want.iter().all(|w| have.contains(w))
        }
        (FieldValue::MultiSelect(have), FieldValue::Select(w)) => have.contains(w),
        (FieldValue::Integer(a), FieldValue::Decimal(b))
        | (FieldValue::Decimal(b), FieldValue::Integer(a)) => {
            rust_decimal::Decimal::from(*a) == b.0
        }
        (FieldValue::Decimal(a), FieldValue::Decimal(b)) => a.0 == b.0,
        (FieldValue::Currency(a), FieldValue::Currency(b)) => {
            a.currency == b.currency && a.amount.0 == b.amount.0
        }
        _ => v == x,
    }
}

/// The order of two values of one ordered type; `None` across types or currencies.
fn compare(v: &FieldValue, x: &FieldValue) -> Option<Ordering> {
    use rust_decimal::Decimal;
    let number = |f: &FieldValue| match f {
        FieldValue::Integer(n) => Some(Decimal::from(*n)),
        FieldValue::Decimal(d) => Some(d.0),
        _ => None,
    };
    match (v, x) {
        (FieldValue::Currency(a), FieldValue::Currency(b)) if a.currency == b.currency => {
            Some(a.amount.0.cmp(&b.amount.0))
        }
        (FieldValue::Date(a), FieldValue::Date(b)) => Some(a.cmp(b)),
        (FieldValue::DateTime(a), FieldValue::DateTime(b)) => Some(a.cmp(b)),
        _ => Some(number(v)?.cmp(&number(x)?)),
    }
}

/// A sort by a custom field: `sort=cf.{key}`; records without a value follow those with one.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSort {
    pub def: FieldDefinition,
    pub descending: bool,
}

impl FieldSort {
    pub fn range(&self) -> TermRange {
        all_values(self.def.kind())
    }
}

/// Whether an entry of a (possibly multi-valued) record is the one the record is listed at:
/// the first of its terms, in the read order, that lies in one of the ranges read. A record
/// with several matching terms is returned once.
pub fn is_first_match(
    term: &str,
    record: Uuid,
    terms: &[String],
    ranges: &[TermRange],
    descending: bool,
) -> bool {
    let in_ranges = terms
        .iter()
        .filter(|t| ranges.iter().any(|r| r.holds(t, record)));
    let first = if descending {
        in_ranges.max()
    } else {
        in_ranges.min()
    };
    first.map(String::as_str) == Some(term)
}

/// The ranges of the filters on one field, intersected when they are single ranges (`100 ≤
/// score < 150` reads only that slice); else the ranges of the most selective one.
pub fn narrowest(filters: &[FieldFilter], key: &str) -> Option<Vec<TermRange>> {
    let on_field: Vec<Vec<TermRange>> = filters
        .iter()
        .filter(|f| f.def.key == key)
        .filter_map(FieldFilter::ranges)
        .collect();
    let between: Option<Vec<(&String, &String)>> = on_field
        .iter()
        .map(|r| match r.as_slice() {
            [TermRange::Between(lo, hi)] => Some((lo, hi)),
            _ => None,
        })
        .collect();
    match between {
        Some(b) if b.len() > 1 => {
            let lo = b.iter().map(|(lo, _)| *lo).max()?.clone();
            let hi = b.iter().map(|(_, hi)| *hi).min()?.clone();
            Some(vec![TermRange::Between(lo, hi)])
        }
        _ => filters
            .iter()
            .filter(|f| f.def.key == key)
            .filter_map(|f| f.ranges().map(|r| (f.selectivity(), r)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, r)| r),
    }
}

/// The filters of a list, by field key, for the values of one record.
pub fn accepts_all(filters: &[FieldFilter], values: &BTreeMap<String, FieldValue>) -> bool {
    filters.iter().all(|f| f.accepts(values.get(&f.def.key)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Role;
    use crate::custom_fields::{Entity, FieldVisibility, index_terms};

    /// A contact field of this type with default settings.
    pub(crate) fn def(key: &str, field_type: FieldType) -> FieldDefinition {
        FieldDefinition {
            key: key.into(),
            entity: Entity::CONTACT,
            label: key.into(),
            field_type,
            help_text: None,
            required: false,
            default: None,
            order: 0,
            group: None,
            visibility: FieldVisibility::All,
            archived: false,
            version: 1,
        }
    }

    fn filter(d: &FieldDefinition, op: &str, value: &str) -> Result<FieldFilter, Vec<FieldError>> {
        let caller = Caller::new("t", "u", Role::Admin);
        let raw = raw_filter(&format!("cf.{}[{op}]", d.key), value).unwrap();
        resolve(std::slice::from_ref(d), &caller, &raw)
    }

    #[test]
    fn s3_5_number_ranges_hold_exactly_the_accepted_values() {
        let d = def(
            "score",
            FieldType::Decimal {
                min: None,
                max: None,
                scale: Some(2),
            },
        );
        let id = crate::values::new_id();
        for (op, bound) in [("lt", "10"), ("lte", "10"), ("gt", "10"), ("gte", "10")] {
            let f = filter(&d, op, bound).unwrap();
            let ranges = f.ranges().unwrap();
            for v in ["-3.5", "0", "9.99", "10", "10.00", "10.01", "1000"] {
                let value = FieldValue::Decimal(crate::values::Exact::parse(v).unwrap());
                let term = &index_terms(&d, &value)[0];
                assert_eq!(
                    ranges.iter().any(|r| r.holds(term, id)),
                    f.accepts(Some(&value)),
                    "{op} {bound} on {v}"
                );
            }
        }
    }

    #[test]
    fn s3_5_operators_are_checked_per_type() {
        let long = def("bio", FieldType::LongText { max_length: None });
        assert_eq!(filter(&long, "gt", "a").unwrap_err()[0].rule, "operator");
        assert!(
            filter(&long, "contains", "rust")
                .unwrap()
                .ranges()
                .is_none()
        );
        let n = def(
            "n",
            FieldType::Integer {
                min: Some(0),
                max: None,
            },
        );
        assert!(
            filter(&n, "gte", "-5").is_ok(),
            "rules are lifted for filters"
        );
        assert_eq!(filter(&n, "gte", "x").unwrap_err()[0].rule, "type");
        assert_eq!(filter(&n, "between", "1").unwrap_err()[0].rule, "operator");
    }

    #[test]
    fn s3_5_resume_skips_ranges_already_passed() {
        let r = TermRange::Prefix("b#".into());
        assert_eq!(r.resume("a#1", false), Resume::FromStart);
        assert_eq!(r.resume("b#1", false), Resume::After);
        assert_eq!(r.resume("c#1", false), Resume::Done);
        assert_eq!(r.resume("c#1", true), Resume::FromStart);
        assert_eq!(r.resume("a#1", true), Resume::Done);
    }

    #[test]
    fn s3_5_a_multi_valued_record_is_listed_once() {
        let id = crate::values::new_id();
        let terms = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let ranges = vec![exact("b".into()), exact("c".into())];
        assert!(is_first_match("b", id, &terms, &ranges, false));
        assert!(!is_first_match("c", id, &terms, &ranges, false));
        assert!(is_first_match("c", id, &terms, &ranges, true));
    }
}
