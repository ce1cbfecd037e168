//! A contact's touches (S8.5): the outbound activities and outreach of the last 90 days, kept
//! on the contact by the system; the counts a response shows are taken at the time of reading.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How far back touches are kept and counted.
pub const KEPT_DAYS: i64 = 90;
/// Most touches kept (a contact mailed by a workflow every hour keeps the newest).
pub const MAX_KEPT: usize = 500;

/// One touch: when, and the activity (or outreach record) that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Touch {
    pub at: DateTime<Utc>,
    pub by: Uuid,
}

/// Touches in the last 30 and 90 days, as of `now`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TouchCounts {
    pub last_30_days: u32,
    pub last_90_days: u32,
}

pub fn counts(touches: &[Touch], now: DateTime<Utc>) -> TouchCounts {
    let within = |days: i64| {
        let since = now - Duration::days(days);
        touches
            .iter()
            .filter(|t| t.at > since && t.at <= now)
            .count() as u32
    };
    TouchCounts {
        last_30_days: within(30),
        last_90_days: within(KEPT_DAYS),
    }
}

/// `touches` with `touch` added (once per source: a source's touch moved in time replaces
/// its earlier one), those older than 90 days as of `now` dropped, oldest first; `None` when
/// it was there already.
pub fn add(touches: &[Touch], touch: Touch, now: DateTime<Utc>) -> Option<Vec<Touch>> {
    if touches.contains(&touch) {
        return None;
    }
    let since = now - Duration::days(KEPT_DAYS);
    let mut out: Vec<Touch> = touches
        .iter()
        .copied()
        .filter(|t| t.at > since && t.by != touch.by)
        .collect();
    if touch.at > since {
        out.push(touch);
    }
    out.sort_by_key(|t| t.at);
    let excess = out.len().saturating_sub(MAX_KEPT);
    out.drain(..excess);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(days_ago: i64, now: DateTime<Utc>) -> Touch {
        Touch {
            at: now - Duration::days(days_ago),
            by: crate::values::new_id(),
        }
    }

    #[test]
    fn s8_5_a_touch_31_days_old_leaves_the_30_day_count_and_stays_in_the_90_day_one() {
        // The clock is a parameter: the same touches read on two days.
        let day0: DateTime<Utc> = "2026-10-01T12:00:00Z".parse().unwrap();
        let touches = vec![at(0, day0)];
        assert_eq!(
            counts(&touches, day0 + Duration::days(29)),
            TouchCounts {
                last_30_days: 1,
                last_90_days: 1
            }
        );
        assert_eq!(
            counts(&touches, day0 + Duration::days(31)),
            TouchCounts {
                last_30_days: 0,
                last_90_days: 1
            }
        );
        assert_eq!(
            counts(&touches, day0 + Duration::days(91)),
            TouchCounts {
                last_30_days: 0,
                last_90_days: 0
            }
        );
    }

    #[test]
    fn s8_5_a_source_touches_once_and_moves_with_its_time() {
        let now = Utc::now();
        let t = at(1, now);
        let once = add(&[], t, now).unwrap();
        assert_eq!(add(&once, t, now), None);
        let moved = Touch {
            at: now - Duration::days(40),
            ..t
        };
        assert_eq!(add(&once, moved, now), Some(vec![moved]));
        assert_eq!(counts(&[moved], now).last_30_days, 0);
    }

    proptest! {
        #[test]
        fn kept_touches_are_recent_sorted_and_bounded(ages in proptest::collection::vec(0i64..200, 0..40)) {
            let now = Utc::now();
            let mut kept = Vec::new();
            for a in ages {
                if let Some(next) = add(&kept, at(a, now), now) {
                    kept = next;
                }
            }
            prop_assert!(kept.len() <= MAX_KEPT);
            prop_assert!(kept.windows(2).all(|w| w[0].at <= w[1].at));
            prop_assert!(kept.iter().all(|t| t.at > now - Duration::days(KEPT_DAYS)));
        }
    }
}
