//! Index terms of custom field values, for filters and sorting without a Scan (S1.3, S3.5).
//! Pure: the store decides where the terms live; the intended layout is one index entry per
//! term, partition `…#CF#{entity}#{field key}` and sort key `{term}#{record id}`, so an
//! equality is `begins_with(sk, "{term}#")` and a range is `sk BETWEEN lo AND hi`.
//!
//! # Terms
//!
//! No term contains `#`, so `{term}#{record id}` splits unambiguously at its first `#`, and
//! `begins_with(sk, "{term}#")` finds exactly one value. Numbers, dates and datetimes are
//! fixed-width (so no such term is a prefix of another, and lexical order is value order);
//! text terms carry a kind prefix (`v:` whole value, `w:` word token) so the two never mix.
//!
//! | type              | terms                                                    |
//! |-------------------|----------------------------------------------------------|
//! | integer, decimal  | [`encode_number`]: `p000000000000000042.0000000000`       |
//! | currency          | `{CUR}:{encode_number(amount)}`: `EUR:p…` (amounts of one currency sort together) |
//! | date              | `2026-11-29`                                             |
//! | datetime          | `2026-11-29T14:30:00.000Z` (UTC, milliseconds)           |
//! | boolean           | `false`, `true`                                          |
//! | select            | the option id                                            |
//! | multi-select      | each option id                                           |
//! | text, long text   | `v:{folded value, first 60 chars}` and `w:{token}` per word token ([`crate::values::search::tokens`]) |
//! | email             | `v:{address}` and `w:{token}` per [`crate::values::search::email_tokens`] |
//! | phone             | `v:{E.164 or as stored}`                                 |
//! | URL               | `v:{lower-cased, first 200 chars}`                       |
//! | user / contact / client ref | the id                                         |
//! | no value          | [`EMPTY_TERM`] (`-`), if the store indexes empties       |
//!
//! # Operators
//!
//! Filter values are validated with the field's own validator first ([`super::validate`]),
//! so they are normalised and encoded exactly as stored values are.
//!
//! | operator | types                               | key condition / residual check |
//! |----------|-------------------------------------|--------------------------------|
//! | `=`      | all                                 | `begins_with(sk, term#)`; text: `v:` term, residual exact comparison when the value is longer than the 60 kept characters |
//! | `≠`      | all                                 | no key condition: the complement of `=`, a residual check over another query (the list by any other filter, or the field's whole partition — which is every record with a value; add [`EMPTY_TERM`]'s entries for records without one) |
//! | `<` `>` `≤` `≥` | integer, decimal, currency (per currency), date, datetime | `sk < lo#` / `sk > hi#~` / `BETWEEN`: terms are order-preserving; a range on `v:` text terms sorts by the folded prefix only (residual check for exactness) |
//! | `contains` | text, long text, email (word prefix); multi-select (an option id) | text: `begins_with(sk, "w:{prefix}")` per word, further words as a residual [`crate::values::search::matches_all`]; long text indexes at most the first 16 distinct words, so a miss there is a residual check over other candidates; multi-select: `=` on the id |
//! | `in`     | select, multi-select, boolean, references, integer | one `=` query per listed value, merged by record id |
//! | `is empty` | all                               | `=` on [`EMPTY_TERM`] when the store writes it for records without a value; `is not empty`: the field's partition minus `EMPTY_TERM` (a range above `-`) |
//!
//! Sorting by a field is reading its partition in sort key order: records without a value
//! come first ascending (`-` sorts before every other term) when empties are indexed. A
//! multi-valued field (multi-select, text tokens) yields one entry per term; a sort by it uses
//! the first term, and a list de-duplicates by record id.

use super::definition::{FieldDefinition, FieldType};
use super::limits::{MAX_DECIMAL_INTEGER_DIGITS, MAX_DECIMAL_SCALE};
use super::value::FieldValue;
use crate::values::search as search_keys;
use rust_decimal::Decimal;

/// The term of "no value": sorts before every other term (`-` < `0` < `A` < `a`).
pub const EMPTY_TERM: &str = "-";
/// Characters of a folded text value kept in its `v:` term.
const TEXT_TERM_CHARS: usize = 60;
const URL_TERM_CHARS: usize = 200;
const INT_DIGITS: usize = MAX_DECIMAL_INTEGER_DIGITS;
const FRAC_DIGITS: usize = MAX_DECIMAL_SCALE as usize;

/// An order-preserving, fixed-width encoding of a number with at most 18 integer digits
/// and 10 fraction digits: `p` + 18 digits + `.` + 10 digits for zero and positives, `n` +
/// the nines' complement of those digits for negatives (so a larger magnitude sorts lower,
/// and every negative before every positive since `n` < `p`). 30 ASCII characters; lexical
/// order is numeric order and numerically equal values (`1.5`, `1.50`) encode the same.
/// `None` outside the range (the validator never lets such a value through).
pub fn encode_number(d: Decimal) -> Option<String> {
    if d.scale() > FRAC_DIGITS as u32 {
        return None;
    }
    let mut magnitude = d.abs();
    magnitude.rescale(FRAC_DIGITS as u32);
    let digits = format!(
        "{:0width$}",
        magnitude.mantissa(),
        width = INT_DIGITS + FRAC_DIGITS
    );
    if digits.len() != INT_DIGITS + FRAC_DIGITS || magnitude.scale() != FRAC_DIGITS as u32 {
        return None;
    }
    let negative = d.is_sign_negative() && !d.is_zero();
    let body: String = if negative {
        digits
            .bytes()
            .map(|b| char::from(b'9' - (b - b'0')))
            .collect()
    } else {
        digits
    };
    let (int, frac) = body.split_at(INT_DIGITS);
    Some(format!("{}{int}.{frac}", if negative { 'n' } else { 'p' }))
}

/// The number an [`encode_number`] term stands for (at scale 10).
pub fn decode_number(term: &str) -> Option<Decimal> {
    let (sign, rest) = term.split_at_checked(1)?;
    let (int, frac) = rest.split_once('.')?;
    if int.len() != INT_DIGITS || frac.len() != FRAC_DIGITS {
        return None;
    }
    let digits: String = [int, frac].concat();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude_digits: String = match sign {
        "p" => digits,
        "n" => digits
            .bytes()
            .map(|b| char::from(b'9' - (b - b'0')))
            .collect(),
        _ => return None,
    };
    let mantissa: i128 = magnitude_digits.parse().ok()?;
    let magnitude = Decimal::try_from_i128_with_scale(mantissa, FRAC_DIGITS as u32).ok()?;
    Some(if sign == "n" { -magnitude } else { magnitude })
}

/// The index terms of a stored value of `def`'s field (see the module documentation).
pub fn index_terms(def: &FieldDefinition, value: &FieldValue) -> Vec<String> {
    match value {
        FieldValue::Text(s) => text_terms(&def.field_type, s),
        FieldValue::Integer(n) => encode_number(Decimal::from(*n)).into_iter().collect(),
        FieldValue::Decimal(d) => encode_number(d.0).into_iter().collect(),
        FieldValue::Currency(m) => encode_number(m.amount.0)
            .map(|n| format!("{}:{n}", m.currency))
            .into_iter()
            .collect(),
        FieldValue::Date(d) => vec![d.format("%Y-%m-%d").to_string()],
        FieldValue::DateTime(t) => vec![t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()],
        FieldValue::Boolean(b) => vec![b.to_string()],
        FieldValue::Select(id) => vec![id.clone()],
        FieldValue::MultiSelect(ids) => ids.clone(),
        FieldValue::User(u) => vec![without_hash(u)],
        FieldValue::Contact(id) | FieldValue::Client(id) => vec![id.to_string()],
    }
}

fn text_terms(ty: &FieldType, s: &str) -> Vec<String> {
    let mut terms = Vec::new();
    match ty {
        FieldType::Email => {
            terms.push(format!("v:{}", without_hash(s)));
            terms.extend(
                search_keys::email_tokens(s)
                    .into_iter()
                    .map(|t| format!("w:{t}")),
            );
        }
        FieldType::Phone { .. } => terms.push(format!("v:{}", without_hash(s))),
        FieldType::Url => {
            let lower: String = s.to_lowercase().chars().take(URL_TERM_CHARS).collect();
            terms.push(format!("v:{}", without_hash(&lower)));
        }
        _ => {
            let folded: String = search_keys::fold(s).chars().take(TEXT_TERM_CHARS).collect();
            terms.push(format!("v:{folded}"));
            terms.extend(search_keys::tokens(s).into_iter().map(|t| format!("w:{t}")));
        }
    }
    terms
}

/// `#` separates a term from the record id in a sort key; a value that may hold one (a URL's
/// fragment) has it percent-encoded.
fn without_hash(s: &str) -> String {
    s.replace('#', "%23")
}
