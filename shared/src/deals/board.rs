//! The pipeline board (S4.3): per stage the count, total and weighted total of the deals the
//! caller may see, in the tenant's base currency, and the first page of deal cards.
//!
//! Totals come from the aggregates kept in each deal's own transaction ([`super::cells`]),
//! never from reading every deal.

pub use super::cells::{
    Amount, Grid, Sums, cell_items, cell_writes, in_base, recompute, recompute_grid, visible_cells,
    visible_grid, visible_sums,
};
use super::{Deal, DealStatus, Deals, Pipeline, Stage};
use crate::clients::ClientKind;
use crate::contacts::ContactKind;
use crate::records::{Record, RecordQuery, RecordStore};
use crate::settings::{SettingsStore, TenantSettings};
use crate::{Caller, CrmError};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

/// Cards per stage on the first page of a board (at most 200).
pub const DEFAULT_CARDS: i32 = 20;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CurrencySums {
    pub currency: String,
    /// Exact, unrounded sums in this currency.
    pub total: String,
    pub weighted_total: String,
}

/// One deal on the board.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Card {
    pub id: Uuid,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Uuid>,
    /// The client's name when the caller may see the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_contact_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_contact_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_close: Option<NaiveDate>,
    pub days_in_stage: i64,
    /// Open, in a stage with a rotting period, and unmoved for at least that long (activities
    /// will count as movement once they exist).
    pub rotting: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BoardStage {
    pub stage_id: Uuid,
    pub name: String,
    #[schema(value_type = String)]
    pub probability: crate::values::decimal::Exact,
    pub count: i64,
    /// In the base currency: each currency's exact sum converted once, rounded once.
    pub total: Amount,
    pub weighted_total: Amount,
    pub by_currency: Vec<CurrencySums>,
    /// The first page of the stage's deals, newest first.
    pub cards: Vec<Card>,
    /// More cards: `GET /deals?stage={stage_id}&cursor=…`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Board {
    pub pipeline_id: Uuid,
    pub base_currency: String,
    /// The rates used (units of the base currency per unit), by currency.
    pub rates_used: BTreeMap<String, String>,
    pub stages: Vec<BoardStage>,
}

/// A stage's totals in the base currency, and its exact sums per currency.
fn stage_totals(
    stage: &Stage,
    sums: &Sums,
    settings: &TenantSettings,
    rates_used: &mut BTreeMap<String, String>,
) -> Result<(Amount, Amount, Vec<CurrencySums>), CrmError> {
    let weighted = sums.weighted(stage.probability.0);
    let total = in_base(&sums.all, settings, rates_used)?;
    let weighted_total = in_base(&weighted, settings, rates_used)?;
    let by_currency = sums
        .all
        .iter()
        .map(|(c, v)| CurrencySums {
            currency: c.clone(),
            total: v.normalize().to_string(),
            weighted_total: weighted
                .get(c)
                .copied()
                .unwrap_or_default()
                .normalize()
                .to_string(),
        })
        .collect();
    Ok((total, weighted_total, by_currency))
}

/// The names a board shows beside its deals: of the clients and primary contacts the caller
/// sees, read once for every card of the board.
struct Names {
    clients: HashMap<Uuid, String>,
    contacts: HashMap<Uuid, String>,
}

impl Names {
    async fn of<'a>(
        deals: &Deals,
        caller: &Caller,
        shown: impl Iterator<Item = &'a Deal> + Clone,
    ) -> Result<Self, CrmError> {
        let tenant = &caller.tenant_id;
        let table = deals.ctx.table.clone();
        let ids = |of: fn(&Deal) -> Option<Uuid>| -> Vec<Uuid> {
            shown
                .clone()
                .filter_map(of)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        let (client_ids, contact_ids) = (ids(|d| d.client_id), ids(Deal::primary_contact));
        let mut names = Self {
            clients: HashMap::new(),
            contacts: HashMap::new(),
        };
        if !client_ids.is_empty() {
            let found = RecordStore::<ClientKind>::new(table.clone())
                .get_many(tenant, &client_ids)
                .await?;
            names.clients = found
                .into_iter()
                .filter(|(_, c)| caller.sees(&c.access()))
                .map(|(id, c)| (id, c.fields.name))
                .collect();
        }
        if !contact_ids.is_empty() {
            let found = RecordStore::<ContactKind>::new(table)
                .get_many(tenant, &contact_ids)
                .await?;
            names.contacts = found
                .into_iter()
                .filter(|(_, c)| c.deleted_at.is_none() && caller.sees(&c.access()))
                .map(|(id, c)| (id, c.display_name))
                .collect();
        }
        Ok(names)
    }

    fn card(&self, d: &Deal, stage: &Stage, now: DateTime<Utc>) -> Card {
        let days_in_stage = (now - d.stage_entered_at).num_days().max(0);
        let days_idle = (now - d.idle_since()).num_days().max(0);
        Card {
            id: d.id,
            title: d.title.clone(),
            amount: d.value.as_ref().map(|m| m.amount.to_string()),
            currency: d.value.as_ref().map(|m| m.currency.clone()),
            owner: d.owner.clone(),
            client_id: d.client_id,
            client_name: d.client_id.and_then(|id| self.clients.get(&id).cloned()),
            primary_contact_id: d.primary_contact(),
            primary_contact_name: d
                .primary_contact()
                .and_then(|id| self.contacts.get(&id).cloned()),
            expected_close: d.expected_close,
            days_in_stage,
            rotting: d.status == DealStatus::Open
                && stage
                    .rotting_days
                    .is_some_and(|r| days_idle >= i64::from(r)),
        }
    }
}

/// `GET /pipelines/{id}/board`.
pub async fn board(
    deals: &Deals,
    caller: &Caller,
    pipeline: &Pipeline,
    cards_per_stage: i32,
) -> Result<Board, CrmError> {
    let settings = SettingsStore::new(deals.ctx.table.clone())
        .get(&caller.tenant_id)
        .await?;
    let (sums, _) = visible_sums(deals, caller, pipeline.id).await?;
    let now = crate::values::now();
    let mut rates_used = BTreeMap::new();
    let mut stages = Vec::with_capacity(pipeline.stages.len());
    for stage in &pipeline.stages {
        let empty = Sums::default();
        let s = sums.get(&stage.id).unwrap_or(&empty);
        let (total, weighted_total, by_currency) =
            stage_totals(stage, s, &settings, &mut rates_used)?;
        // The count bounds the page: an empty stage is not read at all, and a stage with
        // fewer deals than a page stops at its last one (a member's shares are not searched
        // through again for deals the count says are not there).
        let page = if s.count <= 0 {
            crate::pagination::Page {
                items: Vec::new(),
                next_cursor: None,
            }
        } else {
            let params = BTreeMap::from([("stage".to_string(), stage.id.to_string())]);
            let query = RecordQuery::parse(deals.schema(), &params)?;
            let limit = i32::try_from(s.count)
                .unwrap_or(i32::MAX)
                .min(cards_per_stage);
            let mut page = deals.list(caller, &query, limit, None).await?;
            if s.count <= i64::from(cards_per_stage) {
                page.next_cursor = None;
            }
            page
        };
        stages.push((
            BoardStage {
                stage_id: stage.id,
                name: stage.name.clone(),
                probability: stage.probability,
                count: s.count,
                total,
                weighted_total,
                by_currency,
                cards: Vec::new(),
                next_cursor: page.next_cursor,
            },
            page.items,
        ));
    }
    let names = Names::of(deals, caller, stages.iter().flat_map(|(_, page)| page)).await?;
    let stages = pipeline
        .stages
        .iter()
        .zip(stages)
        .map(|(stage, (mut shown, page))| {
            shown.cards = page.iter().map(|d| names.card(d, stage, now)).collect();
            shown
        })
        .collect();
    Ok(Board {
        pipeline_id: pipeline.id,
        base_currency: settings.base_currency,
        rates_used,
        stages,
    })
}
