//! Rotting deals (S4.2, S4.3): open deals idle (no stage change, no activity) for at least
//! their stage's rotting period. Each stage has its own period, so a rotting list reads, stage
//! after stage, the stage's deals on the idle-since sort slot up to the stage's cut-off: a key
//! condition, so a page costs what it returns whatever the number of fresh deals. The list is
//! ordered by stage, then most idle first; its cursor is the stage's place, the time the first
//! page was cut off at (so the cut-offs, and the engine's cursor, stay the same while paging)
//! and the engine's cursor within the stage.

use super::{DealKind, Deals, Pipelines, StageKind};
use crate::records::{Kind, RecordQuery};
use crate::store::cursor::Page;
use crate::{Caller, CrmError, FieldError};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use uuid::Uuid;

pub type DealSummaryPage = Page<<DealKind as Kind>::Summary>;

/// Parameters a rotting list sets itself.
const OWN_PARAMS: [&str; 4] = ["sort", "idle_from", "idle_to", "stage"];

fn invalid(field: &str, rule: &str, message: &str) -> CrmError {
    CrmError::Validation(vec![FieldError::new(field, rule, message)])
}

/// Whether a list request asks for rotting deals (`rotting=true`); anything else is refused.
pub fn wants_rotting(params: &BTreeMap<String, String>) -> Result<bool, CrmError> {
    match params.get("rotting").map(String::as_str) {
        None => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(invalid(
            "rotting",
            "one_of",
            "only true: the deals that are rotting",
        )),
    }
}

/// `GET /deals?rotting=true[&pipeline=…|&stage=…][&other filters]`.
pub async fn list_rotting(
    deals: &Deals,
    pipelines: &Pipelines,
    caller: &Caller,
    params: &BTreeMap<String, String>,
    limit: i32,
    cursor: Option<&str>,
    now: DateTime<Utc>,
) -> Result<DealSummaryPage, CrmError> {
    for own in ["sort", "idle_from", "idle_to"] {
        if params.contains_key(own) {
            return Err(invalid(
                own,
                "rotting",
                "a rotting list is ordered by idle time and cut off per stage",
            ));
        }
    }
    let stage_filter = match params.get("stage") {
        Some(raw) => Some(
            raw.parse::<Uuid>()
                .map_err(|_| invalid("stage", "uuid", "must be a UUID"))?,
        ),
        None => None,
    };
    let pipeline_filter = match params.get("pipeline") {
        Some(raw) => Some(
            raw.parse::<Uuid>()
                .map_err(|_| invalid("pipeline", "uuid", "must be a UUID"))?,
        ),
        None => None,
    };
    // Every open stage with a rotting period the request names, in board order.
    let mut stages: Vec<(Uuid, u32)> = Vec::new();
    for p in pipelines.list(caller, false).await? {
        if pipeline_filter.is_some_and(|id| id != p.id) {
            continue;
        }
        for s in &p.stages {
            if s.kind != StageKind::Open || stage_filter.is_some_and(|id| id != s.id) {
                continue;
            }
            if let Some(days) = s.rotting_days {
                stages.push((s.id, days));
            }
        }
    }
    let (mut at, now, mut inner) = parse_cursor(cursor, now)?;
    let mut items = Vec::new();
    while at < stages.len() && items.len() < limit as usize {
        let (stage, days) = stages[at];
        let mut stage_params: BTreeMap<String, String> = params
            .iter()
            .filter(|(k, _)| k.as_str() != "rotting" && !OWN_PARAMS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let cut_off = now - Duration::days(i64::from(days));
        stage_params.insert("stage".into(), stage.to_string());
        stage_params.insert("sort".into(), "idle_since".into());
        stage_params.insert(
            "idle_to".into(),
            cut_off.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        let query = RecordQuery::parse(deals.schema(), &stage_params)?;
        let want = limit - items.len() as i32;
        let page = deals.list(caller, &query, want, inner.as_deref()).await?;
        items.extend(page.items);
        match page.next_cursor {
            Some(next) => {
                inner = Some(next);
                if items.len() >= limit as usize {
                    break;
                }
            }
            None => {
                at += 1;
                inner = None;
            }
        }
    }
    let millis = now.timestamp_millis();
    let next_cursor =
        (at < stages.len()).then(|| format!("{at}~{millis}~{}", inner.as_deref().unwrap_or("")));
    Ok(DealSummaryPage { items, next_cursor })
}

fn parse_cursor(
    cursor: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(usize, DateTime<Utc>, Option<String>), CrmError> {
    let Some(raw) = cursor else {
        return Ok((0, now, None));
    };
    let bad = crate::pagination::invalid_cursor;
    let mut parts = raw.splitn(3, '~');
    let (at, millis, inner) = (parts.next(), parts.next(), parts.next());
    let at = at.and_then(|a| a.parse().ok()).ok_or_else(bad)?;
    let then = millis
        .and_then(|m| m.parse().ok())
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(bad)?;
    let inner = inner.ok_or_else(bad)?;
    Ok((at, then, (!inner.is_empty()).then(|| inner.to_string())))
}
