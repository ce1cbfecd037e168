//! A record's index entries (pure): one item per facet, search token, name pair and custom
//! field term, each carrying the record's summary and what a list checks on a candidate (its
//! facets, sort values and tokens), so a page reads one entry per row and no record.
//! Written in the record's transaction; a trashed record has none.

use super::keys::{self, CATEGORY_INDEXES, OWNER_INDEX, SORT_INDEXES, TEAM_INDEX};
use super::kind::{Kind, Record, Schema};
use crate::CrmError;
use crate::access::visibility::{record_scopes, team_qualifier};
use crate::custom_fields::entries as field_entries;
use crate::store::item::list;
use crate::store::{Item, Key, n, s, to_item};
use crate::values::search;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// Attributes every entry holds besides its keys.
pub const RECORD_ID: &str = "rid";
pub const SUMMARY: &str = "rec";
pub const FACETS: &str = "f";
pub const TOKENS: &str = "tok";
pub const NAME_TOKENS: &str = "nm";
pub const VERSION: &str = "v";

/// The attribute of sort slot `i` (1–3) on every entry, for range checks on candidates.
pub fn order_attribute(slot: u8) -> String {
    format!("o{slot}")
}

/// What a record is indexed by, worked out once per write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Indexed {
    pub id: Uuid,
    /// Every facet of the record (unsharded): kind facets, scopes, `all`.
    pub facets: Vec<String>,
    /// The kind facets alone, with whether each is sharded.
    pub kind_facets: Vec<(String, bool)>,
    /// The record's facets of the schema's category dimensions (`status:lead`), in order.
    pub categories: [Option<String>; 2],
    pub sort_keys: [Option<String>; keys::SORT_SLOTS],
    /// All search tokens, and those of names.
    pub tokens: Vec<String>,
    pub name_tokens: Vec<String>,
    pub owner_qualifier: Option<String>,
    pub team_qualifier: Option<String>,
}

/// The search tokens of a record: its name words (each with its German spelling), its other
/// words, and the tokens of its email addresses; without empty ones or `#`.
pub fn tokens_of(text: &super::kind::SearchText) -> (Vec<String>, Vec<String>) {
    let clean = |t: &String| !t.is_empty() && !t.contains('#');
    let names: BTreeSet<String> = text
        .names
        .iter()
        .flat_map(|t| search::tokens(t))
        .filter(clean)
        .collect();
    let mut all = names.clone();
    all.extend(
        text.others
            .iter()
            .flat_map(|t| search::tokens(t))
            .filter(clean),
    );
    all.extend(
        text.emails
            .iter()
            .flat_map(|e| search::email_tokens(e))
            .filter(clean),
    );
    (all.into_iter().collect(), names.into_iter().collect())
}

pub fn indexed<K: Kind>(record: &K::Record) -> Indexed {
    let schema = K::schema();
    let access = record.access();
    let kind_facets: Vec<(String, bool)> = K::facets(record)
        .into_iter()
        .filter_map(|(dim, value)| {
            let facet = schema.facet(dim)?;
            Some((format!("{dim}:{value}"), facet.sharded))
        })
        .collect();
    let categories = schema.categories.map(|dim| {
        let dim = dim?;
        kind_facets
            .iter()
            .find(|(f, _)| f.strip_prefix(dim).is_some_and(|r| r.starts_with(':')))
            .map(|(f, _)| f.clone())
    });
    let mut facets: Vec<String> = vec!["all".into()];
    facets.extend(kind_facets.iter().map(|(f, _)| f.clone()));
    facets.extend(record_scopes(&access));
    facets.sort();
    facets.dedup();
    let (tokens, name_tokens) = if schema.search {
        tokens_of(&K::search_text(record))
    } else {
        (Vec::new(), Vec::new())
    };
    Indexed {
        id: record.id(),
        facets,
        kind_facets,
        categories,
        sort_keys: K::sort_keys(record),
        tokens,
        name_tokens,
        owner_qualifier: access.owner.map(|o| format!("o:{o}")),
        team_qualifier: team_qualifier(&access),
    }
}

/// The ordered name pairs of a record: `(a, b)` for distinct name tokens with `a` long enough
/// to head a pair.
pub fn name_pairs(name_tokens: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for a in name_tokens {
        let Some(head) = keys::pair_head(a) else {
            continue;
        };
        for b in name_tokens.iter().filter(|b| *b != a) {
            out.push((keys::pair_facet(a), format!("{head}{b}")));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// One entry to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Key,
    pub item: Item,
}

struct Builder<'a> {
    tenant: &'a str,
    schema: &'a Schema,
    ix: &'a Indexed,
    common: Item,
    out: Vec<Entry>,
}

impl Builder<'_> {
    fn push(&mut self, base: String, shard: Option<u8>, sk: String, kind: EntryKind) {
        let pk = keys::sharded(&base, shard);
        let mut item = self.common.clone();
        item.extend(crate::store::key(pk.clone(), sk.clone()));
        let id = self.ix.id;
        if kind.sorted {
            for (i, value) in self.ix.sort_keys.iter().enumerate() {
                if let Some(v) = value {
                    let ix = SORT_INDEXES[i];
                    item.insert(format!("{ix}PK"), s(pk.clone()));
                    item.insert(format!("{ix}SK"), s(format!("{v}#{id}")));
                }
            }
        }
        if kind.qualified {
            if let Some(o) = &self.ix.owner_qualifier {
                item.insert(format!("{OWNER_INDEX}PK"), s(keys::qualified(&base, o)));
                item.insert(format!("{OWNER_INDEX}SK"), s(sk.clone()));
            }
            if let Some(t) = &self.ix.team_qualifier {
                item.insert(format!("{TEAM_INDEX}PK"), s(keys::qualified(&base, t)));
                item.insert(format!("{TEAM_INDEX}SK"), s(sk.clone()));
            }
        }
        if kind.categorised {
            for (ix, category) in CATEGORY_INDEXES.iter().zip(&self.ix.categories) {
                // A facet of the category's own dimension gains nothing from it.
                let own = |c: &String| base.ends_with(&format!("#{c}"));
                if let Some(c) = category.as_ref().filter(|c| !own(c)) {
                    item.insert(format!("{ix}PK"), s(keys::qualified(&base, c)));
                    item.insert(format!("{ix}SK"), s(sk.clone()));
                }
            }
        }
        self.out.push(Entry {
            key: Key::new(pk, sk),
            item,
        });
    }

    fn facet(&mut self, facet: &str, sharded: bool, kind: EntryKind) {
        let base = keys::index_base(self.tenant, self.schema, facet);
        let shard = sharded.then(|| keys::shard_of(self.ix.id));
        self.push(base, shard, self.ix.id.to_string(), kind);
    }
}

#[derive(Clone, Copy)]
struct EntryKind {
    /// In the sort slot indexes.
    sorted: bool,
    /// In the owner and team qualifier indexes.
    qualified: bool,
    /// In the category qualifier indexes.
    categorised: bool,
}

const SCOPE: EntryKind = EntryKind {
    sorted: true,
    qualified: false,
    categorised: false,
};
const FILTER: EntryKind = EntryKind {
    sorted: true,
    qualified: true,
    categorised: true,
};
const TERM: EntryKind = EntryKind {
    sorted: false,
    qualified: true,
    categorised: false,
};
/// A custom field value: a filter of its own, combined with a category as a facet is.
const VALUE: EntryKind = EntryKind {
    sorted: false,
    qualified: true,
    categorised: true,
};

/// Every entry of a live record (none for a trashed one).
pub fn entries<K: Kind>(tenant: &str, record: &K::Record) -> Result<Vec<Entry>, CrmError> {
    if record.deleted_at().is_some() {
        return Ok(Vec::new());
    }
    let schema = K::schema();
    let ix = indexed::<K>(record);
    let mut common = to_item(&K::summary(record), Item::new()).map(|m| {
        Item::from([(
            SUMMARY.to_string(),
            aws_sdk_dynamodb::types::AttributeValue::M(m),
        )])
    })?;
    common.insert("entity".into(), s(format!("{}_index", schema.name)));
    common.insert(RECORD_ID.into(), s(ix.id.to_string()));
    common.insert(VERSION.into(), n(record.version()));
    common.insert(FACETS.into(), list(ix.facets.clone()));
    for (i, value) in ix.sort_keys.iter().enumerate() {
        if let Some(v) = value {
            common.insert(order_attribute(i as u8 + 1), s(v.clone()));
        }
    }
    if schema.search {
        common.insert(TOKENS.into(), list(ix.tokens.clone()));
        common.insert(NAME_TOKENS.into(), list(ix.name_tokens.clone()));
    }
    let mut b = Builder {
        tenant,
        schema,
        ix: &ix,
        common,
        out: Vec::new(),
    };
    b.facet("all", true, SCOPE);
    for scope in record_scopes(&record.access()) {
        b.facet(&scope, false, SCOPE);
    }
    for (facet, sharded) in &ix.kind_facets {
        b.facet(facet, *sharded, FILTER);
    }
    for token in &ix.tokens {
        let is_name = ix.name_tokens.contains(token);
        let base = keys::index_base(tenant, schema, &keys::search_facet(token, is_name));
        b.push(base, None, format!("{token}#{}", ix.id), TERM);
    }
    for (facet, head) in name_pairs(&ix.name_tokens) {
        let base = keys::index_base(tenant, schema, &facet);
        b.push(base, None, format!("{head}#{}", ix.id), TERM);
    }
    // Custom field values: one entry per indexed term (see `custom_fields::entries`).
    let values = record.custom_fields();
    let terms = record.custom_terms();
    let entity = schema.entity();
    for k in field_entries::entry_keys(tenant, entity, ix.id, terms) {
        let value = values.get(&k.field).ok_or_else(|| {
            CrmError::Internal(format!("no value of {} for its index entry", k.field))
        })?;
        let field_terms = terms.get(&k.field).cloned().unwrap_or_default();
        let base =
            k.pk.rsplit_once('#')
                .map_or(k.pk.clone(), |(b, _)| b.to_string());
        let shard = Some(keys::shard_of(ix.id));
        let before = b.out.len();
        b.push(base, shard, k.sk.clone(), VALUE);
        let item = &mut b.out[before].item;
        item.insert("entity".into(), s(format!("{}_cf", entity.as_str())));
        item.extend(field_entries::entry_attributes(
            ix.id,
            &k.field,
            value,
            &field_terms,
        )?);
    }
    let mut seen = BTreeSet::new();
    b.out.retain(|e| seen.insert(e.key.clone()));
    Ok(b.out)
}

/// The keys of a record's entries.
pub fn entry_keys<K: Kind>(tenant: &str, record: &K::Record) -> Result<Vec<Key>, CrmError> {
    Ok(entries::<K>(tenant, record)?
        .into_iter()
        .map(|e| e.key)
        .collect())
}

/// Entries that changed between two states: those to delete, those to (re)write. Entries
/// carry the summary (version, update time), so every live entry is rewritten.
pub fn diff(old: &[Entry], new: &[Entry]) -> (Vec<Key>, Vec<Entry>) {
    let new_keys: BTreeSet<&Key> = new.iter().map(|e| &e.key).collect();
    let gone = old
        .iter()
        .filter(|e| !new_keys.contains(&e.key))
        .map(|e| e.key.clone())
        .collect();
    (gone, new.to_vec())
}

/// A summary of how a record is indexed, for tests and the README's write-cost figures:
/// entries by what they are (`facet`, `search`, `pair`, `custom field`).
pub fn census(entries: &[Entry]) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for e in entries {
        let what = if e.key.pk.contains("#CF#") {
            "custom field"
        } else if e.key.pk.contains("#q2:") {
            "pair"
        } else if e.key.pk.contains("#q:") || e.key.pk.contains("#qo:") {
            "search"
        } else {
            "facet"
        };
        *out.entry(what).or_default() += 1;
    }
    out
}
