//! Lists (S1.3, S1.4, S3.5): a plan ([`super::plan`]) read through the storage port, with
//! no Scan. Each phase's streams are merged in position order; each entry is accepted or not
//! by what it carries (its record's facets, sort values, tokens, summary), and custom fields
//! the driver does not decide are checked on the records' stored values, one BatchGetItem
//! per page of candidates.
//!
//! Cost: a request reads what its page needs plus a little look-ahead per stream. Where
//! checks reject entries it stops after `read_budget(limit)` items and returns what it has
//! with a cursor (a short page, even an empty one, can have a next one), so no request reads
//! more than that, whatever the tenant's size. A cursor is bound to the tenant, the query and
//! the caller.

use super::entries::{FACETS, NAME_TOKENS, RECORD_ID, SUMMARY, TOKENS, order_attribute};
use super::keys::{self, pair_head};
use super::kind::{Kind, Record};
use super::plan::{Accept, CustomQuery, Phase, Plan, Stream, plan, word_prefix};
use super::query::{Order, RecordQuery};
use super::service::Records;
use crate::custom_fields::FieldValue;
use crate::custom_fields::entries::{read_entry, term_of_sk};
use crate::custom_fields::filter::{
    FieldFilter, FieldSort, is_first_match, resolve, visible_definition,
};
use crate::store::cursor::{ListQuery, Page};
use crate::store::item::{string_list, text};
use crate::store::port::Resume;
use crate::store::{Item, Query, s};
use crate::values::search;
use crate::{Caller, CrmError, Role};
use std::collections::{BTreeMap, HashMap, VecDeque};
use uuid::Uuid;

/// Most items one list request reads before it answers with what it has (and a cursor).
pub fn read_budget(limit: i32) -> usize {
    (limit as usize * 4).max(200)
}

/// Reads counted while answering one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub requests: usize,
    pub items_read: usize,
}

/// The id at the end of a position (`…#{id}`, or the id itself).
fn id_of(pos: &str) -> &str {
    pos.rsplit('#').next().unwrap_or(pos)
}

/// The part of a position before its id.
fn head_of(pos: &str) -> &str {
    pos.rsplit_once('#').map_or(pos, |(h, _)| h)
}

/// The key to continue a stream after `pos`.
fn start_key(stream: &Stream, pos: &str) -> Item {
    let id = id_of(pos);
    match (stream.index, &stream.base) {
        (None, _) => Item::from([("PK".into(), s(&stream.pk)), ("SK".into(), s(pos))]),
        // A qualified index: the entry's own key, then the index's.
        (Some(ix), Some((base, sharded))) => {
            let shard = sharded.then(|| id.parse::<Uuid>().map(keys::shard_of).unwrap_or(0));
            Item::from([
                ("PK".into(), s(keys::sharded(base, shard))),
                ("SK".into(), s(pos)),
                (format!("{ix}PK"), s(&stream.pk)),
                (format!("{ix}SK"), s(pos)),
            ])
        }
        // A sort slot of a facet partition: facet entries are keyed by the id.
        (Some(ix), None) => Item::from([
            ("PK".into(), s(&stream.pk)),
            ("SK".into(), s(id)),
            (format!("{ix}PK"), s(&stream.pk)),
            (format!("{ix}SK"), s(pos)),
        ]),
    }
}

struct Running {
    spec: Stream,
    buffer: VecDeque<(String, Item)>,
    resume: Option<Item>,
    done: bool,
    /// Entries taken off this stream, to size its next read.
    consumed: usize,
}

/// Where a phase stopped.
enum Next {
    /// It is done.
    Done,
    /// Continue after this position.
    After(String),
    /// Start it again (nothing of it was read yet).
    Start,
}

/// A candidate that passed the checks on its entry.
struct Candidate<S> {
    pos: String,
    id: Uuid,
    summary: S,
}

/// One request of one list.
struct Run<'a, K: Kind> {
    records: &'a Records<K>,
    caller: &'a Caller,
    plan: &'a Plan,
    stats: ReadStats,
}

impl<K: Kind> Records<K> {
    /// Resolves the `cf.*` parameters and `sort=cf.*` against the caller's visible
    /// definitions; every bad one is named.
    pub async fn resolve_custom(
        &self,
        caller: &Caller,
        q: &RecordQuery,
    ) -> Result<CustomQuery, CrmError> {
        let custom_sort = match &q.sort.order {
            Order::Field(key) => Some(key.clone()),
            _ => None,
        };
        if q.custom.is_empty() && custom_sort.is_none() {
            return Ok(CustomQuery::default());
        }
        let defs = self
            .ctx
            .custom
            .definitions(caller, K::schema().entity())
            .await?;
        let mut errors = Vec::new();
        let mut out = CustomQuery::default();
        for raw in &q.custom {
            match resolve(&defs, caller, raw) {
                Ok(f) => out.filters.push(f),
                Err(e) => errors.extend(e),
            }
        }
        if let Some(key) = custom_sort {
            match visible_definition(&defs, caller, &key, "sort") {
                Ok(def) => {
                    out.sort = Some(FieldSort {
                        def: def.clone(),
                        descending: q.sort.descending,
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

    /// `GET /{plural}`: the records the caller may see that match, as summaries.
    pub async fn list(
        &self,
        caller: &Caller,
        q: &RecordQuery,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<K::Summary>, CrmError> {
        Ok(self.list_with_stats(caller, q, limit, cursor).await?.0)
    }

    pub async fn list_with_stats(
        &self,
        caller: &Caller,
        q: &RecordQuery,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<(Page<K::Summary>, ReadStats), CrmError> {
        let tenant = &caller.tenant_id;
        let list = ListQuery::new(tenant, q.fingerprint(K::schema().name, &caller.user_id));
        let start = list.start(cursor)?;
        let custom = self.resolve_custom(caller, q).await?;
        if caller.role == Role::Portal {
            // A portal user's list holds their own record at most.
            let own = match start {
                Some(_) => None,
                None => self.portal_record(caller, q, &custom).await?,
            };
            let stats = ReadStats {
                requests: 1,
                items_read: 1,
            };
            return Ok((list.page(own.into_iter().collect(), None), stats));
        }
        let plan = plan(tenant, K::schema(), caller, q, &custom);
        let (mut phase, mut after) = match &start {
            Some(k) => (
                text(k, "phase")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0usize),
                text(k, "pos").map(str::to_string),
            ),
            None => (0, None),
        };
        let mut run = Run {
            records: self,
            caller,
            plan: &plan,
            stats: ReadStats::default(),
        };
        let limit = limit as usize;
        let budget = read_budget(limit as i32);
        let mut out = Vec::new();
        while phase < plan.phases.len() {
            let (items, next) = run
                .phase(
                    &plan.phases[phase],
                    after.as_deref(),
                    limit - out.len(),
                    budget,
                )
                .await?;
            out.extend(items);
            match next {
                // Full, or out of budget: continue here.
                Next::After(pos) => {
                    let key = Item::from([
                        ("phase".to_string(), s(phase.to_string())),
                        ("pos".to_string(), s(pos)),
                    ]);
                    return Ok((list.page(out, Some(key)), run.stats));
                }
                Next::Start => {
                    let key = Item::from([("phase".to_string(), s(phase.to_string()))]);
                    return Ok((list.page(out, Some(key)), run.stats));
                }
                Next::Done => {
                    phase += 1;
                    after = None;
                    if out.len() == limit || run.stats.items_read >= budget {
                        let more = phase < plan.phases.len();
                        let key =
                            more.then(|| Item::from([("phase".to_string(), s(phase.to_string()))]));
                        return Ok((list.page(out, key), run.stats));
                    }
                }
            }
        }
        Ok((list.page(out, None), run.stats))
    }

    async fn portal_record(
        &self,
        caller: &Caller,
        q: &RecordQuery,
        custom: &CustomQuery,
    ) -> Result<Option<K::Summary>, CrmError> {
        let own = match K::schema().portal {
            crate::access::visibility::PortalView::OwnContact => caller.portal_contact_id,
            crate::access::visibility::PortalView::OwnClient => caller.portal_client_id,
            crate::access::visibility::PortalView::Nothing => None,
        };
        let Some(id) = own else { return Ok(None) };
        let Some(record) = self
            .find(caller, id)
            .await?
            .filter(|r| r.deleted_at().is_none())
        else {
            return Ok(None);
        };
        if !custom
            .filters
            .iter()
            .all(|f| f.accepts(record.custom_fields().get(&f.def.key)))
        {
            return Ok(None);
        }
        // The record's own entry answers the other filters as a list would.
        let entries = super::entries::entries::<K>(&caller.tenant_id, &record)?;
        let Some(entry) = entries.first() else {
            return Ok(None);
        };
        let plan = plan(
            &caller.tenant_id,
            K::schema(),
            &Caller {
                role: Role::Admin,
                ..caller.clone()
            },
            q,
            custom,
        );
        let phase = &plan.phases[0];
        let run = Run {
            records: self,
            caller,
            plan: &plan,
            stats: ReadStats::default(),
        };
        if !run.entry_passes(phase, &entry.item)
            || !search::matches_all(
                &plan.words,
                &string_list(&entry.item, TOKENS).unwrap_or_default(),
            )
        {
            return Ok(None);
        }
        Ok(Some(K::summary(&record)))
    }
}

impl<K: Kind> Run<'_, K> {
    /// Whether an entry's record passes the checks every phase makes (facets, ranges, words,
    /// visibility, exclusions).
    fn entry_passes(&self, phase: &Phase, item: &Item) -> bool {
        let facets = string_list(item, FACETS).unwrap_or_default();
        let has = |f: &String| facets.contains(f);
        if !phase.facets.iter().all(has) || phase.exclude_scopes.iter().any(has) {
            return false;
        }
        let id = text(item, RECORD_ID).unwrap_or_default();
        let ranges_hold = phase.ranges.iter().all(|r| {
            let key = match r.slot {
                None => Some(id.to_string()),
                Some(slot) => text(item, &order_attribute(slot)).map(|v| format!("{v}#{id}")),
            };
            key.is_some_and(|k| r.holds(&k))
        });
        if !ranges_hold {
            return false;
        }
        if !self.plan.words.is_empty() {
            let tokens = string_list(item, TOKENS).unwrap_or_default();
            if !search::matches_all(&self.plan.words, &tokens) {
                return false;
            }
        }
        match self.caller.scopes() {
            None => true,
            Some(scopes) => scopes.iter().any(|s| facets.contains(s)),
        }
    }

    /// Whether an entry read by the phase's driver is the one its record is listed at.
    fn driver_accepts(&self, phase: &Phase, pos: &str, item: &Item) -> Result<bool, CrmError> {
        let tokens = || string_list(item, TOKENS).unwrap_or_default();
        let names = || string_list(item, NAME_TOKENS).unwrap_or_default();
        // The pair keys a record has for (first, second): the head of a name token starting
        // with `first`, then another name token starting with `second`.
        let pair_keys = |first: &str, second: &str, names: &[String]| -> Vec<String> {
            let mut keys = Vec::new();
            for a in names.iter().filter(|a| a.starts_with(first)) {
                let Some(head) = pair_head(a) else { continue };
                for b in names.iter().filter(|b| *b != a && b.starts_with(second)) {
                    keys.push(format!("{head}{b}"));
                }
            }
            keys
        };
        Ok(match &phase.accept {
            Accept::Any => true,
            Accept::Search { prefix } => {
                let first = tokens()
                    .into_iter()
                    .filter(|t| t.starts_with(prefix.as_str()))
                    .min();
                first.as_deref() == Some(head_of(pos))
            }
            Accept::Pair { first, second } => {
                let keys = pair_keys(first, second, &names());
                keys.iter().min().map(String::as_str) == Some(head_of(pos))
            }
            Accept::Other { word, pair, before } => {
                let names = names();
                let others: Vec<String> = tokens()
                    .into_iter()
                    .filter(|t| !names.contains(t))
                    .collect();
                let by_pair = !pair_keys(&pair.0, &pair.1, &names).is_empty();
                let by_earlier = before
                    .iter()
                    .any(|w| others.iter().any(|t| word_prefix(w, t)));
                let first = others.iter().filter(|t| word_prefix(word, t)).min();
                !by_pair && !by_earlier && first.map(String::as_str) == Some(head_of(pos))
            }
            Accept::Field { field, ranges } => {
                let entry = read_entry(item)?;
                is_first_match(
                    term_of_sk(pos),
                    entry.record,
                    &entry.terms,
                    ranges,
                    phase.descending,
                ) && self
                    .plan
                    .entry_filters
                    .iter()
                    .filter(|f| &f.def.key == field)
                    .all(|f| f.accepts(Some(&entry.value)))
            }
        })
    }

    /// Reads one phase from after `after`: up to `limit` records, and the position to continue
    /// from when the page is full or the budget is spent (`None`: the phase is done).
    async fn phase(
        &mut self,
        phase: &Phase,
        after: Option<&str>,
        limit: usize,
        budget: usize,
    ) -> Result<(Vec<K::Summary>, Next), CrmError> {
        let mut streams: Vec<Running> = phase
            .streams
            .iter()
            .map(|spec| {
                let (resume, done) =
                    match after.map(|pos| (pos, spec.range.resume(pos, phase.descending))) {
                        None | Some((_, Resume::FromStart)) => (None, false),
                        Some((_, Resume::Done)) => (None, true),
                        Some((pos, Resume::After)) => (Some(start_key(spec, pos)), false),
                    };
                Running {
                    spec: spec.clone(),
                    buffer: VecDeque::new(),
                    resume,
                    done,
                    consumed: 0,
                }
            })
            .collect();
        let mut out: Vec<K::Summary> = Vec::new();
        // Candidates that passed the entry checks and wait for their custom field values.
        let mut pending: Vec<Candidate<K::Summary>> = Vec::new();
        let mut last_pos: Option<String> = after.map(str::to_string);
        let mut consumed = 0usize;
        let mut passed = 0usize;
        loop {
            let need = limit - out.len();
            if need == 0 {
                let more = streams.iter().any(|s| !s.buffer.is_empty() || !s.done);
                return Ok((
                    out,
                    match last_pos {
                        Some(p) if more => Next::After(p),
                        _ => Next::Done,
                    },
                ));
            }
            if !pending.is_empty() && pending.len() >= need {
                if let Some(pos) = self
                    .resolve(phase, &mut pending, &mut out, limit, &streams)
                    .await?
                {
                    return Ok((out, Next::After(pos)));
                }
                continue;
            }
            let dry: Vec<usize> = (0..streams.len())
                .filter(|i| streams[*i].buffer.is_empty() && !streams[*i].done)
                .collect();
            if !dry.is_empty() {
                if self.stats.items_read >= budget {
                    // Out of budget: answer with what there is; the cursor continues here.
                    let resolved = self.resolve(phase, &mut pending, &mut out, limit, &streams);
                    let next = resolved
                        .await?
                        .or(last_pos)
                        .map_or(Next::Start, Next::After);
                    return Ok((out, next));
                }
                let active = streams.iter().filter(|s| !s.done).count().max(1);
                // How many more entries the page needs, from the rate at which entries have
                // passed so far.
                let wanted = match (consumed, passed + out.len()) {
                    (0, _) => need,
                    (_, 0) => need * 4,
                    (seen, ok) => (need * seen).div_ceil(ok),
                };
                let total_consumed: usize = streams.iter().map(|s| s.consumed).sum();
                let left = budget.saturating_sub(self.stats.items_read).max(1);
                let reads = dry.iter().map(|i| {
                    let s = &streams[*i];
                    // A stream's share of the page, from what it gave so far.
                    let share = (s.consumed + 1) as f64 / (total_consumed + active) as f64;
                    let chunk = if active == 1 {
                        wanted + 1
                    } else {
                        ((wanted as f64 * share).ceil() as usize + 1).max(2)
                    };
                    self.read(s, chunk.min(left) as i32, phase.descending)
                });
                let results = futures::future::join_all(reads).await;
                for (i, result) in dry.iter().zip(results) {
                    let (items, next, scanned) = result?;
                    self.stats.requests += 1;
                    self.stats.items_read += scanned;
                    let stream = &mut streams[*i];
                    stream.buffer.extend(items);
                    stream.done = next.is_none();
                    stream.resume = next;
                }
            }
            // The next entry in order across the streams.
            let desc = phase.descending;
            let Some(best) = (0..streams.len())
                .filter(|i| !streams[*i].buffer.is_empty())
                .reduce(|a, b| {
                    let (pa, pb) = (&streams[a].buffer[0].0, &streams[b].buffer[0].0);
                    if (pb < pa) != desc && pb != pa { b } else { a }
                })
            else {
                // Every stream is done.
                let resolved = self.resolve(phase, &mut pending, &mut out, limit, &streams);
                let next = resolved.await?.map_or(Next::Done, Next::After);
                return Ok((out, next));
            };
            let (pos, item) = streams[best].buffer.pop_front().expect("non-empty");
            streams[best].consumed += 1;
            if last_pos.as_deref() == Some(pos.as_str()) {
                continue; // the same record through another stream
            }
            last_pos = Some(pos.clone());
            consumed += 1;
            if !self.driver_accepts(phase, &pos, &item)? || !self.entry_passes(phase, &item) {
                continue;
            }
            let id: Uuid = text(&item, RECORD_ID)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| CrmError::Internal("an index entry without its record id".into()))?;
            let summary: K::Summary = match item.get(SUMMARY) {
                Some(v) => {
                    serde_dynamo::from_attribute_value(v.clone()).map_err(CrmError::internal)?
                }
                None => {
                    return Err(CrmError::Internal(
                        "an index entry without its summary".into(),
                    ));
                }
            };
            passed += 1;
            if phase.record_filters.is_empty() {
                out.push(summary);
            } else {
                pending.push(Candidate { pos, id, summary });
            }
        }
    }

    /// Checks the pending candidates' custom field values (one BatchGetItem per 100) and moves
    /// those that pass to `out`, in order. `Some(pos)`: the page filled up at `pos` with more
    /// candidates or entries after it.
    async fn resolve(
        &mut self,
        phase: &Phase,
        pending: &mut Vec<Candidate<K::Summary>>,
        out: &mut Vec<K::Summary>,
        limit: usize,
        streams: &[Running],
    ) -> Result<Option<String>, CrmError> {
        if pending.is_empty() {
            return Ok(None);
        }
        let ids: Vec<Uuid> = pending.iter().map(|c| c.id).collect();
        let (values, read): (HashMap<Uuid, BTreeMap<String, FieldValue>>, usize) = self
            .records
            .store
            .custom_values_of(&self.caller.tenant_id, &ids)
            .await?;
        self.stats.requests += ids.len().div_ceil(100);
        self.stats.items_read += read;
        let empty = BTreeMap::new();
        let candidates = std::mem::take(pending);
        let total = candidates.len();
        for (n, c) in candidates.into_iter().enumerate() {
            let v = values.get(&c.id).unwrap_or(&empty);
            if phase
                .record_filters
                .iter()
                .all(|f: &FieldFilter| f.accepts(v.get(&f.def.key)))
            {
                out.push(c.summary);
                if out.len() == limit {
                    let more =
                        n + 1 < total || streams.iter().any(|s| !s.buffer.is_empty() || !s.done);
                    return Ok(more.then_some(c.pos));
                }
            }
        }
        Ok(None)
    }

    /// One page of one stream: its entries with their positions, where to continue, and what
    /// the store read.
    async fn read(
        &self,
        stream: &Running,
        limit: i32,
        descending: bool,
    ) -> Result<(Vec<(String, Item)>, Option<Item>, usize), CrmError> {
        let spec = &stream.spec;
        let query = Query {
            index: spec.index,
            pk: spec.pk.clone(),
            range: spec.range.clone(),
            descending,
            limit: Some(limit.max(1)),
            start: stream.resume.clone(),
            consistent: false,
            projection: None,
        };
        let page = self.records.ctx.table.query(query).await?;
        let attribute = spec.position_attribute();
        let items = page
            .items
            .into_iter()
            .map(|item| {
                (
                    text(&item, &attribute).unwrap_or_default().to_string(),
                    item,
                )
            })
            .collect();
        Ok((items, page.last_key, page.scanned))
    }
}
