//! Custom fields (S3.1–S3.5): the pure domain core. No storage, no HTTP: the store, the API
//! routes and the filter index are built on top of what is here.
//!
//! - [`definition`]: what an admin defines ([`FieldDefinition`], [`FieldType`], [`FieldGroup`])
//!   and the validation of a definition itself ([`NewFieldDefinition::validate`]).
//! - [`value`]: the one typed value model ([`FieldValue`]) and the one validator every path
//!   uses (API create / PATCH, import, workflow actions): [`validate`] for one value,
//!   [`validate_values`] for the `custom_fields` object of a body, [`visible_values`] for what
//!   a caller reads.
//! - [`change`]: whether a definition change can orphan or corrupt stored values
//!   ([`assess_change`]), the per-value check a migration or counter runs
//!   ([`value_survives`]), and option mappings ([`migrate`]).
//! - [`index`]: the sortable index terms of a value ([`index_terms`]) for filters and sorting
//!   without a Scan.
//!
//! # JSON shapes
//!
//! A web client sends and reads plain values ([`FieldValue::to_json`]):
//!
//! | type                       | value                                       |
//! |----------------------------|---------------------------------------------|
//! | text, long text            | `"Ada"`                                     |
//! | integer                    | `42` (within ±(2^53 − 1), exact in JavaScript) |
//! | decimal                    | `"12.50"` (a string: no float ever touches it) |
//! | currency                   | `{"amount": "12.50", "currency": "EUR"}`    |
//! | date                       | `"2026-11-29"`                              |
//! | datetime                   | `"2026-11-29T14:30:00.000Z"` (RFC 3339, UTC, milliseconds) |
//! | boolean                    | `true`                                      |
//! | select                     | `"option_id"`                               |
//! | multi-select               | `["option_a", "option_b"]`                  |
//! | email, phone, URL          | `"ada@example.com"`, `"+493012345678"`, `"https://…"` |
//! | user / contact / client ref| `"user-id"`, `"0190…uuid"`                  |
//!
//! `null` (or a blank string, or an empty list) clears a value. Storage keeps the
//! self-describing serde form of [`FieldValue`] (`{"decimal": "12.50"}`), so a stored value
//! can be read and checked even after its definition changed.
//!
//! # Errors
//!
//! Every broken rule is reported as a [`crate::FieldError`] with the path
//! `custom_fields.{key}` (deeper: `custom_fields.{key}.amount`, `custom_fields.{key}[2]`) and
//! one of the rule names `type`, `required`, `min_length`, `max_length`, `pattern`, `min`,
//! `max`, `scale`, `option`, `min_items`, `max_items`, `currency`, `format`,
//! `no_control_characters`, `invalid_number`, `unknown_field`, `archived`.
//!
//! # References
//!
//! User, contact and client references are checked for shape only; whether the record exists
//! in the tenant and is visible to the writer needs storage, so the caller checks
//! [`changed_references`] and reports a failure with [`reference_error`].

pub mod admin;
pub mod change;
pub mod definition;
pub mod entries;
pub mod filter;
pub mod index;
pub mod store;
pub mod value;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use crate::values::Exact;
pub use change::{
    ChangeImpact, OptionMapping, TypeChange, assess_change, migrate, migrate_to, validate_mapping,
    value_survives,
};
pub use definition::{
    Entity, FieldDefinition, FieldGroup, FieldKind, FieldType, FieldVisibility, NewFieldDefinition,
    NewFieldGroup, SelectOption, layout,
};
pub use index::{EMPTY_TERM, decode_number, encode_number, index_terms};
pub use value::{
    FieldValue, Money, Reference, changed_references, reference_error, validate, validate_values,
    values_to_json, visible_values,
};

/// The limits custom fields are held to; each is enforced where the definition or value is
/// validated.
pub mod limits {
    /// Custom fields per entity (archived ones included: they still hold values).
    pub const MAX_FIELDS_PER_ENTITY: usize = 100;
    /// Groups per entity.
    pub const MAX_GROUPS_PER_ENTITY: usize = 30;
    /// Characters of a field or group key (`^[a-z][a-z0-9_]{0,39}$`).
    pub const KEY_MAX: usize = 40;
    /// Characters of a field or group label.
    pub const LABEL_MAX: usize = 100;
    pub const HELP_TEXT_MAX: usize = 500;
    /// Options of a select or multi-select field (archived ones included).
    pub const MAX_OPTIONS: usize = 200;
    pub const OPTION_LABEL_MAX: usize = 100;
    /// Characters of an option id (`^[a-z0-9][a-z0-9_-]{0,39}$`).
    pub const OPTION_ID_MAX: usize = 40;
    /// Items one multi-select value may hold.
    pub const MAX_MULTI_ITEMS: usize = 50;
    /// Characters of a text value (and the largest `max_length` a text field may set).
    pub const TEXT_MAX: usize = 1_000;
    /// Characters of a long text value.
    pub const LONG_TEXT_MAX: usize = 10_000;
    pub const URL_MAX: usize = 2_000;
    /// Characters of a text field's regular expression.
    pub const REGEX_MAX: usize = 200;
    /// Bytes the compiled expression may take: bounds the cost of an admin's pattern.
    pub const REGEX_COMPILED_MAX: usize = 1 << 20;
    /// Integers are exact in JavaScript clients within ±(2^53 − 1).
    pub const INTEGER_MAX: i64 = (1 << 53) - 1;
    /// Fraction digits a decimal field may allow (its `scale`).
    pub const MAX_DECIMAL_SCALE: u32 = 10;
    /// Digits before the point of a decimal or currency amount. With [`MAX_DECIMAL_SCALE`]
    /// that is 28 digits: exact in rust_decimal, and the width of the index encoding.
    pub const MAX_DECIMAL_INTEGER_DIGITS: usize =
        crate::values::decimal::MAX_DECIMAL_INTEGER_DIGITS;
    /// Allowed currencies a currency field may list.
    pub const MAX_CURRENCIES: usize = 50;
    /// Teams plus roles a restricted field or a group may name.
    pub const MAX_AUDIENCE: usize = 50;
    /// Dates and datetimes lie in years 1 to 9999 (four digits: fixed-width index terms).
    pub const MIN_YEAR: i32 = 1;
    pub const MAX_YEAR: i32 = 9999;
}
