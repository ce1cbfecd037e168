//! The forecast (S4.4): per expected-close month the open deals' count, total and weighted
//! total in the base currency; the deals won and lost in the period by the month they closed
//! in; the lost reasons with their counts. From the month cells kept in each deal's
//! transaction ([`super::board::Grid::Months`]), for exactly the deals the caller may see.

use super::cells::{Amount, Grid, Sums, in_base, numbers_of, visible_cells};
use super::{Deals, Pipeline};
use crate::settings::SettingsStore;
use crate::{Caller, CrmError};
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Most months one forecast covers.
pub const MAX_MONTHS: u32 = 36;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub count: i64,
    pub total: Amount,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted_total: Option<Amount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ForecastMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// Open deals expected to close in the month (weighted by their or their stage's
    /// probability).
    pub open: Totals,
    /// Deals won or lost in the month.
    pub won: Totals,
    pub lost: Totals,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LostReason {
    /// A key of the tenant's lost reasons, or `-` for none given.
    pub reason: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Forecast {
    pub pipeline_id: Uuid,
    pub base_currency: String,
    pub from: String,
    pub to: String,
    pub months: Vec<ForecastMonth>,
    /// Won and lost over the whole period.
    pub won: Totals,
    pub lost: Totals,
    pub lost_reasons: Vec<LostReason>,
    pub rates_used: BTreeMap<String, String>,
}

/// A `YYYY-MM` query parameter, or the rule it breaks under `field`.
pub fn parse_month(field: &str, raw: &str) -> Result<NaiveDate, CrmError> {
    NaiveDate::parse_from_str(&format!("{raw}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| raw.len() == 7)
        .ok_or_else(|| CrmError::validation(field, "month", "a month as YYYY-MM"))
}

fn months(from: NaiveDate, to: NaiveDate) -> Vec<String> {
    let mut out = Vec::new();
    let mut m = from;
    while m <= to {
        out.push(m.format("%Y-%m").to_string());
        m = m
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(NaiveDate::MAX);
    }
    out
}

/// `GET /pipelines/{id}/forecast?from=YYYY-MM&to=YYYY-MM`.
pub async fn forecast(
    deals: &Deals,
    caller: &Caller,
    pipeline: &Pipeline,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Forecast, CrmError> {
    let span = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32 + 1;
    if span < 1 {
        return Err(CrmError::validation(
            "to",
            "after_from",
            "must not be before from",
        ));
    }
    if span > MAX_MONTHS as i32 {
        return Err(CrmError::validation(
            "to",
            "max_months",
            format!("a forecast covers at most {MAX_MONTHS} months"),
        ));
    }
    let settings = SettingsStore::new(deals.ctx.table.clone())
        .get(&caller.tenant_id)
        .await?;
    let (lo, hi) = (
        from.format("%Y-%m").to_string(),
        to.format("%Y-%m").to_string(),
    );
    let (cells, shared, _) =
        visible_cells(deals, caller, Grid::Months, pipeline.id, Some((&lo, &hi))).await?;
    // (month, status) → stage → sums; lost reason → count.
    let mut sums: BTreeMap<(String, String), BTreeMap<String, Sums>> = BTreeMap::new();
    let mut reasons: BTreeMap<String, i64> = BTreeMap::new();
    let mut add = |head: &[String], numbers: &BTreeMap<String, Decimal>| {
        let [month, status, stage, reason] = head else {
            return;
        };
        if month.as_str() < lo.as_str() || month.as_str() > hi.as_str() {
            return;
        }
        let s = sums.entry((month.clone(), status.clone())).or_default();
        let cell = s.entry(stage.clone()).or_default();
        let before = cell.count;
        cell.add_numbers(numbers);
        if status == "lost" {
            *reasons.entry(reason.clone()).or_default() += cell.count - before;
        }
    };
    for (head, numbers) in cells.iter().filter_map(numbers_of) {
        add(&head, &numbers);
    }
    for d in &shared {
        for (head, numbers) in super::cells::shared_numbers(Grid::Months, d) {
            add(&head, &numbers);
        }
    }
    let mut rates_used = BTreeMap::new();
    let probability = |stage: &str| {
        pipeline
            .stages
            .iter()
            .find(|s| s.id.to_string() == stage)
            .map_or(Decimal::ZERO, |s| s.probability.0)
    };
    let mut totals =
        |month: Option<&str>, status: &str, weighted: bool| -> Result<Totals, CrmError> {
            let mut count = 0;
            let (mut all, mut w): (BTreeMap<String, Decimal>, BTreeMap<String, Decimal>) =
                Default::default();
            for ((m, st), stages) in &sums {
                if st != status || month.is_some_and(|x| x != m) {
                    continue;
                }
                for (stage, s) in stages {
                    count += s.count;
                    for (c, v) in &s.all {
                        *all.entry(c.clone()).or_default() += v;
                    }
                    for (c, v) in s.weighted(probability(stage)) {
                        *w.entry(c).or_default() += v;
                    }
                }
            }
            Ok(Totals {
                count,
                total: in_base(&all, &settings, &mut rates_used)?,
                weighted_total: if weighted {
                    Some(in_base(&w, &settings, &mut rates_used)?)
                } else {
                    None
                },
            })
        };
    let mut out = Vec::new();
    for m in months(from, to) {
        out.push(ForecastMonth {
            open: totals(Some(&m), "open", true)?,
            won: totals(Some(&m), "won", false)?,
            lost: totals(Some(&m), "lost", false)?,
            month: m,
        });
    }
    let (won, lost) = (totals(None, "won", false)?, totals(None, "lost", false)?);
    Ok(Forecast {
        pipeline_id: pipeline.id,
        base_currency: settings.base_currency.clone(),
        from: lo,
        to: hi,
        months: out,
        won,
        lost,
        lost_reasons: reasons
            .into_iter()
            .filter(|(_, n)| *n != 0)
            .map(|(reason, count)| LostReason { reason, count })
            .collect(),
        rates_used,
    })
}
