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
use crate::store::KeyRange;
use crate::values::search as search_keys;
use crate::{Caller, FieldError};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use uuid::Uuid;

mod matching;
pub use matching::{FieldSort, TermRange, accepts_all, is_first_match, narrowest};

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
}
