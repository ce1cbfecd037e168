//! Time: UTC timestamps to the millisecond, their fixed-width sortable form for keys, and the
//! bounds a query gives (a time or a whole day).

use super::Invalid;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// All timestamps are UTC; serialised as RFC 3339 with a `Z`.
pub type Timestamp = DateTime<Utc>;

/// The fixed-width form used in sort keys (lexical order = time order).
pub fn time_key(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Which end of a day a date stands for when a query gives a date instead of a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayEnd {
    Start,
    End,
}

/// A query bound: an RFC 3339 time (any offset), or a `YYYY-MM-DD` date standing for the start
/// or the end of that day (UTC).
pub fn parse_bound(raw: &str, end: DayEnd) -> Result<Timestamp, Invalid> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok();
    let t = day.and_then(|d| match end {
        DayEnd::Start => d.and_hms_opt(0, 0, 0),
        DayEnd::End => d.and_hms_milli_opt(23, 59, 59, 999),
    });
    t.map(|t| t.and_utc())
        .ok_or_else(|| Invalid::new("datetime", "must be an RFC 3339 time or a YYYY-MM-DD date"))
}

/// The lowest (or highest) UUIDv7 string of a millisecond: ids sort by creation time, so a
/// creation range is a range of ids.
pub fn v7_bound(t: Timestamp, upper: bool) -> String {
    let ms = t.timestamp_millis().max(0) as u64;
    let mut b = if upper { [0xffu8; 16] } else { [0u8; 16] };
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    Uuid::from_bytes(b).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bounds_take_times_and_whole_days() {
        let start = parse_bound("2026-11-29", DayEnd::Start).unwrap();
        let end = parse_bound("2026-11-29", DayEnd::End).unwrap();
        assert_eq!(time_key(start), "2026-11-29T00:00:00.000Z");
        assert_eq!(time_key(end), "2026-11-29T23:59:59.999Z");
        assert_eq!(
            time_key(parse_bound("2026-11-29T10:00:00+01:00", DayEnd::End).unwrap()),
            "2026-11-29T09:00:00.000Z"
        );
        assert_eq!(
            parse_bound("29.11.2026", DayEnd::Start).unwrap_err().rule,
            "datetime"
        );
    }

    #[test]
    fn creation_bounds_enclose_ids_of_that_time() {
        let id = super::super::new_id();
        let now = super::super::now();
        let lo = v7_bound(now - chrono::Duration::seconds(1), false);
        let hi = v7_bound(now + chrono::Duration::seconds(1), true);
        assert!(lo < id.to_string() && id.to_string() < hi);
    }

    proptest! {
        /// Key order is time order.
        #[test]
        fn time_keys_sort_like_times(a in 0i64..4_000_000_000_000, b in 0i64..4_000_000_000_000) {
            let (ta, tb) = (DateTime::from_timestamp_millis(a).unwrap(), DateTime::from_timestamp_millis(b).unwrap());
            prop_assert_eq!(ta.cmp(&tb), time_key(ta).cmp(&time_key(tb)));
        }
    }
}
