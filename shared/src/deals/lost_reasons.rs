//! The tenant's catalogue of reasons deals are lost for (S4.2): a lost deal's `lost_reason`
//! is one of its keys once it has any. Item: `T#{t}#PIPELINES` / `LOSTREASONS`.

use super::pipeline::{NAME_CHARS, Pipelines, pipelines_pk};
use crate::access::{Action, Policy, Subject};
use crate::errors::{FieldErrors, FieldPath};
use crate::store::{from_item, key, to_item};
use crate::{Caller, CrmError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A reason a deal was lost, of the tenant's catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LostReason {
    /// What a deal's `lost_reason` holds: lower-case letters, digits, `-`, `_`.
    pub key: String,
    pub label: String,
}

/// Most lost reasons a tenant keeps.
pub const MAX_LOST_REASONS: usize = 50;
const LOST_REASONS_SK: &str = "LOSTREASONS";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LostReasons {
    pub reasons: Vec<LostReason>,
    /// 0 while the catalogue was never saved.
    #[serde(default)]
    pub version: u64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LostReasonsInput {
    pub reasons: Vec<LostReason>,
}

impl Pipelines {
    /// The tenant's lost reasons (empty until saved: then any key is taken).
    pub async fn lost_reasons(&self, tenant: &str) -> Result<LostReasons, CrmError> {
        Ok(self
            .table
            .get(pipelines_pk(tenant), LOST_REASONS_SK)
            .await?
            .map(from_item)
            .transpose()?
            .unwrap_or_default())
    }

    pub async fn get_lost_reasons(&self, caller: &Caller) -> Result<LostReasons, CrmError> {
        Policy::check(caller, Action::Read, Subject::Pipelines)?;
        self.lost_reasons(&caller.tenant_id).await
    }

    /// Replaces the catalogue (owners and admins); keys unique, labels required.
    pub async fn put_lost_reasons(
        &self,
        caller: &Caller,
        input: LostReasonsInput,
        if_match: Option<u64>,
    ) -> Result<LostReasons, CrmError> {
        Policy::check(caller, Action::Write, Subject::Pipelines)?;
        let mut e = FieldErrors::new();
        if input.reasons.len() > MAX_LOST_REASONS {
            e.push(
                "reasons",
                "max_items",
                format!("at most {MAX_LOST_REASONS} reasons"),
            );
        }
        let mut seen = BTreeSet::new();
        let mut reasons = Vec::new();
        for (i, r) in input.reasons.into_iter().enumerate() {
            let path = FieldPath::new("reasons").index(i);
            let key = match crate::values::ids::key(&r.key) {
                Ok(Some(k)) => Some(k),
                Ok(None) => {
                    e.push(path.field("key"), "required", "a key such as \"price\"");
                    None
                }
                Err(invalid) => {
                    e.invalid(path.field("key"), invalid);
                    None
                }
            };
            if key.as_ref().is_some_and(|k| !seen.insert(k.clone())) {
                e.push(path.field("key"), "unique", "a key is listed once");
            }
            let label = e.required_text(path.field("label"), &r.label, NAME_CHARS);
            reasons.extend(key.map(|key| LostReason { key, label }));
        }
        e.into_result()?;
        let current = self.lost_reasons(&caller.tenant_id).await?;
        if if_match.is_some_and(|v| v != current.version) {
            return Err(CrmError::PreconditionFailed);
        }
        let next = LostReasons {
            reasons,
            version: current.version + 1,
        };
        let item = to_item(&next, key(pipelines_pk(&caller.tenant_id), LOST_REASONS_SK))?;
        let expected = (current.version > 0).then_some(current.version);
        self.table.put_versioned(item, expected).await?;
        Ok(next)
    }
}
