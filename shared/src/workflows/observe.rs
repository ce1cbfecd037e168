//! The contact observer (S7.3): item changes of the table, as DynamoDB Streams reports them,
//! turned into enrollments (contact created, contact newly matching criteria, deal entering a
//! stage) and run stops (contact put in the trash). Every creation path — the API, imports,
//! inbound mail, web forms — writes the contact's record item, so no path can forget to fire
//! the triggers; and the observer needs nothing from them.
//!
//! Exactly once per change: a run's id derives from the workflow, the contact and the stream
//! record's event id, so a redelivered record finds its run already there; and without
//! re-enrollment the contact's marker keeps it out anyway.

use super::criteria::Condition;
use super::enroll::{self, EnrollRequest};
use super::run::Enrollment;
use super::{RunStatus, StepEffects, StepRecord, Trigger, Workflow, store};
use crate::contacts::Contact;
use crate::custom_fields::definition::{Entity, FieldDefinition};
use crate::deals::Deal;
use crate::store::item::text;
use crate::store::{Item, Table, from_item};
use crate::{CrmError, Timestamp};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Insert,
    Modify,
    Remove,
}

/// One item change (a stream record with NEW_AND_OLD_IMAGES).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemChange {
    /// The stream record's `eventID`: the same change redelivered has the same id.
    pub event_id: String,
    pub kind: ChangeKind,
    pub keys: Item,
    pub old: Option<Item>,
    pub new: Option<Item>,
}

impl ItemChange {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.new
            .as_ref()
            .and_then(|i| text(i, name))
            .or_else(|| self.old.as_ref().and_then(|i| text(i, name)))
    }
}

/// What the observer did with one change (for logs and tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub enrolled: usize,
    pub stopped: usize,
}

/// Observes a batch of changes in stream order; one result per change. A failed change is
/// retried by the stream with the ones after it (they are not reported done).
pub async fn observe_changes(
    table: &Table,
    effects: &impl StepEffects,
    changes: &[ItemChange],
) -> Vec<Result<Observed, CrmError>> {
    let mut observer = Observer {
        table,
        effects,
        workflows: HashMap::new(),
        defs: HashMap::new(),
    };
    let mut results = Vec::with_capacity(changes.len());
    let mut failed = false;
    for change in changes {
        if failed {
            // The stream retries from the first failure: the rest waits its turn, in order.
            results.push(Err(CrmError::Internal("an earlier change failed".into())));
            continue;
        }
        let result = Box::pin(observer.observe(change)).await;
        failed = result.is_err();
        results.push(result);
    }
    results
}

struct Observer<'a, E> {
    table: &'a Table,
    effects: &'a E,
    /// The active workflows of a tenant and trigger kind, read once per batch.
    workflows: HashMap<(String, &'static str), Vec<Workflow>>,
    defs: HashMap<String, Vec<FieldDefinition>>,
}

impl<E: StepEffects> Observer<'_, E> {
    async fn observe(&mut self, change: &ItemChange) -> Result<Observed, CrmError> {
        let Some(tenant) = change.attribute("tenant_id").map(str::to_string) else {
            return Ok(Observed::default());
        };
        match change.attribute("entity") {
            Some("contact") => self.contact_changed(&tenant, change).await,
            Some("deal") => self.deal_changed(&tenant, change).await,
            _ => Ok(Observed::default()),
        }
    }

    async fn contact_changed(
        &mut self,
        tenant: &str,
        change: &ItemChange,
    ) -> Result<Observed, CrmError> {
        let image = |i: &Option<Item>| -> Result<Option<Contact>, CrmError> {
            i.clone().map(from_item::<Contact>).transpose()
        };
        let (old, new) = (image(&change.old)?, image(&change.new)?);
        let live = |c: &Option<Contact>| c.as_ref().filter(|c| c.deleted_at.is_none()).cloned();
        let (was, is) = (live(&old), live(&new));
        let mut observed = Observed::default();
        match (change.kind, was, is) {
            // Into the trash: its runs stop now (erasure removes them with the contact).
            (ChangeKind::Modify, Some(before), None) => {
                observed.stopped = self.stop_runs(tenant, before.id).await?;
            }
            (ChangeKind::Insert, None, Some(contact)) => {
                for workflow in self.active(tenant, "contact_created").await? {
                    let Trigger::ContactCreated { criteria } = &workflow.trigger else {
                        continue;
                    };
                    if self.holds(tenant, criteria, &contact).await? {
                        observed.enrolled += self
                            .enroll(tenant, &workflow, &contact, None, change, "contact_created")
                            .await?;
                    }
                }
                for workflow in self.active(tenant, "criteria_matched").await? {
                    let Trigger::CriteriaMatched { criteria } = &workflow.trigger else {
                        continue;
                    };
                    if self.holds(tenant, criteria, &contact).await? {
                        observed.enrolled += self
                            .enroll(
                                tenant,
                                &workflow,
                                &contact,
                                None,
                                change,
                                "criteria_matched",
                            )
                            .await?;
                    }
                }
            }
            (ChangeKind::Modify, Some(before), Some(contact)) => {
                for workflow in self.active(tenant, "criteria_matched").await? {
                    let Trigger::CriteriaMatched { criteria } = &workflow.trigger else {
                        continue;
                    };
                    if !self.holds(tenant, criteria, &before).await?
                        && self.holds(tenant, criteria, &contact).await?
                    {
                        observed.enrolled += self
                            .enroll(
                                tenant,
                                &workflow,
                                &contact,
                                None,
                                change,
                                "criteria_matched",
                            )
                            .await?;
                    }
                }
            }
            _ => {}
        }
        Ok(observed)
    }

    async fn deal_changed(
        &mut self,
        tenant: &str,
        change: &ItemChange,
    ) -> Result<Observed, CrmError> {
        let old: Option<Deal> = change.old.clone().map(from_item).transpose()?;
        let Some(deal) = change.new.clone().map(from_item::<Deal>).transpose()? else {
            return Ok(Observed::default());
        };
        let entered = old.as_ref().is_none_or(|o| o.stage_id != deal.stage_id);
        let mut observed = Observed::default();
        if !entered || deal.deleted_at.is_some() {
            return Ok(observed);
        }
        let Some(contact_id) = deal.contact_ids.first().copied() else {
            return Ok(observed);
        };
        for workflow in self.active(tenant, "deal_stage_entered").await? {
            let Trigger::DealStageEntered {
                pipeline_id,
                stage_id,
            } = workflow.trigger
            else {
                continue;
            };
            if pipeline_id != deal.pipeline_id || stage_id != deal.stage_id {
                continue;
            }
            let contact = crate::records::RecordStore::<crate::contacts::ContactKind>::new(
                self.table.clone(),
            )
            .get(tenant, contact_id)
            .await?
            .filter(|c| c.deleted_at.is_none());
            if let Some(contact) = contact {
                observed.enrolled += self
                    .enroll_at(
                        tenant,
                        &workflow,
                        contact.id,
                        Some(deal.id),
                        deal.updated_at,
                        change,
                        "deal_stage_entered",
                    )
                    .await?;
            }
        }
        Ok(observed)
    }

    async fn active(
        &mut self,
        tenant: &str,
        kind: &'static str,
    ) -> Result<Vec<Workflow>, CrmError> {
        let key = (tenant.to_string(), kind);
        if !self.workflows.contains_key(&key) {
            let found = store::workflows_triggered_by(self.table, tenant, kind).await?;
            self.workflows.insert(key.clone(), found);
        }
        Ok(self.workflows[&key].clone())
    }

    async fn holds(
        &mut self,
        tenant: &str,
        criteria: &super::Criteria,
        contact: &Contact,
    ) -> Result<bool, CrmError> {
        if criteria.is_empty() {
            return Ok(true);
        }
        if !self.defs.contains_key(tenant) {
            let defs = crate::custom_fields::store::FieldStore::new(self.table.clone())
                .definitions(tenant, Entity::CONTACT)
                .await?;
            self.defs.insert(tenant.to_string(), defs);
        }
        // Criteria that no longer compile (a field removed since the save) hold for nobody.
        Ok(criteria
            .compile(&self.defs[tenant])
            .is_ok_and(|c: Condition| c.matches(contact)))
    }

    async fn enroll(
        &self,
        tenant: &str,
        workflow: &Workflow,
        contact: &Contact,
        deal: Option<Uuid>,
        change: &ItemChange,
        by: &str,
    ) -> Result<usize, CrmError> {
        self.enroll_at(
            tenant,
            workflow,
            contact.id,
            deal,
            contact.updated_at,
            change,
            by,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn enroll_at(
        &self,
        tenant: &str,
        workflow: &Workflow,
        contact: Uuid,
        deal: Option<Uuid>,
        at: Timestamp,
        change: &ItemChange,
        by: &str,
    ) -> Result<usize, CrmError> {
        let request = EnrollRequest {
            contact_id: contact,
            deal_id: deal,
            enrollment: Enrollment {
                by: by.to_string(),
                actor: "system".into(),
            },
            run_id: crate::values::derived_id(
                at,
                &[
                    b"trigger",
                    workflow.id.as_bytes(),
                    contact.as_bytes(),
                    change.event_id.as_bytes(),
                ],
            ),
        };
        Ok(
            match enroll::enroll(self.table, self.effects, tenant, workflow, request).await? {
                enroll::Enrolled::Started(_) => 1,
                _ => 0,
            },
        )
    }

    /// Cancels the contact's runs in flight (reason `contact_deleted`).
    async fn stop_runs(&self, tenant: &str, contact: Uuid) -> Result<usize, CrmError> {
        let mut stopped = 0;
        for mut run in store::runs_of_contact(self.table, tenant, contact).await? {
            if run.status.is_terminal() {
                continue;
            }
            let now = crate::values::now();
            let expected = run.version;
            run.history.push(StepRecord {
                step_id: run.next_step.clone().unwrap_or_default(),
                kind: "contact".into(),
                at: now,
                result: "cancelled".into(),
                detail: Some("the contact was deleted".into()),
                error: None,
            });
            run.status = RunStatus::Cancelled;
            run.exit_reason = Some("contact_deleted".into());
            run.finished_at = Some(now);
            run.next_step = None;
            run.due_at = None;
            run.version = expected + 1;
            run.updated_at = now;
            // A run that moved meanwhile is stopped by the executor at its next step.
            if store::replace_run(self.table, tenant, &run, expected).await? {
                stopped += 1;
            }
        }
        Ok(stopped)
    }
}
