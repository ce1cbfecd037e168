//! The sweep (S7.4): a rate schedule runs it every minute; it re-dispatches the step of every
//! run whose due time passed more than [`GRACE`] ago without progress (a lost schedule or
//! message). A step that is merely late runs once all the same: the executor's step pointer and
//! effect records make a second message for it stale.

use super::StepEffects;
use crate::store::Table;
use crate::{CrmError, Timestamp};

/// How late a run may be before the sweep re-dispatches it.
pub const GRACE: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

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
    let _ = (table, effects, now);
    Ok(SweepReport::default())
}
