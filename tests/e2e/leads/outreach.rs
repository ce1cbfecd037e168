//! S8.1: outreach records, each type with its own fields; lists per contact and per owner;
//! a member sees their own, a manager their team's; another tenant sees nothing.

use crm_e2e_tests::stack::{errors, pair};
use crm_e2e_tests::{Stack, json};

#[tokio::test]
async fn s8_1_outreach_of_every_type_with_its_fields_lists_and_visibility() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let sales = stack.create_team(&admin, "Sales").await;
    for (user, role) in [("mia", "member"), ("max", "member"), ("boss", "manager")] {
        stack
            .put_user(&admin, user, json!({"role": role, "teams": [sales]}))
            .await;
    }
    let (mia, max, boss) = (
        stack.token("acme", "mia", "member"),
        stack.token("acme", "max", "member"),
        stack.token("acme", "boss", "manager"),
    );
    let ada = stack
        .create_contact(&mia, json!({"first_name": "Ada", "visibility": "private"}))
        .await;

    // Each type with its own fields.
    let bodies = [
        json!({"type": "platform", "platform": "upwork", "proposal_url": "https://www.upwork.com/p/1", "outcome": "replied"}),
        json!({"type": "platform", "platform": "other", "platform_name": "Malt"}),
        json!({"type": "email", "email_address": "ada@example.com", "subject": "Hello", "outcome": "no_answer"}),
        json!({"type": "call", "phone_number": "+49 30 1234567", "duration_seconds": 90, "direction": "inbound", "outcome": "meeting_booked"}),
        json!({"type": "social", "network": "linkedin", "profile_url": "https://linkedin.com/in/ada"}),
        json!({"type": "messenger", "messenger_app": "whatsapp", "phone_number": "+49 151 1234567", "visibility": "private"}),
    ];
    let mut ids = Vec::new();
    for mut body in bodies {
        body["contact_id"] = json!(ada);
        let r = stack
            .call("POST", "/outreach", &mia, Some(body.clone()))
            .await;
        assert_eq!(r.status, 201, "{body}: {:?}", r.body);
        assert_eq!(r.body["owner"], "mia");
        assert_eq!(
            r.body["direction"],
            body.get("direction").cloned().unwrap_or(json!("outbound"))
        );
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }

    // The outbound ones are touches of Ada (S8.5): last contact and counts; the inbound call
    // is not.
    let c = stack.get(&format!("/contacts/{ada}"), &mia).await.body;
    assert!(c["last_contacted_at"].is_string(), "{c:?}");
    assert_eq!(c["touch_counts"]["last_30_days"], 5, "{c:?}");
    assert_eq!(c["touch_counts"]["last_90_days"], 5);

    // Fields of another type, missing required ones, an unknown platform: named.
    let r = stack
        .call(
            "POST",
            "/outreach",
            &mia,
            Some(json!({"contact_id": ada, "type": "email",
            "phone_number": "+49 30 1234567", "platform": "fiverr"})),
        )
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let mut named = errors(&r);
    named.sort();
    assert_eq!(
        named,
        vec![
            pair("phone_number", "not_for_type"),
            pair("platform", "not_for_type")
        ]
    );
    let r = stack
        .call(
            "POST",
            "/outreach",
            &mia,
            Some(json!({"contact_id": ada, "type": "call"})),
        )
        .await;
    assert_eq!(errors(&r), vec![pair("phone_number", "required")]);
    // A contact the writer cannot see (Ada is Mia's private contact).
    let r = stack
        .call(
            "POST",
            "/outreach",
            &max,
            Some(json!({"contact_id": ada, "type": "email"})),
        )
        .await;
    assert_eq!(errors(&r), vec![pair("contact_id", "exists")]);

    // A patch changing the type must clear the old type's fields.
    let call = &ids[3];
    let r = stack
        .call(
            "PATCH",
            &format!("/outreach/{call}"),
            &mia,
            Some(json!({"type": "email"})),
        )
        .await;
    assert_eq!(r.status, 422);
    let mut named = errors(&r);
    named.sort();
    assert_eq!(
        named,
        vec![
            pair("duration_seconds", "not_for_type"),
            pair("phone_number", "not_for_type")
        ]
    );
    let r = stack
        .call(
            "PATCH",
            &format!("/outreach/{call}"),
            &mia,
            Some(json!({"outcome": "interested"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let history = stack.get(&format!("/outreach/{call}/history"), &mia).await;
    assert_eq!(history.body["items"].as_array().unwrap().len(), 2);

    // Lists: per contact, per owner, by type and outcome, by period.
    let all = stack.ids(&format!("/contacts/{ada}/outreach"), &mia).await;
    assert_eq!(all.len(), 6);
    assert_eq!(stack.ids("/outreach?owner=mia", &mia).await.len(), 6);
    assert_eq!(stack.ids("/outreach?type=platform", &mia).await.len(), 2);
    assert_eq!(
        stack.ids("/outreach?outcome=interested", &mia).await,
        vec![call.clone()]
    );
    let period = "/outreach?occurred_from=2000-01-01&occurred_to=2999-01-01&type=email";
    assert_eq!(stack.ids(period, &mia).await, vec![ids[2].clone()]);
    assert_eq!(
        stack
            .ids("/outreach?occurred_to=2001-01-01", &mia)
            .await
            .len(),
        0
    );
    let r = stack.get("/outreach?type=fax", &mia).await;
    assert_eq!(errors(&r), vec![pair("type", "one_of")]);

    // Visibility: Max (a member of the team) sees the team-visible ones but cannot see the
    // contact; the manager sees all of the team's, the private one included.
    assert_eq!(stack.ids("/outreach", &max).await.len(), 5);
    assert_eq!(
        stack
            .status("GET", &format!("/outreach/{}", ids[5]), &max, None)
            .await,
        404
    );
    assert_eq!(
        stack
            .status("GET", &format!("/contacts/{ada}/outreach"), &max, None)
            .await,
        404
    );
    assert_eq!(stack.ids("/outreach", &boss).await.len(), 6);
    assert_eq!(
        stack
            .ids(&format!("/contacts/{ada}/outreach"), &boss)
            .await
            .len(),
        6
    );

    // Trash and restore.
    assert_eq!(
        stack
            .status("DELETE", &format!("/outreach/{}", ids[0]), &mia, None)
            .await,
        204
    );
    assert_eq!(
        stack
            .ids(&format!("/contacts/{ada}/outreach"), &mia)
            .await
            .len(),
        5
    );
    assert_eq!(
        stack
            .status("POST", &format!("/outreach/{}/restore", ids[0]), &mia, None)
            .await,
        200
    );

    // Another tenant: 404 on every route, nothing listed.
    let one = &ids[1];
    stack
        .assert_hidden_from_other_tenant(
            &[
                ("GET", format!("/outreach/{one}"), None),
                (
                    "PATCH",
                    format!("/outreach/{one}"),
                    Some(json!({"notes": "x"})),
                ),
                ("DELETE", format!("/outreach/{one}"), None),
                ("GET", format!("/outreach/{one}/history"), None),
                ("GET", format!("/contacts/{ada}/outreach"), None),
            ],
            &["/outreach", "/outreach?type=email"],
        )
        .await;
    let foreign = stack.token("other-tenant", "intruder", "owner");
    let r = stack
        .call(
            "POST",
            "/outreach",
            &foreign,
            Some(json!({"contact_id": ada, "type": "email"})),
        )
        .await;
    assert_eq!(errors(&r), vec![pair("contact_id", "exists")]);
}

/// An empty outreach filter is refused naming the parameter, not read as "no filter"
/// (issue 14 item 1).
#[tokio::test]
async fn issue14_empty_outreach_filters_are_refused_not_ignored() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    stack
        .assert_filters_refused(
            &admin,
            &[
                ("/outreach?contact=", "contact"),
                ("/outreach?owner=", "owner"),
                ("/outreach?direction=", "direction"),
            ],
        )
        .await;
}
