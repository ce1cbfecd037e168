//! Where a kind's items live. Every key starts with the tenant.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | record | `T#{t}#{RECORD}#{id}` | `{RECORD}` (`CONTACT`) |
//! | audit entry | `T#{t}#{RECORD}#{id}` | `AUDIT#{uuidv7}` |
//! | tombstone | `T#{t}#{RECORD}#{id}` | `DELETED` |
//! | facet entry | `T#{t}#X#{kind}#{facet}[#{shard}]` | `{id}` |
//! | search entry (a name word / another word) | `T#{t}#X#{kind}#q:{c}` / `…#qo:{c}` | `{token}#{id}` |
//! | name pair entry | `T#{t}#X#{kind}#q2:{c}` | `{first 3 chars of a}~{b}#{id}` |
//! | custom field value entry | `T#{t}#CF#{entity}#{key}#{shard}` | `{term}#{id}` |
//!
//! Facets are `{dim}:{value}` (`status:lead`, `tag:vip`), the visibility scopes (`o:`, `t:`,
//! `tv:`, `su:`, `st:`) and `all`. Entries a filtered list drives by are also keyed by the
//! record's single-valued dimensions, where `{base}` is the entry's partition without its
//! shard: by owner (GSI1, `{base}|o:{owner}`), by team (GSI2, `{base}|tv:{team}` when its team
//! sees it, else `{base}|tp:{team}`), and, for facet and custom field value entries, by the
//! kind's two categories (GSI6, GSI7: `{base}|status:lead`, `{base}|source:web`).

use super::kind::Schema;
use uuid::Uuid;

/// Shards of a sharded facet (and of custom field value entries).
pub const SHARDS: u8 = 4;

pub const AUDIT_PREFIX: &str = crate::audit::AUDIT_SK_PREFIX;
pub const TOMBSTONE_SK: &str = "DELETED";

/// The index that qualifies entries by owner, and the one that qualifies them by team.
pub const OWNER_INDEX: &str = "GSI1";
pub const TEAM_INDEX: &str = "GSI2";

/// The indexes that qualify facet entries by the kind's two category dimensions.
pub const CATEGORY_INDEXES: [&str; 2] = ["GSI6", "GSI7"];

/// Sort slots a kind may fill.
pub const SORT_SLOTS: usize = 5;

/// The indexes of the sort slots.
pub const SORT_INDEXES: [&str; SORT_SLOTS] = ["GSI3", "GSI4", "GSI5", "GSI8", "GSI9"];

/// The shard of a record: the last byte of a UUIDv7 is random.
pub fn shard_of(id: Uuid) -> u8 {
    crate::custom_fields::entries::shard_of(id)
}

pub fn record_pk(tenant: &str, schema: &Schema, id: Uuid) -> String {
    format!("T#{tenant}#{}#{id}", schema.record)
}

/// The partition of an entry of `facet` (without a shard).
pub fn index_base(tenant: &str, schema: &Schema, facet: &str) -> String {
    format!("T#{tenant}#X#{}#{facet}", schema.name)
}

/// A base partition with its shard, if it has one.
pub fn sharded(base: &str, shard: Option<u8>) -> String {
    match shard {
        Some(s) => format!("{base}#{s}"),
        None => base.to_string(),
    }
}

/// The partitions a query reads for a base: every shard, or the base alone.
pub fn partitions(base: &str, is_sharded: bool) -> Vec<String> {
    if is_sharded {
        (0..SHARDS).map(|s| sharded(base, Some(s))).collect()
    } else {
        vec![base.to_string()]
    }
}

/// A base partition qualified by an owner or team scope (`o:…`, `tv:…`, `tp:…`).
pub fn qualified(base: &str, scope: &str) -> String {
    format!("{base}|{scope}")
}

/// The first character of a token: search partitions are split by it.
pub fn first_char(token: &str) -> String {
    token.chars().take(1).collect()
}

/// The search partition (facet name) of a token: `q:` for name words, `qo:` for the others.
pub fn search_facet(token: &str, is_name: bool) -> String {
    let c = first_char(token);
    if is_name {
        format!("q:{c}")
    } else {
        format!("qo:{c}")
    }
}

/// Characters of the first word a name pair keeps: a query's word of at least this many
/// characters can drive a pair search.
pub const PAIR_PREFIX_CHARS: usize = 3;

/// The head of a name pair's sort key: the first [`PAIR_PREFIX_CHARS`] characters of `a`, then
/// `~` (no token holds it), so `{head}{b-prefix}` is one contiguous range.
pub fn pair_head(a: &str) -> Option<String> {
    (a.chars().count() >= PAIR_PREFIX_CHARS)
        .then(|| format!("{}~", a.chars().take(PAIR_PREFIX_CHARS).collect::<String>()))
}

pub fn pair_facet(a: &str) -> String {
    format!("q2:{}", first_char(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_heads_need_three_characters() {
        assert_eq!(pair_head("ada").as_deref(), Some("ada~"));
        assert_eq!(pair_head("müller").as_deref(), Some("mül~"));
        assert_eq!(pair_head("al"), None);
        assert_eq!(sharded("p", Some(2)), "p#2");
        assert_eq!(partitions("p", true).len(), SHARDS as usize);
        assert_eq!(qualified("p", "o:u"), "p|o:u");
    }
}
