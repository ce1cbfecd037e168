//! Fields by team and role (S3.4): sections (groups) for teams, fields hidden from a team are
//! absent and cannot be written or filtered, fields for a role, references only to records
//! the writer sees.

use super::keys;
use crm_e2e_tests::{Stack, errors, json, pair};
use serde_json::Value;

/// Teams Finance (Fred) and Sales (Sam), both members.
struct Teams {
    finance: String,
    sales: String,
    fred: String,
    sam: String,
}

async fn finance_and_sales(stack: &Stack, admin: &str) -> Teams {
    let finance = stack.create_team(admin, "Finance").await;
    let sales = stack.create_team(admin, "Sales").await;
    for (user, t) in [("fred", &finance), ("sam", &sales)] {
        stack
            .put_user(admin, user, json!({"role": "member", "teams": [t]}))
            .await;
    }
    Teams {
        finance,
        sales,
        fred: stack.token("acme", "fred", "member"),
        sam: stack.token("acme", "sam", "member"),
    }
}

/// Creates a group of custom fields (the reply).
async fn group(stack: &Stack, admin: &str, definition: Value) -> crm_e2e_tests::Reply {
    stack
        .call("POST", "/custom-field-groups", admin, Some(definition))
        .await
}

/// The Finance section (ordered first) with `credit_limit` only Finance sees.
async fn finance_section(stack: &Stack, admin: &str, teams: &Teams) {
    let finance = &teams.finance;
    // A section meant for Finance, ordered first.
    let group = group(
        stack,
        admin,
        json!({"key": "finance", "entity": "contact", "label": "Finance", "order": 0, "teams": [finance]}),
    )
    .await;
    assert_eq!(group.status, 201, "{:?}", group.body);
    stack
        .create_field(
            admin,
            json!({"key": "credit_limit", "entity": "contact", "label": "Credit limit", "group": "finance",
                   "type": {"kind": "currency", "currencies": ["EUR"]},
                   "visibility": {"kind": "restricted", "teams": [finance]}}),
        )
        .await;
}

/// [`finance_section`], a General section and a `hobby` everyone sees, and a contact of Fred's
/// with both values, shared with Sales: the teams, the contact's id and the created contact.
async fn shared_contact(stack: &Stack, admin: &str) -> (Teams, String, Value) {
    let teams = finance_and_sales(stack, admin).await;
    finance_section(stack, admin, &teams).await;
    let general = group(
        stack,
        admin,
        json!({"key": "general", "entity": "contact", "label": "General", "order": 5}),
    )
    .await;
    assert_eq!(general.status, 201);
    stack
        .create_field(
            admin,
            json!({"key": "hobby", "entity": "contact", "label": "Hobby", "type": {"kind": "text"}}),
        )
        .await;
    // A contact both teams see (shared with Sales, owned by Fred's team).
    let c = stack
        .call(
            "POST",
            "/contacts",
            &teams.fred,
            Some(json!({"first_name": "Shared", "custom_fields": {"credit_limit": {"amount": "5000"}, "hobby": "Chess"}})),
        )
        .await;
    assert_eq!(c.status, 201, "{:?}", c.body);
    let id = c.body["id"].as_str().unwrap().to_string();
    stack
        .share_contact(&teams.fred, &id, json!({"team": teams.sales}))
        .await;
    (teams, id, c.body)
}

/// Sections of fields are meant for teams (a team that does not exist is refused), fields join
/// a section that exists, and sections are renamed and reordered by their key (S3.4).
#[tokio::test]
async fn s3_4_field_sections_are_meant_for_teams_and_renamed_and_reordered_by_key() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let teams = finance_and_sales(&stack, &admin).await;
    finance_section(&stack, &admin, &teams).await;
    // A team that does not exist is refused.
    let ghost = group(
        &stack,
        &admin,
        json!({"key": "ghost", "entity": "contact", "label": "Ghost",
               "teams": ["0190a0a0-0000-7000-8000-000000000000"]}),
    )
    .await;
    assert_eq!(ghost.status, 422);
    assert_eq!(errors(&ghost), vec![pair("teams", "exists")]);
    let no_group = stack
        .define_field(
            &admin,
            json!({"key": "x", "entity": "contact", "label": "X", "type": {"kind": "boolean"}, "group": "nope"}),
        )
        .await;
    assert_eq!(no_group.status, 422);
    assert_eq!(errors(&no_group), vec![pair("group", "unknown_group")]);
    // Groups are renamed and reordered; their key stays.
    let general = group(
        &stack,
        &admin,
        json!({"key": "general", "entity": "contact", "label": "General", "order": 5}),
    )
    .await;
    assert_eq!(general.status, 201);
    let moved = stack
        .call(
            "PATCH",
            "/custom-field-groups/contact/finance",
            &admin,
            Some(json!({"label": "Finance & billing", "order": 9})),
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    let rekey = stack
        .call(
            "PATCH",
            "/custom-field-groups/contact/finance",
            &admin,
            Some(json!({"key": "money"})),
        )
        .await;
    assert_eq!(rekey.status, 400);
    let fred_view = stack
        .get("/custom-fields?entity=contact", &teams.fred)
        .await;
    let group_keys = keys(&fred_view.body, "groups");
    assert_eq!(group_keys, vec!["general", "finance"], "ordered");
    assert_eq!(fred_view.body["groups"][1]["label"], "Finance & billing");
    assert_eq!(fred_view.body["fields"][0]["group"], "finance");
}

/// A field hidden from a team is absent from its members' reads, definitions and sections,
/// while the team that sees it gets its value (S3.4).
#[tokio::test]
async fn s3_4_a_field_hidden_from_a_team_is_absent_from_its_reads_and_definitions() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (teams, id, c) = shared_contact(&stack, &admin).await;
    assert_eq!(
        c["custom_fields"]["credit_limit"],
        json!({"amount": "5000.00", "currency": "EUR"})
    );
    let sam = &teams.sam;
    let seen = stack.get(&format!("/contacts/{id}"), sam).await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.body["custom_fields"], json!({"hobby": "Chess"}));
    let defs = stack.get("/custom-fields?entity=contact", sam).await;
    assert_eq!(keys(&defs.body, "fields"), vec!["hobby"]);
    let sam_groups = keys(&defs.body, "groups");
    assert_eq!(
        sam_groups,
        vec!["general"],
        "the Finance section is not Sam's"
    );
    let hidden = stack.get("/custom-fields/contact/credit_limit", sam).await;
    assert_eq!(hidden.status, 404);
}

/// Writing or filtering a hidden field reads like a field that does not exist; the team that
/// sees it filters by it (S3.4, S3.5).
#[tokio::test]
async fn s3_4_a_hidden_field_is_written_or_filtered_like_an_unknown_one() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (teams, id, _) = shared_contact(&stack, &admin).await;
    let (sam, fred) = (&teams.sam, &teams.fred);
    // Writing or filtering a hidden field reads like a field that does not exist.
    let write = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            sam,
            Some(json!({"custom_fields": {"credit_limit": null}})),
        )
        .await;
    assert_eq!(write.status, 422);
    assert_eq!(
        errors(&write),
        vec![pair("custom_fields.credit_limit", "unknown_field")]
    );
    let filter = stack
        .get("/contacts?cf.credit_limit[empty]=false", sam)
        .await;
    assert_eq!(filter.status, 422);
    assert_eq!(
        errors(&filter),
        vec![pair("cf.credit_limit[empty]", "unknown_field")]
    );
    // Fred's team filter works.
    assert_eq!(
        stack
            .ids("/contacts?cf.credit_limit[gte]=1000%20EUR", fred)
            .await,
        vec![id.to_string()]
    );
}

/// A change by someone who cannot see a field leaves its value alone, and the history hides
/// the field from them (S3.4, S6.5).
#[tokio::test]
async fn s3_4_a_change_by_a_member_who_cannot_see_a_field_keeps_it_and_the_history_hides_it() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (teams, id, _) = shared_contact(&stack, &admin).await;
    let (sam, fred) = (&teams.sam, &teams.fred);
    // Sam's own change leaves the hidden value alone; the history hides it from him.
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            sam,
            Some(json!({"custom_fields": {"hobby": "Go"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let full = stack.get(&format!("/contacts/{id}"), fred).await;
    assert_eq!(
        full.body["custom_fields"],
        json!({"credit_limit": {"amount": "5000.00", "currency": "EUR"}, "hobby": "Go"})
    );
    let history = stack.get(&format!("/contacts/{id}/history"), sam).await;
    let all_fields: Vec<String> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["changes"].as_array().unwrap().clone())
        .map(|c| c["field"].as_str().unwrap().to_string())
        .collect();
    assert!(all_fields.contains(&"custom_fields.hobby".to_string()));
    assert!(
        !all_fields.iter().any(|f| f.contains("credit_limit")),
        "{all_fields:?}"
    );
}

/// A field for a role: managers (of any team) see it, members do not (S3.4).
#[tokio::test]
async fn s3_4_a_field_restricted_to_a_role_is_seen_by_that_role_only() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let teams = finance_and_sales(&stack, &admin).await;
    // A field for a role: managers (of any team) see it, members do not.
    stack
        .create_field(
            &admin,
            json!({"key": "margin", "entity": "contact", "label": "Margin", "type": {"kind": "decimal"},
                   "visibility": {"kind": "restricted", "roles": ["manager"]}}),
        )
        .await;
    stack
        .put_user(
            &admin,
            "max",
            json!({"role": "manager", "teams": [teams.sales]}),
        )
        .await;
    let max = stack.token("acme", "max", "manager");
    let for_max = stack.get("/custom-fields?entity=contact", &max).await;
    assert!(keys(&for_max.body, "fields").contains(&"margin".to_string()));
    let for_sam = stack.get("/custom-fields?entity=contact", &teams.sam).await;
    assert!(!keys(&for_sam.body, "fields").contains(&"margin".to_string()));
}

/// A reference must point at a record the writer can see (S3.4).
#[tokio::test]
async fn s3_4_a_reference_must_point_at_a_record_the_writer_can_see() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (teams, id, _) = shared_contact(&stack, &admin).await;
    let (sam, fred) = (&teams.sam, &teams.fred);
    // A reference must point at a record the writer can see.
    stack
        .create_field(
            &admin,
            json!({"key": "partner", "entity": "contact", "label": "Partner", "type": {"kind": "contact_ref"}}),
        )
        .await;
    let pid = stack
        .create_contact(
            fred,
            json!({"first_name": "Private", "visibility": "private"}),
        )
        .await;
    let unseen = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            sam,
            Some(json!({"custom_fields": {"partner": pid}})),
        )
        .await;
    assert_eq!(unseen.status, 422, "{:?}", unseen.body);
    assert_eq!(
        errors(&unseen),
        vec![pair("custom_fields.partner", "reference")]
    );
    let seen = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            fred,
            Some(json!({"custom_fields": {"partner": pid}})),
        )
        .await;
    assert_eq!(seen.status, 200, "{:?}", seen.body);
}
