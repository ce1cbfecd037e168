//! When a wait ends (S7.2), pure: a duration, a local date and time in a time zone, or the
//! next weekday/time window ("next workday at 9:00 Europe/Berlin"). Local times that do not
//! exist (the hour skipped when clocks go forward) move to the first instant after the gap;
//! ambiguous ones (the hour repeated when clocks go back) take the earlier instant.

use crate::Timestamp;
use chrono::{Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    fn of(day: chrono::Weekday) -> Self {
        match day {
            chrono::Weekday::Mon => Self::Mon,
            chrono::Weekday::Tue => Self::Tue,
            chrono::Weekday::Wed => Self::Wed,
            chrono::Weekday::Thu => Self::Thu,
            chrono::Weekday::Fri => Self::Fri,
            chrono::Weekday::Sat => Self::Sat,
            chrono::Weekday::Sun => Self::Sun,
        }
    }
}

pub fn parse_zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| format!("{name} is not an IANA time zone (e.g. Europe/Berlin)"))
}

pub fn parse_time_of_day(raw: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(raw, "%H:%M").ok()
}

pub fn parse_local(raw: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .ok()
}

/// The instant of a local time in `zone`.
pub fn instant(zone: Tz, local: NaiveDateTime) -> Timestamp {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.to_utc(),
        LocalResult::Ambiguous(early, _) => early.to_utc(),
        LocalResult::None => {
            // In a gap: the first whole minute after it (gaps are at most a few hours).
            let mut probe = local;
            for _ in 0..(24 * 60) {
                probe += chrono::TimeDelta::minutes(1);
                if let Some(t) = zone.from_local_datetime(&probe).earliest() {
                    return t.to_utc();
                }
            }
            local.and_utc()
        }
    }
}

/// The end of `wait_until`: the local time `at` in `zone`.
pub fn until(at: &str, zone: &str) -> Result<Timestamp, String> {
    let zone = parse_zone(zone)?;
    let local = parse_local(at).ok_or_else(|| format!("{at} is not a local date and time"))?;
    Ok(instant(zone, local))
}

/// The first instant strictly after `now` that falls on one of `days` at `time` in `zone`.
pub fn next_window(
    now: Timestamp,
    days: &[Weekday],
    time: &str,
    zone: &str,
) -> Result<Timestamp, String> {
    let zone = parse_zone(zone)?;
    let time = parse_time_of_day(time).ok_or_else(|| format!("{time} is not a time of day"))?;
    if days.is_empty() {
        return Err("no weekday given".into());
    }
    let today: NaiveDate = now.with_timezone(&zone).date_naive();
    for offset in 0..=7 {
        let day = today + chrono::Days::new(offset);
        if !days.contains(&Weekday::of(day.weekday())) {
            continue;
        }
        let candidate = instant(zone, day.and_time(time));
        if candidate > now {
            return Ok(candidate);
        }
    }
    Err("no window in the coming week".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(raw: &str) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339(raw).unwrap().to_utc()
    }

    const WORKDAYS: [Weekday; 5] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];

    #[test]
    fn s7_2_next_workday_at_nine_in_berlin() {
        // Friday 2026-12-04 10:00 Berlin (09:00 UTC): past today's 9:00 → Monday 9:00 (08:00 UTC).
        let t = next_window(
            utc("2026-12-04T09:00:00Z"),
            &WORKDAYS,
            "09:00",
            "Europe/Berlin",
        );
        assert_eq!(t.unwrap(), utc("2026-12-07T08:00:00Z"));
        // Thursday 07:00 Berlin → the same day at 9:00.
        let t = next_window(
            utc("2026-12-03T06:00:00Z"),
            &WORKDAYS,
            "09:00",
            "Europe/Berlin",
        );
        assert_eq!(t.unwrap(), utc("2026-12-03T08:00:00Z"));
        // Exactly at the window: the next one.
        let t = next_window(
            utc("2026-12-03T08:00:00Z"),
            &WORKDAYS,
            "09:00",
            "Europe/Berlin",
        );
        assert_eq!(t.unwrap(), utc("2026-12-04T08:00:00Z"));
    }

    #[test]
    fn s7_2_wait_until_a_local_time_across_daylight_saving() {
        // Summer time in Berlin is UTC+2.
        assert_eq!(
            until("2026-07-01T09:00", "Europe/Berlin").unwrap(),
            utc("2026-07-01T07:00:00Z")
        );
        // 2026-03-29 02:30 does not exist in Berlin (clocks jump 02:00 → 03:00).
        assert_eq!(
            until("2026-03-29T02:30", "Europe/Berlin").unwrap(),
            utc("2026-03-29T01:00:00Z")
        );
        // 2026-10-25 02:30 happens twice: the earlier one (still summer time).
        assert_eq!(
            until("2026-10-25T02:30", "Europe/Berlin").unwrap(),
            utc("2026-10-25T00:30:00Z")
        );
        assert!(until("2026-10-25T02:30", "Mars/Olympus").is_err());
    }

    proptest::proptest! {
        #[test]
        fn the_next_window_is_after_now_within_a_week_on_a_chosen_day(
            secs in 1_700_000_000i64..1_900_000_000i64,
            day in 0usize..7,
            hour in 0u32..24,
        ) {
            let now = chrono::DateTime::from_timestamp(secs, 0).unwrap();
            let all = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];
            let days = [all[day]];
            let time = format!("{hour:02}:00");
            let t = next_window(now, &days, &time, "America/New_York").unwrap();
            proptest::prop_assert!(t > now);
            proptest::prop_assert!(t - now <= chrono::TimeDelta::days(8));
            let local = t.with_timezone(&parse_zone("America/New_York").unwrap());
            proptest::prop_assert_eq!(Weekday::of(local.weekday()), all[day]);
        }
    }
}
