//! Emulation of EventBridge Scheduler's rate schedules of the template (`AWS::Scheduler::Schedule`
//! with `rate(...)` and a function of the template as its target), which nothing fires locally:
//! each invokes its function with its `Input` once per period, the first time one period after
//! the runtime started. A call with a `now` several periods on fires once (the schedule's
//! flexible window is off and missed firings are not caught up).

use super::*;
use chrono::{DateTime, Utc};
use std::sync::Mutex;

/// When each rate schedule last fired (or the runtime started).
pub struct RateClock {
    started: DateTime<Utc>,
    last: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl RateClock {
    pub(crate) fn new(started: DateTime<Utc>) -> Self {
        Self {
            started,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `name` (period `period`) is due at `now`; if so it counts as fired at the last
    /// whole period before `now`.
    fn take_due(&self, name: &str, period: chrono::TimeDelta, now: DateTime<Utc>) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let since = *last.get(name).unwrap_or(&self.started);
        let elapsed = now - since;
        if elapsed < period {
            return false;
        }
        let periods = elapsed.num_milliseconds() / period.num_milliseconds().max(1);
        last.insert(name.to_string(), since + period * periods as i32);
        true
    }
}

impl LocalRuntime {
    /// Fires every enabled rate schedule of the template that is due at `now` (tests pass a later
    /// `now`): its function is invoked with the schedule's `Input`. Returns the schedules fired
    /// (by logical id); a function that fails is logged, as Scheduler only records it.
    pub async fn fire_rate_schedules(&self, now: DateTime<Utc>) -> Result<Vec<String>, Error> {
        let mut fired = Vec::new();
        for schedule in self.template.rate_schedules() {
            if !schedule.enabled
                || !self
                    .rate_clock
                    .take_due(&schedule.name, schedule.period, now)
            {
                continue;
            }
            // Scheduler's context attribute: the time the schedule fired for.
            let text = schedule.input.replace(
                "<aws.scheduler.scheduled-time>",
                &now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            );
            let input: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{}: Input is not JSON: {e}", schedule.name))?;
            match self.functions.invoke_event(&schedule.binary, input).await {
                None => {
                    return Err(format!(
                        "{}: {} takes no scheduled events locally",
                        schedule.name, schedule.binary
                    )
                    .into());
                }
                Some(Ok(answer)) => {
                    tracing::info!(schedule = schedule.name, %answer, "rate schedule fired")
                }
                Some(Err(error)) => {
                    tracing::error!(schedule = schedule.name, %error, "rate schedule's function failed")
                }
            }
            fired.push(schedule.name);
        }
        Ok(fired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_due_once_per_period_from_the_start() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let clock = RateClock::new(start);
        let minute = chrono::TimeDelta::minutes(1);
        let at = |s: i64| start + chrono::TimeDelta::seconds(s);
        assert!(!clock.take_due("s", minute, at(59)));
        assert!(clock.take_due("s", minute, at(61)));
        assert!(
            !clock.take_due("s", minute, at(61)),
            "not twice for one now"
        );
        assert!(!clock.take_due("s", minute, at(119)));
        assert!(clock.take_due("s", minute, at(120)));
        // Far later: once, then on the period's grid again.
        assert!(clock.take_due("s", minute, at(600 + 30)));
        assert!(!clock.take_due("s", minute, at(600 + 59)));
        assert!(clock.take_due("s", minute, at(660)));
        assert!(
            clock.take_due("other", minute, at(660)),
            "each schedule its own clock"
        );
    }
}
