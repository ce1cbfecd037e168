//! Per-tenant quotas on the flows that cost the most or reach the outside world (issue 14
//! item 3, OWASP API4 / API6): imports started, exports started and emails sent, each counted
//! in a fixed window per tenant and action. The N+1th in a window is refused with 429 and
//! `Retry-After` (the seconds until the window ends) and does nothing.
//!
//! A counter is one item, `T#{tenant}#QUOTA#{action}` / `W#{window start}`, with `count` and a
//! TTL (`expires_at`, a window after the window's end). It advances by a conditional write
//! (on the count it read, or on its absence), so concurrent requests never count one slot
//! twice. One partition per tenant, action and window: a tenant's own traffic on that action
//! is the only load on it (access-patterns: no hot key shared by tenants).

use crate::CrmError;
use crate::store::{Condition, Table, WriteError, key, n};
use chrono::{DateTime, Utc};

/// A bounded action and its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// The counter's name in its key (`imports`, `exports`, `emails`).
    pub action: &'static str,
    /// How many in one window.
    pub limit: u64,
    /// The window's length in seconds (windows start at multiples of it, UTC).
    pub window_seconds: i64,
}

/// Imports started (`POST /imports`) per tenant and hour.
pub const IMPORTS: Quota = Quota {
    action: "imports",
    limit: 30,
    window_seconds: 3600,
};

/// Exports started (`POST /exports`) per tenant and hour.
pub const EXPORTS: Quota = Quota {
    action: "exports",
    limit: 30,
    window_seconds: 3600,
};

/// Emails sent through the API (`POST /contacts/{id}/messages`, `POST /deals/{id}/messages`,
/// single and bulk) per tenant and day.
pub const EMAILS: Quota = Quota {
    action: "emails",
    limit: 2000,
    window_seconds: 86_400,
};

impl Quota {
    /// The counter's key for `tenant` at `now`: (PK, SK, the window's end in epoch seconds).
    pub fn counter_key(&self, tenant: &str, now: DateTime<Utc>) -> (String, String, i64) {
        let window = now.timestamp().div_euclid(self.window_seconds);
        let start = window * self.window_seconds;
        (
            format!("T#{tenant}#QUOTA#{}", self.action),
            format!("W#{start}"),
            start + self.window_seconds,
        )
    }

    /// How many `tenant` used in the window of `now`.
    pub async fn used(
        &self,
        table: &Table,
        tenant: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, CrmError> {
        let (pk, sk, _) = self.counter_key(tenant, now);
        Ok(count_of(table.get(pk, sk).await?.as_ref()).unwrap_or(0))
    }

    /// Counts one `action` of `tenant` at `now`; 429 with `Retry-After` (nothing counted) when
    /// the window's quota is used up.
    pub async fn consume(
        &self,
        table: &Table,
        tenant: &str,
        now: DateTime<Utc>,
    ) -> Result<(), CrmError> {
        let (pk, sk, ends) = self.counter_key(tenant, now);
        for _ in 0..50 {
            let count = count_of(table.get(pk.clone(), sk.clone()).await?.as_ref());
            if count.unwrap_or(0) >= self.limit {
                return Err(self.exceeded((ends - now.timestamp()).max(1)));
            }
            let mut item = key(pk.clone(), sk.clone());
            item.insert("count".into(), n(count.unwrap_or(0) + 1));
            item.insert("expires_at".into(), n(ends + self.window_seconds));
            let condition = match count {
                Some(c) => Condition::eq("count", n(c)),
                None => Condition::NotExists,
            };
            match table.put_if(item, condition).await {
                Ok(()) => return Ok(()),
                Err(WriteError::ConditionFailed) => continue,
                Err(WriteError::Other(e)) => return Err(e),
            }
        }
        Err(CrmError::Unavailable {
            detail: format!("the {} quota counter stayed busy", self.action),
            retry_after_secs: 1,
        })
    }

    fn exceeded(&self, retry_after_secs: i64) -> CrmError {
        let window = match self.window_seconds {
            3600 => "hour".to_string(),
            86_400 => "day".to_string(),
            s => format!("{s} seconds"),
        };
        CrmError::TooManyRequests {
            detail: format!(
                "at most {} {} per tenant and {window}; try again later",
                self.limit, self.action
            ),
            retry_after_secs: retry_after_secs as u64,
        }
    }
}

fn count_of(item: Option<&crate::store::Item>) -> Option<u64> {
    item.and_then(|i| i.get("count").and_then(|v| v.as_n().ok()).cloned())
        .and_then(|c| c.parse::<u64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryItemStore;

    fn table() -> Table {
        Table::new(MemoryItemStore::default())
    }

    const SMALL: Quota = Quota {
        action: "tests",
        limit: 3,
        window_seconds: 3600,
    };

    #[tokio::test]
    async fn the_n_plus_first_in_a_window_is_refused_with_the_seconds_left() {
        let table = table();
        let now = "2026-12-01T10:59:00Z".parse::<DateTime<Utc>>().unwrap();
        for _ in 0..3 {
            SMALL.consume(&table, "acme", now).await.unwrap();
        }
        match SMALL.consume(&table, "acme", now).await {
            Err(CrmError::TooManyRequests {
                retry_after_secs, ..
            }) => assert_eq!(retry_after_secs, 60),
            other => panic!("expected 429, got {other:?}"),
        }
        assert_eq!(SMALL.used(&table, "acme", now).await.unwrap(), 3);
        // Another tenant has its own counter; the next window starts afresh.
        SMALL.consume(&table, "globex", now).await.unwrap();
        let next = "2026-12-01T11:00:00Z".parse::<DateTime<Utc>>().unwrap();
        SMALL.consume(&table, "acme", next).await.unwrap();
        assert_eq!(SMALL.used(&table, "acme", next).await.unwrap(), 1);
    }

    #[test]
    fn keys_carry_the_tenant_and_the_window() {
        let now = "2026-12-01T10:30:00Z".parse::<DateTime<Utc>>().unwrap();
        let (pk, sk, ends) = IMPORTS.counter_key("acme", now);
        assert_eq!(pk, "T#acme#QUOTA#imports");
        assert_eq!(sk, format!("W#{}", ends - 3600));
        assert_eq!(ends % 3600, 0);
    }
}
