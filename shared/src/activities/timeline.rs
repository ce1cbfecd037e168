//! Timelines (S6.2): the activities of a contact, a client or a deal, newest first, filtered
//! by type and period, a page at a time; and a user's open tasks by due date (S6.1).
//!
//! Each is a list of the engine driven by one facet of the activity (`contact:{id}`,
//! `client:{id}`, `deal:{id}`, `open_task:{user}`) in one sort slot, so a page costs its
//! rows whatever the size of the client; the caller sees the activities they may see, and the
//! subject must be one they see (404 otherwise).

use super::{Activities, ActivityKind, ActivitySummary, ActivityType};
use crate::clients::ClientKind;
use crate::contacts::ContactKind;
use crate::deals::DealKind;
use crate::records::ReadStats;
use crate::records::{Kind, RecordQuery, Records};
use crate::store::cursor::Page;
use crate::{Caller, CrmError};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Whose timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Contact(Uuid),
    Client(Uuid),
    Deal(Uuid),
}

impl Subject {
    fn facet_param(self) -> (&'static str, Uuid) {
        match self {
            Self::Contact(id) => ("contact", id),
            Self::Client(id) => ("client", id),
            Self::Deal(id) => ("deal", id),
        }
    }

    /// 404 unless the caller sees the subject.
    async fn check_visible(self, activities: &Activities, caller: &Caller) -> Result<(), CrmError> {
        let ctx = activities.ctx.clone();
        match self {
            Self::Contact(id) => Records::<ContactKind>::new(ctx)
                .get(caller, id)
                .await
                .map(drop),
            Self::Client(id) => Records::<ClientKind>::new(ctx)
                .get(caller, id)
                .await
                .map(drop),
            Self::Deal(id) => Records::<DealKind>::new(ctx)
                .get(caller, id)
                .await
                .map(drop),
        }
    }
}

/// The list parameters a timeline takes: `type`, `occurred_from`, `occurred_to`, `owner`,
/// `team`, `sort` (default `-occurred_at`); the subject's own parameter is set by the route.
fn query(
    mut params: BTreeMap<String, String>,
    fixed: (&str, String),
    default_sort: &str,
) -> Result<RecordQuery, CrmError> {
    for dim in [
        "contact",
        "client",
        "deal",
        "open_tasks_of",
        "contact_type",
        "client_type",
        "deal_type",
    ] {
        if params.contains_key(dim) {
            return Err(CrmError::validation(
                dim,
                "unknown_parameter",
                "not a parameter of this list",
            ));
        }
    }
    // A type filter drives by the subject's typed facet: the page reads only its rows.
    let typed = ["contact", "client", "deal"].contains(&fixed.0);
    let type_filter = if typed { params.remove("type") } else { None };
    match type_filter {
        Some(t) => {
            let t = ActivityType::parse(t.trim()).ok_or_else(|| {
                CrmError::validation(
                    "type",
                    "one_of",
                    "must be email, chat, ticket, call, meeting, note or task",
                )
            })?;
            params.insert(
                format!("{}_type", fixed.0),
                format!("{}.{}", fixed.1, t.as_str()),
            );
        }
        None => {
            params.insert(fixed.0.to_string(), fixed.1);
        }
    }
    params
        .entry("sort".into())
        .or_insert_with(|| default_sort.to_string());
    RecordQuery::parse(ActivityKind::schema(), &params)
}

/// A page of the subject's timeline, with what it read.
pub async fn timeline(
    activities: &Activities,
    caller: &Caller,
    subject: Subject,
    params: BTreeMap<String, String>,
    limit: i32,
    cursor: Option<&str>,
) -> Result<(Page<ActivitySummary>, ReadStats), CrmError> {
    subject.check_visible(activities, caller).await?;
    let (param, id) = subject.facet_param();
    let q = query(params, (param, id.to_string()), "-occurred_at")?;
    activities.list_with_stats(caller, &q, limit, cursor).await
}

/// A page of the caller's open tasks, soonest due first (tasks without a due date last).
pub async fn my_tasks(
    activities: &Activities,
    caller: &Caller,
    params: BTreeMap<String, String>,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<ActivitySummary>, CrmError> {
    let q = query(params, ("open_tasks_of", caller.user_id.clone()), "due_at")?;
    activities.list(caller, &q, limit, cursor).await
}
