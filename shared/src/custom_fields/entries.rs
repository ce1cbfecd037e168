//! Value index entries: where a record's custom field values are found without a Scan
//! (filters and sorting, S3.5; counting the records a definition change affects, S3.3).
//!
//! Each indexed term of a value is one item in partition `T#{t}#CF#{entity}#{key}#{shard}`
//! with sort key `{term}#{record id}` (terms from [`super::index_terms`], which never hold `#`).
//! The 4 shards (by record id, like the contact facets) spread a large import's writes. Each
//! entry carries the record id (`rid`), the field's stored value (`cfv`) and the field's
//! terms (`terms`), so a reader checks the exact value and returns a multi-valued record once,
//! without reading the record; contact entries also carry the contact summary (standard
//! filters and visibility are checked on the entry).
//!
//! The terms a record is indexed under are kept on the record (`custom_terms`), so the writer
//! that replaces it knows exactly which entries to delete, whatever happened to the definition
//! meanwhile. Bounds per value: long text keeps its whole-value term only (its words are
//! checked on the stored value); text and email keep at most [`MAX_WORD_TERMS`] word tokens
//! and, past that, the [`OVERFLOW_TERM`], which a word search reads as well so that it misses
//! nothing.

use super::definition::{Entity, FieldDefinition, FieldKind};
use super::index::index_terms;
use super::value::FieldValue;
use crate::CrmError;
use crate::store::{Item, s};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::BTreeMap;
use uuid::Uuid;

pub const SHARDS: u8 = 4;
/// Word tokens of one text or email value that get their own entries.
pub const MAX_WORD_TERMS: usize = 16;
/// The term of a text value with more words than [`MAX_WORD_TERMS`]: a word search also reads
/// these entries and checks the stored value.
pub const OVERFLOW_TERM: &str = "w:~";

/// A record's indexed terms, by field key.
pub type Terms = BTreeMap<String, Vec<String>>;

pub fn shard_of(id: Uuid) -> u8 {
    // The last byte of a UUIDv7 is random.
    id.as_bytes()[15] % SHARDS
}

pub fn field_pk(tenant: &str, entity: Entity, key: &str, shard: u8) -> String {
    format!("T#{tenant}#CF#{}#{key}#{shard}", entity.as_str())
}

/// The partitions of one field's entries (its shards).
pub fn field_partitions(tenant: &str, entity: Entity, key: &str) -> Vec<String> {
    (0..SHARDS)
        .map(|i| field_pk(tenant, entity, key, i))
        .collect()
}

/// The terms one value is indexed under (bounded, see the module comment).
pub fn stored_terms(def: &FieldDefinition, value: &FieldValue) -> Vec<String> {
    let all = index_terms(def, value);
    let mut out: Vec<String> = Vec::new();
    let mut words = 0;
    for term in all {
        let term = term.replace('#', "%23");
        if term.starts_with("w:") {
            if def.kind() == FieldKind::LongText {
                continue;
            }
            words += 1;
            if words > MAX_WORD_TERMS {
                if !out.iter().any(|t| t == OVERFLOW_TERM) {
                    out.push(OVERFLOW_TERM.to_string());
                }
                continue;
            }
        }
        if !term.is_empty() && !out.contains(&term) {
            out.push(term);
        }
    }
    // The tokenizers stop at `search_keys::MAX_TOKENS`: a value that filled them may hold
    // more words than were indexed, so it is found through the overflow entry too.
    if words >= MAX_WORD_TERMS.min(crate::values::search::MAX_TOKENS)
        && !out.iter().any(|t| t == OVERFLOW_TERM)
    {
        out.push(OVERFLOW_TERM.to_string());
    }
    out
}

/// The terms of a record's values (values without a definition are not indexed).
pub fn terms_of(defs: &[FieldDefinition], values: &BTreeMap<String, FieldValue>) -> Terms {
    values
        .iter()
        .filter_map(|(key, value)| {
            let def = defs.iter().find(|d| &d.key == key)?;
            Some((key.clone(), stored_terms(def, value)))
        })
        .filter(|(_, terms)| !terms.is_empty())
        .collect()
}

/// One entry of a record: its key, and the field and term it stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntryKey {
    pub pk: String,
    pub sk: String,
    pub field: String,
}

/// The keys of a record's entries.
pub fn entry_keys(tenant: &str, entity: Entity, id: Uuid, terms: &Terms) -> Vec<EntryKey> {
    let shard = shard_of(id);
    let mut keys: Vec<EntryKey> = terms
        .iter()
        .flat_map(|(field, ts)| {
            ts.iter().map(move |term| EntryKey {
                pk: field_pk(tenant, entity, field, shard),
                sk: format!("{term}#{id}"),
                field: field.clone(),
            })
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The attributes every entry holds besides its key: the record id, the field, its stored
/// value and terms.
pub fn entry_attributes(
    id: Uuid,
    field: &str,
    value: &FieldValue,
    terms: &[String],
) -> Result<Item, CrmError> {
    let cfv: AttributeValue =
        serde_dynamo::to_attribute_value(value).map_err(CrmError::internal)?;
    Ok(Item::from([
        ("rid".to_string(), s(id.to_string())),
        ("cf".to_string(), s(field)),
        ("cfv".to_string(), cfv),
        (
            "terms".to_string(),
            AttributeValue::L(terms.iter().map(|t| s(t.clone())).collect()),
        ),
    ]))
}

/// What a reader takes from an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryValue {
    pub record: Uuid,
    pub value: FieldValue,
    pub terms: Vec<String>,
}

pub fn read_entry(item: &Item) -> Result<EntryValue, CrmError> {
    let record = match item.get("rid") {
        Some(AttributeValue::S(id)) => id.parse().map_err(CrmError::internal)?,
        _ => return Err(CrmError::Internal("custom field entry without rid".into())),
    };
    let value = match item.get("cfv") {
        Some(v) => serde_dynamo::from_attribute_value(v.clone()).map_err(CrmError::internal)?,
        None => return Err(CrmError::Internal("custom field entry without cfv".into())),
    };
    let terms = crate::store::item::string_list(item, "terms").unwrap_or_default();
    Ok(EntryValue {
        record,
        value,
        terms,
    })
}

/// The term part of an entry's sort key.
pub fn term_of_sk(sk: &str) -> &str {
    sk.rsplit_once('#').map_or(sk, |(t, _)| t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custom_fields::FieldType;
    use crate::custom_fields::filter::tests::def;

    #[test]
    fn s3_5_long_words_overflow_and_long_text_keeps_one_term() {
        let text = def(
            "notes",
            FieldType::Text {
                min_length: None,
                max_length: None,
                regex: None,
            },
        );
        let words: Vec<String> = (0..30).map(|i| format!("word{i:02}")).collect();
        let terms = stored_terms(&text, &FieldValue::Text(words.join(" ")));
        assert_eq!(terms.iter().filter(|t| t.starts_with("w:")).count(), 17);
        assert!(terms.contains(&OVERFLOW_TERM.to_string()));
        let long = def("bio", FieldType::LongText { max_length: None });
        let terms = stored_terms(&long, &FieldValue::Text(words.join(" ")));
        assert_eq!(terms.len(), 1);
        assert!(terms[0].starts_with("v:"));
    }

    #[test]
    fn s3_5_entries_are_sharded_by_record() {
        let id = crate::values::new_id();
        let terms = Terms::from([("stage".to_string(), vec!["won".to_string()])]);
        let keys = entry_keys("t", Entity::CONTACT, id, &terms);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].pk, format!("T#t#CF#contact#stage#{}", shard_of(id)));
        assert_eq!(keys[0].sk, format!("won#{id}"));
        assert_eq!(term_of_sk(&keys[0].sk), "won");
    }
}
