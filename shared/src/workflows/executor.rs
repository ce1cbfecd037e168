//! The step executor's core: given one step message, advance its run. At-least-once delivery
//! is expected: a message for a step the run has already passed is stale and does nothing, and a
//! step's side effect is recorded (W5) so that two concurrent deliveries apply it once.

use super::store::{self, EffectClaim};
use super::{RunStatus, Step, StepEffects, StepMessage, StepRecord, WorkflowRun};
use crate::CrmError;
use crate::contacts::ContactKind;
use crate::email::render::MailTemplate;
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
                        match contact {
                            None => Err("the contact no longer exists".to_string()),
                            Some(contact) => {
                                // The one renderer and the same checks as every send: an
                                // opted-out, do-not-contact or suppressed contact gets
                                // nothing, and the step says why.
                                let template = MailTemplate {
                                    subject: subject.clone(),
                                    text: body.clone(),
                                    html: None,
                                };
                                let prepared = crate::email::send::prepare(
                                    table,
                                    effects.mail_settings(),
                                    tenant,
                                    &contact,
                                    &run.started_by,
                                    &template,
                                    true,
                                )
                                .await;
                                match prepared {
                                    Err(e) if is_refusal(&e) => Err(refusal_reason(&e)),
                                    Err(e) => {
                                        store::release_effect(table, tenant, run.id, index).await?;
                                        return Err(e);
                                    }
                                    Ok(mail) => match effects.send_email(&mail).await {
                                        Ok(message_id) => {
                                            log_sent(
                                                table,
                                                tenant,
                                                effects.mail_settings(),
                                                &run,
                                                index,
                                                &contact,
                                                &mail,
                                                &message_id,
                                            )
                                            .await;
                                            let detail = format!(
                                                "message {message_id} to {} (Message-ID <{}>)",
                                                mail.to, mail.message_id
                                            );
                                            store::complete_effect(
                                                table, tenant, run.id, index, &detail,
                                            )
                                            .await?;
                                            Ok(detail)
                                        }
                                        Err(e) => {
                                            // Let the retry (SQS redelivery) apply it.
                                            store::release_effect(table, tenant, run.id, index)
                                                .await?;
                                            return Err(e);
                                        }
                                    },
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

/// The outbound email activity of a workflow's mail (S6.1: activities made by the system),
/// made once per run and step: its id derives from them. Made for the user who started the
/// run, with the tenant's full view (a workflow acts for the tenant). The mail is gone: a
/// failure is logged, not a failed step.
#[allow(clippy::too_many_arguments)]
async fn log_sent(
    table: &crate::store::Table,
    tenant: &str,
    settings: &crate::email::send::MailSettings,
    run: &WorkflowRun,
    index: u32,
    contact: &crate::contacts::Contact,
    mail: &crate::email::send::OutboundMail,
    ses_message_id: &str,
) {
    let caller = crate::Caller::new(tenant, run.started_by.clone(), crate::Role::Admin);
    let id = crate::values::derived_id(
        run.started_at,
        &[b"workflow-mail", run.id.as_bytes(), &index.to_be_bytes()],
    );
    let body = crate::email::send::outbound_activity(
        settings,
        contact,
        None,
        mail,
        ses_message_id,
        crate::values::now(),
    );
    let logged = crate::activities::log_once(
        &crate::catalog::Catalog::new(table.clone()).activities(),
        &caller,
        id,
        crate::activities::Origin::Workflow,
        crate::activities::NewActivity(body),
    )
    .await;
    if let Err(error) = logged {
        tracing::error!(%error, run = %run.id, index, "the workflow mail's activity was not logged");
    }
}

/// A send refused for good (the recipient's preferences, a suppression, a merge field or
/// header value the message cannot carry): the step fails, no retry.
fn is_refusal(e: &CrmError) -> bool {
    matches!(e, CrmError::Validation(_) | CrmError::Conflict { .. })
}

fn refusal_reason(e: &CrmError) -> String {
    match e {
        CrmError::Validation(errors) => errors
            .iter()
            .map(|e| format!("{}: {} ({})", e.field, e.message, e.rule))
            .collect::<Vec<_>>()
            .join("; "),
        CrmError::Conflict { detail, .. } => detail.clone(),
        other => other.to_string(),
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
