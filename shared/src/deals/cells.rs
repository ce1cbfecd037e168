//! The aggregates under the board and the forecast: cells kept in each deal's own
//! transaction, never recomputed from every deal.
//!
//! Visibility scopes overlap (a member's own deal may also be team-visible), so the
//! aggregates live in disjoint cells — owner × team × visibility under each head (a stage for
//! the board, a month × status × stage × lost reason for the forecast) — each deal in exactly
//! one per grid; a caller adds the cells of the scopes it sees (each cell once) and reads the
//! few deals shared with it that no such cell holds. A cell keeps, per currency, exact sums:
//! `a_{CUR}` every amount, `d_{CUR}` the amounts of deals on their stage's probability (the
//! weighted total follows a changed stage probability without touching a deal), `w_{CUR}` the
//! amounts × own probability ÷ 100 of the others.
//!
//! Cells: `T#{t}#DEALCELLS#{pipeline}` / `{stage}#o:{owner}#t:{team}#v:{visibility}` and
//! `T#{t}#DEALMONTHS#{pipeline}` / `{YYYY-MM}#{status}#{stage}#{reason}#o:…`, also by owner
//! (GSI1 `{pk}|o:{owner}`) and by team (GSI2 `{pk}|t:{team}` / `{visibility}#{sk}`).

use super::{Deal, DealStatus, Deals};
use crate::access::visibility::Visibility;
use crate::records::entries::SUMMARY;
use crate::records::plan::share_partitions;
use crate::settings::TenantSettings;
use crate::store::{Item, Key, KeyRange, Query, WriteOp, from_item, s};
use crate::values::money::{ConversionError, total_in_base};
use crate::{Caller, CrmError, Role};
use aws_sdk_dynamodb::types::AttributeValue;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

const ALL_AMOUNTS: &str = "a_";

const ON_STAGE_PROBABILITY: &str = "d_";

const WEIGHTED_OWN: &str = "w_";

/// The two aggregates of a pipeline's deals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grid {
    /// By stage (the board): `{stage}#…`.
    Stages,
    /// By month (the forecast): `{YYYY-MM}#{status}#{stage}#{lost reason}#…`, the month an
    /// open deal is expected to close in, or the month a won or lost one closed in.
    Months,
}

pub fn cells_pk(tenant: &str, grid: Grid, pipeline: Uuid) -> String {
    match grid {
        Grid::Stages => format!("T#{tenant}#DEALCELLS#{pipeline}"),
        Grid::Months => format!("T#{tenant}#DEALMONTHS#{pipeline}"),
    }
}

fn visibility_name(v: Visibility) -> &'static str {
    match v {
        Visibility::Team => "team",
        Visibility::Private => "private",
    }
}

/// Where a live deal counts: its stage, and its month when it has one.
fn heads(d: &Deal) -> Vec<(Grid, String)> {
    let mut out = vec![(Grid::Stages, d.stage_id.to_string())];
    let month = match d.status {
        DealStatus::Open => d.expected_close.map(|c| c.format("%Y-%m").to_string()),
        _ => d.closed_at.map(|c| c.format("%Y-%m").to_string()),
    };
    if let Some(month) = month {
        let reason = match d.status {
            DealStatus::Lost => d.lost_reason.as_deref().unwrap_or("-"),
            _ => "-",
        };
        let head = format!("{month}#{}#{}#{reason}", d.status.as_str(), d.stage_id);
        out.push((Grid::Months, head));
    }
    out
}

/// A cell a deal counts in: its key, the attributes it is found by, what the deal adds.
type Contribution = (Key, Item, BTreeMap<String, Decimal>);

/// What a deal adds to each cell it counts in: 1, and its amount per currency (all; on the
/// stage's probability; weighted by its own).
fn numbers_of_deal(d: &Deal) -> BTreeMap<String, Decimal> {
    let mut add = BTreeMap::from([("n".to_string(), Decimal::ONE)]);
    if let Some(m) = &d.value {
        let amount = m.amount.0;
        add.insert(format!("{ALL_AMOUNTS}{}", m.currency), amount);
        match d.probability {
            None => add.insert(format!("{ON_STAGE_PROBABILITY}{}", m.currency), amount),
            Some(p) => add.insert(
                format!("{WEIGHTED_OWN}{}", m.currency),
                amount * p.0 / Decimal::ONE_HUNDRED,
            ),
        };
    }
    add
}

/// A live deal's cells and what it adds there.
fn contributions(tenant: &str, d: &Deal) -> Vec<Contribution> {
    if d.deleted_at.is_some() {
        return Vec::new();
    }
    let owner = d.owner.as_deref().unwrap_or("-");
    let team = d.team.map_or_else(|| "-".to_string(), |t| t.to_string());
    let vis = visibility_name(d.visibility);
    let add = numbers_of_deal(d);
    heads(d)
        .into_iter()
        .map(|(grid, head)| {
            let pk = cells_pk(tenant, grid, d.pipeline_id);
            let sk = format!("{head}#o:{owner}#t:{team}#v:{vis}");
            let mut set = Item::from([
                ("entity".to_string(), s("deal_cell")),
                ("tenant_id".to_string(), s(tenant)),
                ("GSI1PK".to_string(), s(format!("{pk}|o:{owner}"))),
                ("GSI1SK".to_string(), s(sk.clone())),
            ]);
            if d.team.is_some() {
                set.insert("GSI2PK".into(), s(format!("{pk}|t:{team}")));
                set.insert("GSI2SK".into(), s(format!("{vis}#{sk}")));
            }
            (Key::new(pk, sk), set, add.clone())
        })
        .collect()
}

/// The counter writes of a deal's change: its contribution taken from its old cell and added
/// to its new one (one write per cell; none where nothing changes).
pub fn cell_writes(tenant: &str, before: Option<&Deal>, after: Option<&Deal>) -> Vec<WriteOp> {
    let mut deltas: BTreeMap<Key, (Item, BTreeMap<String, Decimal>)> = BTreeMap::new();
    for (deal, sign) in [(before, -Decimal::ONE), (after, Decimal::ONE)] {
        for (key, set, add) in deal.map(|d| contributions(tenant, d)).unwrap_or_default() {
            let entry = deltas.entry(key).or_insert_with(|| (set, BTreeMap::new()));
            for (name, v) in add {
                *entry.1.entry(name).or_default() += v * sign;
            }
        }
    }
    deltas
        .into_iter()
        .filter_map(|(key, (set, add))| {
            let add: Vec<(String, Decimal)> =
                add.into_iter().filter(|(_, v)| !v.is_zero()).collect();
            (!add.is_empty()).then_some(WriteOp::Add { key, add, set })
        })
        .collect()
}

/// Exact sums of some deals of one stage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sums {
    pub count: i64,
    /// Per currency: every amount; amounts on the stage's probability; own-weighted amounts.
    pub all: BTreeMap<String, Decimal>,
    pub on_stage: BTreeMap<String, Decimal>,
    pub weighted_own: BTreeMap<String, Decimal>,
}

impl Sums {
    pub(super) fn add_numbers(&mut self, numbers: &BTreeMap<String, Decimal>) {
        for (name, v) in numbers {
            if name == "n" {
                self.count += i64::try_from(v.trunc().mantissa()).unwrap_or(0);
            } else if let Some(c) = name.strip_prefix(ALL_AMOUNTS) {
                *self.all.entry(c.to_string()).or_default() += v;
            } else if let Some(c) = name.strip_prefix(ON_STAGE_PROBABILITY) {
                *self.on_stage.entry(c.to_string()).or_default() += v;
            } else if let Some(c) = name.strip_prefix(WEIGHTED_OWN) {
                *self.weighted_own.entry(c.to_string()).or_default() += v;
            }
        }
    }

    /// Per currency, amount × probability ÷ 100 (the stage's where the deal sets none).
    pub fn weighted(&self, stage_probability: Decimal) -> BTreeMap<String, Decimal> {
        let mut out = self.weighted_own.clone();
        for (c, v) in &self.on_stage {
            *out.entry(c.clone()).or_default() += v * stage_probability / Decimal::ONE_HUNDRED;
        }
        out
    }
}

/// The numbers of a cell item.
fn numbers(item: &Item) -> BTreeMap<String, Decimal> {
    item.iter()
        .filter_map(|(k, v)| match v {
            AttributeValue::N(n) => n.parse::<Decimal>().ok().map(|d| (k.clone(), d)),
            _ => None,
        })
        .collect()
}

/// The head of a cell's sort key: its parts before the owner (`{stage}`, or
/// `{month}#{status}#{stage}#{reason}`).
fn head_of(item: &Item) -> Option<Vec<&str>> {
    let sk = crate::store::item::text(item, "SK")?;
    let head = sk.split("#o:").next()?;
    Some(head.split('#').collect())
}

/// A cell's head and numbers.
pub(super) fn numbers_of(item: &Item) -> Option<(Vec<String>, BTreeMap<String, Decimal>)> {
    let head = head_of(item)?.into_iter().map(str::to_string).collect();
    Some((head, numbers(item)))
}

/// Whether the caller sees a deal without a share (its owner, its team's rule).
fn sees_unshared(caller: &Caller, d: &Deal) -> bool {
    let own = d.owner.as_deref() == Some(caller.user_id.as_str());
    let team = d.team.is_some_and(|t| caller.teams.contains(&t))
        && (caller.role == Role::Manager || d.visibility == Visibility::Team);
    own || team
}

/// The cells of `grid` a caller adds up, each once (heads from `lo` to `hi` when given), and
/// the deals shared with a manager or member that none of those cells holds; with the number
/// of items read.
pub async fn visible_cells(
    deals: &Deals,
    caller: &Caller,
    grid: Grid,
    pipeline: Uuid,
    heads: Option<(&str, &str)>,
) -> Result<(Vec<Item>, Vec<Deal>, usize), CrmError> {
    let table = &deals.ctx.table;
    let tenant = &caller.tenant_id;
    let pk = cells_pk(tenant, grid, pipeline);
    let range = |prefix: &str| match heads {
        Some((lo, hi)) => KeyRange::Between(format!("{prefix}{lo}"), format!("{prefix}{hi}~")),
        None if prefix.is_empty() => KeyRange::All,
        None => KeyRange::Prefix(prefix.to_string()),
    };
    let mut queries = Vec::new();
    let everything = caller.role.sees_everything();
    if everything {
        queries.push(Query::partition(pk.clone()).range(range("")));
    } else {
        let own = Query::index("GSI1", format!("{pk}|o:{}", caller.user_id));
        queries.push(own.range(range("")));
        for team in &caller.teams {
            let by_team = || Query::index("GSI2", format!("{pk}|t:{team}"));
            queries.push(by_team().range(range("team#")));
            if caller.role == Role::Manager {
                queries.push(by_team().range(range("private#")));
            }
        }
    }
    let mut cells: BTreeMap<String, Item> = BTreeMap::new();
    let mut read = 0;
    for q in queries {
        let items = table.query_all(q).await?;
        read += items.len();
        for item in items {
            if let Some(sk) = crate::store::item::text(&item, "SK") {
                cells.insert(sk.to_string(), item);
            }
        }
    }
    let mut shared = Vec::new();
    if !everything {
        // Deals shared with the caller or their teams that no cell of theirs holds.
        let mut seen = BTreeSet::new();
        for partition in share_partitions(tenant, deals.schema(), caller) {
            let entries = table.query_all(Query::partition(partition)).await?;
            read += entries.len();
            for entry in entries {
                let Some(AttributeValue::M(summary)) = entry.get(SUMMARY) else {
                    continue;
                };
                let deal: Deal = from_item(summary.clone())?;
                if deal.pipeline_id == pipeline
                    && !sees_unshared(caller, &deal)
                    && seen.insert(deal.id)
                {
                    shared.push(deal);
                }
            }
        }
    }
    Ok((cells.into_values().collect(), shared, read))
}

/// What a shared deal adds to the cells of `grid`, as (cell head, numbers).
pub(super) fn shared_numbers(
    grid: Grid,
    d: &Deal,
) -> Vec<(Vec<String>, BTreeMap<String, Decimal>)> {
    if d.deleted_at.is_some() {
        return Vec::new();
    }
    heads(d)
        .into_iter()
        .filter(|(g, _)| *g == grid)
        .map(|(_, head)| {
            (
                head.split('#').map(str::to_string).collect(),
                numbers_of_deal(d),
            )
        })
        .collect()
}

/// The sums per stage of the deals of `pipeline` that the caller may see, and how many items
/// were read for them.
pub async fn visible_sums(
    deals: &Deals,
    caller: &Caller,
    pipeline: Uuid,
) -> Result<(BTreeMap<Uuid, Sums>, usize), CrmError> {
    let (cells, shared, read) = visible_cells(deals, caller, Grid::Stages, pipeline, None).await?;
    let mut sums: BTreeMap<Uuid, Sums> = BTreeMap::new();
    for item in &cells {
        if let Some(stage) = head_of(item).and_then(|h| h.first()?.parse().ok()) {
            sums.entry(stage).or_default().add_numbers(&numbers(item));
        }
    }
    for d in &shared {
        for (_, add) in shared_numbers(Grid::Stages, d) {
            sums.entry(d.stage_id).or_default().add_numbers(&add);
        }
    }
    Ok((sums, read))
}

/// An amount in a currency, as a decimal string with the currency's minor units.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Amount {
    pub amount: String,
    pub currency: String,
}

/// A stage's totals in the base currency; a currency without a rate is named.
/// Exact sums per currency as one amount in the base currency (each currency converted once,
/// the total rounded once); the rates used are noted, a missing one is a 422 naming it.
pub fn in_base(
    sums: &BTreeMap<String, Decimal>,
    settings: &TenantSettings,
    rates_used: &mut BTreeMap<String, String>,
) -> Result<Amount, CrmError> {
    let base = &settings.base_currency;
    let total = total_in_base(
        sums.iter().map(|(c, v)| (c.as_str(), *v)),
        base,
        &settings.exchange_rates,
    )
    .map_err(|e| match e {
        ConversionError::MissingRate(code) => CrmError::validation(
            &format!("exchange_rates.{code}"),
            "rate_missing",
            format!("deals in {code} need an exchange rate to {base}: set it with PATCH /settings"),
        ),
        other => CrmError::internal(other),
    })?;
    for c in sums.keys().filter(|c| *c != base) {
        if let Some(r) = settings.exchange_rates.get(c) {
            rates_used.insert(c.clone(), r.clone());
        }
    }
    Ok(Amount {
        amount: total.to_string(),
        currency: base.clone(),
    })
}

/// The sums per stage recomputed from deals: what the cells must add up to (tests).
pub fn recompute<'a>(deals: impl IntoIterator<Item = &'a Deal>) -> BTreeMap<Uuid, Sums> {
    let mut out: BTreeMap<Uuid, Sums> = BTreeMap::new();
    for d in deals {
        for (_, add) in shared_numbers(Grid::Stages, d) {
            out.entry(d.stage_id).or_default().add_numbers(&add);
        }
    }
    out
}

/// The cell items that hold these deals (as the writes of each would leave them): for loading
/// a tenant in benchmarks with the real layout.
pub fn cell_items<'a>(tenant: &str, deals: impl IntoIterator<Item = &'a Deal>) -> Vec<Item> {
    let mut cells: BTreeMap<Key, (Item, BTreeMap<String, Decimal>)> = BTreeMap::new();
    for d in deals {
        for (key, set, add) in contributions(tenant, d) {
            let cell = cells.entry(key).or_insert_with(|| (set, BTreeMap::new()));
            for (name, v) in add {
                *cell.1.entry(name).or_default() += v;
            }
        }
    }
    cells
        .into_iter()
        .map(|(key, (set, numbers))| {
            let mut item = key.item();
            item.extend(set);
            for (name, v) in numbers {
                item.insert(name, AttributeValue::N(v.normalize().to_string()));
            }
            item
        })
        .collect()
}

/// Every cell head of `grid` with the sums of the deals the caller may see there (the
/// aggregates as the board and forecast read them).
pub async fn visible_grid(
    deals: &Deals,
    caller: &Caller,
    grid: Grid,
    pipeline: Uuid,
) -> Result<BTreeMap<Vec<String>, Sums>, CrmError> {
    let (cells, shared, _) = visible_cells(deals, caller, grid, pipeline, None).await?;
    let mut out: BTreeMap<Vec<String>, Sums> = BTreeMap::new();
    for (head, numbers) in cells.iter().filter_map(numbers_of) {
        out.entry(head).or_default().add_numbers(&numbers);
    }
    for d in &shared {
        for (head, numbers) in shared_numbers(grid, d) {
            out.entry(head).or_default().add_numbers(&numbers);
        }
    }
    Ok(out)
}

/// The sums per cell head of `grid` recomputed from deals: what the cells must add up to.
pub fn recompute_grid<'a>(
    grid: Grid,
    deals: impl IntoIterator<Item = &'a Deal>,
) -> BTreeMap<Vec<String>, Sums> {
    let mut out: BTreeMap<Vec<String>, Sums> = BTreeMap::new();
    for d in deals {
        for (head, numbers) in shared_numbers(grid, d) {
            out.entry(head).or_default().add_numbers(&numbers);
        }
    }
    out
}
