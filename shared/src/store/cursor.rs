//! Opaque list cursors. A cursor carries the last key read, bound to the tenant and to the query
//! it came from: replaying it for another tenant or another query is refused.

use super::item::Item;
use crate::CrmError;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const DEFAULT_PAGE_SIZE: i32 = 50;
pub const MAX_PAGE_SIZE: i32 = 200;

#[derive(Serialize, Deserialize)]
struct CursorBody {
    /// Tenant the cursor was issued to.
    t: String,
    /// Fingerprint of the query (list name and its filters).
    q: String,
    /// Last evaluated key; every key attribute of this table is a string.
    k: BTreeMap<String, String>,
}

/// Page size from the `limit` query parameter: default when absent, refused when out of range.
pub fn page_size(limit: Option<&str>) -> Result<i32, CrmError> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(raw) => match raw.parse::<i32>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
            _ => Err(CrmError::validation(
                "limit",
                "range",
                format!("limit must be an integer from 1 to {MAX_PAGE_SIZE}"),
            )),
        },
    }
}

pub fn encode_cursor(tenant: &str, query: &str, last_key: &Item) -> String {
    let k = last_key
        .iter()
        .filter_map(|(name, v)| match v {
            AttributeValue::S(s) => Some((name.clone(), s.clone())),
            _ => None,
        })
        .collect();
    let body = CursorBody {
        t: tenant.to_string(),
        q: query.to_string(),
        k,
    };
    let json = serde_json::to_vec(&body).expect("cursor serialises");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

/// The one answer to a cursor that cannot be used — malformed, another tenant's, another
/// list's or another query's: 400 naming `cursor`.
pub fn invalid_cursor() -> CrmError {
    CrmError::BadRequest {
        detail: "the cursor is not valid for this list; start again without one".into(),
        errors: vec![crate::FieldError::new(
            "cursor",
            "valid_cursor",
            "the cursor is not valid for this list",
        )],
    }
}

pub fn decode_cursor(tenant: &str, query: &str, cursor: &str) -> Result<Item, CrmError> {
    let invalid = invalid_cursor;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let body: CursorBody = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let prefix = format!("T#{tenant}#");
    let keys_in_tenant = body
        .k
        .values()
        .all(|v| v.starts_with(&prefix) || !v.starts_with("T#"));
    if body.t != tenant || body.q != query || !keys_in_tenant || body.k.is_empty() {
        return Err(invalid());
    }
    Ok(body
        .k
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

/// One list of one tenant (`name` fingerprints the list and its filters): turns the caller's
/// cursor into the key to start from, and the last key read into the next cursor.
pub struct ListQuery<'a> {
    pub tenant: &'a str,
    pub name: String,
}

impl<'a> ListQuery<'a> {
    pub fn new(tenant: &'a str, name: impl Into<String>) -> Self {
        Self {
            tenant,
            name: name.into(),
        }
    }

    pub fn start(&self, cursor: Option<&str>) -> Result<Option<Item>, CrmError> {
        cursor
            .map(|c| decode_cursor(self.tenant, &self.name, c))
            .transpose()
    }

    pub fn page<T>(&self, items: Vec<T>, last_key: Option<Item>) -> Page<T> {
        Page {
            items,
            next_cursor: last_key.map(|k| encode_cursor(self.tenant, &self.name, &k)),
        }
    }
}

/// A page of a list as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::item::s;

    fn sample_key() -> Item {
        Item::from([
            ("PK".into(), s("T#a#CONTACT#1")),
            ("SK".into(), s("CONTACT")),
            ("GSI1PK".into(), s("T#a#CONTACTS")),
            ("GSI1SK".into(), s("1")),
        ])
    }

    #[test]
    fn cursor_round_trips_for_its_tenant_and_query() {
        let c = encode_cursor("a", "contacts", &sample_key());
        assert_eq!(decode_cursor("a", "contacts", &c).unwrap(), sample_key());
    }

    #[test]
    fn cursor_is_refused_for_another_tenant_or_query() {
        let c = encode_cursor("a", "contacts", &sample_key());
        assert!(decode_cursor("b", "contacts", &c).is_err());
        assert!(decode_cursor("a", "imports", &c).is_err());
        assert!(decode_cursor("a", "contacts", "not-base64!").is_err());
    }

    #[test]
    fn page_size_is_bounded() {
        assert_eq!(page_size(None).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(Some("10")).unwrap(), 10);
        assert!(page_size(Some("0")).is_err());
        assert!(page_size(Some("100000")).is_err());
        assert!(page_size(Some("x")).is_err());
    }
}
