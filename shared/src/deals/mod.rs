//! Deals and their pipelines (S4): a deal is a kind of the record engine (visibility, audit,
//! custom fields, trash, lists and cursors come from it); what is particular to deals is
//! here: the pipeline and stage it stands in, its status following the stage, its value in
//! exact money, and its stage history, written in the deal's own transaction.

pub mod attachments;
pub mod board;
pub mod cells;
mod deal;
pub mod forecast;
pub mod lost_reasons;
pub mod pipeline;
pub mod rotting;
pub mod stage_removal;

pub use deal::{Deal, DealPatch, DealStatus, NewDeal};
pub use lost_reasons::{LostReason, LostReasons, LostReasonsInput};
pub use pipeline::{NewPipeline, Pipeline, PipelinePatch, Pipelines, Stage, StageInput, StageKind};

use crate::Caller;
use crate::contacts::tag_key;
use crate::custom_fields::Reference;
use crate::custom_fields::index::encode_number;
use crate::errors::FieldErrors;
use crate::records::query::{exact_facet, folded_facet, uuid_facet};
use crate::records::{Facet, Kind, RangeFilter, Records, Schema, SearchText, SortOrder, Stamp};
use crate::store::{Query, WriteOp, key, n, s};
use crate::values::time::time_key;
use crate::{CrmError, FieldError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The sort key of "no value" (no amount, no expected close): before every value.
pub const NO_VALUE: &str = "0";
const STAGE_HISTORY_PREFIX: &str = "STAGE#";

fn status(raw: &str) -> Result<String, FieldError> {
    match raw {
        "open" | "won" | "lost" => Ok(raw.to_string()),
        _ => Err(FieldError::new(
            "status",
            "one_of",
            "must be open, won or lost",
        )),
    }
}

fn contact(raw: &str) -> Result<String, FieldError> {
    uuid_facet("contact")(raw)
}

fn client(raw: &str) -> Result<String, FieldError> {
    uuid_facet("client")(raw)
}

fn stage(raw: &str) -> Result<String, FieldError> {
    uuid_facet("stage")(raw)
}

fn pipeline(raw: &str) -> Result<String, FieldError> {
    uuid_facet("pipeline")(raw)
}

/// An amount bound of a list (`amount_min=1000`) as its sort key.
fn amount_key(raw: &str) -> Result<String, crate::values::Invalid> {
    crate::values::decimal::Exact::parse(raw)
        .ok()
        .filter(|x| !x.0.is_sign_negative())
        .and_then(|x| encode_number(x.0))
        .ok_or_else(|| {
            crate::values::Invalid::new("decimal", "a decimal amount such as 1000 or 999.50")
        })
}

static SCHEMA: Schema = Schema {
    // Most selective first: the planner drives a list by the first one filtered on.
    facets: &[
        Facet::of("contact", contact).selective().precise(),
        Facet::of("client", client).selective().precise(),
        Facet::of("tag", folded_facet).sharded().selective(),
        Facet::of("stage", stage).sharded(),
        Facet::of("source", exact_facet).sharded(),
        Facet::of("pipeline", pipeline).sharded(),
        Facet::of("status", status).sharded(),
    ],
    categories: [Some("status"), Some("pipeline")],
    sorts: &[
        SortOrder::new("amount", 1),
        SortOrder::new("expected_close", 2),
        SortOrder::new("updated_at", 3),
        SortOrder::new("title", 4),
        SortOrder::new("idle_since", 5),
    ],
    range_filters: &[
        RangeFilter::CREATED,
        RangeFilter::Between {
            name: "expected_close",
            slot: Some(2),
        },
        RangeFilter::Between {
            name: "updated",
            slot: Some(3),
        },
        // Open deals idle (no stage change, no activity) since a time in this range.
        RangeFilter::Between {
            name: "idle",
            slot: Some(5),
        },
        // The amount in the deal's own currency, whatever it is.
        RangeFilter::Values {
            name: "amount",
            slot: 1,
            key: amount_key,
        },
    ],
    search: true,
    // Follows the stage; the stage change is the audited one.
    audit_ignore: &["stage_entered_at"],
    ..Schema::new("deal", "DEAL", "deals")
};

/// Deals as a kind of the record engine.
pub struct DealKind;

/// The deals of a tenant: the engine's use cases for [`DealKind`].
pub type Deals = Records<DealKind>;

/// One move of a deal between stages (S4.2): written once, in the deal's transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StageChange {
    /// `None` for the stage a deal was created in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_stage_id: Option<Uuid>,
    pub to_stage_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_pipeline_id: Option<Uuid>,
    pub to_pipeline_id: Uuid,
    pub actor: String,
    pub at: DateTime<Utc>,
    /// Seconds the deal spent in the stage it left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_in_previous_stage: Option<i64>,
}

fn status_of(kind: StageKind) -> DealStatus {
    match kind {
        StageKind::Open => DealStatus::Open,
        StageKind::Won => DealStatus::Won,
        StageKind::Lost => DealStatus::Lost,
    }
}

/// Places a deal in its pipeline: the stage (the first when none was named), the status
/// following it (or the stage following a status asked for), and when it entered the stage.
fn settle(pipeline: &Pipeline, before: Option<&Deal>, after: &mut Deal) -> Result<(), CrmError> {
    let mut e = FieldErrors::new();
    let restoring = before.is_some_and(|b| b.deleted_at.is_some()) && after.deleted_at.is_none();
    let gone = pipeline.stage(after.stage_id).is_none();
    // A deal restored after its stage was deleted goes to the first open stage.
    if after.stage_id.is_nil() || (restoring && gone) {
        let open = pipeline
            .stages
            .iter()
            .find(|s| s.kind == StageKind::Open && s.moving_to.is_none());
        after.stage_id = open
            .or(pipeline.stages.first())
            .map(|s| s.id)
            .unwrap_or_default();
    }
    let status_asked = before.is_some_and(|b| b.status != after.status);
    let stage_named = before.is_none_or(|b| b.stage_id != after.stage_id);
    if !stage_named && status_asked {
        let kind = match after.status {
            DealStatus::Won => StageKind::Won,
            DealStatus::Lost => StageKind::Lost,
            DealStatus::Open => {
                return Err(CrmError::validation(
                    "stage_id",
                    "required",
                    "reopening a deal names the open stage it goes back to",
                ));
            }
        };
        if let Some(s) = pipeline.stage_of_kind(kind) {
            after.stage_id = s.id;
        }
    }
    let Some(stage) = pipeline.stage(after.stage_id) else {
        return Err(CrmError::Validation(vec![pipeline::unknown_stage()]));
    };
    let entering = before.is_none_or(|b| b.stage_id != after.stage_id);
    if entering && stage.moving_to.is_some() {
        return Err(CrmError::validation(
            "stage_id",
            "stage_deleted",
            "the stage is being deleted",
        ));
    }
    let follows = status_of(stage.kind);
    if status_asked && after.status != follows {
        e.push(
            "status",
            "stage_kind",
            format!("the stage {} is a {} stage", stage.name, follows.as_str()),
        );
    }
    e.into_result()?;
    after.status = follows;
    let moved = before.is_none_or(|b| b.stage_id != after.stage_id);
    if moved {
        after.stage_entered_at = crate::values::now();
    }
    let closed_before = before.is_some_and(|b| b.status != DealStatus::Open);
    match after.status {
        DealStatus::Open => after.closed_at = None,
        _ if !closed_before || before.is_some_and(|b| b.status != after.status) => {
            after.closed_at = Some(after.stage_entered_at);
        }
        _ => {}
    }
    Ok(())
}

impl Kind for DealKind {
    type Record = Deal;
    type Summary = Deal;
    type New = NewDeal;
    type Patch = DealPatch;

    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn create(input: NewDeal, _: &Stamp) -> Result<Deal, Vec<FieldError>> {
        deal::from_new(input)
    }

    fn patch(current: &Deal, patch: DealPatch) -> Result<Deal, CrmError> {
        deal::apply(current, patch)
    }

    fn summary(d: &Deal) -> Deal {
        d.clone()
    }

    fn facets(d: &Deal) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("status", d.status.as_str().to_string()),
            ("pipeline", d.pipeline_id.to_string()),
            ("stage", d.stage_id.to_string()),
        ];
        out.extend(d.source.iter().map(|s| ("source", s.clone())));
        out.extend(d.tags.iter().map(|t| ("tag", tag_key(t))));
        out.extend(d.client_id.iter().map(|c| ("client", c.to_string())));
        out.extend(d.contact_ids.iter().map(|c| ("contact", c.to_string())));
        out
    }

    /// Amount (the decimal amount whatever its currency; no value first), expected close,
    /// updated, title, and for open deals idle since (rotting lists).
    fn sort_keys(d: &Deal) -> [Option<String>; crate::records::keys::SORT_SLOTS] {
        let amount = d
            .value
            .as_ref()
            .and_then(|m| encode_number(m.amount.0))
            .unwrap_or_else(|| NO_VALUE.to_string());
        let close = d.expected_close.map_or_else(
            || NO_VALUE.to_string(),
            |day| time_key(day.and_time(chrono::NaiveTime::MIN).and_utc()),
        );
        let title: String = crate::values::search::fold(&d.title)
            .chars()
            .take(60)
            .collect();
        [
            Some(amount),
            Some(close),
            Some(time_key(d.updated_at)),
            Some(title),
            (d.status == DealStatus::Open).then(|| time_key(d.idle_since())),
        ]
    }

    fn search_text(d: &Deal) -> SearchText {
        SearchText {
            names: vec![d.title.clone()],
            ..Default::default()
        }
    }

    fn title(d: &Deal) -> String {
        d.title.clone()
    }

    /// The pipeline exists (and is not archived for a deal entering it), the stage is one of
    /// its, the status follows the stage; contacts and client added are visible to the writer.
    async fn check_write(
        deals: &Deals,
        caller: &Caller,
        before: Option<&Deal>,
        after: &mut Deal,
    ) -> Result<(), CrmError> {
        let tenant = &caller.tenant_id;
        let pipelines = Pipelines::new(deals.ctx.table.clone());
        if after.pipeline_id.is_nil() {
            let Some(default) = pipelines.default_pipeline(tenant).await? else {
                return Err(CrmError::validation(
                    "pipeline_id",
                    "required",
                    "the tenant has no pipeline yet: create one with POST /pipelines",
                ));
            };
            after.pipeline_id = default.id;
        }
        let Some(pipeline) = pipelines.load(tenant, after.pipeline_id).await? else {
            return Err(CrmError::validation(
                "pipeline_id",
                "exists",
                "no such pipeline",
            ));
        };
        let entering = before.is_none_or(|b| b.pipeline_id != after.pipeline_id);
        if entering && pipeline.archived {
            return Err(CrmError::validation(
                "pipeline_id",
                "archived",
                "the pipeline is archived",
            ));
        }
        settle(&pipeline, before, after)?;
        let mut e = FieldErrors::new();
        let reason_changed = before.is_none_or(|b| b.lost_reason != after.lost_reason);
        if let Some(reason) = after.lost_reason.as_deref().filter(|_| reason_changed) {
            let catalogue = pipelines.lost_reasons(tenant).await?;
            if !catalogue.reasons.is_empty() && !catalogue.reasons.iter().any(|r| r.key == reason) {
                e.push(
                    "lost_reason",
                    "one_of",
                    "a key of the tenant's lost reasons (GET /deal-lost-reasons)",
                );
            }
        }
        let references = &deals.ctx.custom.references;
        for (i, id) in after.contact_ids.iter().enumerate() {
            let known = before.is_some_and(|b| b.contact_ids.contains(id));
            if !known && !references.visible(caller, &Reference::Contact(*id)).await? {
                e.push(
                    crate::errors::FieldPath::new("contact_ids").index(i),
                    "exists",
                    "no such contact",
                );
            }
        }
        if let Some(c) = after.client_id {
            let known = before.is_some_and(|b| b.client_id == Some(c));
            if !known && !references.visible(caller, &Reference::Client(c)).await? {
                e.push("client_id", "exists", "no such client");
            }
        }
        e.into_result()
    }

    /// A stage history entry for the stage a deal is created in and for every move.
    fn companions(
        tenant: &str,
        before: Option<&Deal>,
        after: Option<&Deal>,
    ) -> Result<Vec<WriteOp>, CrmError> {
        let mut writes = cells::cell_writes(tenant, before, after);
        writes.extend(stage_change(tenant, before, after)?);
        Ok(writes)
    }
}

/// The stage history entry of a change that moves a deal (or creates it).
fn stage_change(
    tenant: &str,
    before: Option<&Deal>,
    after: Option<&Deal>,
) -> Result<Option<WriteOp>, CrmError> {
    let Some(after) = after else {
        return Ok(None);
    };
    let moved =
        before.is_none_or(|b| b.stage_id != after.stage_id || b.pipeline_id != after.pipeline_id);
    if !moved || after.deleted_at.is_some() {
        return Ok(None);
    }
    let change = StageChange {
        from_stage_id: before.map(|b| b.stage_id),
        to_stage_id: after.stage_id,
        from_pipeline_id: before.map(|b| b.pipeline_id),
        to_pipeline_id: after.pipeline_id,
        actor: after.updated_by.clone(),
        at: after.stage_entered_at,
        seconds_in_previous_stage: before
            .map(|b| (after.stage_entered_at - b.stage_entered_at).num_seconds()),
    };
    let pk = crate::records::keys::record_pk(tenant, &SCHEMA, after.id);
    let sk = format!("{STAGE_HISTORY_PREFIX}{}", crate::values::new_id());
    let mut keys = key(pk, sk);
    keys.insert("entity".into(), s("deal_stage_change"));
    keys.insert("tenant_id".into(), s(tenant));
    keys.insert("version".into(), n(after.version));
    crate::store::to_item(&change, keys).map(|i| Some(WriteOp::put_new(i)))
}

/// A deal's stage history, oldest first (S4.2), for a caller who may see the deal.
pub async fn stage_history(
    deals: &Deals,
    caller: &Caller,
    id: Uuid,
) -> Result<Vec<StageChange>, CrmError> {
    let deal = deals.get(caller, id).await?;
    let pk = crate::records::keys::record_pk(&caller.tenant_id, &SCHEMA, deal.id);
    deals
        .ctx
        .table
        .query_all(Query::partition(pk).prefix(STAGE_HISTORY_PREFIX))
        .await?
        .into_iter()
        .map(crate::store::from_item)
        .collect()
}

/// Every deal of contact `contact` that the caller may see (live ones), page by page.
pub async fn deals_of_contact(
    deals: &Deals,
    caller: &Caller,
    contact: Uuid,
) -> Result<Vec<Deal>, CrmError> {
    let params = std::collections::BTreeMap::from([("contact".to_string(), contact.to_string())]);
    let query = crate::records::RecordQuery::parse(&SCHEMA, &params)?;
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = deals.list(caller, &query, 200, cursor.as_deref()).await?;
        all.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}

/// Takes an erased contact off every deal it is on (S1.2): each deal changes in its own
/// transaction with its audit entry, so a retried erasure finds only the deals left.
pub async fn unlink_contact(deals: &Deals, caller: &Caller, contact: Uuid) -> Result<(), CrmError> {
    for deal in deals_of_contact(deals, caller, contact).await? {
        let rest: Vec<Uuid> = deal
            .contact_ids
            .iter()
            .copied()
            .filter(|c| *c != contact)
            .collect();
        let patch = DealPatch {
            contact_ids: crate::values::Patch::Set(rest),
            ..DealPatch::default()
        };
        deals.patch(caller, deal.id, patch, None, None).await?;
    }
    Ok(())
}

/// Every item a new deal is stored as besides its board cell (the record, its index entries,
/// its first stage history entry; no audit entry), and how many writes its creation is in all
/// (with the audit entry and the cell): for loading a tenant in benchmarks.
pub fn stored_items(tenant: &str, d: &Deal) -> Result<(Vec<crate::store::Item>, usize), CrmError> {
    crate::records::write::stored_items::<DealKind>(tenant, d)
}

/// The writes of moving `d` to stage `to` (with its audit entry): what one move costs.
pub fn move_writes(tenant: &str, d: &Deal, to: Uuid, actor: &str) -> Result<usize, CrmError> {
    let mut next = crate::records::next_version(d, actor);
    next.stage_id = to;
    next.stage_entered_at = next.updated_at;
    let audit = crate::audit::AuditEntry::new(
        crate::audit::AuditAction::Updated,
        vec![],
        actor,
        next.version,
    );
    Ok(
        crate::records::write::replace::<DealKind>(tenant, d, &next, &audit)?
            .writes
            .len(),
    )
}
