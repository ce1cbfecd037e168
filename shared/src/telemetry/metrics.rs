//! Business counters of one invocation. Code that knows an outcome calls [`count`]; the function
//! edge runs the invocation inside [`counted`] and reads the totals afterwards. Outside such a
//! scope (unit tests, the local runtime's direct calls) counting is a no-op.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The counters, a closed set: each is one CloudWatch metric of the `CRM` namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Counter {
    /// Contacts created through `POST /contacts`.
    ContactsCreated,
    /// Import rows that created or updated a record.
    ImportRowsImported,
    /// Import rows refused (reported in the import's errors).
    ImportRowsFailed,
    /// Imports that ended `failed` (an unreadable file, an impossible mapping).
    ImportFailures,
    /// Emails SES accepted (single sends, bulk and workflow mail, lead notifications).
    EmailsSent,
    /// Workflow steps executed (waits scheduled, branches taken, actions applied).
    WorkflowStepsRun,
    /// Step messages that failed and go back to the queue (or to its DLQ on the last attempt).
    StepFailures,
}

impl Counter {
    pub const ALL: [Counter; 7] = [
        Self::ContactsCreated,
        Self::ImportRowsImported,
        Self::ImportRowsFailed,
        Self::ImportFailures,
        Self::EmailsSent,
        Self::WorkflowStepsRun,
        Self::StepFailures,
    ];

    /// The metric name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ContactsCreated => "ContactsCreated",
            Self::ImportRowsImported => "ImportRowsImported",
            Self::ImportRowsFailed => "ImportRowsFailed",
            Self::ImportFailures => "ImportFailures",
            Self::EmailsSent => "EmailsSent",
            Self::WorkflowStepsRun => "WorkflowStepsRun",
            Self::StepFailures => "StepFailures",
        }
    }
}

/// The totals of one invocation (cheap to clone: one `Arc`).
#[derive(Debug, Clone, Default)]
pub struct Counters(Arc<Mutex<BTreeMap<Counter, u64>>>);

impl Counters {
    pub fn add(&self, counter: Counter, n: u64) {
        if let Ok(mut totals) = self.0.lock() {
            *totals.entry(counter).or_default() += n;
        }
    }

    /// The counters counted so far, in a stable order.
    pub fn totals(&self) -> Vec<(Counter, u64)> {
        self.0
            .lock()
            .map(|t| t.iter().map(|(c, n)| (*c, *n)).collect())
            .unwrap_or_default()
    }
}

tokio::task_local! {
    static COUNTERS: Counters;
}

/// Adds `n` to `counter` in the current invocation's totals; nothing outside [`counted`].
pub fn count(counter: Counter, n: u64) {
    if n > 0 {
        let _ = COUNTERS.try_with(|c| c.add(counter, n));
    }
}

/// Runs `fut` with `counters` as the invocation's totals.
pub async fn counted<F: std::future::Future>(counters: Counters, fut: F) -> F::Output {
    COUNTERS.scope(counters, fut).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_add_up_inside_a_scope_and_vanish_outside() {
        count(Counter::EmailsSent, 5);
        let counters = Counters::default();
        counted(counters.clone(), async {
            count(Counter::EmailsSent, 1);
            count(Counter::ContactsCreated, 2);
            count(Counter::EmailsSent, 2);
            count(Counter::StepFailures, 0);
        })
        .await;
        assert_eq!(
            counters.totals(),
            vec![(Counter::ContactsCreated, 2), (Counter::EmailsSent, 3)]
        );
    }

    #[test]
    fn names_are_distinct() {
        let names: std::collections::BTreeSet<_> = Counter::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Counter::ALL.len());
    }
}
