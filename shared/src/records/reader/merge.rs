//! One list request's reading of a phase: its streams merged in position order, each entry
//! checked on what it carries, custom fields on the records' stored values, reads sized by
//! what the page still needs and stopped at the read budget.

use super::super::entries::{FACETS, NAME_TOKENS, RECORD_ID, SUMMARY, TOKENS, order_attribute};
use super::super::keys::{self, pair_head};
use super::super::kind::Kind;
use super::super::plan::{Accept, Phase, Plan, Stream, word_prefix};
use super::super::service::Records;
use super::ReadStats;
use crate::custom_fields::FieldValue;
use crate::custom_fields::entries::{read_entry, term_of_sk};
use crate::custom_fields::filter::{FieldFilter, is_first_match};
use crate::store::item::{string_list, text};
use crate::store::port::Resume;
use crate::store::{Item, Query, s};
use crate::values::search;
use crate::{Caller, CrmError};
use std::collections::{BTreeMap, HashMap, VecDeque};
use uuid::Uuid;

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
pub(super) enum Next {
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
pub(super) struct Run<'a, K: Kind> {
    pub records: &'a Records<K>,
    pub caller: &'a Caller,
    pub plan: &'a Plan,
    pub stats: ReadStats,
}

impl<K: Kind> Run<'_, K> {
    /// Whether an entry's record passes the checks every phase makes (facets, ranges, words,
    /// visibility, exclusions).
    pub(super) fn entry_passes(&self, phase: &Phase, item: &Item) -> bool {
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
    pub(super) async fn phase(
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
                let by_scope = (streams.iter())
                    .any(|s| matches!(s.spec.index, Some(keys::OWNER_INDEX | keys::TEAM_INDEX)));
                let left = budget.saturating_sub(self.stats.items_read).max(1);
                let reads = dry.iter().map(|i| {
                    let s = &streams[*i];
                    // A stream's share of the page, from what it gave so far.
                    let share = (s.consumed + 1) as f64 / (total_consumed + active) as f64;
                    let chunk = if active == 1 {
                        wanted + 1
                    } else if total_consumed == 0 && by_scope {
                        // A caller's scopes (their own, each team's) give at rates nothing
                        // tells yet: a small first read each, so that the scope giving least
                        // is not read far ahead. (Shards of one partition give alike.)
                        wanted.div_ceil(2 * active).max(2)
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
