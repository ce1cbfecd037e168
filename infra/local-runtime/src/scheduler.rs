//! Emulation of EventBridge Scheduler, which moto stores but never fires: a due one-time
//! schedule (`at(...)`) of the group sends its input to its SQS target and is then deleted
//! (ActionAfterCompletion DELETE), as AWS does; the template's rate schedules (`rate(...)`)
//! invoke their function once per period (`rate_schedules`).

use chrono::{DateTime, NaiveDateTime, Utc};

/// The instant of `at(yyyy-mm-ddThh:mm:ss)` in UTC; `None` for rate/cron expressions.
pub fn parse_at_expression(expression: &str, timezone: Option<&str>) -> Option<DateTime<Utc>> {
    let inner = expression.strip_prefix("at(")?.strip_suffix(')')?;
    let naive = NaiveDateTime::parse_from_str(inner, "%Y-%m-%dT%H:%M:%S").ok()?;
    // The step executor always schedules in UTC; other zones are not emulated.
    match timezone {
        None | Some("UTC") | Some("Etc/UTC") => Some(naive.and_utc()),
        Some(_) => None,
    }
}

/// The period of `rate(value unit)` (`minute(s)`, `hour(s)`, `day(s)`); `None` for other
/// expressions.
pub fn parse_rate_expression(expression: &str) -> Option<chrono::TimeDelta> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (value, unit) = inner.trim().split_once(' ')?;
    let value: i64 = value.parse().ok().filter(|v| *v > 0)?;
    match (unit.trim(), value) {
        ("minute", 1) | ("minutes", 2..) => Some(chrono::TimeDelta::minutes(value)),
        ("hour", 1) | ("hours", 2..) => Some(chrono::TimeDelta::hours(value)),
        ("day", 1) | ("days", 2..) => Some(chrono::TimeDelta::days(value)),
        _ => None,
    }
}

/// The queue name of an SQS ARN (`arn:aws:sqs:region:account:name`).
pub fn queue_name_of_arn(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?.split(':').nth(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_expressions_parse() {
        let t = parse_at_expression("at(2026-11-29T04:05:06)", Some("UTC")).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-29T04:05:06+00:00");
        assert!(parse_at_expression("rate(5 minutes)", None).is_none());
        assert_eq!(
            parse_rate_expression("rate(1 minute)"),
            Some(chrono::TimeDelta::minutes(1))
        );
        assert_eq!(
            parse_rate_expression("rate(5 minutes)"),
            Some(chrono::TimeDelta::minutes(5))
        );
        assert_eq!(
            parse_rate_expression("rate(2 hours)"),
            Some(chrono::TimeDelta::hours(2))
        );
        assert_eq!(
            parse_rate_expression("rate(1 day)"),
            Some(chrono::TimeDelta::days(1))
        );
        for bad in [
            "rate(1 minutes)",
            "rate(0 minutes)",
            "rate(5 weeks)",
            "cron(* * * * ? *)",
        ] {
            assert_eq!(parse_rate_expression(bad), None, "{bad}");
        }
        assert_eq!(
            queue_name_of_arn("arn:aws:sqs:eu-central-1:123456789012:q1"),
            Some("q1")
        );
    }
}
