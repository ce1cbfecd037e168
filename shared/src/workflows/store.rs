//! Workflow, run, enrollment and step-effect items.

use super::{Workflow, WorkflowRun};
use crate::CrmError;
use crate::errors::sdk_error;
use crate::table::{
    Item, Table, cancellation_codes, from_item, is_condition_failed, key, n, s, to_item,
};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use uuid::Uuid;

/// How long a step effect is held by the worker applying it before another may retry it.
const EFFECT_LEASE_MS: i64 = 60_000;

pub fn workflow_pk(tenant: &str, id: Uuid) -> String {
    format!("T#{tenant}#WORKFLOW#{id}")
}

pub fn run_pk(tenant: &str, id: Uuid) -> String {
    format!("T#{tenant}#RUN#{id}")
}

fn enrollment_key(tenant: &str, run: &WorkflowRun) -> Item {
    key(
        workflow_pk(tenant, run.workflow_id),
        format!("ENROLLED#{}", run.contact_id),
    )
}

fn workflow_item(tenant: &str, w: &Workflow) -> Result<Item, CrmError> {
    let mut keys = key(workflow_pk(tenant, w.id), "WORKFLOW");
    keys.insert("GSI1PK".into(), s(format!("T#{tenant}#WORKFLOWS")));
    keys.insert("GSI1SK".into(), s(w.id.to_string()));
    keys.insert("entity".into(), s("workflow"));
    keys.insert("tenant_id".into(), s(tenant));
    to_item(w, keys)
}

fn run_item(tenant: &str, r: &WorkflowRun) -> Result<Item, CrmError> {
    let mut keys = key(run_pk(tenant, r.id), "RUN");
    keys.insert(
        "GSI1PK".into(),
        s(format!("T#{tenant}#WORKFLOW#{}#RUNS", r.workflow_id)),
    );
    keys.insert("GSI1SK".into(), s(r.id.to_string()));
    keys.insert(
        "GSI2PK".into(),
        s(format!("T#{tenant}#CONTACT#{}#RUNS", r.contact_id)),
    );
    keys.insert("GSI2SK".into(), s(r.id.to_string()));
    keys.insert("entity".into(), s("workflow_run"));
    keys.insert("tenant_id".into(), s(tenant));
    to_item(r, keys)
}

pub async fn insert_workflow(table: &Table, tenant: &str, w: &Workflow) -> Result<(), CrmError> {
    table
        .client
        .put_item()
        .table_name(&table.name)
        .set_item(Some(workflow_item(tenant, w)?))
        .condition_expression("attribute_not_exists(PK)")
        .send()
        .await
        .map_err(|e| sdk_error("PutItem workflow", e))?;
    Ok(())
}

pub async fn get_workflow(
    table: &Table,
    tenant: &str,
    id: Uuid,
) -> Result<Option<Workflow>, CrmError> {
    table
        .get(workflow_pk(tenant, id), "WORKFLOW")
        .await?
        .map(from_item)
        .transpose()
}

pub async fn get_run(
    table: &Table,
    tenant: &str,
    id: Uuid,
) -> Result<Option<WorkflowRun>, CrmError> {
    table
        .get(run_pk(tenant, id), "RUN")
        .await?
        .map(from_item)
        .transpose()
}

/// Writes a new run; with `exclusive`, together with the contact's enrollment marker (W3).
pub async fn insert_run(
    table: &Table,
    tenant: &str,
    run: &WorkflowRun,
    exclusive: bool,
) -> Result<(), CrmError> {
    let put = |item: Item| table.put_if_absent(item);
    let mut items = vec![put(run_item(tenant, run)?)?];
    if exclusive {
        let mut marker = enrollment_key(tenant, run);
        marker.insert("run_id".into(), s(run.id.to_string()));
        items.push(put(marker)?);
    }
    match table
        .client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => match cancellation_codes(&e) {
            Some(codes)
                if codes.get(1).and_then(|c| c.as_deref()) == Some("ConditionalCheckFailed") =>
            {
                Err(CrmError::Conflict {
                    detail: "the contact is already enrolled in this workflow".into(),
                    errors: vec![crate::FieldError::new(
                        "contact_id",
                        "not_enrolled",
                        "the contact is already enrolled in this workflow",
                    )],
                })
            }
            _ => Err(sdk_error("TransactWriteItems run", e)),
        },
    }
}

pub async fn delete_run(
    table: &Table,
    tenant: &str,
    run: &WorkflowRun,
    exclusive: bool,
) -> Result<(), CrmError> {
    let del = |k: Item| {
        Delete::builder()
            .table_name(&table.name)
            .set_key(Some(k))
            .build()
            .map(|d| TransactWriteItem::builder().delete(d).build())
            .map_err(CrmError::internal)
    };
    let mut items = vec![del(key(run_pk(tenant, run.id), "RUN"))?];
    if exclusive {
        items.push(del(enrollment_key(tenant, run))?);
    }
    table
        .client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
        .map_err(|e| sdk_error("TransactWriteItems delete run", e))?;
    Ok(())
}

/// Replaces the run if nobody else changed it since `expected_version`. `false` when someone did.
pub async fn replace_run(
    table: &Table,
    tenant: &str,
    run: &WorkflowRun,
    expected_version: u64,
) -> Result<bool, CrmError> {
    let result = table
        .client
        .put_item()
        .table_name(&table.name)
        .set_item(Some(run_item(tenant, run)?))
        .condition_expression("version = :v")
        .expression_attribute_values(":v", n(expected_version))
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failed(&e) => Ok(false),
        Err(e) => Err(sdk_error("PutItem run", e)),
    }
}

/// The state of one step's side effect (W5).
#[derive(Debug, PartialEq, Eq)]
pub enum EffectClaim {
    /// This worker applies the effect, then calls `complete_effect`.
    Claimed,
    /// Applied before; `detail` is what was recorded then.
    AlreadyApplied { detail: Option<String> },
    /// Another worker holds it right now: retry later.
    Busy,
}

fn effect_key(tenant: &str, run: Uuid, step: u32) -> Item {
    key(run_pk(tenant, run), format!("EFFECT#{step:04}"))
}

pub async fn claim_effect(
    table: &Table,
    tenant: &str,
    run: Uuid,
    step: u32,
) -> Result<EffectClaim, CrmError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut item = effect_key(tenant, run, step);
    item.insert("state".into(), s("in_progress"));
    item.insert("lease_until".into(), n(now_ms + EFFECT_LEASE_MS));
    let result = table
        .client
        .put_item()
        .table_name(&table.name)
        .set_item(Some(item))
        .condition_expression(
            "attribute_not_exists(PK) OR (#state = :in_progress AND lease_until < :now)",
        )
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":in_progress", s("in_progress"))
        .expression_attribute_values(":now", n(now_ms))
        .send()
        .await;
    match result {
        Ok(_) => Ok(EffectClaim::Claimed),
        Err(e) if is_condition_failed(&e) => {
            let existing = table
                .get(run_pk(tenant, run), &format!("EFFECT#{step:04}"))
                .await?
                .unwrap_or_default();
            match existing.get("state") {
                Some(AttributeValue::S(state)) if state == "done" => {
                    Ok(EffectClaim::AlreadyApplied {
                        detail: match existing.get("detail") {
                            Some(AttributeValue::S(d)) => Some(d.clone()),
                            _ => None,
                        },
                    })
                }
                _ => Ok(EffectClaim::Busy),
            }
        }
        Err(e) => Err(sdk_error("PutItem effect", e)),
    }
}

pub async fn complete_effect(
    table: &Table,
    tenant: &str,
    run: Uuid,
    step: u32,
    detail: &str,
) -> Result<(), CrmError> {
    let mut item = effect_key(tenant, run, step);
    item.insert("state".into(), s("done"));
    item.insert("detail".into(), s(detail));
    table.put(item, "PutItem effect").await?;
    Ok(())
}

/// Gives a claimed effect back after a failure so a retry can apply it.
pub async fn release_effect(
    table: &Table,
    tenant: &str,
    run: Uuid,
    step: u32,
) -> Result<(), CrmError> {
    table
        .release_claim(effect_key(tenant, run, step), "DeleteItem effect")
        .await
}
