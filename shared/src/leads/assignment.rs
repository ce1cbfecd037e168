//! Lead assignment (S8.4): the tenant's rules say who gets a lead created without an owner —
//! a named user, or round robin among a team's active members (an atomic counter item per
//! team, advanced by a conditional write). The first rule whose criteria match wins.
//!
//! Items: rules `T#{t}#LEADASSIGN` / `RULES`; counter `T#{t}#LEADASSIGN` / `RR#{team}`.

use crate::access::{Action, Policy, Subject};
use crate::directory::{Directory, UserStatus};
use crate::errors::{FieldErrors, FieldPath};
use crate::store::{Condition, Table, WriteError, from_item, key, n, to_item};
use crate::{Caller, CrmError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const RULES_SK: &str = "RULES";
pub const MAX_RULES: usize = 50;

fn pk(tenant: &str) -> String {
    format!("T#{tenant}#LEADASSIGN")
}

/// One rule: when a new lead matches its criteria (all given ones), it goes to `user`, or
/// round robin to the active members of `team`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentRule {
    /// Only leads of this source (a key); none: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Only leads entering by this path (`api`, `import`, `web_form`, …); none: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<crate::contacts::EntryPath>,
    /// The team the lead joins (and whose members share it round robin without `user`).
    pub team: Uuid,
    /// A user of the team who gets every matching lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AssignmentRules {
    pub rules: Vec<AssignmentRule>,
    #[serde(default)]
    pub version: u64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentRulesInput {
    pub rules: Vec<AssignmentRule>,
}

pub async fn load(table: &Table, tenant: &str) -> Result<AssignmentRules, CrmError> {
    Ok(table
        .get(pk(tenant), RULES_SK)
        .await?
        .map(from_item)
        .transpose()?
        .unwrap_or_default())
}

pub async fn read(table: &Table, caller: &Caller) -> Result<AssignmentRules, CrmError> {
    Policy::check(caller, Action::Read, Subject::Settings)?;
    load(table, &caller.tenant_id).await
}

/// Replaces the rules (owners and admins): teams exist, named users are members of them.
pub async fn put(
    table: &Table,
    caller: &Caller,
    input: AssignmentRulesInput,
    if_match: Option<u64>,
) -> Result<AssignmentRules, CrmError> {
    Policy::check(caller, Action::Write, Subject::Settings)?;
    let mut e = FieldErrors::new();
    if input.rules.len() > MAX_RULES {
        e.push("rules", "max_items", format!("at most {MAX_RULES} rules"));
    }
    let (users, teams) = Directory::new(table.clone())
        .everyone(&caller.tenant_id)
        .await?;
    for (i, r) in input.rules.iter().enumerate() {
        let path = FieldPath::new("rules").index(i);
        if !teams.iter().any(|t| t.id == r.team) {
            e.push(path.field("team"), "exists", "no such team");
        }
        if let Some(u) = &r.user {
            if !users
                .iter()
                .any(|x| &x.user_id == u && x.teams.contains(&r.team))
            {
                e.push(
                    path.field("user"),
                    "member",
                    "not a member of the rule's team",
                );
            }
        }
        if let Some(src) = &r.source {
            if !crate::values::ids::is_valid_key(src) {
                e.push(path.field("source"), "key", "a lead source key");
            }
        }
    }
    e.into_result()?;
    let current = load(table, &caller.tenant_id).await?;
    if if_match.is_some_and(|v| v != current.version) {
        return Err(CrmError::PreconditionFailed);
    }
    let next = AssignmentRules {
        rules: input.rules,
        version: current.version + 1,
    };
    let item = to_item(&next, key(pk(&caller.tenant_id), RULES_SK))?;
    let expected = (current.version > 0).then_some(current.version);
    table.put_versioned(item, expected).await?;
    Ok(next)
}

/// The owner and team a new lead without an owner gets from the rules, if one matches.
pub async fn assign(
    table: &Table,
    tenant: &str,
    source: Option<&str>,
    path: crate::contacts::EntryPath,
) -> Result<Option<(String, Uuid)>, CrmError> {
    let rules = load(table, tenant).await?;
    let Some(rule) = rules.rules.iter().find(|r| {
        r.source.as_deref().is_none_or(|s| Some(s) == source) && r.path.is_none_or(|p| p == path)
    }) else {
        return Ok(None);
    };
    if let Some(user) = &rule.user {
        return Ok(Some((user.clone(), rule.team)));
    }
    let (users, _) = Directory::new(table.clone()).everyone(tenant).await?;
    let mut members: Vec<String> = users
        .into_iter()
        .filter(|u| u.status == UserStatus::Active && u.teams.contains(&rule.team))
        .map(|u| u.user_id)
        .collect();
    members.sort();
    if members.is_empty() {
        return Ok(None);
    }
    let turn = next_turn(table, tenant, rule.team).await?;
    Ok(Some((
        members[(turn % members.len() as u64) as usize].clone(),
        rule.team,
    )))
}

/// Takes the next number of the team's round robin counter (0, 1, 2, …): read, then written
/// on condition it is still what was read, again when someone took it meanwhile.
async fn next_turn(table: &Table, tenant: &str, team: Uuid) -> Result<u64, CrmError> {
    let sk = format!("RR#{team}");
    for _ in 0..50 {
        let current = table.get(pk(tenant), &sk).await?;
        let taken = current
            .as_ref()
            .and_then(|i| i.get("next"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut item = key(pk(tenant), &sk);
        item.insert("next".into(), n(taken.unwrap_or(0) + 1));
        let condition = match taken {
            Some(t) => Condition::eq("next", n(t)),
            None => Condition::NotExists,
        };
        match table.put_if(item, condition).await {
            Ok(()) => return Ok(taken.unwrap_or(0)),
            Err(WriteError::ConditionFailed) => continue,
            Err(WriteError::Other(e)) => return Err(e),
        }
    }
    Err(CrmError::Internal(
        "the round robin counter stayed busy".into(),
    ))
}
