//! Who sees which activity (S6.1 with S1.4): an activity's own owner, team and visibility
//! decide, not the records it is linked to; timelines list only what the caller may see;
//! portal users see none; another tenant gets 404 on every route.

use crm_e2e_tests::{Stack, json};

#[tokio::test]
async fn s6_1_activities_are_seen_by_their_own_rules_in_reads_and_timelines() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let sales = stack.create_team(&admin, "Sales").await;
    let support = stack.create_team(&admin, "Support").await;
    for (user, body) in [
        ("mia", json!({"role": "member", "teams": [sales]})),
        ("max", json!({"role": "member", "teams": [sales]})),
        ("sam", json!({"role": "member", "teams": [support]})),
        ("boss", json!({"role": "manager", "teams": [sales]})),
    ] {
        stack.put_user(&admin, user, body).await;
    }
    let [mia, max, sam, boss] =
        ["mia", "max", "sam", "boss"].map(|u| stack.token("acme", u, "member"));
    let client = stack
        .create_client(&admin, json!({"name": "Initech"}))
        .await;
    // Mia's contact, seen by her team, and shared with Sam of another team.
    let ada = stack
        .create_contact(&mia, json!({"first_name": "Ada"}))
        .await;
    stack
        .share_contact(&mia, &ada, json!({"user": "sam"}))
        .await;
    stack
        .link_contact(&admin, &ada, &client, json!({"role": "other"}))
        .await;
    let note = |text: &str, visibility: &str| json!({"type": "note", "text": text, "visibility": visibility, "contact_ids": [ada]});
    let team_note = stack
        .create("/activities", &mia, note("team", "team"))
        .await;
    let private_note = stack
        .create("/activities", &mia, note("private", "private"))
        .await;
    let admins = stack
        .create("/activities", &admin, note("admin's", "private"))
        .await;
    let timeline = format!("/contacts/{ada}/activities");
    let client_timeline = format!("/clients/{client}/activities");
    let mut all = vec![admins.clone(), private_note.clone(), team_note.clone()];
    all.sort();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(sorted(stack.ids(&timeline, &admin).await), all);
    assert_eq!(
        sorted(stack.ids(&timeline, &mia).await),
        sorted(vec![team_note.clone(), private_note.clone()])
    );
    assert_eq!(
        stack.ids(&timeline, &max).await,
        vec![team_note.clone()],
        "a teammate: the team's"
    );
    assert_eq!(
        sorted(stack.ids(&timeline, &boss).await),
        sorted(vec![team_note.clone(), private_note.clone()]),
        "the team's manager"
    );
    assert!(
        stack.ids(&timeline, &sam).await.is_empty(),
        "another team sees the contact, not the notes"
    );
    assert_eq!(
        stack.get(&client_timeline, &max).await.status,
        404,
        "the client is not Max's"
    );
    assert_eq!(stack.ids(&client_timeline, &admin).await.len(), 3);
    assert_eq!(
        stack
            .get(&format!("/activities/{private_note}"), &max)
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .get(&format!("/activities/{private_note}"), &boss)
            .await
            .status,
        200
    );
    assert_eq!(
        stack.ids("/activities", &max).await,
        vec![team_note.clone()]
    );
    // Sharing shows one to Sam.
    let r = stack
        .call(
            "POST",
            &format!("/activities/{private_note}/shares"),
            &mia,
            Some(json!({"user": "sam"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(stack.ids(&timeline, &sam).await, vec![private_note.clone()]);

    // A portal user of the client sees no activity, not even on their own contact.
    stack
        .put_user(
            &admin,
            "pat",
            json!({"role": "portal", "portal_client_id": client, "portal_contact_id": ada}),
        )
        .await;
    let pat = stack.token("acme", "pat", "portal");
    assert_eq!(
        stack
            .get(&format!("/activities/{team_note}"), &pat)
            .await
            .status,
        404
    );
    let r = stack.call("GET", &timeline, &pat, None).await;
    assert!(
        r.status == 404 || r.body["items"] == json!([]),
        "{:?}",
        r.body
    );
    assert_eq!(
        stack.call("GET", "/activities", &pat, None).await.body["items"],
        json!([])
    );

    // Another tenant: 404 on every route, nothing in its lists.
    let body = Some(json!({"subject": "x"}));
    stack
        .assert_hidden_from_other_tenant(
            &[
                ("GET", format!("/activities/{team_note}"), None),
                ("PATCH", format!("/activities/{team_note}"), body),
                ("DELETE", format!("/activities/{team_note}"), None),
                ("POST", format!("/activities/{team_note}/restore"), None),
                ("GET", format!("/activities/{team_note}/history"), None),
                (
                    "POST",
                    format!("/activities/{team_note}/shares"),
                    Some(json!({"user": "intruder"})),
                ),
                (
                    "DELETE",
                    format!("/activities/{team_note}/shares/user:mia"),
                    None,
                ),
                ("GET", timeline.clone(), None),
                ("GET", client_timeline.clone(), None),
            ],
            &["/activities", "/me/tasks"],
        )
        .await;
    let foreign = stack.token("other-tenant", "intruder", "owner");
    let r = stack
        .call(
            "POST",
            "/activities",
            &foreign,
            Some(json!({"type": "note", "text": "x", "contact_ids": [ada]})),
        )
        .await;
    assert_eq!(r.status, 422, "another tenant's contact is no link");
}
