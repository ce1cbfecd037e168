//! Select options renamed, removed or mapped (S3.3): a rename keeps the id and every value, a
//! removal in use is refused with the count, a mapping moves the values.

use super::sorted;
use crm_e2e_tests::{Reply, Stack, errors, json, pair};
use serde_json::Value;

/// The contacts of [`stages`]: three `open`, one `new`.
struct Stages {
    open: Vec<String>,
    new: String,
}

/// A `stage` select (new, open, won) and four contacts: three open, one new.
async fn stages(stack: &Stack, admin: &str) -> Stages {
    stack
        .create_field(
            admin,
            json!({"key": "stage", "entity": "contact", "label": "Stage",
                   "type": {"kind": "select", "options": [
                       {"id": "new", "label": "New"}, {"id": "open", "label": "Open"},
                       {"id": "won", "label": "Won"}]}}),
        )
        .await;
    let mut open = Vec::new();
    for i in 0..3 {
        let c = stack
            .create_contact(
                admin,
                json!({"first_name": format!("O{i}"), "custom_fields": {"stage": "open"}}),
            )
            .await;
        open.push(c);
    }
    let new = stack
        .create_contact(
            admin,
            json!({"first_name": "N", "custom_fields": {"stage": "new"}}),
        )
        .await;
    Stages { open, new }
}

/// Renames the option `open` to "In progress": the definition change.
async fn rename_open(stack: &Stack, admin: &str) -> Reply {
    stack
        .call(
            "PATCH",
            "/custom-fields/contact/stage",
            admin,
            Some(json!({"type": {"kind": "select", "options": [
                {"id": "new", "label": "New"}, {"id": "open", "label": "In progress"},
                {"id": "won", "label": "Won"}]}})),
        )
        .await
}

/// Sets the `new` contact's stage by the renamed option's new label: the PATCH.
async fn set_new_by_label(stack: &Stack, admin: &str, stages: &Stages) -> Reply {
    stack
        .call(
            "PATCH",
            &format!("/contacts/{}", stages.new),
            admin,
            Some(json!({"custom_fields": {"stage": "In Progress"}})),
        )
        .await
}

/// [`stages`], `open` renamed and the `new` contact moved to it by label: the open contacts,
/// original (three) and now (four).
async fn four_open(stack: &Stack, admin: &str) -> (Vec<String>, Vec<String>) {
    let stages = stages(stack, admin).await;
    assert_eq!(rename_open(stack, admin).await.status, 200);
    assert_eq!(set_new_by_label(stack, admin, &stages).await.status, 200);
    let open = stages.open.clone();
    let mut open_now = open.clone();
    open_now.push(stages.new.clone());
    (open, open_now)
}

/// The stage definition without the `open` option.
fn without_open() -> Value {
    json!({"type": {"kind": "select", "options": [
        {"id": "new", "label": "New"}, {"id": "won", "label": "Won"}]}})
}

/// Renaming an option keeps its id, so every value and filter stays, and the new label is
/// accepted as input for the same id (S3.3).
#[tokio::test]
async fn s3_3_an_option_rename_keeps_its_id_values_and_filters() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let stages = stages(&stack, &admin).await;
    let open = stages.open.clone();
    // Rename: the id stays, so every value and filter stays.
    let renamed = rename_open(&stack, &admin).await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    assert_eq!(renamed.body["migrated_records"], 0);
    assert_eq!(
        renamed.body["definition"]["type"]["options"][1]["label"],
        "In progress"
    );
    assert_eq!(
        sorted(stack.ids("/contacts?cf.stage=open", &admin).await),
        sorted(open.clone())
    );
    // The new label is accepted as input for the same id.
    let by_label = set_new_by_label(&stack, &admin, &stages).await;
    assert_eq!(by_label.body["custom_fields"]["stage"], "open");
}

/// Removing an option still in use without a mapping is refused with the count of affected
/// records, and nothing changes (S3.3).
#[tokio::test]
async fn s3_3_removing_an_option_in_use_is_refused_with_the_count() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (_, open_now) = four_open(&stack, &admin).await;
    // Removing `open` without a mapping: refused with the count, nothing changed.
    let refused = stack
        .call(
            "PATCH",
            "/custom-fields/contact/stage",
            &admin,
            Some(without_open()),
        )
        .await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(refused.body["affected_records"], 4);
    assert_eq!(errors(&refused)[0].1, "affected_records");
    let def = stack.get("/custom-fields/contact/stage", &admin).await;
    assert_eq!(def.body["version"], 2, "unchanged");
    assert_eq!(
        sorted(stack.ids("/contacts?cf.stage=open", &admin).await),
        sorted(open_now.clone())
    );
}

/// With a mapping, the values of a removed option move (recorded in each contact's history)
/// and the option goes; a mapping to an option that does not exist is named (S3.3).
#[tokio::test]
async fn s3_3_a_mapping_moves_the_values_of_a_removed_option() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (open, open_now) = four_open(&stack, &admin).await;
    // With a mapping, the values move to `won` and the option goes.
    let mut body = without_open();
    body["option_mapping"] = json!({"open": "won"});
    let mapped = stack
        .call("PATCH", "/custom-fields/contact/stage", &admin, Some(body))
        .await;
    assert_eq!(mapped.status, 200, "{:?}", mapped.body);
    assert_eq!(mapped.body["migrated_records"], 4);
    assert_eq!(
        sorted(stack.ids("/contacts?cf.stage=won", &admin).await),
        sorted(open_now.clone())
    );
    let c = stack.get(&format!("/contacts/{}", open[0]), &admin).await;
    assert_eq!(c.body["custom_fields"]["stage"], "won");
    let history = stack
        .get(&format!("/contacts/{}/history", open[0]), &admin)
        .await;
    assert_eq!(
        history.body["items"][0]["source"], "custom_field_change:stage",
        "{:?}",
        history.body
    );
    assert_eq!(
        history.body["items"][0]["changes"][0]["field"],
        "custom_fields.stage"
    );
    // A mapping to an option that does not exist is named.
    let bad = stack
        .call(
            "PATCH",
            "/custom-fields/contact/stage",
            &admin,
            Some(
                json!({"type": {"kind": "select", "options": [{"id": "new", "label": "New"}]},
                        "option_mapping": {"won": "lost"}}),
            ),
        )
        .await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    assert_eq!(errors(&bad), vec![pair("mapping.won", "option")]);
}
