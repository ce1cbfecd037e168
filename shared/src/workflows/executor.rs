//! The step executor's core: given one step message, advance its run. At-least-once delivery
//! is expected: a message for a step the run has already passed is stale and does nothing, and a
//! step's side effect is recorded (W5) so that two concurrent deliveries apply it once.

use super::store::{self, EffectClaim};
use super::{RunStatus, Step, StepEffects, StepMessage, StepRecord, WorkflowRun, render};
use crate::CrmError;
use crate::contacts::{Contact, ContactKind};
use crate::records::RecordStore;
use crate::store::Table;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// No such run (deleted, or another tenant's id).
    Ignored,
    /// The run is past this step, finished, or paused: a duplicate or late delivery.
    Stale,
    /// The run waits for a schedule.
    Waiting,
    Completed,
    Failed,
}

fn merge_value(contact: &Contact, name: &str) -> Option<String> {
    match name {
        "first_name" => contact.fields.first_name.clone(),
        "last_name" => contact.fields.last_name.clone(),
        "display_name" => Some(contact.display_name.clone()),
        "email" => contact.email.clone(),
        "company" => contact.fields.company.clone(),
        _ => None,
    }
}

pub async fn execute_step_message(
    table: &Table,
    effects: &impl StepEffects,
    msg: &StepMessage,
) -> Result<StepOutcome, CrmError> {
    let tenant = msg.tenant_id.as_str();
    let Some(mut run) = store::get_run(table, tenant, msg.run_id).await? else {
        return Ok(StepOutcome::Ignored);
    };
    if run.status.is_terminal()
        || run.status == RunStatus::Paused
        || run.current_step != msg.step_index
    {
        return Ok(StepOutcome::Stale);
    }
    let contacts = RecordStore::<ContactKind>::new(table.clone());
    loop {
        let index = run.current_step;
        let expected_version = run.version;
        let now = crate::values::now();
        let record = |kind: &str, result: &str, detail: Option<String>| StepRecord {
            step_index: index,
            kind: kind.to_string(),
            at: now,
            result: result.to_string(),
            detail,
        };
        let Some(step) = run.steps.get(index as usize).cloned() else {
            run.status = RunStatus::Completed;
            run.wake_at = None;
            run.finished_at = Some(now);
            return save(
                table,
                tenant,
                &mut run,
                expected_version,
                StepOutcome::Completed,
            )
            .await;
        };
        match step {
            Step::Wait { minutes } => {
                let at = now + chrono::Duration::minutes(i64::from(minutes));
                let next = StepMessage {
                    tenant_id: tenant.to_string(),
                    run_id: run.id,
                    step_index: index + 1,
                };
                let schedule = effects.schedule_step(&next, at).await?;
                run.history.push(record(
                    "wait",
                    "scheduled",
                    Some(format!("{schedule} at {}", at.to_rfc3339())),
                ));
                run.current_step = index + 1;
                run.status = RunStatus::Waiting;
                run.wake_at = Some(at);
                return save(
                    table,
                    tenant,
                    &mut run,
                    expected_version,
                    StepOutcome::Waiting,
                )
                .await;
            }
            Step::SendEmail { subject, body } => {
                let detail = match store::claim_effect(table, tenant, run.id, index).await? {
                    EffectClaim::Busy => {
                        return Err(CrmError::Internal(format!(
                            "step {index} of run {} is being applied elsewhere",
                            run.id
                        )));
                    }
                    EffectClaim::AlreadyApplied { detail } => Ok(detail.unwrap_or_default()),
                    EffectClaim::Claimed => {
                        // A contact in the trash gets no mail.
                        let contact = contacts
                            .get(tenant, run.contact_id)
                            .await?
                            .filter(|c| c.deleted_at.is_none());
                        match contact
                            .as_ref()
                            .and_then(|c| c.email.clone().map(|e| (c, e)))
                        {
                            None => {
                                Err("the contact no longer exists or has no email address"
                                    .to_string())
                            }
                            Some((contact, to)) => {
                                let subject = render(&subject, |n| merge_value(contact, n));
                                let body = render(&body, |n| merge_value(contact, n));
                                match effects.send_email(&to, &subject, &body).await {
                                    Ok(message_id) => {
                                        let detail = format!("message {message_id} to {to}");
                                        store::complete_effect(
                                            table, tenant, run.id, index, &detail,
                                        )
                                        .await?;
                                        Ok(detail)
                                    }
                                    Err(e) => {
                                        // Let the retry (SQS redelivery) apply it.
                                        store::release_effect(table, tenant, run.id, index).await?;
                                        return Err(e);
                                    }
                                }
                            }
                        }
                    }
                };
                match detail {
                    Ok(detail) => {
                        run.history.push(record("send_email", "sent", Some(detail)));
                        run.current_step = index + 1;
                        run.status = RunStatus::Active;
                        run.wake_at = None;
                        if !bump_and_replace(table, tenant, &mut run, expected_version).await? {
                            return Ok(StepOutcome::Stale);
                        }
                    }
                    Err(reason) => {
                        store::complete_effect(
                            table,
                            tenant,
                            run.id,
                            index,
                            &format!("not sent: {reason}"),
                        )
                        .await?;
                        run.history
                            .push(record("send_email", "failed", Some(reason)));
                        run.status = RunStatus::Failed;
                        run.finished_at = Some(now);
                        return save(
                            table,
                            tenant,
                            &mut run,
                            expected_version,
                            StepOutcome::Failed,
                        )
                        .await;
                    }
                }
            }
        }
    }
}

async fn bump_and_replace(
    table: &Table,
    tenant: &str,
    run: &mut WorkflowRun,
    expected_version: u64,
) -> Result<bool, CrmError> {
    run.version = expected_version + 1;
    run.updated_at = crate::values::now();
    store::replace_run(table, tenant, run, expected_version).await
}

async fn save(
    table: &Table,
    tenant: &str,
    run: &mut WorkflowRun,
    expected_version: u64,
    outcome: StepOutcome,
) -> Result<StepOutcome, CrmError> {
    Ok(
        if bump_and_replace(table, tenant, run, expected_version).await? {
            outcome
        } else {
            StepOutcome::Stale
        },
    )
}
