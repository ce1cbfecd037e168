//! Ids and the other tokens that end up inside table keys: record ids (UUIDv7), user ids
//! (the identity provider's `sub`), tenant ids and lower-case keys (lead sources).

use super::Invalid;

/// New record ids are UUIDv7: time-ordered, so "newest first" is a key order.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// A UUIDv7 that is the same every time it is derived from the same time and names: the
/// time's milliseconds (so creation-order keys keep their meaning) and 74 bits of the SHA-256 of
/// the names. Imports name their rows' records this way, so a retried chunk writes the same ids.
pub fn derived_id(at: super::Timestamp, names: &[&[u8]]) -> uuid::Uuid {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    for name in names {
        hash.update((name.len() as u64).to_be_bytes());
        hash.update(name);
    }
    let digest = hash.finalize();
    let mut random = [0u8; 10];
    random.copy_from_slice(&digest[..10]);
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(ms, &random).into_uuid()
}

/// The current time, UTC, to the millisecond: stored and returned values stay byte-identical.
pub fn now() -> super::Timestamp {
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// User ids are the identity provider's `sub`; they end up in keys, so their alphabet is safe.
pub fn is_valid_user_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@:|+".contains(&b))
}

/// A user id of the tenant's identity provider.
pub fn user_id(raw: &str) -> Result<String, Invalid> {
    let id = raw.trim();
    if is_valid_user_id(id) {
        Ok(id.to_string())
    } else {
        Err(Invalid::new("format", "must be a user id of this tenant"))
    }
}

/// Tenant ids are embedded in every key, so they are restricted to a safe alphabet.
pub fn is_valid_tenant_id(tenant: &str) -> bool {
    !tenant.is_empty()
        && tenant.len() <= 64
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A lower-case key such as a lead source (S8.2): letters, digits, `-` and `_`, 1–50.
pub fn is_valid_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 50
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A lower-case key, trimmed; `None` when blank.
pub fn key(raw: &str) -> Result<Option<String>, Invalid> {
    let k = raw.trim();
    if k.is_empty() {
        Ok(None)
    } else if is_valid_key(k) {
        Ok(Some(k.to_string()))
    } else {
        Err(Invalid::new(
            "format",
            "must be a key of lower-case letters, digits, - and _ (at most 50)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_are_version_7_and_ordered() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.get_version_num(), 7);
        assert!(a.to_string() <= b.to_string());
        assert_eq!(now().timestamp_subsec_nanos() % 1_000_000, 0);
    }

    #[test]
    fn s5_3_derived_ids_are_version_7_stable_and_in_time_order() {
        let t = now();
        let a = derived_id(t, &[b"import", b"row 2"]);
        assert_eq!(a, derived_id(t, &[b"import", b"row 2"]));
        assert_ne!(a, derived_id(t, &[b"import", b"row 3"]));
        // The length prefix keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(derived_id(t, &[b"ab", b"c"]), derived_id(t, &[b"a", b"bc"]));
        assert_eq!(a.get_version_num(), 7);
        let later = derived_id(t + chrono::Duration::milliseconds(1), &[b"x"]);
        assert!(a.to_string() < later.to_string());
    }

    proptest! {
        #[test]
        fn safe_tokens_never_hold_a_key_separator(raw in "\\PC{0,70}") {
            if is_valid_user_id(&raw) { prop_assert!(!raw.contains('#')); }
            if is_valid_tenant_id(&raw) { prop_assert!(!raw.contains('#')); }
            if let Ok(Some(k)) = key(&raw) {
                prop_assert!(is_valid_key(&k));
                prop_assert_eq!(key(&k), Ok(Some(k.clone())));
            }
        }
    }
}
