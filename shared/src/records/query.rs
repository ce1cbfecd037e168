//! A list request of any kind (pure): its parameters, parsed against the kind's schema, with
//! every bad one named.
//!
//! - `q`: prefix search (kinds with search); several words must all match;
//! - one parameter per facet of the kind (`tag`, `status`, `client`, …), `owner`, `team`;
//! - time ranges `{name}_from` / `{name}_to` (a time or a whole day) and the kind's
//!   "before, or never" filters (`not_contacted_since`);
//! - `sort`: `created_at` or one of the kind's orders, `cf.{key}`, `-` for descending (default
//!   newest first);
//! - `cf.{key}` / `cf.{key}[op]` custom field filters;
//! - `limit`, `cursor`.

use super::kind::{RangeFilter, Schema};
use crate::custom_fields::filter::{MAX_FILTERS, RawFilter, raw_filter};
use crate::errors::FieldErrors;
use crate::values::search;
use crate::values::time::{DayEnd, parse_bound, time_key, v7_bound};
use crate::{CrmError, FieldError};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Where a list is ordered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    /// Creation (the id).
    Created,
    /// One of the kind's sort slots (1–3).
    Slot(u8),
    /// A custom field's values.
    Field(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    pub order: Order,
    pub descending: bool,
    /// Whether `sort` was given (a list driven by a custom field filter is otherwise in that
    /// field's order).
    pub given: bool,
}

impl Default for Sort {
    /// Newest first.
    fn default() -> Self {
        Self {
            order: Order::Created,
            descending: true,
            given: false,
        }
    }
}

/// A range of sort keys (`{value}#{id}`, or the id for creation), both ends included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBounds {
    /// `None`: creation; else a sort slot.
    pub slot: Option<u8>,
    pub lo: String,
    pub hi: String,
}

impl KeyBounds {
    pub fn holds(&self, key: &str) -> bool {
        self.lo.as_str() <= key && key <= self.hi.as_str()
    }
}

/// The parameters of a list request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordQuery {
    pub q: Option<String>,
    /// Facet filters, each `{dim}:{value}` as the records store it.
    pub facets: Vec<String>,
    pub owner: Option<String>,
    pub team: Option<Uuid>,
    pub ranges: Vec<KeyBounds>,
    pub sort: Sort,
    pub custom: Vec<RawFilter>,
}

impl RecordQuery {
    /// The value of a facet filter on dimension `dim`.
    pub fn facet(&self, dim: &str) -> Option<&str> {
        self.facets
            .iter()
            .find_map(|f| f.strip_prefix(dim).and_then(|rest| rest.strip_prefix(':')))
    }

    /// A fingerprint binding cursors to this query and caller.
    pub fn fingerprint(&self, kind: &str, user: &str) -> String {
        format!("{kind}:{self:?}:{user}")
    }

    /// Parses the query string of `GET /{plural}`.
    pub fn parse(schema: &Schema, params: &BTreeMap<String, String>) -> Result<Self, CrmError> {
        let mut e = FieldErrors::new();
        let mut q = Self::default();
        let known = known_parameters(schema);
        for (name, value) in params {
            if let Some(raw) = raw_filter(name, value) {
                q.custom.push(raw);
            } else if !known.contains(name) {
                e.push(
                    name.as_str(),
                    "unknown_parameter",
                    "not a parameter of this list",
                );
            } else if value.trim().is_empty() {
                // `?client=` names no client: refused, not read as "no filter".
                e.push(
                    name.as_str(),
                    "non_empty",
                    "must not be empty; leave the parameter out instead",
                );
            }
        }
        let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        for facet in schema.facets {
            if let Some(raw) = get(facet.param) {
                match (facet.parse)(raw) {
                    Ok(value) => q.facets.push(format!("{}:{value}", facet.dim)),
                    Err(err) => e.extend([err]),
                }
            }
        }
        q.owner = get("owner").map(str::to_string);
        q.team = get("team").and_then(|v| match v.parse::<Uuid>() {
            Ok(u) => Some(u),
            Err(_) => {
                e.push("team", "uuid", "must be a UUID");
                None
            }
        });
        if schema.search {
            q.q = get("q").map(str::to_string);
            if q.q
                .as_deref()
                .is_some_and(|raw| search::query_prefix(raw).is_none())
            {
                e.push("q", "searchable", "must contain a letter or digit");
            }
        }
        for filter in schema.range_filters {
            let mut bound = |k: String, end: DayEnd| {
                get(&k).and_then(|v| e.check(k.as_str(), parse_bound(v, end)))
            };
            // The filter's key range, the parameter of its lower end, and what an inverted
            // range breaks.
            let (bounds, lower, inverted) = match *filter {
                RangeFilter::Between { name, slot } => {
                    let from = bound(format!("{name}_from"), DayEnd::Start);
                    let to = bound(format!("{name}_to"), DayEnd::End);
                    if from.is_none() && to.is_none() {
                        continue;
                    }
                    let bounds = match slot {
                        None => KeyBounds {
                            slot: None,
                            lo: from
                                .map_or_else(|| Uuid::nil().to_string(), |t| v7_bound(t, false)),
                            hi: to.map_or_else(|| Uuid::max().to_string(), |t| v7_bound(t, true)),
                        },
                        // Time keys start with a digit from 1; `0` is "never".
                        Some(slot) => KeyBounds {
                            slot: Some(slot),
                            lo: from.map_or_else(|| "1".to_string(), time_key),
                            hi: to.map_or_else(|| "9".to_string(), |t| format!("{}~", time_key(t))),
                        },
                    };
                    (
                        bounds,
                        format!("{name}_from"),
                        format!("must not be after {name}_to"),
                    )
                }
                RangeFilter::Values { name, slot, key } => {
                    let mut value = |k: String| get(&k).and_then(|v| e.check(k.as_str(), key(v)));
                    let min = value(format!("{name}_min"));
                    let max = value(format!("{name}_max"));
                    if min.is_none() && max.is_none() {
                        continue;
                    }
                    // Keys are `{value}#{id}`: from the lowest key of `min` to past every key of `max`.
                    let bounds = KeyBounds {
                        slot: Some(slot),
                        lo: min.unwrap_or_else(|| "!".to_string()),
                        hi: max.map_or_else(|| "~".to_string(), |m| format!("{m}#~")),
                    };
                    (
                        bounds,
                        format!("{name}_min"),
                        format!("must not be more than {name}_max"),
                    )
                }
                RangeFilter::BeforeOrNever { param, slot, never } => {
                    if let Some(since) = bound(param.to_string(), DayEnd::Start) {
                        q.ranges.push(KeyBounds {
                            slot: Some(slot),
                            lo: never.to_string(),
                            hi: time_key(since),
                        });
                    }
                    continue;
                }
            };
            // Keys order as the values do: a start after the end selects nothing and is a
            // mistake worth naming (DynamoDB refuses such a key condition).
            if bounds.lo > bounds.hi {
                e.push(lower, "range", inverted);
            } else {
                q.ranges.push(bounds);
            }
        }
        if let Some(sort) = get("sort") {
            q.sort = parse_sort(schema, sort, &mut e);
            if q.q.is_some() {
                e.push(
                    "sort",
                    "not_with_q",
                    "search results are ordered by the matching word; sort without q",
                );
            }
        }
        if q.custom.len() > MAX_FILTERS {
            e.push(
                "cf",
                "max_items",
                format!("at most {MAX_FILTERS} custom field filters"),
            );
        }
        e.into_result().map(|()| q)
    }
}

fn known_parameters(schema: &Schema) -> Vec<String> {
    let mut names: Vec<String> = ["sort", "limit", "cursor"].map(String::from).to_vec();
    if !schema.facets.is_empty() || !schema.range_filters.is_empty() {
        names.extend(["owner", "team"].map(String::from));
    }
    if schema.search {
        names.push("q".into());
    }
    names.extend(schema.facets.iter().map(|f| f.param.to_string()));
    for filter in schema.range_filters {
        match filter {
            RangeFilter::Between { name, .. } => {
                names.push(format!("{name}_from"));
                names.push(format!("{name}_to"));
            }
            RangeFilter::BeforeOrNever { param, .. } => names.push(param.to_string()),
            RangeFilter::Values { name, .. } => {
                names.push(format!("{name}_min"));
                names.push(format!("{name}_max"));
            }
        }
    }
    names
}

fn parse_sort(schema: &Schema, raw: &str, e: &mut FieldErrors) -> Sort {
    let (descending, field) = match raw.strip_prefix('-') {
        Some(f) => (true, f),
        None => (false, raw),
    };
    let order = if let Some(key) = field.strip_prefix("cf.") {
        Some(Order::Field(key.to_string()))
    } else if field == "created_at" {
        Some(Order::Created)
    } else {
        schema
            .sorts
            .iter()
            .find(|s| s.param == field)
            .map(|s| Order::Slot(s.slot))
    };
    let order = order.unwrap_or_else(|| {
        let mut names: Vec<&str> = schema.sorts.iter().map(|s| s.param).collect();
        names.push("created_at");
        names.push("cf.{key}");
        e.push(
            "sort",
            "one_of",
            format!("must be {}, with - for descending", names.join(", ")),
        );
        Order::Created
    });
    Sort {
        order,
        descending,
        given: true,
    }
}

/// A facet parser for ids (`client`).
/// A facet value compared case- and accent-insensitively (a tag: `VIP` is `vip`).
pub fn folded_facet(raw: &str) -> Result<String, FieldError> {
    Ok(search::fold(raw))
}

/// A facet value taken as given (a key such as a lead source).
pub fn exact_facet(raw: &str) -> Result<String, FieldError> {
    Ok(raw.to_string())
}

pub fn uuid_facet(param: &'static str) -> impl Fn(&str) -> Result<String, FieldError> {
    move |raw| {
        raw.parse::<Uuid>()
            .map(|u| u.to_string())
            .map_err(|_| FieldError::new(param, "uuid", "must be a UUID"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::visibility::PortalView;
    use crate::records::kind::{Deletion, Facet, SortOrder};

    fn status(raw: &str) -> Result<String, FieldError> {
        match raw {
            "lead" | "customer" => Ok(raw.to_string()),
            _ => Err(FieldError::new(
                "status",
                "one_of",
                "must be lead or customer",
            )),
        }
    }

    static SCHEMA: Schema = Schema {
        name: "thing",
        record: "THING",
        plural: "things",
        deletion: Deletion::Trash { days: 30 },
        portal: PortalView::Nothing,
        facets: &[Facet {
            dim: "status",
            param: "status",
            sharded: true,
            selective: false,
            precise: false,
            parse: status,
        }],
        categories: [Some("status"), None],
        sorts: &[SortOrder {
            param: "name",
            slot: 1,
        }],
        range_filters: &[
            RangeFilter::Between {
                name: "created",
                slot: None,
            },
            RangeFilter::Between {
                name: "updated",
                slot: Some(2),
            },
        ],
        search: true,
        audit_ignore: &[],
    };

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let err = RecordQuery::parse(
            &SCHEMA,
            &params(&[
                ("status", "vip"),
                ("team", "x"),
                ("bogus", "1"),
                ("updated_from", "soon"),
            ]),
        )
        .unwrap_err();
        let CrmError::Validation(errors) = err else {
            panic!()
        };
        let found: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.rule.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("bogus", "unknown_parameter"),
                ("status", "one_of"),
                ("team", "uuid"),
                ("updated_from", "datetime")
            ]
        );
    }

    #[test]
    fn ranges_sorts_and_filters() {
        let q = RecordQuery::parse(
            &SCHEMA,
            &params(&[
                ("status", "lead"),
                ("sort", "-name"),
                ("updated_to", "2026-11-29"),
                ("cf.tier", "gold"),
            ]),
        )
        .unwrap();
        assert_eq!(q.facet("status"), Some("lead"));
        assert_eq!(
            q.sort,
            Sort {
                order: Order::Slot(1),
                descending: true,
                given: true
            }
        );
        assert_eq!(q.ranges[0].hi, "2026-11-29T23:59:59.999Z~");
        assert_eq!(q.custom.len(), 1);
        let with_q =
            RecordQuery::parse(&SCHEMA, &params(&[("q", "ada"), ("sort", "name")])).unwrap_err();
        assert!(matches!(with_q, CrmError::Validation(e) if e[0].rule == "not_with_q"));
        assert_eq!(
            RecordQuery::parse(&SCHEMA, &params(&[])).unwrap().sort,
            Sort::default()
        );
    }
}
