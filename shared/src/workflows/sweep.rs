//! The sweep (S7.4): a rate schedule runs it every minute; it re-dispatches the step of every
//! run whose due time passed more than [`GRACE`] ago without progress (a lost schedule or
//! message). A step that is merely late runs once all the same: the executor's step pointer and
//! effect records make a second message for it stale.

use super::{RunStatus, StepEffects, store};
use crate::store::Table;
use crate::{CrmError, Timestamp};

/// How late a run may be before the sweep re-dispatches it.
pub const GRACE: chrono::TimeDelta = chrono::TimeDelta::minutes(2);
/// Overdue runs one sweep reads per shard of the due index (the next sweep takes the rest).
const PER_SHARD: i32 = 200;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Runs found overdue.
    pub overdue: usize,
    /// Step messages sent again.
    pub redispatched: usize,
}

/// One sweep at `now`.
pub async fn sweep(
    table: &Table,
    effects: &impl StepEffects,
    now: Timestamp,
) -> Result<SweepReport, CrmError> {
    let mut report = SweepReport::default();
    for due in store::due_runs(table, now - GRACE, PER_SHARD).await? {
        let Some(mut run) = store::get_run(table, &due.tenant, due.run).await? else {
            continue;
        };
        let overdue = run.due_at.is_some_and(|d| d < now - GRACE)
            && matches!(run.status, RunStatus::Active | RunStatus::Waiting);
        if !overdue {
            continue;
        }
        report.overdue += 1;
        // Due again now: the next sweeps leave it alone while the message is on its way.
        let expected = run.version;
        run.due_at = Some(now);
        run.status = RunStatus::Active;
        run.version = expected + 1;
        run.updated_at = now;
        if !store::replace_run(table, &due.tenant, &run, expected).await? {
            continue; // it moved meanwhile: not lost
        }
        effects.enqueue_step(&run.message(&due.tenant)).await?;
        report.redispatched += 1;
        tracing::warn!(tenant = due.tenant, run = %run.id, seq = run.seq, "re-dispatched an overdue run");
    }
    Ok(report)
}
