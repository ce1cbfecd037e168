//! Save-time validation of workflows (S7.2): every step kind's bad input is a 422 naming the
//! step and its field (`steps[i].field`, nested `steps[i].then[j].field`), with unknown
//! templates and stages, bad time zones and duplicate step ids; an edit is checked the same
//! way and a refused one changes nothing.

use super::{alice, define, score_field};
use crm_e2e_tests::stack::{errors, pair};
use crm_e2e_tests::{Stack, json};

/// Every step kind with a bad input, in one workflow: each error names its step and field.
#[tokio::test]
async fn s7_2_every_step_kinds_bad_input_is_named_by_step_and_field() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    score_field(&stack, &admin).await;
    let nowhere = uuid::Uuid::now_v7();
    let steps = json!([
        {"type": "send_email"},
        {"type": "send_email", "template_id": nowhere},
        {"type": "send_email", "subject": "Hi {{nickname}}", "body": "{{cf.nope}}"},
        {"type": "wait"},
        {"type": "wait", "days": 367},
        {"type": "wait_until", "at": "24.12.2026 09:00", "time_zone": "Europe/Berlin"},
        {"type": "wait_until", "at": "2026-12-24T09:00", "time_zone": "Mars/Olympus"},
        {"type": "wait_for_time", "weekdays": [], "time": "25:00", "time_zone": "Berlin"},
        {"type": "create_activity", "activity": {"type": "location"}},
        {"type": "create_activity", "activity": {"type": "note", "text": "x", "contact_ids": []}},
        {"type": "create_activity", "activity": {"type": "task", "subject": "x"}, "due_in_days": 5000},
        {"type": "update_field", "field": "lifecycle_status", "value": "bogus"},
        {"type": "update_field", "field": "cf.score", "value": "many"},
        {"type": "update_field", "field": "last_contacted_at", "value": null},
        {"type": "add_tag", "tag": "  "},
        {"type": "remove_tag", "tag": "x".repeat(101)},
        {"type": "move_deal", "pipeline_id": nowhere, "stage_id": nowhere},
        {"type": "notify", "to": "owner", "message": " "},
        {"type": "if_else", "condition": {"colour": "red"}, "then": [{"type": "add_tag", "tag": ""}]},
        {"type": "update_field", "field": "colour", "value": "red"},
        {"type": "update_field", "field": "cf.nope", "value": 1}
    ]);
    let r = stack
        .call(
            "POST",
            "/workflows",
            &admin,
            Some(json!({"name": "Bad", "steps": steps})),
        )
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let fields: Vec<String> = errors(&r).into_iter().map(|(f, _)| f).collect();
    let expected = [
        "steps[0].template_id",
        "steps[1].template_id",
        "steps[2].subject",
        "steps[2].body",
        "steps[3].minutes",
        "steps[4].minutes",
        "steps[5].at",
        "steps[6].time_zone",
        "steps[7].weekdays",
        "steps[7].time",
        "steps[7].time_zone",
        "steps[8].activity.type",
        "steps[9].activity.contact_ids",
        "steps[10].due_in_days",
        "steps[11].value",
        "steps[12].value",
        "steps[13].field",
        "steps[14].tag",
        "steps[15].tag",
        "steps[16].stage_id",
        "steps[17].message",
        "steps[18].condition.colour",
        "steps[18].then[0].tag",
        "steps[19].field",
        "steps[20].field",
    ];
    assert_eq!(fields, expected, "{:#?}", r.body["errors"]);
    let found = errors(&r);
    for rule in [
        pair("steps[0].template_id", "one_of"),
        pair("steps[1].template_id", "exists"),
        pair("steps[2].subject", "merge_field"),
        pair("steps[3].minutes", "range"),
        pair("steps[6].time_zone", "time_zone"),
        pair("steps[7].time_zone", "time_zone"),
        pair("steps[9].activity.contact_ids", "read_only"),
        pair("steps[13].field", "read_only"),
        pair("steps[16].stage_id", "exists"),
        pair("steps[19].field", "unknown_field"),
        pair("steps[20].field", "unknown_field"),
    ] {
        assert!(found.contains(&rule), "{rule:?} in {found:?}");
    }
}

/// An error inside a branch names its path (`steps[1].then[0].tag`); a step id given twice,
/// or not an id, is named; a goal's criteria are checked like a list filter (S7.1, S7.2).
#[tokio::test]
async fn s7_2_nested_steps_duplicate_ids_and_goal_criteria_are_named() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let post = |body: serde_json::Value| stack.call("POST", "/workflows", &admin, Some(body));
    let nested = post(json!({"name": "Nested", "steps": [
        {"type": "add_tag", "tag": "a"},
        {"type": "if_else", "condition": {"tag": "vip"},
         "then": [{"type": "add_tag", "tag": ""}],
         "else": [{"type": "wait", "minutes": 5}, {"type": "notify", "to": "team", "message": ""}]}
    ]}))
    .await;
    assert_eq!(nested.status, 422);
    assert_eq!(
        errors(&nested),
        [
            pair("steps[1].then[0].tag", "length"),
            pair("steps[1].else[1].message", "length")
        ]
    );

    let twice = post(json!({"name": "Twice", "steps": [
        {"id": "a", "type": "add_tag", "tag": "x"},
        {"id": "b", "type": "if_else", "condition": {"tag": "x"}, "then": [{"id": "a", "type": "add_tag", "tag": "y"}]},
        {"id": "bad id!", "type": "add_tag", "tag": "z"}
    ]}))
    .await;
    assert_eq!(twice.status, 422);
    assert_eq!(
        errors(&twice),
        [
            pair("steps[1].then[0].id", "unique"),
            pair("steps[2].id", "format")
        ]
    );

    let goal = post(
        json!({"name": "Goal", "goal": {"type": "criteria_matched", "criteria": {"colour": "red"}},
        "steps": [{"type": "add_tag", "tag": "x"}]}),
    )
    .await;
    assert_eq!(goal.status, 422);
    assert_eq!(errors(&goal)[0].0, "goal.criteria.colour");
}

/// A `PATCH` with new steps is validated the same way; a refused edit changes neither the
/// steps nor the version or revision (S7.1, S7.2).
#[tokio::test]
async fn s7_2_an_edit_is_validated_and_a_refused_one_changes_nothing() {
    let stack = Stack::start().await;
    let admin = alice(&stack).await;
    let wf = define(
        &stack,
        &admin,
        json!([{"id": "w", "type": "wait", "hours": 1}]),
        json!({}),
    )
    .await;
    let path = format!("/workflows/{}", wf["id"].as_str().unwrap());
    let r = stack
        .call(
            "PATCH",
            &path,
            &admin,
            Some(json!({"steps": [
                {"id": "w", "type": "wait", "hours": 1},
                {"type": "wait_for_time", "weekdays": ["mon"], "time": "09:00", "time_zone": "Europe/Atlantis"}
            ]})),
        )
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(errors(&r), [pair("steps[1].time_zone", "time_zone")]);
    let now = stack.get(&path, &admin).await;
    assert_eq!(now.body["steps"], wf["steps"]);
    assert_eq!(now.body["version"], 1);
    assert_eq!(now.body["revision"], 1);
    assert_eq!(now.header("etag"), Some("\"1\""));
}
