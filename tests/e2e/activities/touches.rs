//! Last contact and touch counts (S8.5): kept by the system from outbound activities (and
//! meetings), not by notes or inbound mail; refused in a PATCH; counted over 30 and 90 days.

use chrono::{Duration, SecondsFormat, Utc};
use crm_e2e_tests::stack::{errors, pair};
use crm_e2e_tests::{Stack, json};

fn days_ago(days: i64) -> String {
    (Utc::now() - Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn s8_5_last_contact_and_counts_follow_outbound_touches_not_notes_or_inbound_mail() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    stack
        .put_user(&admin, "vic", json!({"role": "viewer"}))
        .await;
    let ada = stack
        .create_contact(&admin, json!({"first_name": "Ada"}))
        .await;
    let path = format!("/contacts/{ada}");
    let counts = |body: &serde_json::Value| {
        (
            body["touch_counts"]["last_30_days"].as_u64().unwrap(),
            body["touch_counts"]["last_90_days"].as_u64().unwrap(),
        )
    };
    let fresh = stack.get(&path, &admin).await;
    assert_eq!(counts(&fresh.body), (0, 0));
    assert!(
        fresh.body.get("touches").is_none(),
        "the counts, not the list"
    );

    // A note and an inbound email are not touches.
    stack
        .create(
            "/activities",
            &admin,
            json!({"type": "note", "text": "x", "contact_ids": [ada]}),
        )
        .await;
    stack
        .create("/activities", &admin, json!({"type": "email", "direction": "inbound", "from": "ada@example.com", "contact_ids": [ada]}))
        .await;
    let c = stack.get(&path, &admin).await;
    assert!(c.body["last_contacted_at"].is_null(), "{:?}", c.body);
    assert_eq!(counts(&c.body), (0, 0));

    // An outbound email 31 days ago: out of the 30-day count, in the 90-day one.
    let old = days_ago(31);
    stack
        .create("/activities", &admin, json!({"type": "email", "direction": "outbound", "from": "alice@acme.example", "occurred_at": old, "contact_ids": [ada]}))
        .await;
    let c = stack.get(&path, &admin).await;
    assert_eq!(c.body["last_contacted_at"], old.as_str());
    assert_eq!(counts(&c.body), (0, 1));
    // An outbound call now; then one 100 days ago changes neither the last contact nor the counts.
    let now = days_ago(0);
    stack
        .create("/activities", &admin, json!({"type": "call", "direction": "outbound", "occurred_at": now, "contact_ids": [ada]}))
        .await;
    stack
        .create("/activities", &admin, json!({"type": "call", "direction": "outbound", "occurred_at": days_ago(100), "contact_ids": [ada]}))
        .await;
    let c = stack.get(&path, &admin).await;
    assert_eq!(c.body["last_contacted_at"], now.as_str());
    assert_eq!(counts(&c.body), (1, 2));
    // The follow-up list: contacts not contacted since a time, from the existing index.
    assert!(
        stack
            .ids(
                &format!("/contacts?not_contacted_since={}", days_ago(1)),
                &admin
            )
            .await
            .is_empty()
    );
    assert_eq!(
        stack
            .ids(
                &format!("/contacts?not_contacted_since={}", days_ago(-1)),
                &admin
            )
            .await,
        vec![ada.clone()]
    );

    // The system keeps it: a PATCH is refused, and a viewer's log is not possible at all.
    let r = stack
        .call(
            "PATCH",
            &path,
            &admin,
            Some(json!({"last_contacted_at": "2020-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(
        (r.status, errors(&r)),
        (422, vec![pair("last_contacted_at", "read_only")])
    );
    let vic = stack.token("acme", "vic", "viewer");
    assert_eq!(
        stack
            .status(
                "POST",
                "/activities",
                &vic,
                Some(json!({"type": "note", "text": "x", "contact_ids": [ada]}))
            )
            .await,
        403
    );
}

#[tokio::test]
async fn s8_5_a_member_logging_on_a_contact_they_only_see_still_touches_it() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let sales = stack.create_team(&admin, "Sales").await;
    stack
        .put_user(&admin, "mia", json!({"role": "member", "teams": [sales]}))
        .await;
    stack
        .put_user(&admin, "max", json!({"role": "member", "teams": [sales]}))
        .await;
    let mia = stack.token("acme", "mia", "member");
    let max = stack.token("acme", "max", "member");
    // Mia's team contact: Max sees it.
    let ada = stack
        .create_contact(&mia, json!({"first_name": "Ada"}))
        .await;
    let when = days_ago(2);
    stack
        .create("/activities", &max, json!({"type": "call", "direction": "outbound", "occurred_at": when, "contact_ids": [ada]}))
        .await;
    let c = stack.get(&format!("/contacts/{ada}"), &mia).await;
    assert_eq!(c.body["last_contacted_at"], when.as_str());
    let history = stack.get(&format!("/contacts/{ada}/history"), &admin).await;
    assert_eq!(history.body["items"][0]["actor"], "system");
    assert_eq!(
        history.body["items"][0]["changes"][0]["field"],
        "last_contacted_at"
    );
}

#[tokio::test]
async fn s8_5_inbound_mail_touches_only_when_the_tenant_says_so() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let ada = stack
        .create_contact(&admin, json!({"first_name": "Ada"}))
        .await;
    let inbound = |at: String| json!({"type": "email", "direction": "inbound", "from": "ada@example.com", "occurred_at": at, "contact_ids": [ada]});
    stack
        .create("/activities", &admin, inbound(days_ago(3)))
        .await;
    let c = stack.get(&format!("/contacts/{ada}"), &admin).await;
    assert!(c.body["last_contacted_at"].is_null());
    let r = stack
        .call(
            "PATCH",
            "/settings",
            &admin,
            Some(json!({"inbound_email_touches": true})),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["inbound_email_touches"]),
        (200, &json!(true))
    );
    let at = days_ago(2);
    stack
        .create("/activities", &admin, inbound(at.clone()))
        .await;
    let c = stack.get(&format!("/contacts/{ada}"), &admin).await;
    assert_eq!(c.body["last_contacted_at"], at.as_str());
    assert_eq!(c.body["touch_counts"]["last_30_days"], 1);
}

#[tokio::test]
async fn s8_5_a_touch_moves_with_its_activity_and_outreach() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let ada = stack
        .create_contact(&admin, json!({"first_name": "Ada"}))
        .await;
    let call = stack
        .create("/activities", &admin, json!({"type": "call", "direction": "outbound", "occurred_at": days_ago(2), "contact_ids": [ada]}))
        .await;
    let counts = |b: &serde_json::Value| {
        (
            b["touch_counts"]["last_30_days"].clone(),
            b["touch_counts"]["last_90_days"].clone(),
        )
    };
    let c = stack.get(&format!("/contacts/{ada}"), &admin).await;
    assert_eq!(counts(&c.body), (json!(1), json!(1)));
    let r = stack
        .call(
            "PATCH",
            &format!("/activities/{call}"),
            &admin,
            Some(json!({"occurred_at": days_ago(40)})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let c = stack.get(&format!("/contacts/{ada}"), &admin).await;
    assert_eq!(
        counts(&c.body),
        (json!(0), json!(1)),
        "the touch moved, not added"
    );
    // Outreach: made outbound later, it touches then.
    let o = stack
        .create("/outreach", &admin, json!({"contact_id": ada, "type": "call", "phone_number": "+49 30 1234567", "direction": "inbound", "occurred_at": days_ago(1)}))
        .await;
    let c = stack.get(&format!("/contacts/{ada}"), &admin).await;
    assert_eq!(counts(&c.body), (json!(0), json!(1)));
    let r = stack
        .call(
            "PATCH",
            &format!("/outreach/{o}"),
            &admin,
            Some(json!({"direction": "outbound"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let c = stack.get(&format!("/contacts/{ada}"), &admin).await;
    assert_eq!(counts(&c.body), (json!(1), json!(2)));
}
