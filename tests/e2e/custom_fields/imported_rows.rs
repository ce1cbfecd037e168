//! Imported rows fill custom fields through the same validator as the API (S3.3, S5.1).

use crm_e2e_tests::{Stack, json};

/// Two contact fields (`tier`, labelled "Customer tier"; `seats`) and a CSV naming them by label
/// and by `cf.{key}`, uploaded, its notification delivered twice: the import's id.
async fn import_with_custom_columns(stack: &Stack, admin: &str) -> String {
    stack
        .create_field(
            admin,
            json!({"key": "tier", "entity": "contact", "label": "Customer tier",
                   "type": {"kind": "select", "options": [{"id": "gold", "label": "Gold"}, {"id": "silver", "label": "Silver"}]}}),
        )
        .await;
    stack
        .create_field(
            admin,
            json!({"key": "seats", "entity": "contact", "label": "Seats",
                   "type": {"kind": "integer", "min": 1}}),
        )
        .await;
    let (id, url) = stack.start_import(admin, "leads.csv").await;
    // Columns by label and by `cf.{key}`; row 3 breaks two rules.
    let csv = "Name,Email,Customer Tier,cf.seats\nAda Lovelace,ada@example.com,Gold,12\nBob Byte,bob@example.com,Bronze,0\n";
    stack.upload_csv(&url, csv).await;
    // The notification delivered twice: the second delivery writes nothing again.
    let (first, second) = stack.deliver_upload_twice().await;
    assert_eq!(format!("{first:?}"), "[Processed(Queued)]");
    assert_eq!(format!("{second:?}"), "[AlreadyDone]");
    id
}

/// Custom columns of an import, by label or `cf.{key}`, are validated like the API's values:
/// each broken one is named with its column, value and rule (S3.3, S5.1).
#[tokio::test]
async fn s3_3_imported_custom_values_are_validated_naming_column_value_and_rule() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = import_with_custom_columns(&stack, &admin).await;
    let import = stack.get(&format!("/imports/{id}"), &admin).await;
    assert_eq!(import.body["status"], "completed", "{:?}", import.body);
    assert_eq!(import.body["created"], 1);
    let mut row_errors: Vec<(String, String, String)> = import.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["column"].as_str().unwrap_or("").to_string(),
                e["value"].as_str().unwrap_or("").to_string(),
                e["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    row_errors.sort();
    assert_eq!(
        row_errors,
        vec![
            (
                "Customer Tier".to_string(),
                "Bronze".to_string(),
                "option".to_string()
            ),
            ("cf.seats".to_string(), "0".to_string(), "min".to_string()),
        ]
    );
}

/// A valid imported row stores its custom values normalised, and filters find it (S3.3, S3.5).
#[tokio::test]
async fn s3_3_imported_custom_values_are_stored_and_filtered() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    import_with_custom_columns(&stack, &admin).await;
    let found = stack
        .ids("/contacts?cf.tier=gold&cf.seats[gte]=10", &admin)
        .await;
    assert_eq!(found.len(), 1);
    let c = stack.get(&format!("/contacts/{}", found[0]), &admin).await;
    assert_eq!(
        c.body["custom_fields"],
        json!({"tier": "gold", "seats": 12})
    );
}
