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

mod streams;
mod words;

pub use words::{pair_words, word_prefix, word_ranges};

use super::keys::{self, SORT_INDEXES};
use super::kind::Schema;
use super::query::{KeyBounds, Order, RecordQuery, Sort};
use crate::access::{Caller, Role};
use crate::custom_fields::entries::field_partitions;
use crate::custom_fields::filter::{FieldFilter, FieldSort, Op, TermRange, narrowest};
use crate::store::KeyRange;
use crate::values::search;
pub use streams::share_partitions;
use streams::{Atom, Driver, atom_scopes, atoms};

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

/// Plans a list of a kind's records for a manager, member, admin, owner or viewer (portal
/// users' lists are their one record).
pub fn plan(
    tenant: &str,
    schema: &Schema,
    caller: &Caller,
    q: &RecordQuery,
    custom: &CustomQuery,
) -> Plan {
    Planner::new(tenant, schema, caller, q, custom).plan()
}

/// A request, its caller's visibility as partitions ([`Atom`]s), and the checks every phase
/// makes.
struct Planner<'a> {
    tenant: &'a str,
    schema: &'a Schema,
    caller: &'a Caller,
    q: &'a RecordQuery,
    custom: &'a CustomQuery,
    atoms: Vec<Atom>,
    /// Records shared with a restricted caller are read in a phase of their own.
    with_shares: bool,
    /// Facets every listed record must have: the request's, and an owner or team filter.
    facets: Vec<String>,
}

impl<'a> Planner<'a> {
    fn new(
        tenant: &'a str,
        schema: &'a Schema,
        caller: &'a Caller,
        q: &'a RecordQuery,
        custom: &'a CustomQuery,
    ) -> Self {
        let (atoms, with_shares) = atoms(caller, q);
        let mut facets = q.facets.clone();
        facets.extend(q.owner.as_ref().map(|o| format!("o:{o}")));
        facets.extend(q.team.map(|t| format!("t:{t}")));
        Self {
            tenant,
            schema,
            caller,
            q,
            custom,
            atoms,
            with_shares,
            facets,
        }
    }

    /// The driver, most selective first: search words, a custom field sort, a custom field
    /// filter (unless a facet naming one record or a sort decides), facets or visibility.
    fn plan(&self) -> Plan {
        let words = self
            .q
            .q
            .as_deref()
            .map(search::query_words)
            .unwrap_or_default();
        let mut plan = Plan {
            phases: Vec::new(),
            words: words.clone(),
            entry_filters: Vec::new(),
        };
        if let Some(prefix) = self.q.q.as_deref().and_then(search::query_prefix) {
            plan.phases = self.search(prefix, &words);
        } else if let Some(sort) = &self.custom.sort {
            self.field_sort(&mut plan, sort);
            return plan;
        } else if let Some((key, ranges)) = self.driving_field() {
            self.drive_by_field(&mut plan, &key, ranges, false);
        } else {
            plan.phases = self.records();
            return plan;
        }
        if self.with_shares {
            plan.phases.push(self.shares(KeyRange::All, true));
        }
        plan
    }

    /// A phase with the checks every listed record passes.
    fn phase(&self, streams: Vec<Stream>, descending: bool, accept: Accept) -> Phase {
        Phase {
            streams,
            descending,
            accept,
            facets: self.facets.clone(),
            ranges: self.q.ranges.clone(),
            record_filters: self.custom.filters.clone(),
            exclude_scopes: Vec::new(),
        }
    }

    fn base(&self, facet: &str) -> String {
        keys::index_base(self.tenant, self.schema, facet)
    }

    /// Records shared with a restricted caller, leaving out those an earlier phase listed.
    fn shares(&self, range: KeyRange, descending: bool) -> Phase {
        let streams = share_partitions(self.tenant, self.schema, self.caller)
            .into_iter()
            .map(|p| Stream::table(p, range.clone()))
            .collect();
        let mut shares = self.phase(streams, descending, Accept::Any);
        shares.exclude_scopes = atom_scopes(&self.atoms);
        shares
    }

    /// Search: one word (or words too short to pair) reads the names' and the other words'
    /// partitions of its longest word; several words read name pairs, then the other words
    /// each may match (so records matching by name come first).
    fn search(&self, prefix: String, words: &[String]) -> Vec<Phase> {
        let Some((first, second)) = pair_words(words) else {
            let c = keys::first_char(&prefix);
            let d = Driver {
                bases: vec![
                    (self.base(&format!("q:{c}")), false),
                    (self.base(&format!("qo:{c}")), false),
                ],
                ranges: vec![KeyRange::Prefix(prefix.clone())],
            };
            let streams = d.streams(&self.atoms, None);
            return vec![self.phase(streams, false, Accept::Search { prefix })];
        };
        let head = keys::pair_head(&first).expect("a pair word has three characters");
        let pairs = Driver {
            bases: vec![(self.base(&keys::pair_facet(&first)), false)],
            ranges: vec![KeyRange::Prefix(format!("{head}{second}"))],
        };
        let pair = (first.clone(), second.clone());
        let mut phases = vec![self.phase(
            pairs.streams(&self.atoms, None),
            false,
            Accept::Pair { first, second },
        )];
        let mut before = Vec::new();
        for word in [&pair.0, &pair.1] {
            let others = Driver {
                bases: vec![(self.base(&format!("qo:{}", keys::first_char(word))), false)],
                ranges: word_ranges(word),
            };
            let accept = Accept::Other {
                word: word.clone(),
                pair: pair.clone(),
                before: before.clone(),
            };
            phases.push(self.phase(others.streams(&self.atoms, None), false, accept));
            before.push(word.clone());
        }
        phases
    }

    /// The most selective custom field filter the index answers, and its ranges; none when a
    /// facet naming one related record or a sort decides the order.
    fn driving_field(&self) -> Option<(String, Vec<TermRange>)> {
        if precise_facet(self.schema, self.q) || self.q.sort.given {
            return None;
        }
        let (_, f, ranges) = self
            .custom
            .filters
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.ranges().map(|r| (i, f, r)))
            .max_by_key(|(i, f, _)| (f.selectivity(), std::cmp::Reverse(*i)))?;
        let key = f.def.key.clone();
        let ranges = narrowest(&self.custom.filters, &key).unwrap_or(ranges);
        Some((key, ranges))
    }

    /// Reads a custom field's value entries: its filters are checked on each entry's value,
    /// the other filters on the record.
    fn drive_by_field(&self, plan: &mut Plan, key: &str, ranges: Vec<TermRange>, descending: bool) {
        let entity = self.schema.entity();
        let partitions = field_partitions(self.tenant, entity, key);
        let base = partitions[0]
            .rsplit_once('#')
            .map_or(partitions[0].clone(), |(b, _)| b.to_string());
        let d = Driver {
            bases: vec![(base, true)],
            ranges: ranges.iter().map(KeyRange::from).collect(),
        };
        let accept = Accept::Field {
            field: key.to_string(),
            ranges,
        };
        let category = self.category(None);
        let category = category.as_ref().map(|(i, c)| (*i, c.as_str()));
        let mut phase = self.phase(d.streams(&self.atoms, category), descending, accept);
        phase.record_filters.retain(|f| f.def.key != key);
        plan.phases.push(phase);
        plan.entry_filters = (self.custom.filters.iter())
            .filter(|f| f.def.key == key)
            .cloned()
            .collect();
    }

    /// A custom field sort: its value entries, in its order; then (a phase of its own) the
    /// records without a value, newest first, unless a filter on it excludes them.
    fn field_sort(&self, plan: &mut Plan, sort: &FieldSort) {
        let key = &sort.def.key;
        let ranges = narrowest(&self.custom.filters, key).unwrap_or_else(|| vec![sort.range()]);
        self.drive_by_field(plan, key, ranges, sort.descending);
        let with_empties = !self
            .custom
            .filters
            .iter()
            .any(|f| &f.def.key == key && !matches!(f.op, Op::Empty(true) | Op::Ne(_)));
        if with_empties {
            let mut newest_first = self.q.clone();
            newest_first.sort = Sort {
                order: Order::Created,
                descending: true,
                given: true,
            };
            let mut without_value = CustomQuery {
                filters: self.custom.filters.clone(),
                sort: None,
            };
            without_value.filters.push(FieldFilter {
                def: sort.def.clone(),
                op: Op::Empty(true),
            });
            let empties = Planner::new(
                self.tenant,
                self.schema,
                self.caller,
                &newest_first,
                &without_value,
            );
            plan.phases.extend(empties.records());
        }
    }

    /// The first of the kind's categories the request filters on (`(0, "status:lead")`), but
    /// not the driving facet's own dimension: it qualifies the driver's entries.
    fn category(&self, driving_facet: Option<&str>) -> Option<(usize, String)> {
        let categories = self.schema.categories.iter().enumerate();
        categories.into_iter().find_map(|(i, c)| {
            let dim = (*c)?;
            let value = self.q.facet(dim)?;
            let own = driving_facet.is_some_and(|f| f.starts_with(&format!("{dim}:")));
            (!own).then(|| (i, format!("{dim}:{value}")))
        })
    }

    /// Lists driven by facets or by what the caller may see, in creation order or a sort slot.
    fn records(&self) -> Vec<Phase> {
        let q = self.q;
        let slot = match q.sort.order {
            Order::Slot(s) => Some(s),
            _ => None,
        };
        let index = slot.map(|s| SORT_INDEXES[usize::from(s) - 1]);
        // A range on the order read is a key condition.
        let key_range = (q.ranges.iter())
            .find(|r| r.slot == slot)
            .map_or(KeyRange::All, |r| {
                KeyRange::Between(r.lo.clone(), r.hi.clone())
            });
        let make = |streams: Vec<Stream>| self.phase(streams, q.sort.descending, Accept::Any);
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
        let restricted = matches!(self.caller.role, Role::Manager | Role::Member);
        // The first of the kind's facets the request filters on (the kind lists them most
        // selective first).
        let driver = (self.schema.facets.iter()).find_map(|f| {
            let value = q.facet(f.dim)?;
            Some((format!("{}:{value}", f.dim), f.sharded, f.selective))
        });
        if let Some((facet, sharded, selective)) = driver {
            if slot.is_none() {
                // Creation order: the facet's entries qualified by the caller's visibility,
                // an owner or team filter, or a category filter.
                let category = self.category(Some(&facet));
                let d = Driver {
                    bases: vec![(self.base(&facet), sharded)],
                    ranges: vec![key_range.clone()],
                };
                let category = category.as_ref().map(|(i, c)| (*i, c.as_str()));
                let mut phases = vec![make(d.streams(&self.atoms, category))];
                if self.with_shares {
                    phases.push(self.shares(key_range.clone(), q.sort.descending));
                }
                return phases;
            }
            if !restricted || selective {
                // A sort order: the facet's entries in that order, visibility checked on each.
                return vec![make(on_index(keys::partitions(
                    &self.base(&facet),
                    sharded,
                )))];
            }
        }
        // Everything the caller may see (narrowed by an owner or team filter), merged in order.
        let scopes: Vec<String> = if let Some(owner) = &q.owner {
            vec![format!("o:{owner}")]
        } else if let Some(team) = q.team {
            vec![format!("t:{team}")]
        } else if restricted {
            let mut s: Vec<String> = self.caller.scopes().unwrap_or_default();
            s.retain(|s| !s.is_empty());
            s
        } else {
            return vec![make(on_index(keys::partitions(&self.base("all"), true)))];
        };
        vec![make(on_index(
            scopes.iter().map(|s| self.base(s)).collect(),
        ))]
    }
}

/// Whether the request filters on a facet naming one related record (see `Facet::precise`).
fn precise_facet(schema: &Schema, q: &RecordQuery) -> bool {
    schema
        .facets
        .iter()
        .any(|f| f.precise && q.facet(f.dim).is_some())
}
