//! The list planner (pure): which index partitions a list request reads, in which order, and
//! what is checked on each entry read. One planner serves every kind.
//!
//! A request is answered by a *driver*, the most selective thing it filters on: the search
//! words (`q`), a custom field (its value entries), a facet (`tag:vip`), or, with none, the
//! records a caller may see (`all`, or a manager's or member's scopes). A driver's entries are
//! also keyed by their record's single-valued dimensions (see [`super::keys`]), so the driver
//! is *qualified* by what else narrows the request:
//!
//! - a manager's or member's visibility: their own records (owner) and their teams' records
//!   (team), each a partition of its own; records shared with them are read after the others;
//! - an `owner` or `team` filter;
//! - a filter on one of the kind's two categories (contacts: status, lead source).
//!
//! Whatever the driver and its qualifier do not decide (other filters, ranges, visibility,
//! further search words, further custom fields) is checked on each entry, or, for custom
//! fields, on the record's stored values. Several search words are read through the name
//! pair entries (`ada mül`: names with a word starting "ada" and another starting "mül"),
//! then through the other words (company, email) each word may match.

use super::keys::{self, CATEGORY_INDEXES, OWNER_INDEX, SORT_INDEXES, TEAM_INDEX};
use super::kind::Schema;
use super::query::{KeyBounds, Order, RecordQuery};
use crate::access::{Caller, Role};
use crate::custom_fields::entries::field_partitions;
use crate::custom_fields::filter::{FieldFilter, FieldSort, Op, TermRange, narrowest};
use crate::store::KeyRange;
use crate::values::search;
use uuid::Uuid;

/// One partition (of the table or an index) read in key order.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub index: Option<&'static str>,
    pub pk: String,
    pub range: KeyRange,
    /// For a qualified index: the entry's own partition without its shard, and whether it is
    /// sharded (to continue after a position, the index needs the table key too).
    pub base: Option<(String, bool)>,
}

impl Stream {
    fn table(pk: String, range: KeyRange) -> Self {
        Self {
            index: None,
            pk,
            range,
            base: None,
        }
    }

    /// The attribute holding an entry's position in this stream.
    pub fn position_attribute(&self) -> String {
        match self.index {
            None => "SK".into(),
            Some(ix) => format!("{ix}SK"),
        }
    }
}

/// What makes an entry read by a driver the one its record is listed at (a record has several
/// entries in one driver: a token per word, a term per value) and a match of the driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Accept {
    /// Every entry stands for its record (facets: one per record and partition).
    Any,
    /// Search entries with tokens starting with `prefix`: the record is listed at the first.
    Search { prefix: String },
    /// Name pairs `(a, b)` with `a` starting with `first` and `b` with `second`.
    Pair { first: String, second: String },
    /// Other words (not names) `word` is a prefix of; `pair` is the pair read before (whose
    /// records are not listed again), `before` the words read before this one.
    Other {
        word: String,
        pair: (String, String),
        before: Vec<String>,
    },
    /// Value entries of a custom field in these ranges.
    Field {
        field: String,
        ranges: Vec<TermRange>,
    },
}

/// One ordered read: its streams are merged in position order (a record met twice is listed
/// once), then the next phase starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub streams: Vec<Stream>,
    pub descending: bool,
    pub accept: Accept,
    /// Facets every listed record must have (`tag:vip`, `o:{owner}`, `t:{team}`).
    pub facets: Vec<String>,
    pub ranges: Vec<KeyBounds>,
    /// Custom field filters checked on the record's stored values.
    pub record_filters: Vec<FieldFilter>,
    /// Records with one of these scopes were listed by an earlier phase.
    pub exclude_scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub phases: Vec<Phase>,
    /// Search words every record must match.
    pub words: Vec<String>,
    /// Custom field filters checked on a driving field's entry (its value).
    pub entry_filters: Vec<FieldFilter>,
}

/// The custom field filters and sort of a request, resolved against the definitions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomQuery {
    pub filters: Vec<FieldFilter>,
    pub sort: Option<FieldSort>,
}

/// Which records a caller's list starts from.
#[derive(Debug, Clone, PartialEq)]
enum Atom {
    All,
    Owner(String),
    Team { team: Uuid, private_too: bool },
}

/// The caller's visibility as partitions, narrowed by an owner or team filter; and whether
/// records shared with them are read in a phase of their own.
fn atoms(caller: &Caller, q: &RecordQuery) -> (Vec<Atom>, bool) {
    let restricted = matches!(caller.role, Role::Manager | Role::Member);
    match (&q.owner, q.team) {
        (Some(owner), _) => (vec![Atom::Owner(owner.clone())], false),
        (None, Some(team)) => (
            vec![Atom::Team {
                team,
                private_too: true,
            }],
            false,
        ),
        (None, None) if !restricted => (vec![Atom::All], false),
        (None, None) => {
            let private_too = caller.role == Role::Manager;
            let mut atoms = vec![Atom::Owner(caller.user_id.clone())];
            atoms.extend(caller.teams.iter().map(|t| Atom::Team {
                team: *t,
                private_too,
            }));
            (atoms, true)
        }
    }
}

/// The scopes a record reachable through the atoms has (for leaving those out of the shares
/// phase).
fn atom_scopes(atoms: &[Atom]) -> Vec<String> {
    atoms
        .iter()
        .flat_map(|a| match a {
            Atom::All => vec![],
            Atom::Owner(o) => vec![format!("o:{o}")],
            Atom::Team {
                team,
                private_too: true,
            } => vec![format!("t:{team}")],
            Atom::Team { team, .. } => vec![format!("tv:{team}")],
        })
        .collect()
}

/// The partitions holding records shared with the caller (directly or with their teams).
fn share_partitions(tenant: &str, schema: &Schema, caller: &Caller) -> Vec<String> {
    let mut scopes = vec![format!("su:{}", caller.user_id)];
    scopes.extend(caller.teams.iter().map(|t| format!("st:{t}")));
    scopes
        .iter()
        .map(|s| keys::index_base(tenant, schema, s))
        .collect()
}

/// The entries a driver reads: base partitions (with whether sharded), and key ranges.
#[derive(Debug, Clone)]
struct Driver {
    bases: Vec<(String, bool)>,
    ranges: Vec<KeyRange>,
}

/// Streams of a driver restricted to the atoms (or, for everything, qualified by a category
/// when `category` is given).
fn qualified_streams(d: &Driver, atoms: &[Atom], category: Option<(usize, &str)>) -> Vec<Stream> {
    let mut out = Vec::new();
    for (base, sharded) in &d.bases {
        for range in &d.ranges {
            let via = |index: &'static str, scope: String| Stream {
                index: Some(index),
                pk: keys::qualified(base, &scope),
                range: range.clone(),
                base: Some((base.clone(), *sharded)),
            };
            for atom in atoms {
                match atom {
                    Atom::All => match category {
                        Some((i, c)) => out.push(via(CATEGORY_INDEXES[i], c.to_string())),
                        None => out.extend(
                            keys::partitions(base, *sharded)
                                .into_iter()
                                .map(|p| Stream::table(p, range.clone())),
                        ),
                    },
                    Atom::Owner(o) => out.push(via(OWNER_INDEX, format!("o:{o}"))),
                    Atom::Team { team, private_too } => {
                        out.push(via(TEAM_INDEX, format!("tv:{team}")));
                        if *private_too {
                            out.push(via(TEAM_INDEX, format!("tp:{team}")));
                        }
                    }
                }
            }
        }
    }
    out
}

/// The ranges a token prefix `w` has when it must be a whole word of a token: the token is `w`
/// itself, or `w` followed by a digit or a letter (not by `.`, `@`, … of an email address).
pub fn word_ranges(w: &str) -> Vec<KeyRange> {
    vec![
        KeyRange::Prefix(format!("{w}#")),
        KeyRange::Between(format!("{w}0"), format!("{w}9\u{10FFFF}")),
        KeyRange::Between(format!("{w}a"), format!("{w}\u{10FFFF}")),
    ]
}

/// Whether `w` is a prefix of a token's first word (its letters and digits up to the first
/// punctuation).
pub fn word_prefix(w: &str, token: &str) -> bool {
    token
        .strip_prefix(w)
        .is_some_and(|rest| rest.chars().next().is_none_or(char::is_alphanumeric))
}

/// The two words a several-word search drives by: the longest one of at least three
/// characters (a pair's head), and the longest other one. Words that are prefixes of other
/// words add nothing and are left out.
pub fn pair_words(words: &[String]) -> Option<(String, String)> {
    let distinct: Vec<&String> = words
        .iter()
        .filter(|w| !words.iter().any(|o| o != *w && o.starts_with(w.as_str())))
        .collect();
    // The longest, the first of equally long ones (the order the words were typed in).
    fn longest(words: Vec<&String>) -> Option<&String> {
        words.into_iter().fold(None, |best, w| match best {
            Some(b) if b.chars().count() >= w.chars().count() => Some(b),
            _ => Some(w),
        })
    }
    let first = longest(
        distinct
            .iter()
            .copied()
            .filter(|w| w.chars().count() >= keys::PAIR_PREFIX_CHARS)
            .collect(),
    )?;
    let second = longest(distinct.iter().copied().filter(|w| *w != first).collect())?;
    Some((first.clone(), second.clone()))
}

/// Whether the request filters on a facet naming one related record (see `Facet::precise`).
fn precise_facet(schema: &Schema, q: &RecordQuery) -> bool {
    schema
        .facets
        .iter()
        .any(|f| f.precise && q.facet(f.dim).is_some())
}

/// Plans a list of a kind's records for a manager, member, admin, owner or viewer (portal
/// users' lists are their one record).
pub fn plan(
    tenant: &str,
    schema: &Schema,
    caller: &Caller,
    q: &RecordQuery,
    custom: &CustomQuery,
) -> Plan {
    let (atoms, with_shares) = atoms(caller, q);
    let mut facets: Vec<String> = q.facets.clone();
    if let Some(o) = &q.owner {
        facets.push(format!("o:{o}"));
    }
    if let Some(t) = q.team {
        facets.push(format!("t:{t}"));
    }
    let words = q.q.as_deref().map(search::query_words).unwrap_or_default();
    let mut plan = Plan {
        phases: Vec::new(),
        words: words.clone(),
        entry_filters: Vec::new(),
    };
    let phase = |streams: Vec<Stream>, descending: bool, accept: Accept| Phase {
        streams,
        descending,
        accept,
        facets: facets.clone(),
        ranges: q.ranges.clone(),
        record_filters: custom.filters.clone(),
        exclude_scopes: Vec::new(),
    };
    let base = |facet: &str| keys::index_base(tenant, schema, facet);
    // What the shares phase of a restricted caller checks on their shared records.
    let mut shares_accept = Accept::Any;

    if let Some(prefix) = q.q.as_deref().and_then(search::query_prefix) {
        // Search: one word (or words too short to pair) reads the names' and the other
        // words' partitions of its longest word; several words read name pairs, then the
        // other words each may match.
        match pair_words(&words) {
            None => {
                let c = keys::first_char(&prefix);
                let d = Driver {
                    bases: vec![
                        (base(&format!("q:{c}")), false),
                        (base(&format!("qo:{c}")), false),
                    ],
                    ranges: vec![KeyRange::Prefix(prefix.clone())],
                };
                plan.phases.push(phase(
                    qualified_streams(&d, &atoms, None),
                    false,
                    Accept::Search { prefix },
                ));
            }
            Some((first, second)) => {
                let head = keys::pair_head(&first).expect("a pair word has three characters");
                let pairs = Driver {
                    bases: vec![(base(&keys::pair_facet(&first)), false)],
                    ranges: vec![KeyRange::Prefix(format!("{head}{second}"))],
                };
                plan.phases.push(phase(
                    qualified_streams(&pairs, &atoms, None),
                    false,
                    Accept::Pair {
                        first: first.clone(),
                        second: second.clone(),
                    },
                ));
                let mut before = Vec::new();
                for word in [&first, &second] {
                    let others = Driver {
                        bases: vec![(base(&format!("qo:{}", keys::first_char(word))), false)],
                        ranges: word_ranges(word),
                    };
                    plan.phases.push(phase(
                        qualified_streams(&others, &atoms, None),
                        false,
                        Accept::Other {
                            word: word.clone(),
                            pair: (first.clone(), second.clone()),
                            before: before.clone(),
                        },
                    ));
                    before.push(word.clone());
                }
            }
        }
    } else if let Some(sort) = &custom.sort {
        // A custom field sort: its value entries, in its order; then (a phase of its own)
        // the records without a value, newest first, unless a filter on it excludes them.
        let key = &sort.def.key;
        let ranges = narrowest(&custom.filters, key).unwrap_or_else(|| vec![sort.range()]);
        plan.phases.push(field_phase(
            tenant,
            schema,
            &atoms,
            &phase,
            key,
            ranges,
            sort.descending,
        ));
        plan.entry_filters = custom
            .filters
            .iter()
            .filter(|f| &f.def.key == key)
            .cloned()
            .collect();
        if let Some(p) = plan.phases.last_mut() {
            p.record_filters.retain(|f| &f.def.key != key);
        }
        let with_empties = !custom
            .filters
            .iter()
            .any(|f| &f.def.key == key && !matches!(f.op, Op::Empty(true) | Op::Ne(_)));
        if with_empties {
            let mut empties_query = q.clone();
            empties_query.sort = super::query::Sort {
                order: Order::Created,
                descending: true,
                given: true,
            };
            let mut empties = CustomQuery {
                filters: custom.filters.clone(),
                sort: None,
            };
            empties.filters.push(FieldFilter {
                def: sort.def.clone(),
                op: Op::Empty(true),
            });
            let rest = plan_records(
                tenant,
                schema,
                caller,
                &empties_query,
                &empties,
                &atoms,
                with_shares,
            );
            plan.phases.extend(rest);
        }
        return plan;
    } else if !precise_facet(schema, q) && !q.sort.given {
        // The most selective custom field filter the index answers drives.
        let best = custom
            .filters
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.ranges().map(|r| (i, f, r)))
            .max_by_key(|(i, f, _)| (f.selectivity(), std::cmp::Reverse(*i)));
        if let Some((_, f, ranges)) = best {
            let key = f.def.key.clone();
            let ranges = narrowest(&custom.filters, &key).unwrap_or(ranges);
            plan.phases.push(field_phase(
                tenant, schema, &atoms, &phase, &key, ranges, false,
            ));
            plan.entry_filters = custom
                .filters
                .iter()
                .filter(|f| f.def.key == key)
                .cloned()
                .collect();
            if let Some(p) = plan.phases.last_mut() {
                p.record_filters.retain(|f| f.def.key != key);
            }
            shares_accept = Accept::Any;
        } else {
            plan.phases.extend(plan_records(
                tenant,
                schema,
                caller,
                q,
                custom,
                &atoms,
                with_shares,
            ));
            return plan;
        }
    } else {
        plan.phases.extend(plan_records(
            tenant,
            schema,
            caller,
            q,
            custom,
            &atoms,
            with_shares,
        ));
        return plan;
    }
    if with_shares {
        let mut shares = phase(
            share_partitions(tenant, schema, caller)
                .into_iter()
                .map(|p| Stream::table(p, KeyRange::All))
                .collect(),
            true,
            shares_accept,
        );
        shares.exclude_scopes = atom_scopes(&atoms);
        // The driving field's filters are checked on the record here.
        shares.record_filters = custom.filters.clone();
        plan.phases.push(shares);
    }
    plan
}

/// The phase reading a custom field's value entries.
#[allow(clippy::too_many_arguments)]
fn field_phase(
    tenant: &str,
    schema: &Schema,
    atoms: &[Atom],
    phase: &dyn Fn(Vec<Stream>, bool, Accept) -> Phase,
    key: &str,
    ranges: Vec<TermRange>,
    descending: bool,
) -> Phase {
    let entity = schema.entity();
    let partitions = field_partitions(tenant, entity, key);
    let base = partitions[0]
        .rsplit_once('#')
        .map_or(partitions[0].clone(), |(b, _)| b.to_string());
    let d = Driver {
        bases: vec![(base, true)],
        ranges: ranges
            .iter()
            .map(|r| match r {
                TermRange::Prefix(p) => KeyRange::Prefix(p.clone()),
                TermRange::Between(lo, hi) => KeyRange::Between(lo.clone(), hi.clone()),
            })
            .collect(),
    };
    phase(
        qualified_streams(&d, atoms, None),
        descending,
        Accept::Field {
            field: key.to_string(),
            ranges,
        },
    )
}

/// Lists driven by facets or by what the caller may see, in creation order or a sort slot.
fn plan_records(
    tenant: &str,
    schema: &Schema,
    caller: &Caller,
    q: &RecordQuery,
    custom: &CustomQuery,
    atoms: &[Atom],
    with_shares: bool,
) -> Vec<Phase> {
    let mut facets: Vec<String> = q.facets.clone();
    if let Some(o) = &q.owner {
        facets.push(format!("o:{o}"));
    }
    if let Some(t) = q.team {
        facets.push(format!("t:{t}"));
    }
    let slot = match q.sort.order {
        Order::Slot(s) => Some(s),
        _ => None,
    };
    let index = slot.map(|s| SORT_INDEXES[usize::from(s) - 1]);
    // A range on the order read is a key condition.
    let key_range = q
        .ranges
        .iter()
        .find(|r| r.slot == slot)
        .map_or(KeyRange::All, |r| {
            KeyRange::Between(r.lo.clone(), r.hi.clone())
        });
    let base = |facet: &str| keys::index_base(tenant, schema, facet);
    let make = |streams: Vec<Stream>| Phase {
        streams,
        descending: q.sort.descending,
        accept: Accept::Any,
        facets: facets.clone(),
        ranges: q.ranges.clone(),
        record_filters: custom.filters.clone(),
        exclude_scopes: Vec::new(),
    };
    let on_index = |partitions: Vec<String>| -> Vec<Stream> {
        partitions
            .into_iter()
            .map(|p| Stream {
                index,
                pk: p,
                range: key_range.clone(),
                base: None,
            })
            .collect()
    };
    let restricted = matches!(caller.role, Role::Manager | Role::Member);
    // The kind's facets the request filters on, most selective first.
    let filtered: Vec<&super::kind::Facet> = schema
        .facets
        .iter()
        .filter(|f| q.facet(f.dim).is_some())
        .collect();
    let driver = filtered.first().map(|f| {
        let facet = format!("{}:{}", f.dim, q.facet(f.dim).unwrap_or_default());
        (facet, f.sharded, f.selective)
    });
    if let Some((facet, sharded, selective)) = driver {
        {
            if slot.is_none() {
                // Creation order: the facet's entries qualified by the caller's visibility,
                // an owner or team filter, or a category filter.
                let category = schema.categories.iter().enumerate().find_map(|(i, c)| {
                    let dim = (*c)?;
                    let value = q.facet(dim)?;
                    (!facet.starts_with(&format!("{dim}:"))).then(|| (i, format!("{dim}:{value}")))
                });
                let d = Driver {
                    bases: vec![(base(&facet), sharded)],
                    ranges: vec![key_range.clone()],
                };
                let streams =
                    qualified_streams(&d, atoms, category.as_ref().map(|(i, c)| (*i, c.as_str())));
                let mut phases = vec![make(streams)];
                if with_shares {
                    let mut shares = make(
                        share_partitions(tenant, schema, caller)
                            .into_iter()
                            .map(|p| Stream::table(p, key_range.clone()))
                            .collect(),
                    );
                    shares.exclude_scopes = atom_scopes(atoms);
                    phases.push(shares);
                }
                return phases;
            }
            if !restricted || selective {
                // A sort order: the facet's entries in that order, visibility checked on each.
                return vec![make(on_index(keys::partitions(&base(&facet), sharded)))];
            }
        }
    }
    // Everything the caller may see (narrowed by an owner or team filter), merged in order.
    let scopes: Vec<String> = if let Some(owner) = &q.owner {
        vec![format!("o:{owner}")]
    } else if let Some(team) = q.team {
        vec![format!("t:{team}")]
    } else if restricted {
        let mut s: Vec<String> = caller.scopes().unwrap_or_default();
        s.retain(|s| !s.is_empty());
        s
    } else {
        return vec![make(on_index(keys::partitions(&base("all"), true)))];
    };
    vec![make(on_index(scopes.iter().map(|s| base(s)).collect()))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_words_take_the_longest_words_that_add_something() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            pair_words(&w(&["ada", "mul"])),
            Some(("ada".into(), "mul".into()))
        );
        assert_eq!(
            pair_words(&w(&["lovelace", "ad"])),
            Some(("lovelace".into(), "ad".into()))
        );
        assert_eq!(pair_words(&w(&["al", "tu"])), None);
        assert_eq!(
            pair_words(&w(&["ada", "adam"])),
            None,
            "ada adds nothing to adam"
        );
        assert_eq!(pair_words(&w(&["ada"])), None);
    }

    #[test]
    fn a_word_matches_the_first_word_of_a_token() {
        assert!(word_prefix("ada", "ada"));
        assert!(word_prefix("ada", "adams"));
        assert!(word_prefix("ada", "ada1"));
        assert!(!word_prefix("ada", "ada.lovelace@example.com"));
        assert!(!word_prefix("ada", "mada"));
        let ranges = word_ranges("ada");
        for token in ["ada", "adams", "ada1", "adaé"] {
            let sk = format!("{token}#id");
            assert!(ranges.iter().any(|r| r.holds(&sk)), "{token}");
        }
        assert!(!ranges.iter().any(|r| r.holds("ada.x@y.z#id")));
    }
}
