//! Definition changes that could orphan or corrupt stored values (S3.3): never silent.
//!
//! [`assess_change`] says what a change could break without looking at any record: a type
//! change (safe only along the lossless widenings below), removed options (they need an
//! [`OptionMapping`]), narrowed rules. When it is not [`ChangeImpact::is_safe`], the store
//! runs [`migrate_to`] (or [`value_survives`], when no mapping is offered) over the field's
//! stored values: the change is refused with the count of records whose value does not
//! survive, or applied together with the converted values. Nothing else changes values.
//!
//! # Lossless type changes
//!
//! Every value of the old type converts to a valid value of the new type, given the new
//! type's rules are no narrower (narrowed rules are reported separately):
//!
//! | from                 | to                   | conversion                     |
//! |----------------------|----------------------|--------------------------------|
//! | text                 | long text            | the same string                |
//! | email, phone, URL    | text, long text      | the same string                |
//! | integer              | decimal              | `42` → `"42"`                  |
//! | select               | multi-select         | `"a"` → `["a"]`                |
//!
//! Every other type change (long text → text, decimal → integer, text → select, date →
//! datetime, …) can lose or reinterpret data and needs every stored value checked.
//! Relabelling an option keeps its id: no value is affected. Archiving an option or a field
//! keeps values too.

use super::definition::{FieldDefinition, FieldKind, FieldType, SelectOption};
use super::limits::*;
use super::value::{FieldValue, validate_type};
use crate::FieldError;
use std::collections::{BTreeMap, BTreeSet};

/// A type change and whether every old value converts losslessly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeChange {
    pub from: FieldKind,
    pub to: FieldKind,
    pub lossless: bool,
}

/// What a definition change could do to stored values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeImpact {
    pub type_change: Option<TypeChange>,
    /// Option ids the new definition no longer has: stored values need a mapping.
    pub removed_options: Vec<String>,
    /// Options whose label changed (informational: values store ids).
    pub relabelled_options: Vec<String>,
    /// Rules that became stricter, by rule name (`min`, `max`, `max_length`, `pattern`,
    /// `scale`, `currency`, `min_items`, …): some stored values may break them.
    pub narrowed_rules: Vec<&'static str>,
}

impl ChangeImpact {
    /// No stored value can become invalid: apply without looking at values (lossless type
    /// changes still convert values lazily: see [`migrate_to`]).
    pub fn is_safe(&self) -> bool {
        self.type_change.is_none_or(|t| t.lossless)
            && self.removed_options.is_empty()
            && self.narrowed_rules.is_empty()
    }

    /// Stored values must be converted (a type change, even a lossless one, or removed
    /// options mapped) before the new definition reads them.
    pub fn needs_migration(&self) -> bool {
        self.type_change.is_some() || !self.removed_options.is_empty()
    }
}

/// Maps each removed option id to its replacement, or to `None` to clear it.
pub type OptionMapping = BTreeMap<String, Option<String>>;

/// Which stored values the change from `old` to `new` could make invalid.
pub fn assess_change(old: &FieldDefinition, new: &FieldDefinition) -> ChangeImpact {
    let (from, to) = (old.kind(), new.kind());
    let type_change = (from != to).then(|| TypeChange {
        from,
        to,
        lossless: is_lossless(from, to),
    });
    let new_ids: BTreeSet<&str> = new
        .field_type
        .options()
        .iter()
        .map(|o| o.id.as_str())
        .collect();
    let removed_options = old
        .field_type
        .options()
        .iter()
        .filter(|o| !new_ids.contains(o.id.as_str()))
        .map(|o| o.id.clone())
        .collect();
    let relabelled_options = relabelled(old.field_type.options(), new.field_type.options());
    let narrowed_rules = if type_change.is_some_and(|t| !t.lossless) {
        Vec::new() // Every value is checked anyway.
    } else {
        narrowed(&Rules::of(&old.field_type), &Rules::of(&new.field_type))
    };
    ChangeImpact {
        type_change,
        removed_options,
        relabelled_options,
        narrowed_rules,
    }
}

/// The type changes every value survives (module documentation).
pub fn is_lossless(from: FieldKind, to: FieldKind) -> bool {
    use FieldKind::*;
    matches!(
        (from, to),
        (Text, LongText)
            | (Email | Phone | Url, Text | LongText)
            | (Integer, Decimal)
            | (Select, MultiSelect)
    )
}

fn relabelled(old: &[SelectOption], new: &[SelectOption]) -> Vec<String> {
    old.iter()
        .filter(|o| new.iter().any(|n| n.id == o.id && n.label != o.label))
        .map(|o| o.id.clone())
        .collect()
}

/// The limits of a type, in terms comparable across the lossless type changes. `None`:
/// unbounded.
#[derive(Default)]
struct Rules<'a> {
    min_length: u32,
    max_length: Option<u32>,
    pattern: Option<&'a str>,
    min: Option<rust_decimal::Decimal>,
    max: Option<rust_decimal::Decimal>,
    scale: Option<u32>,
    currencies: Option<BTreeSet<&'a str>>,
    min_date: Option<String>,
    max_date: Option<String>,
    min_items: u32,
    max_items: Option<u32>,
    default_country: Option<&'a str>,
}

impl<'a> Rules<'a> {
    fn of(ty: &'a FieldType) -> Self {
        match ty {
            FieldType::Text {
                min_length,
                max_length,
                regex,
            } => Rules {
                min_length: min_length.unwrap_or(0),
                max_length: Some(max_length.unwrap_or(TEXT_MAX as u32)),
                pattern: regex.as_deref(),
                ..Rules::default()
            },
            FieldType::LongText { max_length } => Rules {
                max_length: Some(max_length.unwrap_or(LONG_TEXT_MAX as u32)),
                ..Rules::default()
            },
            FieldType::Integer { min, max } => Rules {
                min: min.map(Into::into),
                max: max.map(Into::into),
                scale: Some(0),
                ..Rules::default()
            },
            FieldType::Decimal { min, max, scale } => Rules {
                min: min.map(|d| d.0),
                max: max.map(|d| d.0),
                scale: Some(scale.unwrap_or(MAX_DECIMAL_SCALE)),
                ..Rules::default()
            },
            FieldType::Currency {
                currencies,
                min,
                max,
            } => Rules {
                min: min.map(|d| d.0),
                max: max.map(|d| d.0),
                currencies: currencies
                    .as_ref()
                    .map(|c| c.iter().map(String::as_str).collect()),
                ..Rules::default()
            },
            FieldType::Date { min, max } => Rules {
                min_date: min.map(|d| d.format("%Y-%m-%d").to_string()),
                max_date: max.map(|d| d.format("%Y-%m-%d").to_string()),
                ..Rules::default()
            },
            FieldType::DateTime { min, max } => Rules {
                min_date: min.map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
                max_date: max.map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
                ..Rules::default()
            },
            FieldType::Select { .. } => Rules {
                min_items: 1,
                max_items: Some(1),
                ..Rules::default()
            },
            FieldType::MultiSelect {
                min_items,
                max_items,
                ..
            } => Rules {
                min_items: min_items.unwrap_or(0),
                max_items: Some(max_items.unwrap_or(MAX_MULTI_ITEMS as u32)),
                ..Rules::default()
            },
            // Their stored forms are at most this long (an email 254 characters, a phone fewer).
            FieldType::Email => Rules {
                max_length: Some(254),
                ..Rules::default()
            },
            FieldType::Phone { default_country } => Rules {
                max_length: Some(254),
                default_country: default_country.as_deref(),
                ..Rules::default()
            },
            FieldType::Url => Rules {
                max_length: Some(URL_MAX as u32),
                ..Rules::default()
            },
            FieldType::Boolean
            | FieldType::UserRef
            | FieldType::ContactRef
            | FieldType::ClientRef => Rules::default(),
        }
    }
}

/// A lower bound is narrowed when it appears or rises; an upper bound when it appears or
/// falls.
fn raised<T: PartialOrd>(old: Option<T>, new: Option<T>) -> bool {
    match (old, new) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(o), Some(n)) => n > o,
    }
}

fn lowered<T: PartialOrd>(old: Option<T>, new: Option<T>) -> bool {
    match (old, new) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(o), Some(n)) => n < o,
    }
}

fn narrowed(old: &Rules, new: &Rules) -> Vec<&'static str> {
    let mut rules = Vec::new();
    let mut check = |narrower: bool, rule: &'static str| {
        if narrower && !rules.contains(&rule) {
            rules.push(rule);
        }
    };
    check(new.min_length > old.min_length, "min_length");
    check(lowered(old.max_length, new.max_length), "max_length");
    check(
        new.pattern.is_some() && new.pattern != old.pattern,
        "pattern",
    );
    check(raised(old.min, new.min), "min");
    check(lowered(old.max, new.max), "max");
    check(raised(old.min_date.as_ref(), new.min_date.as_ref()), "min");
    check(lowered(old.max_date.as_ref(), new.max_date.as_ref()), "max");
    check(lowered(old.scale, new.scale), "scale");
    let currencies_narrowed = match (&old.currencies, &new.currencies) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(o), Some(n)) => !o.is_subset(n),
    };
    check(currencies_narrowed, "currency");
    check(new.min_items > old.min_items, "min_items");
    check(lowered(old.max_items, new.max_items), "max_items");
    // A number stored as entered (no country known) is read again in the new country.
    check(
        old.default_country.is_none() && new.default_country.is_some(),
        "default_country",
    );
    rules
}

/// Whether a stored value is (or converts to) a valid value of `new_def`: the check a
/// migration or an affected-records counter runs on each stored value. Archived options the
/// value already holds stay valid.
pub fn value_survives(new_def: &FieldDefinition, value: &FieldValue) -> bool {
    convert(new_def, value).is_some()
}

/// The value re-read under `new_def`: converted along a lossless type change, unchanged
/// otherwise; `None` when it is not valid there.
fn convert(new_def: &FieldDefinition, value: &FieldValue) -> Option<FieldValue> {
    validate_type(&new_def.field_type, &value.to_json(), "", Some(value))
        .ok()
        .flatten()
}

/// Applies an option mapping to a stored value: removed options are replaced or dropped;
/// `None` means the value is cleared (a select's option mapped to nothing, or a multi-select
/// left without options). Other values come back unchanged.
pub fn migrate(value: &FieldValue, mapping: &OptionMapping) -> Option<FieldValue> {
    let map = |id: &String| match mapping.get(id) {
        Some(replacement) => replacement.clone(),
        None => Some(id.clone()),
    };
    match value {
        FieldValue::Select(id) => map(id).map(FieldValue::Select),
        FieldValue::MultiSelect(ids) => {
            let mut out: Vec<String> = Vec::new();
            for id in ids.iter().filter_map(map) {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
            (!out.is_empty()).then_some(FieldValue::MultiSelect(out))
        }
        other => Some(other.clone()),
    }
}

/// What a migration does with one stored value: the mapping, then the conversion to the new
/// definition. `Ok(Some(v))`: store `v`; `Ok(None)`: remove the value; `Err(())`: the value
/// does not survive (counted, and the change refused). A required field's value that the
/// mapping clears does not survive.
#[allow(clippy::result_unit_err)]
pub fn migrate_to(
    new_def: &FieldDefinition,
    value: &FieldValue,
    mapping: &OptionMapping,
) -> Result<Option<FieldValue>, ()> {
    match migrate(value, mapping) {
        None if new_def.required && !new_def.archived => Err(()),
        None => Ok(None),
        Some(mapped) => convert(new_def, &mapped).map(Some).ok_or(()),
    }
}

/// Checks an option mapping offered with a change: every removed option is mapped, only
/// removed options are, and each replacement is an option of the new definition that can be
/// chosen. Errors name `mapping.{old id}`.
pub fn validate_mapping(
    old: &FieldDefinition,
    new: &FieldDefinition,
    mapping: &OptionMapping,
) -> Result<(), Vec<FieldError>> {
    let removed = assess_change(old, new).removed_options;
    let mut errors = Vec::new();
    for id in &removed {
        if !mapping.contains_key(id) {
            errors.push(FieldError::new(
                format!("mapping.{id}"),
                "required",
                "a removed option needs a replacement or null",
            ));
        }
    }
    for (from, to) in mapping {
        let path = format!("mapping.{from}");
        if !removed.contains(from) {
            errors.push(FieldError::new(
                path.clone(),
                "unknown_field",
                "only removed options are mapped",
            ));
        }
        let chosen = to.as_ref().is_none_or(|to| {
            new.field_type
                .options()
                .iter()
                .any(|o| &o.id == to && !o.archived)
        });
        if !chosen {
            errors.push(FieldError::new(
                path,
                "option",
                "must map to an option of the changed field that can be chosen, or null",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
