//! The bottom layer: the values every record is made of, each parsed once at the edge into a
//! type that can only hold a valid value ("parse, don't validate"). Pure: nothing here reads
//! storage, knows a record kind or imports another module of the core, so every validator
//! above checks an email, a country or an amount by the same rule.
//!
//! | value | type | rule |
//! |---|---|---|
//! | free text | [`text::normalize_text`] | trimmed, inner whitespace collapsed, no control characters, a length |
//! | email address | [`Email`] | `local@domain.tld`, lower-cased |
//! | phone number | [`Phone`] | plausible digits; E.164 when the country is known (libphonenumber) |
//! | country | [`Country`] | an officially assigned ISO 3166-1 alpha-2 code, upper-cased |
//! | currency | [`Currency`] | an ISO 4217 code in circulation, with its minor units |
//! | exact decimal | [`Exact`] | digits and a point, never a float; keeps its scale |
//! | money | [`Money`], [`money`] | an [`Exact`] amount in a [`Currency`]'s minor units; conversion rounds once, half away from zero |
//! | web URL | [`WebUrl`] | `http(s)://host.tld…`, no whitespace |
//! | time | [`time`] | UTC, milliseconds; sortable keys; query bounds |
//! | ids | [`ids`] | UUIDv7 record ids; user, tenant and key tokens safe in table keys |
//! | search | [`search`] | case- and accent-folding, index tokens, query words |
//! | merge patch | [`Patch`] | absent keeps, `null` clears, a value sets |
//!
//! A value that does not parse is an [`Invalid`]: the rule it broke and a message for people.
//! The field it belongs to is the caller's to name (the error layer above collects them).

pub mod country;
pub mod currency;
pub mod decimal;
pub mod email;
pub mod ids;
pub mod money;
pub mod patch;
pub mod phone;
pub mod search;
pub mod text;
pub mod time;
pub mod url;

pub use country::Country;
pub use currency::Currency;
pub use decimal::Exact;
pub use email::Email;
pub use email::normalize_email;
pub use ids::{derived_id, new_id, now};
pub use money::Money;
pub use patch::Patch;
pub use phone::Phone;
pub use time::Timestamp;
pub use url::WebUrl;

/// Why a value was refused: the rule's name (as the API reports it) and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub rule: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            rule,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.rule)
    }
}
