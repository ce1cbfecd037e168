//! The step executor's core (S7.4): given one step message, advance its run.
//!
//! Exactly one effect per step and run, under at-least-once delivery and racing workers:
//! - a message names the run's `seq`; once the run moved on (a conditional write on its
//!   version), a duplicate or late message is stale and does nothing;
//! - an effectful step claims an effect record keyed by run and `seq` before applying it, so
//!   two workers holding the same message apply it once (the loser retries, then finds the run
//!   moved on);
//! - a wait's schedule is named after run and `seq`: creating it twice creates one.
//!
//! Failures retry with backoff (the handler delays the message); on the last attempt the run
//! becomes `failed` with the error, and the message goes to the dead-letter queue.

use super::actions::{self, Applied};
use super::criteria::Condition;
use super::definition::Goal;
use super::steps::{Program, Step, WorkflowStep, migrate_pointer};
use super::store;
use super::{RunStatus, StepEffects, StepMessage, StepRecord, WorkflowRun, WorkflowStatus, waits};
use crate::catalog::Catalog;
use crate::contacts::Contact;
use crate::custom_fields::definition::Entity;
use crate::custom_fields::definition::FieldDefinition;
use crate::telemetry::metrics::{self, Counter};
use crate::{CrmError, Timestamp};

/// Steps one invocation runs back to back before it hands the rest to a new message.
const STEPS_PER_MESSAGE: usize = 25;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// No such run (deleted, or another tenant's id).
    Ignored,
    /// The run is past this step, finished, or paused: a duplicate or late delivery.
    Stale,
    /// The run waits for a schedule.
    Waiting,
    /// The run goes on in another message.
    Continued,
    /// The run paused with its workflow.
    Paused,
    Completed,
    /// The run stopped: its contact is gone, or it was cancelled.
    Cancelled,
    Failed,
}

/// Which delivery of the message this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 1 on the first delivery.
    pub number: u32,
    /// Whether a failure now sends the message to the dead-letter queue.
    pub last: bool,
}

impl Attempt {
    pub const FIRST: Self = Self {
        number: 1,
        last: false,
    };

    /// The attempt of a message received `receive_count` times from a queue that moves it to
    /// its dead-letter queue after `max_receive_count`.
    pub fn of(receive_count: u32, max_receive_count: u32) -> Self {
        Self {
            number: receive_count.max(1),
            last: receive_count >= max_receive_count,
        }
    }

    /// How long to wait before the next attempt: 10 s doubling per attempt, at most 15 min.
    pub fn backoff_seconds(self) -> i32 {
        let exp = self.number.saturating_sub(1).min(10);
        (10i32 << exp).min(900)
    }
}

pub async fn execute_step_message(
    catalog: &Catalog,
    effects: &impl StepEffects,
    msg: &StepMessage,
    attempt: Attempt,
) -> Result<StepOutcome, CrmError> {
    let table = catalog.table();
    let tenant = msg.tenant_id.as_str();
    let Some(run) = store::get_run(table, tenant, msg.run_id).await? else {
        return Ok(StepOutcome::Ignored);
    };
    if run.status.is_terminal() || run.status == RunStatus::Paused || run.seq != msg.seq {
        return Ok(StepOutcome::Stale);
    }
    let mut exec = Execution {
        catalog,
        effects,
        tenant,
        run,
        defs: None,
    };
    match Box::pin(exec.advance()).await {
        Ok(outcome) => Ok(outcome),
        Err(error) => {
            exec.record_failure(&error, attempt).await?;
            Err(error)
        }
    }
}

struct Execution<'a, E> {
    catalog: &'a Catalog,
    effects: &'a E,
    tenant: &'a str,
    run: WorkflowRun,
    defs: Option<Vec<FieldDefinition>>,
}

impl<E: StepEffects> Execution<'_, E> {
    async fn advance(&mut self) -> Result<StepOutcome, CrmError> {
        let table = self.catalog.table();
        let Some(workflow) = store::get_workflow(table, self.tenant, self.run.workflow_id).await?
        else {
            return Ok(StepOutcome::Ignored);
        };
        let now = crate::values::now();
        if workflow.status == WorkflowStatus::Paused {
            self.run.status = RunStatus::Paused;
            return self.save(StepOutcome::Paused).await;
        }
        // The revision the run executes (S7.1).
        let (steps, goal) = if self.run.revision == workflow.revision {
            (workflow.steps.clone(), workflow.goal.clone())
        } else {
            let old = store::get_revision(table, self.tenant, workflow.id, self.run.revision)
                .await?
                .ok_or_else(|| {
                    CrmError::Internal(format!("revision {} is missing", self.run.revision))
                })?;
            if workflow.move_runs {
                let pointer = self.run.next_step.clone().unwrap_or_default();
                let moved = migrate_pointer(
                    &Program::new(&old.steps),
                    &Program::new(&workflow.steps),
                    &pointer,
                    &self.run.done_steps,
                );
                self.run.history.push(record(
                    &pointer,
                    "revision",
                    now,
                    "moved",
                    Some(format!(
                        "revision {} → {}",
                        self.run.revision, workflow.revision
                    )),
                ));
                self.run.revision = workflow.revision;
                self.run.next_step = moved;
                (workflow.steps.clone(), workflow.goal.clone())
            } else {
                (old.steps, old.goal)
            }
        };
        let program = Program::new(&steps);
        let Some(mut contact) = self.live_contact().await? else {
            return self.contact_gone().await;
        };
        for _ in 0..STEPS_PER_MESSAGE {
            if let Some(goal) = &goal {
                if Box::pin(self.goal_met(goal, &contact)).await? {
                    return self
                        .finish(
                            RunStatus::Completed,
                            Some("goal_met"),
                            StepOutcome::Completed,
                        )
                        .await;
                }
            }
            let Some(step) = self.next(&program) else {
                return self
                    .finish(RunStatus::Completed, None, StepOutcome::Completed)
                    .await;
            };
            let now = crate::values::now();
            let seq = self.run.seq;
            match &step.action {
                Step::Wait { .. } | Step::WaitUntil { .. } | Step::WaitForTime { .. } => {
                    let at = wake_time(&step.action, now)?;
                    self.done(
                        &program,
                        step,
                        now,
                        "scheduled",
                        Some(format!("until {}", at.to_rfc3339())),
                    );
                    if at <= now {
                        // A date already past: go on at once.
                        if !self.checkpoint().await? {
                            return Ok(StepOutcome::Stale);
                        }
                        continue;
                    }
                    let schedule = self
                        .effects
                        .schedule_step(&self.run.message(self.tenant), at)
                        .await?;
                    if let Some(last) = self.run.history.last_mut() {
                        last.detail = Some(format!("{schedule} at {}", at.to_rfc3339()));
                    }
                    self.run.status = RunStatus::Waiting;
                    self.run.due_at = Some(at);
                    return self.save(StepOutcome::Waiting).await;
                }
                Step::IfElse { condition, .. } => {
                    let defs = self.definitions().await?;
                    let taken = match condition.compile(defs) {
                        Ok(c) => c.matches(&contact),
                        // A field removed since the save: the condition cannot hold.
                        Err(_) => false,
                    };
                    let branch = program.branch_start(&step.id, taken);
                    self.run.done_steps.push(step.id.clone());
                    self.run.history.push(record(
                        &step.id,
                        "if_else",
                        now,
                        if taken { "then" } else { "else" },
                        None,
                    ));
                    self.run.next_step = branch.map(|s| s.id.clone());
                    self.run.seq = seq + 1;
                    metrics::count(Counter::WorkflowStepsRun, 1);
                    if !self.checkpoint().await? {
                        return Ok(StepOutcome::Stale);
                    }
                }
                action => {
                    let applied = match store::claim_effect(table, self.tenant, self.run.id, seq)
                        .await?
                    {
                        store::EffectClaim::Busy => {
                            return Err(CrmError::Internal(format!(
                                "step {} of run {} is being applied elsewhere",
                                step.id, self.run.id
                            )));
                        }
                        store::EffectClaim::AlreadyApplied { detail } => {
                            let detail = detail.unwrap_or_default();
                            let (result, detail) = detail.split_once(": ").map_or(
                                ("done", detail.clone()),
                                |(r, d)| {
                                    (
                                        if r == "skipped" {
                                            "skipped"
                                        } else if r == "sent" {
                                            "sent"
                                        } else {
                                            "done"
                                        },
                                        d.to_string(),
                                    )
                                },
                            );
                            Applied { result, detail }
                        }
                        store::EffectClaim::Claimed => {
                            match Box::pin(actions::apply(
                                self.catalog,
                                self.effects,
                                self.tenant,
                                &self.run,
                                &contact,
                                action,
                            ))
                            .await
                            {
                                Ok(applied) => {
                                    let detail = format!("{}: {}", applied.result, applied.detail);
                                    store::complete_effect(
                                        table,
                                        self.tenant,
                                        self.run.id,
                                        seq,
                                        &detail,
                                    )
                                    .await?;
                                    applied
                                }
                                Err(e) => {
                                    store::release_effect(table, self.tenant, self.run.id, seq)
                                        .await?;
                                    return Err(e);
                                }
                            }
                        }
                    };
                    self.done(&program, step, now, applied.result, Some(applied.detail));
                    if !self.checkpoint().await? {
                        return Ok(StepOutcome::Stale);
                    }
                    if matches!(
                        action,
                        Step::UpdateField { .. } | Step::AddTag { .. } | Step::RemoveTag { .. }
                    ) {
                        let Some(now_contact) = self.live_contact().await? else {
                            return self.contact_gone().await;
                        };
                        contact = now_contact;
                    }
                }
            }
        }
        // A long run of immediate steps: the rest in a new message.
        self.run.status = RunStatus::Active;
        self.run.due_at = Some(crate::values::now());
        let outcome = self.save(StepOutcome::Continued).await?;
        if outcome == StepOutcome::Continued {
            self.effects
                .enqueue_step(&self.run.message(self.tenant))
                .await?;
        }
        Ok(outcome)
    }

    /// The next step to execute, skipping steps the run already executed.
    fn next<'p>(&mut self, program: &Program<'p>) -> Option<&'p WorkflowStep> {
        let mut step = program.find(self.run.next_step.as_deref()?)?;
        while self.run.done_steps.contains(&step.id) {
            step = program.next_after(&step.id)?;
        }
        Some(step)
    }

    /// Marks `step` executed and points the run at what follows it.
    fn done(
        &mut self,
        program: &Program<'_>,
        step: &WorkflowStep,
        at: Timestamp,
        result: &str,
        detail: Option<String>,
    ) {
        self.run.done_steps.push(step.id.clone());
        self.run
            .history
            .push(record(&step.id, step.action.kind(), at, result, detail));
        self.run.next_step = program.next_after(&step.id).map(|s| s.id.clone());
        self.run.seq += 1;
        self.run.last_error = None;
        metrics::count(Counter::WorkflowStepsRun, 1);
    }

    async fn live_contact(&self) -> Result<Option<Contact>, CrmError> {
        Ok(
            crate::records::RecordStore::<crate::contacts::ContactKind>::new(
                self.catalog.table().clone(),
            )
            .get(self.tenant, self.run.contact_id)
            .await?
            .filter(|c| c.deleted_at.is_none()),
        )
    }

    /// Stops the run whose contact is deleted or erased.
    async fn contact_gone(&mut self) -> Result<StepOutcome, CrmError> {
        self.finish(
            RunStatus::Cancelled,
            Some("contact_deleted"),
            StepOutcome::Cancelled,
        )
        .await
    }

    async fn definitions(&mut self) -> Result<&[FieldDefinition], CrmError> {
        if self.defs.is_none() {
            let defs = crate::custom_fields::store::FieldStore::new(self.catalog.table().clone())
                .definitions(self.tenant, Entity::CONTACT)
                .await?;
            self.defs = Some(defs);
        }
        Ok(self.defs.as_deref().unwrap_or_default())
    }

    async fn goal_met(&mut self, goal: &Goal, contact: &Contact) -> Result<bool, CrmError> {
        let caller = actions::workflow_caller(self.tenant, &self.run);
        match goal {
            Goal::CriteriaMatched { criteria } => {
                let defs = self.definitions().await?;
                Ok(criteria
                    .compile(defs)
                    .is_ok_and(|c: Condition| c.matches(contact)))
            }
            Goal::DealWon => {
                let deals = self.catalog.deals();
                let won = |d: &crate::deals::Deal| d.status == crate::deals::DealStatus::Won;
                Ok(match self.run.deal_id {
                    Some(id) => deals.find(&caller, id).await?.is_some_and(|d| won(&d)),
                    None => crate::deals::deals_of_contact(&deals, &caller, contact.id)
                        .await?
                        .iter()
                        .any(|d| won(d) && d.closed_at.is_none_or(|t| t >= self.run.started_at)),
                })
            }
            Goal::Replied => {
                let params = std::collections::BTreeMap::from([
                    ("type".to_string(), "email".to_string()),
                    (
                        "occurred_from".to_string(),
                        self.run.started_at.to_rfc3339(),
                    ),
                ]);
                let (page, _) = crate::activities::timeline::timeline(
                    &self.catalog.activities(),
                    &caller,
                    crate::activities::timeline::Subject::Contact(contact.id),
                    params,
                    50,
                    None,
                )
                .await?;
                Ok(page
                    .items
                    .iter()
                    .any(|a| a.direction == Some(crate::activities::Direction::Inbound)))
            }
        }
    }

    /// Saves the run's progress; `false` when another worker moved it first.
    async fn checkpoint(&mut self) -> Result<bool, CrmError> {
        let expected = self.run.version;
        self.run.version = expected + 1;
        self.run.updated_at = crate::values::now();
        self.run.status = RunStatus::Active;
        self.run.due_at = Some(self.run.updated_at);
        store::replace_run(self.catalog.table(), self.tenant, &self.run, expected).await
    }

    async fn save(&mut self, outcome: StepOutcome) -> Result<StepOutcome, CrmError> {
        let expected = self.run.version;
        self.run.version = expected + 1;
        self.run.updated_at = crate::values::now();
        if self.run.status.is_terminal() || self.run.status == RunStatus::Paused {
            self.run.due_at = None;
        }
        Ok(
            if store::replace_run(self.catalog.table(), self.tenant, &self.run, expected).await? {
                outcome
            } else {
                StepOutcome::Stale
            },
        )
    }

    async fn finish(
        &mut self,
        status: RunStatus,
        reason: Option<&str>,
        outcome: StepOutcome,
    ) -> Result<StepOutcome, CrmError> {
        let now = crate::values::now();
        if let Some(reason) = reason {
            // Why the run ended before its last step, where it stood.
            let step = self.run.next_step.clone().unwrap_or_default();
            self.run
                .history
                .push(record(&step, "exit", now, reason, None));
        }
        self.run.status = status;
        self.run.exit_reason = reason.map(str::to_string);
        self.run.finished_at = Some(now);
        self.run.next_step = None;
        self.save(outcome).await
    }

    /// Records a failed attempt on the run; on the last one the run fails with the error.
    async fn record_failure(&mut self, error: &CrmError, attempt: Attempt) -> Result<(), CrmError> {
        // Re-read: the failure may have come after the run was saved.
        let Some(mut run) = store::get_run(self.catalog.table(), self.tenant, self.run.id).await?
        else {
            return Ok(());
        };
        if run.status.is_terminal() || run.seq != self.run.seq && !attempt.last {
            return Ok(());
        }
        let now = crate::values::now();
        let expected = run.version;
        let step = run.next_step.clone().unwrap_or_default();
        run.last_error = Some(format!("attempt {}: {error}", attempt.number));
        if attempt.last {
            run.history.push(StepRecord {
                step_id: step,
                kind: "step".into(),
                at: now,
                result: "failed".into(),
                detail: Some(format!("after {} attempts", attempt.number)),
                error: Some(error.to_string()),
            });
            run.status = RunStatus::Failed;
            run.finished_at = Some(now);
            run.due_at = None;
        } else {
            // The retry comes with the message; the sweep need not step in meanwhile.
            run.due_at =
                Some(now + chrono::TimeDelta::seconds(i64::from(attempt.backoff_seconds())));
        }
        run.version = expected + 1;
        run.updated_at = now;
        store::replace_run(self.catalog.table(), self.tenant, &run, expected).await?;
        Ok(())
    }
}

fn record(
    step: &str,
    kind: &str,
    at: Timestamp,
    result: &str,
    detail: Option<String>,
) -> StepRecord {
    StepRecord {
        step_id: step.to_string(),
        kind: kind.to_string(),
        at,
        result: result.to_string(),
        detail,
        error: None,
    }
}

/// When a wait step ends, from `now`.
pub fn wake_time(step: &Step, now: Timestamp) -> Result<Timestamp, CrmError> {
    let invalid = |e: String| CrmError::Internal(format!("a saved wait no longer reads: {e}"));
    match step {
        Step::Wait {
            minutes,
            hours,
            days,
        } => {
            let total = Step::wait_minutes(*minutes, *hours, *days);
            Ok(now + chrono::TimeDelta::minutes(i64::try_from(total).unwrap_or(i64::MAX / 120)))
        }
        Step::WaitUntil { at, time_zone } => waits::until(at, time_zone).map_err(invalid),
        Step::WaitForTime {
            weekdays,
            time,
            time_zone,
        } => waits::next_window(now, weekdays, time, time_zone).map_err(invalid),
        _ => Ok(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s7_4_retries_back_off_to_fifteen_minutes() {
        let seconds: Vec<i32> = (1..=9)
            .map(|n| Attempt::of(n, 9).backoff_seconds())
            .collect();
        assert_eq!(seconds, vec![10, 20, 40, 80, 160, 320, 640, 900, 900]);
        assert!(Attempt::of(5, 5).last);
        assert!(!Attempt::of(4, 5).last);
    }
}
