//! Listing, filtering and searching contacts (S1.3) under the visibility rules (S1.4), with
//! no Scan: every request reads index partitions (`index`) in key order.
//!
//! A query is answered by one *driving* source, and whatever that source does not decide is
//! checked on the entry's summary (a *residual* check):
//! - `q` (prefix search): the search partition of the longest query word; the other words, the
//!   filters and visibility are residual. Results are ordered by the matching word.
//! - else the most selective facet among client, tag, owner, team, lead source, status, in that
//!   order; with none, `all` for the roles that see everything, or the union of the caller's
//!   visibility scopes for managers and members (merged in order, duplicates dropped).
//! - the sort field picks the order (creation: the table; name / updated / last contacted:
//!   GSI3 / GSI4 / GSI5), and a range on the sort field is a key condition.
//!
//! Cost: each stream reads what the page needs plus one item of look-ahead, so a query whose
//! filters the driving source decides reads about one item per row returned. Residual checks
//! can reject entries; a request stops after `read_budget(limit)` items and returns what it has
//! with a cursor, so no request reads more than that, whatever the tenant's size.

#[cfg(test)]
use super::index;
use super::index::{ContactSummary, NEVER, facet_partitions, facet_pk, time_key};
use super::{ContactRepository, DynamoContacts, LifecycleStatus, tag_key};
use crate::custom_fields::entries::{field_partitions, read_entry, term_of_sk};
use crate::custom_fields::filter::{
    FieldFilter, FieldSort, MAX_FILTERS, Op, RawFilter, Resume, TermRange, accepts_all,
    is_first_match, narrowest, raw_filter, resolve,
};
use crate::custom_fields::{Entity, FieldValue};
use crate::errors::sdk_error;
use crate::store::cursor::{ListQuery, Page};
use crate::table::{Item, from_item, s};
use crate::values::search as search_keys;
use crate::{Caller, CrmError, FieldError, Role};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, VecDeque};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortField {
    #[default]
    Created,
    Name,
    Updated,
    LastContacted,
}

impl SortField {
    fn index(self) -> Option<&'static str> {
        match self {
            Self::Created => None,
            Self::Name => Some("GSI3"),
            Self::Updated => Some("GSI4"),
            Self::LastContacted => Some("GSI5"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl TimeRange {
    fn is_set(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }

    fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|to| t <= to)
    }
}

/// The parameters of `GET /contacts`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactQuery {
    pub q: Option<String>,
    pub client: Option<Uuid>,
    pub owner: Option<String>,
    pub team: Option<Uuid>,
    pub tag: Option<String>,
    pub lead_source: Option<String>,
    pub status: Option<LifecycleStatus>,
    pub created: TimeRange,
    pub updated: TimeRange,
    pub last_contacted: TimeRange,
    /// Contacts last contacted before this time, or never (the follow-up list, C9).
    pub not_contacted_since: Option<DateTime<Utc>>,
    pub sort: SortField,
    pub descending: bool,
    /// Whether `sort` was given (a list driven by a custom field filter is otherwise in that
    /// field's order).
    pub sort_given: bool,
    /// `cf.*` filters (S3.5), resolved against the definitions when the list runs.
    pub custom: Vec<RawFilter>,
    /// `sort=cf.{key}`: the key.
    pub custom_sort: Option<String>,
}

/// The query parameters `GET /contacts` understands.
pub const PARAMETERS: &[&str] = &[
    "q",
    "client",
    "owner",
    "team",
    "tag",
    "lead_source",
    "status",
    "created_from",
    "created_to",
    "updated_from",
    "updated_to",
    "last_contacted_from",
    "last_contacted_to",
    "not_contacted_since",
    "sort",
    "limit",
    "cursor",
];

impl ContactQuery {
    /// Parses the query string; every bad parameter is named with its rule.
    pub fn parse(params: &BTreeMap<String, String>) -> Result<Self, CrmError> {
        let mut errors = Vec::new();
        let mut q = Self::default();
        for (name, value) in params {
            if let Some(raw) = raw_filter(name, value) {
                q.custom.push(raw);
                continue;
            }
            if !PARAMETERS.contains(&name.as_str()) {
                errors.push(FieldError::new(
                    name.clone(),
                    "unknown_parameter",
                    "not a parameter of this list",
                ));
            }
        }
        let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let uuid = |k: &str, errors: &mut Vec<FieldError>| {
            get(k).and_then(|v| match v.parse::<Uuid>() {
                Ok(u) => Some(u),
                Err(_) => {
                    errors.push(FieldError::new(k, "uuid", "must be a UUID"));
                    None
                }
            })
        };
        q.client = uuid("client", &mut errors);
        q.team = uuid("team", &mut errors);
        q.owner = get("owner").map(str::to_string);
        q.tag = get("tag").map(str::to_string);
        q.lead_source = get("lead_source").map(str::to_string);
        q.q = get("q").map(str::to_string);
        if let Some(raw) = &q.q {
            if search_keys::query_prefix(raw).is_none() {
                errors.push(FieldError::new(
                    "q",
                    "searchable",
                    "must contain a letter or digit",
                ));
            }
        }
        if let Some(s) = get("status") {
            match serde_json::from_value::<LifecycleStatus>(serde_json::Value::String(s.into())) {
                Ok(s) => q.status = Some(s),
                Err(_) => errors.push(FieldError::new(
                    "status",
                    "one_of",
                    "must be lead, prospect, customer or inactive",
                )),
            }
        }
        let time = |k: &str, errors: &mut Vec<FieldError>| {
            get(k).and_then(|v| match DateTime::parse_from_rfc3339(v) {
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(_) => match chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
                    // A date means the whole day: from its start, to its end.
                    Ok(d) if k.ends_with("_to") => {
                        d.and_hms_milli_opt(23, 59, 59, 999).map(|t| t.and_utc())
                    }
                    Ok(d) => d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
                    Err(_) => {
                        errors.push(FieldError::new(
                            k,
                            "datetime",
                            "must be an RFC 3339 time or a YYYY-MM-DD date",
                        ));
                        None
                    }
                },
            })
        };
        q.created = TimeRange {
            from: time("created_from", &mut errors),
            to: time("created_to", &mut errors),
        };
        q.updated = TimeRange {
            from: time("updated_from", &mut errors),
            to: time("updated_to", &mut errors),
        };
        q.last_contacted = TimeRange {
            from: time("last_contacted_from", &mut errors),
            to: time("last_contacted_to", &mut errors),
        };
        q.not_contacted_since = time("not_contacted_since", &mut errors);
        if let Some(sort) = get("sort") {
            let (desc, field) = match sort.strip_prefix('-') {
                Some(f) => (true, f),
                None => (false, sort),
            };
            q.descending = desc;
            q.sort_given = true;
            if let Some(key) = field.strip_prefix("cf.") {
                q.custom_sort = Some(key.to_string());
            }
            q.sort = match field {
                _ if q.custom_sort.is_some() => SortField::Created,
                "created_at" => SortField::Created,
                "name" => SortField::Name,
                "updated_at" => SortField::Updated,
                "last_contacted_at" => SortField::LastContacted,
                _ => {
                    errors.push(FieldError::new(
                        "sort",
                        "one_of",
                        "must be name, created_at, updated_at, last_contacted_at or cf.{key}, with - for descending",
                    ));
                    SortField::Created
                }
            };
            if q.q.is_some() {
                errors.push(FieldError::new(
                    "sort",
                    "not_with_q",
                    "search results are ordered by the matching word; sort without q",
                ));
            }
        } else {
            // Newest first unless asked otherwise.
            q.descending = true;
        }
        if q.custom.len() > MAX_FILTERS {
            errors.push(FieldError::new(
                "cf",
                "max_items",
                format!("at most {MAX_FILTERS} custom field filters"),
            ));
        }
        if errors.is_empty() {
            Ok(q)
        } else {
            Err(CrmError::Validation(errors))
        }
    }

    /// A fingerprint binding cursors to this query.
    fn fingerprint(&self, caller: &Caller) -> String {
        format!("contacts:{:?}:{}", self, caller.user_id)
    }

    /// Whether an entry's summary satisfies every filter (visibility is checked separately).
    fn accepts(&self, c: &ContactSummary) -> bool {
        self.client.is_none_or(|id| c.client_ids.contains(&id))
            && self
                .owner
                .as_deref()
                .is_none_or(|o| c.owner.as_deref() == Some(o))
            && self.team.is_none_or(|t| c.team == Some(t))
            && self.tag.as_deref().is_none_or(|t| {
                let key = tag_key(t);
                c.tags.iter().any(|x| tag_key(x) == key)
            })
            && self
                .lead_source
                .as_deref()
                .is_none_or(|s| c.lead_source.as_deref() == Some(s))
            && self.status.is_none_or(|s| c.lifecycle_status == s)
            && self.created.contains(c.created_at)
            && self.updated.contains(c.updated_at)
            && (!self.last_contacted.is_set()
                || c.last_contacted_at
                    .is_some_and(|t| self.last_contacted.contains(t)))
            && self
                .not_contacted_since
                .is_none_or(|since| c.last_contacted_at.is_none_or(|t| t < since))
    }
}

/// Most items one list request reads before it answers with what it has (and a cursor).
pub fn read_budget(limit: i32) -> usize {
    (limit as usize * 4).max(200)
}

/// Where a query reads from.
#[derive(Debug, Clone, PartialEq)]
pub enum Driver {
    /// Index entries of these partitions, merged in sort order.
    Entries { partitions: Vec<String> },
    /// The search partition of a prefix.
    Search { partition: String, prefix: String },
    /// A custom field's value entries (its shards) in these term ranges, in term order; the
    /// filters on that field are checked on the entry's value.
    Field {
        field: String,
        partitions: Vec<String>,
        ranges: Vec<TermRange>,
        descending: bool,
    },
}

/// The custom field filters and sort of a query, resolved against the caller's visible
/// definitions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomQuery {
    pub filters: Vec<FieldFilter>,
    pub sort: Option<FieldSort>,
}

/// Resolves the `cf.*` parameters; every bad one is named.
pub async fn resolve_custom(
    repo: &DynamoContacts,
    caller: &Caller,
    q: &ContactQuery,
) -> Result<CustomQuery, CrmError> {
    if q.custom.is_empty() && q.custom_sort.is_none() {
        return Ok(CustomQuery::default());
    }
    let defs = repo
        .custom_values()
        .definitions(caller, Entity::Contact)
        .await?;
    let mut errors = Vec::new();
    let mut out = CustomQuery::default();
    for raw in &q.custom {
        match resolve(&defs, caller, raw) {
            Ok(f) => out.filters.push(f),
            Err(e) => errors.extend(e),
        }
    }
    if let Some(key) = &q.custom_sort {
        match crate::custom_fields::filter::visible_definition(&defs, caller, key, "sort") {
            Ok(def) => {
                out.sort = Some(FieldSort {
                    def: def.clone(),
                    descending: q.descending,
                })
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(CrmError::Validation(errors))
    }
}

/// Picks the driving source (see the module comment).
pub fn plan(tenant: &str, caller: &Caller, q: &ContactQuery) -> Driver {
    plan_with(tenant, caller, q, &CustomQuery::default())
}

pub fn plan_with(tenant: &str, caller: &Caller, q: &ContactQuery, custom: &CustomQuery) -> Driver {
    if let Some(prefix) = q.q.as_deref().and_then(search_keys::query_prefix) {
        let first: String = prefix.chars().take(1).collect();
        return Driver::Search {
            partition: facet_pk(tenant, &format!("q:{first}")),
            prefix,
        };
    }
    let field_driver = |def: &crate::custom_fields::FieldDefinition,
                        ranges: Vec<TermRange>,
                        descending: bool| Driver::Field {
        field: def.key.clone(),
        partitions: field_partitions(tenant, Entity::Contact, &def.key),
        ranges,
        descending,
    };
    if let Some(sort) = &custom.sort {
        // The sort field's entries drive; a filter on the same field narrows their ranges.
        let own = narrowest(&custom.filters, &sort.def.key);
        return field_driver(
            &sort.def,
            own.unwrap_or_else(|| vec![sort.range()]),
            sort.descending,
        );
    }
    if q.client.is_none() && !q.sort_given {
        // The most selective custom field filter the index can answer drives.
        let best = custom
            .filters
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.ranges().map(|r| (i, f, r)))
            .max_by_key(|(i, f, _)| (f.selectivity(), std::cmp::Reverse(*i)));
        if let Some((_, f, ranges)) = best {
            let ranges = narrowest(&custom.filters, &f.def.key).unwrap_or(ranges);
            return field_driver(&f.def, ranges, false);
        }
    }
    let facet = q
        .client
        .map(|c| format!("client:{c}"))
        .or_else(|| q.tag.as_deref().map(|t| format!("tag:{}", tag_key(t))))
        .or_else(|| q.owner.as_deref().map(|o| format!("o:{o}")))
        .or_else(|| q.team.map(|t| format!("t:{t}")));
    let scopes = caller.scopes();
    let facet = facet.or_else(|| match &scopes {
        // Scopes are more selective than a lead source or status for managers and members.
        Some(_) => None,
        None => q
            .lead_source
            .as_deref()
            .map(|s| format!("source:{s}"))
            .or_else(|| q.status.map(|s| format!("status:{}", s.as_str())))
            .or_else(|| Some("all".into())),
    });
    let partitions = match (facet, scopes) {
        (Some(f), _) => facet_partitions(tenant, &f),
        (None, Some(scopes)) => scopes.iter().map(|s| facet_pk(tenant, s)).collect(),
        (None, None) => facet_partitions(tenant, "all"),
    };
    Driver::Entries { partitions }
}

/// Reads counted while answering one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub requests: usize,
    pub items_read: usize,
}

/// `GET /contacts`.
pub async fn list(
    repo: &DynamoContacts,
    caller: &Caller,
    query: &ContactQuery,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<ContactSummary>, CrmError> {
    Ok(list_with_stats(repo, caller, query, limit, cursor).await?.0)
}

pub async fn list_with_stats(
    repo: &DynamoContacts,
    caller: &Caller,
    query: &ContactQuery,
    limit: i32,
    cursor: Option<&str>,
) -> Result<(Page<ContactSummary>, ReadStats), CrmError> {
    let tenant = &caller.tenant_id;
    let list = ListQuery::new(tenant, query.fingerprint(caller));
    let start = list.start(cursor)?;
    let custom = resolve_custom(repo, caller, query).await?;
    if caller.role == Role::Portal {
        // A portal user's list holds their own contact record at most.
        let own = match caller.portal_contact_id.filter(|_| start.is_none()) {
            Some(id) => repo
                .get(tenant, id)
                .await?
                .filter(|c| c.deleted_at.is_none())
                .filter(|c| accepts_all(&custom.filters, &c.custom_fields))
                .map(|c| ContactSummary::of(&c))
                .filter(|c| query.accepts(c) && caller.sees(&c.access()))
                .into_iter()
                .collect(),
            None => vec![],
        };
        return Ok((
            list.page(own, None),
            ReadStats {
                requests: 1,
                items_read: 1,
            },
        ));
    }
    let attr = |k: &Item, name: &str| match k.get(name) {
        Some(AttributeValue::S(p)) => Some(p.clone()),
        _ => None,
    };
    let after = start.as_ref().and_then(|k| attr(k, "pos"));
    // A sort by a custom field lists the records with a value first, in its order, then
    // (phase 2, its own pages) those without one, newest first: nobody drops out of a list
    // because a column is empty. Unless a filter on that field already excludes them.
    let with_empties = custom.sort.as_ref().is_some_and(|s| {
        !custom
            .filters
            .iter()
            .any(|f| f.def.key == s.def.key && !matches!(f.op, Op::Empty(true) | Op::Ne(_)))
    });
    let phase2 = with_empties && start.as_ref().and_then(|k| attr(k, "phase")).is_some();
    let (run_query, run_custom) = if phase2 {
        let sort = custom.sort.clone().expect("a custom sort");
        let mut filters = custom.filters.clone();
        filters.push(FieldFilter {
            def: sort.def,
            op: Op::Empty(true),
        });
        let q = ContactQuery {
            sort: SortField::Created,
            descending: true,
            sort_given: true,
            ..query.clone()
        };
        (
            q,
            CustomQuery {
                filters,
                sort: None,
            },
        )
    } else {
        (query.clone(), custom.clone())
    };
    let driver = plan_with(tenant, caller, &run_query, &run_custom);
    let mut run = Run::new(repo, tenant, &run_query, &run_custom, &driver, after);
    let (items, last_pos) = run.collect(caller, limit as usize).await?;
    let next = match (last_pos, phase2) {
        (Some(p), false) => Some(Item::from([("pos".to_string(), s(p))])),
        (Some(p), true) => Some(Item::from([
            ("pos".to_string(), s(p)),
            ("phase".to_string(), s("2")),
        ])),
        (None, false) if with_empties => Some(Item::from([("phase".to_string(), s("2"))])),
        (None, _) => None,
    };
    Ok((list.page(items, next), run.stats))
}

struct Stream {
    partition: String,
    range: Option<KeyRange>,
    buffer: VecDeque<(String, Item)>,
    /// Where the next read starts; `None` with `done` false means from the beginning.
    resume: Option<Item>,
    done: bool,
}

/// What decides whether a driving entry stands for a matching contact, besides its summary.
enum Acceptance {
    Facet,
    Search {
        prefix: String,
        words: Vec<String>,
    },
    /// Entries of this field's partitions, in these ranges.
    Field {
        field: String,
        ranges: Vec<TermRange>,
    },
}

struct Run<'a> {
    repo: &'a DynamoContacts,
    tenant: String,
    query: &'a ContactQuery,
    custom: &'a CustomQuery,
    acceptance: Acceptance,
    /// The custom field filters checked on each candidate's stored values.
    residual: Vec<&'a FieldFilter>,
    /// The order read: a GSI (name, updated, last contacted) or the table's sort key.
    sort: SortField,
    descending: bool,
    streams: Vec<Stream>,
    stats: ReadStats,
}

impl<'a> Run<'a> {
    fn new(
        repo: &'a DynamoContacts,
        tenant: &str,
        query: &'a ContactQuery,
        custom: &'a CustomQuery,
        driver: &Driver,
        after: Option<String>,
    ) -> Self {
        let words = query
            .q
            .as_deref()
            .map(search_keys::query_words)
            .unwrap_or_default();
        let (acceptance, sort, descending, plans): (
            _,
            _,
            _,
            Vec<(String, Option<KeyRange>, Option<Resume>)>,
        ) = match driver {
            Driver::Entries { partitions } => {
                let range = key_range(query);
                (
                    Acceptance::Facet,
                    query.sort,
                    query.descending,
                    partitions
                        .iter()
                        .map(|p| (p.clone(), range.clone(), None))
                        .collect(),
                )
            }
            Driver::Search { partition, prefix } => (
                Acceptance::Search {
                    prefix: prefix.clone(),
                    words,
                },
                SortField::Created,
                false,
                vec![(
                    partition.clone(),
                    Some(KeyRange::Prefix(prefix.clone())),
                    None,
                )],
            ),
            Driver::Field {
                field,
                partitions,
                ranges,
                descending,
            } => {
                let mut plans = Vec::new();
                for p in partitions {
                    for r in ranges {
                        let resume = after.as_deref().map(|pos| r.resume(pos, *descending));
                        let range = match r {
                            TermRange::Prefix(x) => KeyRange::Prefix(x.clone()),
                            TermRange::Between(lo, hi) => KeyRange::Between(lo.clone(), hi.clone()),
                        };
                        plans.push((p.clone(), Some(range), resume));
                    }
                }
                (
                    Acceptance::Field {
                        field: field.clone(),
                        ranges: ranges.clone(),
                    },
                    SortField::Created,
                    *descending,
                    plans,
                )
            }
        };
        // Filters on the driving field are checked on the entry's value; the others on the
        // contact's stored values.
        let driving_key = match &acceptance {
            Acceptance::Field { field, .. } => Some(field.clone()),
            _ => None,
        };
        let residual = custom
            .filters
            .iter()
            .filter(|f| Some(&f.def.key) != driving_key.as_ref())
            .collect();
        let streams = plans
            .into_iter()
            .map(|(partition, range, resume)| {
                let (resume, done) = match (resume, after.as_ref()) {
                    (Some(Resume::Done), _) => (None, true),
                    (Some(Resume::FromStart), _) => (None, false),
                    (_, Some(pos)) => (Some(start_key(&partition, sort, pos)), false),
                    (_, None) => (None, false),
                };
                Stream {
                    partition,
                    range,
                    buffer: VecDeque::new(),
                    resume,
                    done,
                }
            })
            .collect();
        Self {
            repo,
            tenant: tenant.to_string(),
            query,
            custom,
            acceptance,
            residual,
            sort,
            descending,
            streams,
            stats: ReadStats::default(),
        }
    }

    /// Whether a driving entry stands for a contact the driving source accepts (and is the
    /// entry the contact is listed at).
    fn driver_accepts(&self, pos: &str, item: &Item) -> Result<bool, CrmError> {
        Ok(match &self.acceptance {
            Acceptance::Facet => true,
            Acceptance::Search { prefix, words } => first_match(item, pos, prefix, words),
            Acceptance::Field { field, ranges } => {
                let entry = read_entry(item)?;
                is_first_match(
                    term_of_sk(pos),
                    entry.record,
                    &entry.terms,
                    ranges,
                    self.descending,
                ) && self
                    .custom
                    .filters
                    .iter()
                    .filter(|f| &f.def.key == field)
                    .all(|f| f.accepts(Some(&entry.value)))
            }
        })
    }

    /// Up to `limit` visible, matching summaries in order, and the position to continue from
    /// when there may be more.
    async fn collect(
        &mut self,
        caller: &Caller,
        limit: usize,
    ) -> Result<(Vec<ContactSummary>, Option<String>), CrmError> {
        let budget = read_budget(limit as i32);
        let mut out = Vec::new();
        // Candidates that passed the summary checks and wait for their custom field values.
        let mut pending: Vec<(String, ContactSummary)> = Vec::new();
        let mut last_pos: Option<String> = None;
        // Entries taken off the streams (duplicates aside), to estimate how many pass.
        let mut consumed = 0usize;
        loop {
            let need = limit - out.len();
            if !pending.is_empty() && pending.len() >= need {
                if let Some(pos) = self.resolve(&mut pending, &mut out, limit).await? {
                    return Ok((out, Some(pos)));
                }
                continue;
            }
            if out.len() == limit {
                let more = self.streams.iter().any(|s| !s.buffer.is_empty() || !s.done);
                return Ok((out, last_pos.filter(|_| more)));
            }
            let starving: Vec<usize> = (0..self.streams.len())
                .filter(|i| self.streams[*i].buffer.is_empty() && !self.streams[*i].done)
                .collect();
            if !starving.is_empty() {
                if self.stats.items_read >= budget {
                    // Out of budget: answer with what there is; the cursor continues here.
                    if let Some(pos) = self.resolve(&mut pending, &mut out, limit).await? {
                        return Ok((out, Some(pos)));
                    }
                    return Ok((out, last_pos));
                }
                let k = self.streams.len();
                // Residual checks reject some entries: a single stream asks for as many more as
                // the rate seen so far says the page still needs (fewer requests, same reads).
                // Merged streams keep small fetches: larger ones are read but not consumed
                // when the budget ends the request (measured: twice the reads).
                let passed = out.len() + pending.len();
                let need = match (k, consumed, passed) {
                    (1, 0, _) | (2.., _, _) => need,
                    (1, _, 0) => need * 4,
                    (_, seen, passed) => need * seen / passed,
                };
                let chunk = if k == 1 {
                    need + 1
                } else {
                    (need / k + 2).max(4)
                };
                let chunk = chunk.min(budget.saturating_sub(self.stats.items_read).max(1));
                let fetches = starving.iter().map(|i| self.fetch(*i, chunk as i32));
                let results = futures::future::join_all(fetches).await;
                for (i, result) in starving.iter().zip(results) {
                    let (items, next) = result?;
                    self.stats.requests += 1;
                    self.stats.items_read += items.len();
                    let stream = &mut self.streams[*i];
                    stream.buffer.extend(items);
                    stream.done = next.is_none();
                    stream.resume = next;
                }
            }
            // The next entry in order across the streams.
            let desc = self.descending;
            let Some(best) = (0..self.streams.len())
                .filter(|i| !self.streams[*i].buffer.is_empty())
                .reduce(|a, b| {
                    let (pa, pb) = (&self.streams[a].buffer[0].0, &self.streams[b].buffer[0].0);
                    if (pb < pa) != desc && pb != pa { b } else { a }
                })
            else {
                // Every stream is exhausted.
                if let Some(pos) = self.resolve(&mut pending, &mut out, limit).await? {
                    return Ok((out, Some(pos)));
                }
                return Ok((out, None));
            };
            let (pos, item) = self.streams[best].buffer.pop_front().expect("non-empty");
            if last_pos.as_deref() == Some(pos.as_str()) {
                continue; // the same contact through another scope
            }
            last_pos = Some(pos.clone());
            consumed += 1;
            if !self.driver_accepts(&pos, &item)? {
                continue;
            }
            let summary: ContactSummary = from_item(item)?;
            if self.query.accepts(&summary) && caller.sees(&summary.access()) {
                if self.residual.is_empty() {
                    out.push(summary);
                } else {
                    pending.push((pos, summary));
                }
            }
        }
    }

    /// Checks the pending candidates' custom field values (one BatchGetItem per 100) and moves
    /// those that pass to `out`, in order. `Some(pos)`: the page filled up at `pos`, with more
    /// candidates after it.
    async fn resolve(
        &mut self,
        pending: &mut Vec<(String, ContactSummary)>,
        out: &mut Vec<ContactSummary>,
        limit: usize,
    ) -> Result<Option<String>, CrmError> {
        if pending.is_empty() {
            return Ok(None);
        }
        let ids: Vec<Uuid> = pending.iter().map(|(_, c)| c.id).collect();
        let values = self.custom_values_of(&ids).await?;
        let empty = BTreeMap::new();
        let candidates = std::mem::take(pending);
        let total = candidates.len();
        for (n, (pos, summary)) in candidates.into_iter().enumerate() {
            let v = values.get(&summary.id).unwrap_or(&empty);
            if self.residual.iter().all(|f| f.accepts(v.get(&f.def.key))) {
                out.push(summary);
                if out.len() == limit {
                    let more = n + 1 < total
                        || self.streams.iter().any(|s| !s.buffer.is_empty() || !s.done);
                    return Ok(more.then_some(pos));
                }
            }
        }
        Ok(None)
    }

    /// The stored custom field values of these contacts (BatchGetItem, 100 keys a call).
    async fn custom_values_of(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, BTreeMap<String, FieldValue>>, CrmError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let table = self.repo.table();
        let tenant = self.tenant.clone();
        let mut out = HashMap::new();
        for chunk in ids.chunks(100) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|id| crate::table::key(super::contact_pk(&tenant, *id), "CONTACT"))
                .collect();
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .projection_expression("id, #cf")
                    .expression_attribute_names("#cf", "custom_fields")
                    .build()
                    .map_err(CrmError::internal)?,
            );
            for attempt in 0..8 {
                let Some(req) = request.take() else { break };
                let result = table
                    .client
                    .batch_get_item()
                    .request_items(&table.name, req)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchGetItem contacts", e))?;
                self.stats.requests += 1;
                for item in result
                    .responses
                    .and_then(|mut r| r.remove(&table.name))
                    .unwrap_or_default()
                {
                    self.stats.items_read += 1;
                    let values: StoredValues = from_item(item)?;
                    out.insert(values.id, values.custom_fields);
                }
                request = result
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&table.name))
                    .filter(|k| !k.keys().is_empty());
                if request.is_some() {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                }
            }
        }
        Ok(out)
    }

    async fn fetch(
        &self,
        i: usize,
        limit: i32,
    ) -> Result<(Vec<(String, Item)>, Option<Item>), CrmError> {
        let stream = &self.streams[i];
        let table = self.repo.table();
        let sort = self.sort;
        let (pk_attr, sk_attr) = match sort.index() {
            Some(ix) => (format!("{ix}PK"), format!("{ix}SK")),
            None => ("PK".to_string(), "SK".to_string()),
        };
        let mut req = table
            .client
            .query()
            .table_name(&table.name)
            .set_index_name(sort.index().map(str::to_string))
            .expression_attribute_names("#pk", &pk_attr)
            .expression_attribute_values(":pk", s(&stream.partition))
            .scan_index_forward(!self.descending)
            .limit(limit)
            .set_exclusive_start_key(stream.resume.clone());
        req = match &stream.range {
            None => req.key_condition_expression("#pk = :pk"),
            Some(KeyRange::Prefix(p)) => req
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :p)")
                .expression_attribute_names("#sk", &sk_attr)
                .expression_attribute_values(":p", s(p)),
            Some(KeyRange::Between(lo, hi)) => req
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .expression_attribute_names("#sk", &sk_attr)
                .expression_attribute_values(":lo", s(lo))
                .expression_attribute_values(":hi", s(hi)),
        };
        let out = req
            .send()
            .await
            .map_err(|e| sdk_error("Query contacts index", e))?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let pos = match item.get(&sk_attr) {
                    Some(AttributeValue::S(v)) => v.clone(),
                    _ => String::new(),
                };
                (pos, item)
            })
            .collect();
        Ok((items, out.last_evaluated_key))
    }
}

/// The custom field values of a contact item, read for residual filters.
#[derive(serde::Deserialize)]
struct StoredValues {
    id: Uuid,
    #[serde(default)]
    custom_fields: BTreeMap<String, FieldValue>,
}

#[derive(Debug, Clone)]
enum KeyRange {
    Prefix(String),
    Between(String, String),
}

/// The key condition for a range on the sort field.
fn key_range(q: &ContactQuery) -> Option<KeyRange> {
    let times = |r: &TimeRange| {
        KeyRange::Between(
            r.from.map_or_else(|| "1".to_string(), time_key),
            r.to.map_or_else(|| "9".to_string(), |t| format!("{}~", time_key(t))),
        )
    };
    match q.sort {
        SortField::Created if q.created.is_set() => Some(KeyRange::Between(
            q.created
                .from
                .map_or_else(|| Uuid::nil().to_string(), |t| v7_bound(t, false)),
            q.created
                .to
                .map_or_else(|| Uuid::max().to_string(), |t| v7_bound(t, true)),
        )),
        SortField::Updated if q.updated.is_set() => Some(times(&q.updated)),
        SortField::LastContacted if q.last_contacted.is_set() => Some(times(&q.last_contacted)),
        // Never contacted (`0#…`) sorts before every time.
        SortField::LastContacted if q.not_contacted_since.is_some() => Some(KeyRange::Between(
            NEVER.to_string(),
            time_key(q.not_contacted_since.expect("checked")),
        )),
        _ => None,
    }
}

/// The lowest (or highest) UUIDv7 string of a millisecond: ids sort by creation time.
fn v7_bound(t: DateTime<Utc>, upper: bool) -> String {
    let ms = t.timestamp_millis().max(0) as u64;
    let mut b = if upper { [0xffu8; 16] } else { [0u8; 16] };
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    Uuid::from_bytes(b).to_string()
}

/// The key to resume a partition after position `pos` in the order of `sort`.
fn start_key(partition: &str, sort: SortField, pos: &str) -> Item {
    let mut k = Item::from([("PK".to_string(), s(partition))]);
    match sort.index() {
        None => {
            k.insert("SK".into(), s(pos));
        }
        Some(ix) => {
            let id = pos.rsplit('#').next().unwrap_or_default();
            k.insert("SK".into(), s(id));
            k.insert(format!("{ix}PK"), s(partition));
            k.insert(format!("{ix}SK"), s(pos));
        }
    }
    k
}

/// A contact has a search entry per token; it is returned at the first of its tokens that
/// matches the prefix only, so it appears once. All query words must match its tokens.
fn first_match(item: &Item, pos: &str, prefix: &str, words: &[String]) -> bool {
    let Some(tokens) = crate::table::string_list(item, "tokens") else {
        return false;
    };
    let token = pos.rsplit_once('#').map_or(pos, |(t, _)| t);
    let first = tokens.iter().filter(|t| t.starts_with(prefix)).min();
    first.map(String::as_str) == Some(token) && search_keys::matches_all(words, &tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn s1_3_bad_parameters_are_named() {
        let err = ContactQuery::parse(&params(&[
            ("status", "vip"),
            ("client", "x"),
            ("bogus", "1"),
        ]))
        .unwrap_err();
        let CrmError::Validation(errors) = err else {
            panic!()
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["bogus", "client", "status"]);
    }

    #[test]
    fn s1_3_plan_picks_the_most_selective_source() {
        let admin = Caller::new("t", "a", Role::Admin);
        let member = Caller {
            teams: vec![Uuid::nil()],
            ..Caller::new("t", "m", Role::Member)
        };
        let q = ContactQuery::parse(&params(&[("tag", "VIP"), ("status", "lead")])).unwrap();
        let Driver::Entries { partitions } = plan("t", &admin, &q) else {
            panic!()
        };
        assert_eq!(partitions.len(), index::SHARDS as usize);
        assert!(partitions[0].starts_with("T#t#CX#tag:vip#"));
        let q = ContactQuery::parse(&params(&[("status", "lead")])).unwrap();
        let Driver::Entries { partitions } = plan("t", &member, &q) else {
            panic!()
        };
        assert_eq!(
            partitions,
            vec![
                "T#t#CX#o:m".to_string(),
                "T#t#CX#su:m".to_string(),
                format!("T#t#CX#tv:{}", Uuid::nil()),
                format!("T#t#CX#st:{}", Uuid::nil()),
            ]
        );
        let q = ContactQuery::parse(&params(&[("q", "Mül")])).unwrap();
        assert!(matches!(plan("t", &member, &q), Driver::Search { .. }));
    }

    #[test]
    fn created_bounds_enclose_ids_of_that_time() {
        let id = crate::values::new_id();
        let now = crate::values::now();
        let lo = v7_bound(now - chrono::Duration::seconds(1), false);
        let hi = v7_bound(now + chrono::Duration::seconds(1), true);
        assert!(lo < id.to_string() && id.to_string() < hi);
    }
}
