//! Items as the table holds them: attribute maps, their keys, and the serde codec between
//! records and items (`serde_dynamo`).

use crate::CrmError;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The primary key of an item: `PK` (partition) and `SK` (sort).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// The key as the two attributes of an item.
    pub fn item(&self) -> Item {
        key(self.pk.clone(), self.sk.clone())
    }

    /// The key of an item, if it has one.
    pub fn of(item: &Item) -> Option<Self> {
        Some(Self::new(text(item, "PK")?, text(item, "SK")?))
    }
}

/// An item holding only its primary key.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("PK".to_string(), s(pk)), ("SK".to_string(), s(sk))])
}

/// Serialises a record and adds its keys (and any other attributes in `keys`).
pub fn to_item<T: serde::Serialize>(record: &T, keys: Item) -> Result<Item, CrmError> {
    let mut item: Item = serde_dynamo::to_item(record).map_err(CrmError::internal)?;
    item.extend(keys);
    Ok(item)
}

pub fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, CrmError> {
    serde_dynamo::from_item(item).map_err(CrmError::internal)
}

/// A string attribute.
pub fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

/// A list-of-strings attribute (`None` when absent or of another type).
pub fn string_list(item: &Item, name: &str) -> Option<Vec<String>> {
    match item.get(name) {
        Some(AttributeValue::L(l)) => Some(
            l.iter()
                .filter_map(|v| match v {
                    AttributeValue::S(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    }
}

/// A list-of-strings attribute value.
pub fn list(values: impl IntoIterator<Item = String>) -> AttributeValue {
    AttributeValue::L(values.into_iter().map(AttributeValue::S).collect())
}

/// The primary key of an item read from the table or an index.
pub fn primary_key(item: &Item) -> Item {
    item.iter()
        .filter(|(k, _)| *k == "PK" || *k == "SK")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
