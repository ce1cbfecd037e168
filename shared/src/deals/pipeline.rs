//! Pipelines and their stages (S4.1): several per tenant, ordered, archivable; stages ordered,
//! each `open`, `won` or `lost` (exactly one `won` and one `lost`), with a default probability
//! and an optional rotting period.
//!
//! Items: `T#{t}#PIPELINES` / `PIPELINE#{id}` (a tenant has few; they are read whole).

use crate::access::{Action, Policy, Subject};
use crate::errors::{FieldErrors, FieldPath};
use crate::store::{Query, Table, from_item, key, to_item};
use crate::values::Patch;
use crate::values::decimal::Exact;
use crate::{Caller, CrmError, FieldError};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Most pipelines a tenant keeps (archived ones included).
pub const MAX_PIPELINES: usize = 50;
/// Most stages of a pipeline (its won and lost stage included).
pub const MAX_STAGES: usize = 30;
pub(super) const NAME_CHARS: usize = 100;
/// Longest rotting period, in days.
pub const MAX_ROTTING_DAYS: u32 = 3650;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    Open,
    Won,
    Lost,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stage {
    pub id: Uuid,
    pub name: String,
    pub kind: StageKind,
    /// The probability (0–100, exact, at most two decimals) of a deal in this stage that sets
    /// none of its own.
    #[schema(value_type = String, example = "40")]
    pub probability: Exact,
    /// Days without a stage change or activity after which a deal here is rotting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotting_days: Option<u32>,
    /// Set while the stage is being deleted: where its deals are moving. No deal enters it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moving_to: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Pipeline {
    pub id: Uuid,
    pub name: String,
    /// Where it stands among the tenant's pipelines (ascending; ties by creation).
    pub position: u32,
    pub archived: bool,
    /// In board order.
    pub stages: Vec<Stage>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub version: u64,
}

impl Pipeline {
    pub fn stage(&self, id: Uuid) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// The pipeline's one stage of `kind` (`won`, `lost`); the first for `open`.
    pub fn stage_of_kind(&self, kind: StageKind) -> Option<&Stage> {
        self.stages.iter().find(|s| s.kind == kind)
    }

    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// A stage in a create or a stage list of a patch: with the `id` of an existing stage it
/// changes that one (name, probability, rotting period, place); without, it adds one.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageInput {
    #[serde(default)]
    pub id: Option<Uuid>,
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: String,
    /// `open` unless given; an existing stage keeps its kind.
    #[serde(default)]
    pub kind: Option<StageKind>,
    /// Required for open stages; a won stage is 100, a lost one 0.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "40", pattern = r"^[0-9]{1,3}(\.[0-9]+)?$")]
    pub probability: Option<Exact>,
    /// Days; an existing stage keeps its period unless given (`null` clears it).
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    pub rotting_days: Patch<u32>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPipeline {
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: String,
    #[serde(default)]
    pub position: Option<u32>,
    pub stages: Vec<StageInput>,
}

/// `PATCH /pipelines/{id}` (merge patch). `stages`, when given, is the whole new stage list in
/// board order: every existing stage must be in it (a stage with deals is deleted with
/// `DELETE /pipelines/{id}/stages/{stage_id}`, which names where they go).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelinePatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    pub position: Patch<u32>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub archived: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<StageInput>>)]
    pub stages: Patch<Vec<StageInput>>,
}

fn probability(e: &mut FieldErrors, path: &FieldPath, raw: Exact) -> Exact {
    let in_range = raw.0 >= Decimal::ZERO && raw.0 <= Decimal::ONE_HUNDRED;
    if !in_range {
        e.push(path.as_str(), "range", "must be from 0 to 100");
    } else if raw.scale() > 2 {
        e.push(path.as_str(), "scale", "at most two decimal places");
    }
    raw
}

/// The validated stage list: `existing` are the stages before (a patch), whose ids and kinds
/// stay.
fn stages(e: &mut FieldErrors, inputs: Vec<StageInput>, existing: &[Stage]) -> Vec<Stage> {
    if inputs.len() > MAX_STAGES {
        e.push(
            "stages",
            "max_items",
            format!("at most {MAX_STAGES} stages"),
        );
        return Vec::new();
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(inputs.len());
    for (i, s) in inputs.into_iter().enumerate() {
        let path = FieldPath::new("stages").index(i);
        let name = e.required_text(path.field("name"), &s.name, NAME_CHARS);
        let before = s.id.and_then(|id| existing.iter().find(|x| x.id == id));
        if let Some(id) = s.id {
            if before.is_none() {
                e.push(path.field("id"), "exists", "no such stage in this pipeline");
            }
            if !seen.insert(id) {
                e.push(path.field("id"), "unique", "a stage is listed once");
            }
        }
        let kind = match (before, s.kind) {
            (Some(b), Some(k)) if b.kind != k => {
                e.push(
                    path.field("kind"),
                    "immutable",
                    "a stage keeps its kind; add a stage of the other kind instead",
                );
                b.kind
            }
            (Some(b), _) => b.kind,
            (None, k) => k.unwrap_or(StageKind::Open),
        };
        let fixed = match kind {
            StageKind::Won => Some(Exact::from(100)),
            StageKind::Lost => Some(Exact::from(0)),
            StageKind::Open => None,
        };
        let probability = match (s.probability, fixed, before) {
            (Some(p), Some(f), _) if p.0 != f.0 => {
                e.push(
                    path.field("probability").as_str(),
                    "fixed",
                    format!("a {kind:?} stage's probability is {f}").to_lowercase(),
                );
                f
            }
            (_, Some(f), _) => f,
            (Some(p), None, _) => probability(e, &path.field("probability"), p),
            (None, None, Some(b)) => b.probability,
            (None, None, None) => {
                e.push(
                    path.field("probability").as_str(),
                    "required",
                    "an open stage needs a probability from 0 to 100",
                );
                Exact::from(0)
            }
        };
        let rotting_days = s.rotting_days.apply(before.and_then(|b| b.rotting_days));
        if let Some(d) = rotting_days {
            if !(1..=MAX_ROTTING_DAYS).contains(&d) {
                e.push(
                    path.field("rotting_days").as_str(),
                    "range",
                    format!("must be from 1 to {MAX_ROTTING_DAYS} days"),
                );
            }
        }
        out.push(Stage {
            id: s.id.unwrap_or_else(crate::values::new_id),
            name,
            kind,
            probability,
            rotting_days,
            moving_to: before.and_then(|b| b.moving_to),
        });
    }
    let count = |k| out.iter().filter(|s| s.kind == k).count();
    if count(StageKind::Won) != 1 || count(StageKind::Lost) != 1 {
        e.push(
            "stages",
            "won_and_lost",
            "a pipeline has exactly one won and one lost stage",
        );
    }
    if count(StageKind::Open) == 0 {
        e.push("stages", "open", "a pipeline has at least one open stage");
    }
    for gone in existing.iter().filter(|x| !seen.contains(&x.id)) {
        e.push(
            "stages",
            "stage_removed",
            format!(
                "stage {} ({}) is missing: delete a stage with DELETE /pipelines/{{id}}/stages/{{stage_id}}?move_to=…, which moves its deals",
                gone.id, gone.name
            ),
        );
    }
    out
}

pub(super) fn pipelines_pk(tenant: &str) -> String {
    format!("T#{tenant}#PIPELINES")
}

fn pipeline_sk(id: Uuid) -> String {
    format!("PIPELINE#{id}")
}

/// The pipelines of a tenant.
#[derive(Clone)]
pub struct Pipelines {
    pub(super) table: Table,
}

impl Pipelines {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// A pipeline, whoever asks (the engine's rules read it for every deal write).
    pub async fn load(&self, tenant: &str, id: Uuid) -> Result<Option<Pipeline>, CrmError> {
        self.table
            .get(pipelines_pk(tenant), pipeline_sk(id))
            .await?
            .map(from_item)
            .transpose()
    }

    /// Where a deal goes that names no pipeline: the first one not archived.
    pub async fn default_pipeline(&self, tenant: &str) -> Result<Option<Pipeline>, CrmError> {
        Ok(self.all(tenant).await?.into_iter().find(|p| !p.archived))
    }

    async fn all(&self, tenant: &str) -> Result<Vec<Pipeline>, CrmError> {
        let query = Query::partition(pipelines_pk(tenant)).prefix("PIPELINE#");
        let mut all: Vec<Pipeline> = self
            .table
            .query_all(query)
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        all.sort_by_key(|p| (p.position, p.id));
        Ok(all)
    }

    /// Every pipeline of the tenant in order (archived ones when asked).
    pub async fn list(
        &self,
        caller: &Caller,
        with_archived: bool,
    ) -> Result<Vec<Pipeline>, CrmError> {
        Policy::check(caller, Action::Read, Subject::Pipelines)?;
        let mut all = self.all(&caller.tenant_id).await?;
        all.retain(|p| with_archived || !p.archived);
        Ok(all)
    }

    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Pipeline, CrmError> {
        Policy::check(caller, Action::Read, Subject::Pipelines)?;
        self.load(&caller.tenant_id, id)
            .await?
            .ok_or(CrmError::NotFound)
    }

    pub async fn create(&self, caller: &Caller, input: NewPipeline) -> Result<Pipeline, CrmError> {
        Policy::check(caller, Action::Write, Subject::Pipelines)?;
        let mut e = FieldErrors::new();
        let name = e.required_text("name", &input.name, NAME_CHARS);
        let stages = stages(&mut e, input.stages, &[]);
        e.into_result()?;
        let existing = self.all(&caller.tenant_id).await?;
        if existing.len() >= MAX_PIPELINES {
            return Err(CrmError::validation(
                "pipeline",
                "max_items",
                format!("a tenant has at most {MAX_PIPELINES} pipelines"),
            ));
        }
        let now = crate::values::now();
        let position = input
            .position
            .unwrap_or_else(|| existing.iter().map(|p| p.position + 1).max().unwrap_or(0));
        let pipeline = Pipeline {
            id: crate::values::new_id(),
            name,
            position,
            archived: false,
            stages,
            created_at: now,
            created_by: caller.user_id.clone(),
            updated_at: now,
            updated_by: caller.user_id.clone(),
            version: 1,
        };
        self.put(&caller.tenant_id, &pipeline, None).await?;
        Ok(pipeline)
    }

    pub async fn patch(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: PipelinePatch,
        if_match: Option<u64>,
    ) -> Result<Pipeline, CrmError> {
        Policy::check(caller, Action::Write, Subject::Pipelines)?;
        let current = self.get(caller, id).await?;
        if if_match.is_some_and(|v| v != current.version) {
            return Err(CrmError::PreconditionFailed);
        }
        let mut e = FieldErrors::new();
        let mut next = current.clone();
        match patch.name {
            Patch::Absent => {}
            Patch::Clear => e.push("name", "required", "a pipeline has a name"),
            Patch::Set(n) => next.name = e.required_text("name", &n, NAME_CHARS),
        }
        match patch.position {
            Patch::Absent => {}
            Patch::Clear => e.push("position", "required", "a pipeline has a position"),
            Patch::Set(p) => next.position = p,
        }
        match patch.archived {
            Patch::Absent => {}
            Patch::Clear => e.push("archived", "required", "true or false"),
            Patch::Set(a) => next.archived = a,
        }
        match patch.stages {
            Patch::Absent => {}
            Patch::Clear => e.push("stages", "required", "a pipeline has stages"),
            Patch::Set(list) => next.stages = stages(&mut e, list, &current.stages),
        }
        e.into_result()?;
        if next == current {
            return Ok(current);
        }
        self.replace(caller, &current, next).await
    }

    /// Writes `next` as the version after `current` (412 if `current` changed meanwhile).
    pub async fn replace(
        &self,
        caller: &Caller,
        current: &Pipeline,
        mut next: Pipeline,
    ) -> Result<Pipeline, CrmError> {
        next.version = current.version + 1;
        next.updated_at = crate::values::now();
        next.updated_by = caller.user_id.clone();
        self.put(&caller.tenant_id, &next, Some(current.version))
            .await?;
        Ok(next)
    }

    /// Writes `pipeline` if it is new (`None`) or still at version `expected`.
    pub async fn put(
        &self,
        tenant: &str,
        pipeline: &Pipeline,
        expected: Option<u64>,
    ) -> Result<(), CrmError> {
        let item = to_item(
            pipeline,
            key(pipelines_pk(tenant), pipeline_sk(pipeline.id)),
        )?;
        self.table.put_versioned(item, expected).await
    }
}

/// The stage a deal is in must be one of its pipeline's.
pub fn unknown_stage() -> FieldError {
    FieldError::new("stage_id", "exists", "no such stage in the deal's pipeline")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, kind: Option<StageKind>, p: Option<i64>) -> StageInput {
        StageInput {
            id: None,
            name: name.into(),
            kind,
            probability: p.map(Exact::from),
            rotting_days: Patch::Absent,
        }
    }

    fn rules(list: Vec<StageInput>, existing: &[Stage]) -> Vec<String> {
        let mut e = FieldErrors::new();
        stages(&mut e, list, existing);
        e.iter()
            .map(|f| format!("{} {}", f.field, f.rule))
            .collect()
    }

    #[test]
    fn s4_1_a_pipeline_has_exactly_one_won_and_one_lost_stage() {
        let ok = vec![
            input("Lead", None, Some(10)),
            input("Won", Some(StageKind::Won), None),
            input("Lost", Some(StageKind::Lost), None),
        ];
        assert!(rules(ok, &[]).is_empty());
        let two_won = vec![
            input("Lead", None, Some(10)),
            input("Won", Some(StageKind::Won), None),
            input("Won again", Some(StageKind::Won), None),
            input("Lost", Some(StageKind::Lost), None),
        ];
        assert_eq!(rules(two_won, &[]), ["stages won_and_lost"]);
        let no_lost = vec![
            input("Lead", None, Some(10)),
            input("Won", Some(StageKind::Won), None),
        ];
        assert_eq!(rules(no_lost, &[]), ["stages won_and_lost"]);
    }

    #[test]
    fn s4_1_probabilities_are_exact_from_0_to_100_and_fixed_for_won_and_lost() {
        let mut e = FieldErrors::new();
        let list = vec![
            input("A", None, None),
            StageInput {
                probability: Some(Exact::parse("12.345").unwrap()),
                ..input("B", None, None)
            },
            input("C", None, Some(101)),
            input("Won", Some(StageKind::Won), Some(90)),
            input("Lost", Some(StageKind::Lost), None),
        ];
        let out = stages(&mut e, list, &[]);
        let got: Vec<String> = e
            .iter()
            .map(|f| format!("{} {}", f.field, f.rule))
            .collect();
        assert_eq!(
            got,
            [
                "stages[0].probability required",
                "stages[1].probability scale",
                "stages[2].probability range",
                "stages[3].probability fixed"
            ]
        );
        assert_eq!(out[4].probability.to_string(), "0");
    }

    #[test]
    fn s4_1_a_stage_list_keeps_ids_and_kinds_and_refuses_dropping_a_stage() {
        let mut e = FieldErrors::new();
        let first = stages(
            &mut e,
            vec![
                input("Lead", None, Some(10)),
                input("Won", Some(StageKind::Won), None),
                input("Lost", Some(StageKind::Lost), None),
            ],
            &[],
        );
        assert!(e.is_empty());
        let keep = |s: &Stage, name: &str| StageInput {
            id: Some(s.id),
            ..input(name, None, None)
        };
        // Reordered and renamed: ids, kinds and probabilities stay.
        let mut e = FieldErrors::new();
        let next = stages(
            &mut e,
            vec![
                keep(&first[2], "Lost"),
                keep(&first[0], "Qualified"),
                keep(&first[1], "Won"),
            ],
            &first,
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(next[1].id, first[0].id);
        assert_eq!(next[1].name, "Qualified");
        assert_eq!(next[1].probability.to_string(), "10");
        assert_eq!(next[0].kind, StageKind::Lost);
        let dropped = rules(
            vec![keep(&first[1], "Won"), keep(&first[2], "Lost")],
            &first,
        );
        assert!(
            dropped.contains(&"stages stage_removed".to_string()),
            "{dropped:?}"
        );
        assert!(dropped.contains(&"stages open".to_string()));
        let changed_kind = rules(
            vec![
                StageInput {
                    kind: Some(StageKind::Won),
                    ..keep(&first[0], "Lead")
                },
                keep(&first[1], "Won"),
                keep(&first[2], "Lost"),
            ],
            &first,
        );
        assert!(changed_kind.contains(&"stages[0].kind immutable".to_string()));
    }
}
