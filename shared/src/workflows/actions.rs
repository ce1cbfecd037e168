//! The effects of the steps that change something (S7.2): send an email, log an activity,
//! update a field, add or remove a tag, move a deal, notify. Each is applied at most once per
//! run and step by the executor (an effect record, W5); where the store allows, the effect is
//! also idempotent by its own key (activity and notification ids derive from the run and step).

use super::{Recipient, Step, StepEffects, WorkflowRun};
use crate::access::Role;
use crate::catalog::Catalog;
use crate::contacts::{Contact, ContactPatch};
use crate::email::render::MailTemplate;
use crate::{Caller, CrmError};
use serde_json::{Map, Value};

/// What a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `done`, `sent`, `skipped`.
    pub result: &'static str,
    pub detail: String,
}

impl Applied {
    fn done(detail: impl Into<String>) -> Self {
        Self {
            result: "done",
            detail: detail.into(),
        }
    }

    fn skipped(detail: impl Into<String>) -> Self {
        Self {
            result: "skipped",
            detail: detail.into(),
        }
    }
}

/// The workflow acts for the tenant: full view, its own name in audit trails.
pub fn workflow_caller(tenant: &str, run: &WorkflowRun) -> Caller {
    Caller::new(tenant, format!("workflow:{}", run.workflow_id), Role::Admin)
}

/// Applies an effectful step. A refusal that retrying cannot change (an opted-out contact, a
/// value the validator refuses) is `Ok(skipped)`; an error is worth retrying.
pub async fn apply(
    catalog: &Catalog,
    effects: &impl StepEffects,
    tenant: &str,
    run: &WorkflowRun,
    contact: &Contact,
    step: &Step,
) -> Result<Applied, CrmError> {
    let caller = workflow_caller(tenant, run);
    let refused = |e: CrmError| match e {
        CrmError::Validation(errors) => Ok(Applied::skipped(
            errors
                .iter()
                .map(|e| format!("{}: {} ({})", e.field, e.message, e.rule))
                .collect::<Vec<_>>()
                .join("; "),
        )),
        CrmError::Conflict { detail, .. } => Ok(Applied::skipped(detail)),
        CrmError::NotFound => Ok(Applied::skipped("the record is gone")),
        other => Err(other),
    };
    let result = match step {
        Step::SendEmail {
            template_id,
            subject,
            body,
        } => {
            let template = match template_id {
                Some(id) => crate::email::templates::get(catalog.table(), &caller, *id)
                    .await?
                    .mail(),
                None => MailTemplate {
                    subject: subject.clone().unwrap_or_default(),
                    text: body.clone().unwrap_or_default(),
                    html: None,
                },
            };
            Box::pin(send_email(
                catalog, effects, tenant, run, contact, &template,
            ))
            .await
        }
        Step::CreateActivity {
            activity,
            due_in_days,
        } => {
            Box::pin(create_activity(
                catalog,
                &caller,
                run,
                contact,
                activity.clone(),
                *due_in_days,
            ))
            .await
        }
        Step::UpdateField { field, value } => match field_patch(field, value) {
            Ok((patch, custom)) => catalog
                .contacts()
                .patch(&caller, contact.id, patch, custom.as_ref(), None)
                .await
                .map(|_| Applied::done(format!("{field} set"))),
            // A field or value no longer valid is a refusal (skipped), not worth retrying.
            Err(e) => Err(e),
        },
        Step::AddTag { tag } | Step::RemoveTag { tag } => {
            let add = matches!(step, Step::AddTag { .. });
            let mut tags = contact.fields.tags.clone();
            let had = tags.iter().any(|t| t.eq_ignore_ascii_case(tag));
            if add == had {
                return Ok(Applied::done(format!(
                    "tag {tag} already {}",
                    if add { "there" } else { "absent" }
                )));
            }
            if add {
                tags.push(tag.clone());
            } else {
                tags.retain(|t| !t.eq_ignore_ascii_case(tag));
            }
            let patch: ContactPatch = serde_json::from_value(serde_json::json!({ "tags": tags }))
                .map_err(CrmError::internal)?;
            catalog
                .contacts()
                .patch(&caller, contact.id, patch, None, None)
                .await
                .map(|_| {
                    Applied::done(format!(
                        "tag {tag} {}",
                        if add { "added" } else { "removed" }
                    ))
                })
        }
        Step::MoveDeal {
            pipeline_id,
            stage_id,
        } => {
            Box::pin(move_deal(
                catalog,
                &caller,
                run,
                contact,
                *pipeline_id,
                *stage_id,
            ))
            .await
        }
        Step::Notify { to, message } => {
            Box::pin(notify(catalog, tenant, run, contact, *to, message)).await
        }
        Step::Wait { .. }
        | Step::WaitUntil { .. }
        | Step::WaitForTime { .. }
        | Step::IfElse { .. } => Err(CrmError::Internal(format!(
            "{} has no effect to apply",
            step.kind()
        ))),
    };
    result.or_else(refused)
}

/// `field` = `value` as a contact patch: a standard field, or `cf.{key}`. Every field of a
/// contact patch is a merge-patch field (`null` clears it), so a field that does not read as
/// `null` is not a contact field.
pub fn field_patch(
    field: &str,
    value: &Value,
) -> Result<(ContactPatch, Option<Map<String, Value>>), CrmError> {
    if let Some(key) = field.strip_prefix("cf.") {
        let custom = Map::from_iter([(key.to_string(), value.clone())]);
        return Ok((ContactPatch::default(), Some(custom)));
    }
    let known = Value::Object(Map::from_iter([(field.to_string(), Value::Null)]));
    if field == "custom_fields" || serde_json::from_value::<ContactPatch>(known).is_err() {
        return Err(CrmError::validation(
            field,
            super::steps::UNKNOWN_FIELD,
            format!("{field} is not a contact field (custom fields: cf.<key>)"),
        ));
    }
    let body = Value::Object(Map::from_iter([(field.to_string(), value.clone())]));
    serde_json::from_value::<ContactPatch>(body)
        .map(|p| (p, None))
        .map_err(|e| CrmError::validation(field, "invalid", e.to_string()))
}

async fn send_email(
    catalog: &Catalog,
    effects: &impl StepEffects,
    tenant: &str,
    run: &WorkflowRun,
    contact: &Contact,
    template: &MailTemplate,
) -> Result<Applied, CrmError> {
    // The one renderer and the same checks as every send: an opted-out, do-not-contact or
    // suppressed contact gets nothing, and the step says why.
    let actor = if run.enrollment.actor == "system" {
        contact.fields.owner.clone().unwrap_or_default()
    } else {
        run.enrollment.actor.clone()
    };
    let mail = crate::email::send::prepare(
        catalog.table(),
        effects.mail_settings(),
        tenant,
        contact,
        &actor,
        template,
        true,
    )
    .await?;
    let message_id = effects.send_email(&mail).await?;
    log_sent(catalog, effects, tenant, run, contact, &mail, &message_id).await;
    Ok(Applied {
        result: "sent",
        detail: format!(
            "message {message_id} to {} (Message-ID <{}>)",
            mail.to, mail.message_id
        ),
    })
}

/// The outbound email activity of a workflow's mail (S6.1), made once per run and step: its id
/// derives from them. The mail is gone: a failure is logged, not a failed step.
async fn log_sent(
    catalog: &Catalog,
    effects: &impl StepEffects,
    tenant: &str,
    run: &WorkflowRun,
    contact: &Contact,
    mail: &crate::email::send::OutboundMail,
    ses_message_id: &str,
) {
    let id = crate::values::derived_id(
        run.started_at,
        &[b"workflow-mail", run.id.as_bytes(), &run.seq.to_be_bytes()],
    );
    let body = crate::email::send::outbound_activity(
        effects.mail_settings(),
        contact,
        run.deal_id,
        mail,
        ses_message_id,
        crate::values::now(),
    );
    let logged = crate::activities::log_once(
        &catalog.activities(),
        &workflow_caller(tenant, run),
        id,
        crate::activities::Origin::Workflow,
        crate::activities::NewActivity(body),
    )
    .await;
    if let Err(error) = logged {
        tracing::error!(error = %crate::telemetry::Redacted(&error), run = %run.id, "the workflow mail's activity was not logged");
    }
}

async fn create_activity(
    catalog: &Catalog,
    caller: &Caller,
    run: &WorkflowRun,
    contact: &Contact,
    mut body: Map<String, Value>,
    due_in_days: Option<u32>,
) -> Result<Applied, CrmError> {
    body.insert("contact_ids".into(), serde_json::json!([contact.id]));
    if let Some(deal) = run.deal_id {
        body.insert("deal_id".into(), serde_json::json!(deal));
    }
    let is_task = body.get("type").and_then(Value::as_str) == Some("task");
    if is_task {
        let due =
            crate::values::now() + chrono::TimeDelta::days(i64::from(due_in_days.unwrap_or(0)));
        body.entry("due_at")
            .or_insert_with(|| serde_json::json!(due));
        if let Some(owner) = &contact.fields.owner {
            body.entry("assignee")
                .or_insert_with(|| serde_json::json!(owner));
        }
    }
    if let Some(owner) = &contact.fields.owner {
        body.entry("owner")
            .or_insert_with(|| serde_json::json!(owner));
    }
    let id = crate::values::derived_id(
        run.started_at,
        &[
            b"workflow-activity",
            run.id.as_bytes(),
            &run.seq.to_be_bytes(),
        ],
    );
    let activity = crate::activities::log_once(
        &catalog.activities(),
        caller,
        id,
        crate::activities::Origin::Workflow,
        crate::activities::NewActivity(body),
    )
    .await?;
    Ok(Applied::done(format!("activity {}", activity.id)))
}

async fn move_deal(
    catalog: &Catalog,
    caller: &Caller,
    run: &WorkflowRun,
    contact: &Contact,
    pipeline: uuid::Uuid,
    stage: uuid::Uuid,
) -> Result<Applied, CrmError> {
    let deals = catalog.deals();
    let deal = match run.deal_id {
        Some(id) => deals.find(caller, id).await?,
        None => crate::deals::deals_of_contact(&deals, caller, contact.id)
            .await?
            .into_iter()
            .filter(|d| d.pipeline_id == pipeline && d.status == crate::deals::DealStatus::Open)
            .max_by_key(|d| d.created_at),
    };
    let Some(deal) = deal else {
        return Ok(Applied::skipped("no open deal in the pipeline"));
    };
    if deal.stage_id == stage {
        return Ok(Applied::done(format!(
            "deal {} already in the stage",
            deal.id
        )));
    }
    let patch: crate::deals::DealPatch =
        serde_json::from_value(serde_json::json!({ "pipeline_id": pipeline, "stage_id": stage }))
            .map_err(CrmError::internal)?;
    deals.patch(caller, deal.id, patch, None, None).await?;
    Ok(Applied::done(format!("deal {} moved", deal.id)))
}

async fn notify(
    catalog: &Catalog,
    tenant: &str,
    run: &WorkflowRun,
    contact: &Contact,
    to: Recipient,
    message: &str,
) -> Result<Applied, CrmError> {
    use crate::leads::notifications::{self, Notification, NotificationKind};
    let (users, _) = crate::directory::Directory::new(catalog.table().clone())
        .everyone(tenant)
        .await?;
    let active = |u: &&crate::directory::User| u.status == crate::directory::UserStatus::Active;
    let recipients: Vec<&crate::directory::User> = match to {
        Recipient::Owner => users
            .iter()
            .filter(active)
            .filter(|u| contact.fields.owner.as_deref() == Some(u.user_id.as_str()))
            .collect(),
        Recipient::Team => users
            .iter()
            .filter(active)
            .filter(|u| contact.fields.team.is_some_and(|t| u.teams.contains(&t)))
            .collect(),
    };
    if recipients.is_empty() {
        return Ok(Applied::skipped("nobody to notify"));
    }
    for user in &recipients {
        let n = Notification {
            id: crate::values::derived_id(
                run.started_at,
                &[
                    b"workflow-notify",
                    run.id.as_bytes(),
                    &run.seq.to_be_bytes(),
                    user.user_id.as_bytes(),
                ],
            ),
            kind: NotificationKind::Workflow,
            title: message.chars().take(2000).collect(),
            contact_id: Some(contact.id),
            import_id: None,
            created: None,
            created_at: crate::values::now(),
            read_at: None,
        };
        notifications::deliver(catalog.table(), tenant, &user.user_id, &n).await?;
    }
    Ok(Applied::done(format!("{} notified", recipients.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s7_2_a_field_patch_knows_the_contact_fields() {
        assert!(field_patch("job_title", &serde_json::json!("CTO")).is_ok());
        assert!(field_patch("cf.score", &serde_json::json!(3)).is_ok());
        for unknown in ["colour", "history", "custom_fields"] {
            let Err(CrmError::Validation(errors)) = field_patch(unknown, &Value::Null) else {
                panic!("{unknown} is no contact field");
            };
            assert_eq!(errors[0].rule, super::super::steps::UNKNOWN_FIELD);
        }
        let Err(CrmError::Validation(errors)) =
            field_patch("lifecycle_status", &serde_json::json!("bogus"))
        else {
            panic!("a bad value");
        };
        assert_eq!(errors[0].rule, "invalid");
    }
}
