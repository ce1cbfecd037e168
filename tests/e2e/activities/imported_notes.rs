//! Activities the system makes from an import (S6.1 with S5): a contacts file's note column
//! logs one note activity per row on its contact (origin `import`), once whatever the
//! redeliveries, and the import's undo takes them back.

use crm_e2e_tests::{Stack, json};

#[tokio::test]
async fn s6_1_an_imports_note_column_logs_one_note_per_row_and_undo_takes_them_back() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let ann = stack
        .create_contact(
            &admin,
            json!({"email": "ann@example.com", "first_name": "Ann"}),
        )
        .await;
    let (id, url) = stack
        .start_import_with(
            &admin,
            json!({"file_name": "n.csv", "mode": "upsert", "start": "on_upload"}),
        )
        .await;
    // German headers: "Notiz" is the note column.
    let csv = "E-Mail;Vorname;Notiz\nann@example.com;Ann;Met at the fair\nbo@example.com;Bo;\"Wants a demo;\nnext week\"\ncy@example.com;Cy;\n";
    stack.upload_csv(&url, csv).await;
    stack.deliver_upload_twice().await;
    let import = stack.get(&format!("/imports/{id}"), &admin).await.body;
    assert_eq!(
        (import["created"].as_u64(), import["updated"].as_u64()),
        (Some(2), Some(1)),
        "{import}"
    );
    let notes = stack.list_all("/activities?type=note", &admin).await;
    assert_eq!(notes.len(), 2, "one note per row with one, once: {notes:?}");
    let on_ann = stack
        .list_all(&format!("/contacts/{ann}/activities"), &admin)
        .await;
    assert_eq!(on_ann.len(), 1);
    assert_eq!(on_ann[0]["origin"], "import");
    assert_eq!(on_ann[0]["snippet"], "Met at the fair");
    let bo = notes
        .iter()
        .find(|n| n["snippet"] == "Wants a demo;\nnext week")
        .expect("Bo's note, its line break kept");
    assert_eq!(bo["contact_ids"].as_array().unwrap().len(), 1);

    // Undo: the created contacts go, the update is restored, the notes are taken back.
    let undo = stack
        .call("POST", &format!("/imports/{id}/undo"), &admin, None)
        .await;
    assert_eq!(undo.status, 202, "{:?}", undo.body);
    stack
        .run_import_chunks_twice(&stack.runtime.functions.import_processor)
        .await;
    let import = stack.get(&format!("/imports/{id}"), &admin).await.body;
    assert_eq!(import["status"], "undone", "{import}");
    assert!(
        stack
            .list_all("/activities?type=note", &admin)
            .await
            .is_empty()
    );
    assert!(
        stack
            .list_all(&format!("/contacts/{ann}/activities"), &admin)
            .await
            .is_empty()
    );
}
