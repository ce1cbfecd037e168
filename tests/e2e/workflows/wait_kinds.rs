//! The kinds of wait (S7.2): a duration in minutes, hours and days; a local date and time in
//! a time zone; the next weekday window ("next workday at 9:00 Europe/Berlin"). Each is one
//! one-time schedule whose `at(...)` (UTC) is the instant the wait ends.

use super::{alice, enroll, flow, person, run_of, schedule_at};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use chrono_tz::Europe::Berlin;
use crm_e2e_tests::{Stack, json};

/// Enrolls a new contact in a workflow of `steps` and lets the executor take its first
/// message: the run's id.
async fn waiting(stack: &Stack, admin: &str, steps: serde_json::Value) -> String {
    let (ada, _) = person(stack, admin, json!({"first_name": "Ada"})).await;
    let wf = flow(stack, admin, steps).await;
    let run = enroll(stack, admin, &wf, &ada).await;
    stack.runtime.deliver_step_messages().await.unwrap();
    run
}

/// The run is waiting for a schedule at `at` (to the second), and says so.
async fn assert_waits_until(stack: &Stack, admin: &str, run_id: &str, at: DateTime<Utc>) {
    let run = run_of(stack, admin, run_id).await;
    assert_eq!(run["status"], "waiting", "{run}");
    let seq = run["seq"].as_u64().unwrap();
    let scheduled = schedule_at(stack, run_id, seq)
        .await
        .expect("the wait's schedule");
    assert_eq!(
        scheduled,
        at.with_nanosecond_zero(),
        "the schedule's at(...)"
    );
    let due: DateTime<Utc> = run["due_at"].as_str().unwrap().parse().unwrap();
    assert!((due - at).num_seconds().abs() < 1, "due_at {due} = {at}");
}

trait WholeSeconds {
    fn with_nanosecond_zero(self) -> Self;
}

impl WholeSeconds for DateTime<Utc> {
    fn with_nanosecond_zero(self) -> Self {
        chrono::Timelike::with_nanosecond(&self, 0).unwrap()
    }
}

/// A wait of minutes, hours and days is one schedule at their sum from the step; the next
/// wait is scheduled from when the first one ended (S7.2).
#[tokio::test]
async fn s7_2_wait_minutes_hours_and_days_schedules_at_their_sum() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let before = Utc::now();
    let run = waiting(
        &stack,
        &admin,
        json!([
            {"id": "mixed", "type": "wait", "days": 1, "hours": 2, "minutes": 3},
            {"id": "hours", "type": "wait", "hours": 5},
            {"id": "days", "type": "wait", "days": 30},
            {"id": "tag", "type": "add_tag", "tag": "done"}
        ]),
    )
    .await;
    let after = Utc::now();
    let length = Duration::days(1) + Duration::hours(2) + Duration::minutes(3);
    let r = run_of(&stack, &admin, &run).await;
    let at = schedule_at(&stack, &run, r["seq"].as_u64().unwrap())
        .await
        .unwrap();
    assert!(
        at >= (before + length).with_nanosecond_zero() && at <= after + length,
        "{at} is 1 d 2 h 3 min after the step"
    );

    // Each later wait starts when the one before ended.
    for (part, next, length) in [
        ("hours", "days", Duration::hours(5)),
        ("days", "tag", Duration::days(30)),
    ] {
        let fired = stack
            .runtime
            .fire_due_schedules(Utc::now() + Duration::days(2))
            .await
            .unwrap();
        assert_eq!(fired.len(), 1, "{part}");
        let before = Utc::now();
        stack.runtime.deliver_step_messages().await.unwrap();
        let after = Utc::now();
        let r = run_of(&stack, &admin, &run).await;
        assert_eq!(r["next_step"], next, "{part}: {r}");
        let at = schedule_at(&stack, &run, r["seq"].as_u64().unwrap())
            .await
            .unwrap();
        assert!(
            at >= (before + length).with_nanosecond_zero() && at <= after + length,
            "{part}: {at}"
        );
    }
}

/// `wait_until` a local time in Europe/Berlin is a schedule at that instant in UTC: winter
/// time is UTC+1, summer time UTC+2; a time already past goes on at once (S7.2).
#[tokio::test]
async fn s7_2_wait_until_a_local_time_in_berlin_schedules_the_utc_instant() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let year = Utc::now().year() + 2;
    let run = waiting(
        &stack,
        &admin,
        json!([
            {"id": "winter", "type": "wait_until", "at": format!("{year}-01-15T09:00"), "time_zone": "Europe/Berlin"},
            {"id": "summer", "type": "wait_until", "at": format!("{year}-07-01T09:30:15"), "time_zone": "Europe/Berlin"},
            {"id": "past", "type": "wait_until", "at": "2020-01-01T00:00", "time_zone": "Europe/Berlin"},
            {"id": "tag", "type": "add_tag", "tag": "done"}
        ]),
    )
    .await;
    let winter = Utc.with_ymd_and_hms(year, 1, 15, 8, 0, 0).unwrap();
    assert_waits_until(&stack, &admin, &run, winter).await;
    let local = Berlin.with_ymd_and_hms(year, 1, 15, 9, 0, 0).unwrap();
    assert_eq!(local.with_timezone(&Utc), winter, "the converted instant");

    let fired = stack
        .runtime
        .fire_due_schedules(winter + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(fired.len(), 1);
    stack.runtime.deliver_step_messages().await.unwrap();
    let summer = Utc.with_ymd_and_hms(year, 7, 1, 7, 30, 15).unwrap();
    assert_waits_until(&stack, &admin, &run, summer).await;

    // The last wait is over before it starts: the run goes on at once.
    stack.runtime.fire_due_schedules(summer).await.unwrap();
    stack.runtime.deliver_step_messages().await.unwrap();
    let done = run_of(&stack, &admin, &run).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(super::entry(&done, "past")["result"], "scheduled");
    assert_eq!(super::entry(&done, "tag")["result"], "done");
}

/// The first instant after `now` on a workday (Mon–Fri) at 09:00 Berlin time, found day by
/// day in the test's own terms.
fn next_workday_nine(now: DateTime<Utc>) -> DateTime<Utc> {
    let today = now.with_timezone(&Berlin).date_naive();
    (0..8)
        .map(|d| today + chrono::Days::new(d))
        .filter(|day| day.weekday().num_days_from_monday() < 5)
        .map(|day| {
            Berlin
                .from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap())
                .single()
                .unwrap()
                .with_timezone(&Utc)
        })
        .find(|t| *t > now)
        .unwrap()
}

/// `wait_for_time` "next workday at 09:00 Europe/Berlin" is a schedule at the next Monday to
/// Friday 09:00 in Berlin after the step, in UTC (S7.2).
#[tokio::test]
async fn s7_2_wait_for_time_next_workday_at_nine_in_berlin() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let before = Utc::now();
    let run = waiting(
        &stack,
        &admin,
        json!([
            {"id": "window", "type": "wait_for_time", "weekdays": ["mon", "tue", "wed", "thu", "fri"],
             "time": "09:00", "time_zone": "Europe/Berlin"},
            {"type": "add_tag", "tag": "done"}
        ]),
    )
    .await;
    let after = Utc::now();
    let expected = next_workday_nine(before);
    assert_eq!(
        expected,
        next_workday_nine(after),
        "the test straddled 09:00"
    );
    assert_waits_until(&stack, &admin, &run, expected).await;
    let local = expected.with_timezone(&Berlin);
    assert_eq!(local.format("%H:%M").to_string(), "09:00");
    assert!(local.weekday().num_days_from_monday() < 5);
    assert!(
        expected - before <= Duration::days(4),
        "at most Friday → Monday"
    );
}
