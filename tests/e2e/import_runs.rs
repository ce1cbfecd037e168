//! Imports at scale (S5.3, S5.5): chunks from the import queue with checkpoints, each delivered
//! twice; modes; in-file duplicates; cancel; throttling on the table.

use crm_e2e_tests::{Stack, json};
use import_processor::ImportProcessor;
use std::collections::BTreeSet;
use std::time::Duration;

/// An import processor whose chunks are tiny: 100 rows at most, 30 per batch, 2 KiB windows
/// (records are cut off at window ends), and a time budget spent at once (a forced early
/// deadline: every chunk hands on after one batch).
fn tiny_chunks(stack: &Stack) -> ImportProcessor {
    let mut processor = ImportProcessor::new(stack.runtime.deps("import-processor").unwrap())
        .expect("the import processor's configuration");
    processor.settings.rows_per_chunk = 100;
    processor.settings.batch_rows = 30;
    processor.settings.window_bytes = 2048;
    processor.settings.time_budget = Duration::ZERO;
    processor
}

/// A file of `rows` contacts; every 97th row has a bad email, and every 50th a note with a
/// quoted line break (so records and lines differ). Returns the file and, per bad row, its line.
fn contacts_file(rows: usize) -> (String, Vec<u64>) {
    let mut csv = String::from("First name;Last name;E-Mail;Firma;Notiz\n");
    let mut line = 2u64;
    let mut bad = Vec::new();
    for i in 0..rows {
        let email = if i % 97 == 96 {
            bad.push(line);
            format!("broken-{i}")
        } else {
            format!("person{i}@example.com")
        };
        let note = if i % 50 == 0 {
            "\"first line\nsecond; line\""
        } else {
            "plain"
        };
        csv.push_str(&format!(
            "Name{i};Family{i};{email};\"Firma {i}; GmbH\";{note}\n"
        ));
        line += if i % 50 == 0 { 2 } else { 1 };
    }
    (csv, bad)
}

/// 1,050 rows in chunks of at most one batch, each chunk and the S3 event delivered twice:
/// every row is written once, the counters are exact, and the bad rows are reported with their
/// lines in the file (S5.3).
#[tokio::test]
async fn s5_3_tiny_chunks_and_an_early_deadline_write_every_row_once() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let processor = tiny_chunks(&stack);
    let (csv, bad) = contacts_file(1050);
    let (id, url) = stack.start_import(&admin, "big.csv").await;
    let import = stack.import_with(&processor, &admin, &url, &id, &csv).await;
    assert_eq!(import["status"], "completed", "{import}");
    let good = 1050 - bad.len() as u64;
    assert_eq!(
        (
            import["rows"].as_u64(),
            import["created"].as_u64(),
            import["failed"].as_u64(),
            import["skipped"].as_u64(),
        ),
        (Some(1050), Some(good), Some(bad.len() as u64), Some(0))
    );
    assert_eq!(import["progress"]["percent"], 100);
    assert_eq!(import["progress"]["bytes_done"], csv.len());
    let reported: Vec<u64> = import["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["row"].as_u64().unwrap())
        .collect();
    assert_eq!(reported, bad, "each bad row is reported at its line");
    assert_eq!(import["errors"][0]["value"], "broken-96");

    let contacts = stack.list_all("/contacts?limit=200", &admin).await;
    assert_eq!(contacts.len() as u64, good, "every good row once");
    let emails: BTreeSet<&str> = contacts
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len() as u64, good);
    let first = contacts
        .iter()
        .find(|c| c["email"] == "person0@example.com")
        .unwrap();
    let (stack_ref, admin_ref) = (&stack, &admin);
    let row_of = |c: &serde_json::Value| {
        let path = format!("/contacts/{}", c["id"].as_str().unwrap());
        async move { stack_ref.get(&path, admin_ref).await.body["import_row"].clone() }
    };
    assert_eq!(first["company"], "Firma 0; GmbH");
    assert_eq!(row_of(first).await, 2);
    // After a record with a line break, rows keep their file lines.
    let after = contacts
        .iter()
        .find(|c| c["email"] == "person1@example.com")
        .unwrap();
    assert_eq!(row_of(after).await, 4);
    let history = stack
        .get(
            &format!("/contacts/{}/history", first["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(history.body["items"].as_array().unwrap().len(), 1);
}

/// Update mode fills existing contacts from non-blank cells and skips unknown emails; upsert
/// also creates; a second row with an email of an earlier row is reported, not imported twice
/// (S5.3).
#[tokio::test]
async fn s5_3_update_and_upsert_fill_existing_contacts_and_report_duplicates() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let ann = stack
        .create_contact(
            &admin,
            json!({"first_name": "Ann", "email": "ann@example.com", "job_title": "CEO", "company": "Old"}),
        )
        .await;
    let bob = stack
        .create_contact(
            &admin,
            json!({"first_name": "Bob", "email": "bob@example.com"}),
        )
        .await;
    let processor = &stack.runtime.functions.import_processor;

    let (id, url) = stack
        .start_import_with(
            &admin,
            json!({"file_name": "update.csv", "mode": "update", "start": "on_upload"}),
        )
        .await;
    let csv = "First name,Email,Company,Job title\n,ANN@example.com,New,\nCarl,carl@example.com,X,\nAnnie,ann@example.com,Dup,\n";
    let import = stack.import_with(processor, &admin, &url, &id, csv).await;
    assert_eq!(
        (
            import["created"].as_u64(),
            import["updated"].as_u64(),
            import["skipped"].as_u64(),
            import["failed"].as_u64()
        ),
        (Some(0), Some(1), Some(1), Some(1)),
        "{import}"
    );
    let rules: Vec<(u64, &str)> = import["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["rule"].as_str().unwrap()))
        .collect();
    assert_eq!(rules, vec![(3, "no_match"), (4, "duplicate")]);
    let a = stack.get(&format!("/contacts/{ann}"), &admin).await.body;
    assert_eq!(
        (&a["first_name"], &a["job_title"], &a["company"]),
        (&json!("Ann"), &json!("CEO"), &json!("New")),
        "blank cells never overwrite"
    );
    assert!(
        stack
            .list_all("/contacts?limit=200", &admin)
            .await
            .iter()
            .all(|c| c["email"] != "carl@example.com"),
        "update mode creates nothing"
    );

    let (id, url) = stack
        .start_import_with(
            &admin,
            json!({"file_name": "upsert.csv", "mode": "upsert", "start": "on_upload"}),
        )
        .await;
    let csv = "Email,Job title\nbob@example.com,CTO\ndora@example.com,CFO\nDORA@example.com,COO\n";
    let import = stack.import_with(processor, &admin, &url, &id, csv).await;
    assert_eq!(
        (
            import["created"].as_u64(),
            import["updated"].as_u64(),
            import["failed"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{import}"
    );
    assert_eq!(import["errors"][0]["rule"], "duplicate");
    assert_eq!(import["errors"][0]["row"], 4);
    let b = stack.get(&format!("/contacts/{bob}"), &admin).await.body;
    assert_eq!(
        (&b["first_name"], &b["job_title"]),
        (&json!("Bob"), &json!("CTO"))
    );
    let dora: Vec<_> = stack
        .list_all("/contacts?limit=200", &admin)
        .await
        .into_iter()
        .filter(|c| c["email"] == "dora@example.com")
        .collect();
    assert_eq!(dora.len(), 1);
    assert_eq!(dora[0]["job_title"], "CFO", "the first row wins");
}

/// A cancelled import stops before its next chunk: the rows written stay and are counted; a
/// second cancel answers the same; a finished import cannot be cancelled; others see 404 and
/// viewers may not cancel (S5.5).
#[tokio::test]
async fn s5_5_a_cancelled_import_stops_between_chunks() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let processor = tiny_chunks(&stack);
    let (csv, _) = contacts_file(300);
    let (id, url) = stack.start_import(&admin, "cancel.csv").await;
    stack.upload_csv(&url, &csv).await;
    let mut events = stack.runtime.receive_s3_events().await.unwrap();
    let crm_local::S3Delivery { event, receipt, .. } = events.remove(0);
    processor.handle(event).await.unwrap();
    stack.runtime.ack_s3_event(&receipt).await.unwrap();
    // The first chunk runs; then the import is cancelled.
    let batch = stack
        .runtime
        .receive_sqs_batch("ImportQueue")
        .await
        .unwrap()
        .expect("chunk 0");
    assert!(
        processor
            .handle_chunks(batch.clone())
            .await
            .batch_item_failures
            .is_empty()
    );
    stack
        .runtime
        .ack_sqs_batch("ImportQueue", &batch)
        .await
        .unwrap();
    let path = format!("/imports/{id}/cancel");
    let viewer = stack.token("acme", "vera", "viewer");
    assert_eq!(stack.call("POST", &path, &viewer, None).await.status, 403);
    let other = stack.token("other", "olga", "admin");
    assert_eq!(stack.call("POST", &path, &other, None).await.status, 404);
    let cancelled = stack.call("POST", &path, &admin, None).await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    let again = stack.call("POST", &path, &admin, None).await;
    assert_eq!(
        (again.status, &again.body["status"]),
        (200, &json!("cancelled"))
    );
    // The next chunk's message finds the import cancelled and does nothing.
    stack.run_import_chunks_twice(&processor).await;
    let import = stack.get(&format!("/imports/{id}"), &admin).await.body;
    assert_eq!(import["status"], "cancelled");
    assert_eq!(import["rows"], 30, "one batch ran before the cancel");
    assert_eq!(
        import["errors_file"]["rows"], 0,
        "its errors file, written at the stop"
    );
    let contacts = stack.list_all("/contacts?limit=200", &admin).await;
    assert_eq!(contacts.len(), 30);

    // A completed import cannot be cancelled.
    let (id, url) = stack.start_import(&admin, "done.csv").await;
    stack.upload_csv(&url, "Email\nzed@example.com\n").await;
    stack.deliver_upload_twice().await;
    let done = stack
        .call("POST", &format!("/imports/{id}/cancel"), &admin, None)
        .await;
    assert_eq!(done.status, 409, "{:?}", done.body);
}

/// Throttling and unprocessed items on the table's batch writes are retried with backoff: the
/// import completes with every row once (S5.3).
#[tokio::test]
async fn s5_3_throttled_and_unprocessed_batch_writes_are_retried() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let table = stack.runtime.provisioned.resolved.refs["CrmTable"].clone();
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("the local endpoint");
    let faults = format!("{endpoint}/_faults/dynamodb");
    let http = reqwest::Client::new();
    let armed = http
        .post(&faults)
        .json(&json!({"table": table, "operations": ["BatchWriteItem"], "throttle": 6, "unprocessed": 4}))
        .send()
        .await
        .unwrap();
    assert!(armed.status().is_success());
    let (csv, bad) = contacts_file(120);
    let (id, url) = stack.start_import(&admin, "throttled.csv").await;
    let import = stack
        .import_with(
            &stack.runtime.functions.import_processor,
            &admin,
            &url,
            &id,
            &csv,
        )
        .await;
    let fired: serde_json::Value = http
        .get(&faults)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Only this test's rules: other tests arm theirs on the same endpoint.
    http.delete(&faults)
        .query(&[("table", &table)])
        .send()
        .await
        .unwrap();
    assert_eq!(import["status"], "completed", "{import}");
    assert_eq!(import["created"].as_u64(), Some(120 - bad.len() as u64));
    let contacts = stack.list_all("/contacts?limit=200", &admin).await;
    assert_eq!(contacts.len() as u64, 120 - bad.len() as u64);
    let text = fired.to_string();
    assert!(
        text.contains("throttle") && text.contains("unprocessed"),
        "{text}"
    );
}

/// The errors file holds the failed and skipped rows as they were in the file with their
/// reasons in a last column; fixed and uploaded again (that column and all), it imports the
/// rows it held. Before the import ends there is no file; other tenants see 404 (S5.5).
#[tokio::test]
async fn s5_5_the_errors_file_round_trips_through_a_fix_and_a_new_import() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    stack
        .create_contact(&admin, json!({"email": "taken@example.com"}))
        .await;
    let (id, url) = stack.start_import(&admin, "kontakte.csv").await;
    let errors_path = format!("/imports/{id}/errors");
    assert_eq!(
        stack.get(&errors_path, &admin).await.status,
        409,
        "not ended yet"
    );
    // Windows-1252, `;`, German headers, a quoted `;`: two bad rows and one taken email.
    let text = "Vorname;Nachname;E-Mail;Firma;Geburtstag\n\
                Jürgen;Groß;juergen@example.com;\"Müller; Söhne\";01.02.1970\n\
                Anna;Bär;anna(at)example.com;X;02.03.1980\n\
                Otto;Öz;otto@example.com;Y;31.02.1990\n\
                Tina;Tee;taken@example.com;Z;\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(text);
    stack.upload_bytes(&url, bytes.into_owned()).await;
    stack.deliver_upload_twice().await;
    let import = stack.get(&format!("/imports/{id}"), &admin).await.body;
    assert_eq!(
        (
            import["created"].as_u64(),
            import["failed"].as_u64(),
            import["skipped"].as_u64()
        ),
        (Some(1), Some(2), Some(1)),
        "{import}"
    );
    assert_eq!(import["errors_file"]["rows"], 3);

    let other = stack.token("other", "olga", "admin");
    assert_eq!(stack.get(&errors_path, &other).await.status, 404);
    let download = stack.get(&errors_path, &admin).await;
    assert_eq!(download.status, 200, "{:?}", download.body);
    assert_eq!(download.body["file_name"], "kontakte-errors.csv");
    let file = reqwest::get(download.body["url"].as_str().unwrap())
        .await
        .unwrap();
    assert!(file.status().is_success());
    let disposition = file.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.contains("kontakte-errors.csv"), "{disposition}");
    let csv = file.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("Vorname,Nachname,E-Mail,Firma,Geburtstag,Import errors")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows[0].starts_with("Anna,Bär,anna(at)example.com,X,02.03.1980,"),
        "{csv}"
    );
    assert!(
        rows[0].contains("E-Mail:") && rows[0].contains("(format)"),
        "{csv}"
    );
    assert!(
        rows[1].starts_with("Otto,Öz,otto@example.com,Y,31.02.1990,"),
        "{csv}"
    );
    assert!(rows[1].contains("Geburtstag:"), "{csv}");
    assert!(rows[2].contains("(exists)"), "{csv}");

    // Fixed (the taken row left as it is) and imported again, the errors column and all.
    let fixed = csv
        .replace("anna(at)example.com", "anna@example.com")
        .replace("31.02.1990", "28.02.1990");
    let (id, url) = stack.start_import(&admin, "kontakte-errors.csv").await;
    stack.upload_csv(&url, &fixed).await;
    stack.deliver_upload_twice().await;
    let again = stack.get(&format!("/imports/{id}"), &admin).await.body;
    assert_eq!(
        (
            again["created"].as_u64(),
            again["failed"].as_u64(),
            again["skipped"].as_u64()
        ),
        (Some(2), Some(0), Some(1)),
        "{again}"
    );
    let emails: BTreeSet<String> = stack
        .list_all("/contacts?limit=200", &admin)
        .await
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_string())
        .collect();
    assert!(emails.contains("anna@example.com") && emails.contains("otto@example.com"));
}

/// Without a mapping the import waits as `uploaded`: the preview shows what was detected, each
/// column's suggested target and why (German and HubSpot headers), and the first rows with
/// their cells checked; a mapping that does not fit is refused naming each mistake and changes
/// nothing; started with a mapping (an ignored column, two email columns, a tag separator,
/// day-first slashed dates) it imports as mapped (S5.2).
#[tokio::test]
async fn s5_2_preview_then_start_with_an_explicit_mapping() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (id, url) = stack
        .start_import_with(&admin, json!({"file_name": "hubspot.csv"}))
        .await;
    let start_path = format!("/imports/{id}/start");
    let preview_path = format!("/imports/{id}/preview");
    assert_eq!(
        stack
            .call("POST", &start_path, &admin, Some(json!({})))
            .await
            .status,
        409
    );
    assert_eq!(stack.get(&preview_path, &admin).await.status, 409);
    let csv = "Vorname;Last Name;E-Mail;Email 2;Lifecycle Stage;Notiz;Tags;Geburtstag\n\
               Jürgen;Groß;juergen@example.com;j.gross@example.org;Kunde;egal;a/b;31/12/1970\n\
               Anna;Bär;anna(at)example.com;;Lead;;;\n";
    stack.upload_csv(&url, csv).await;
    let (first, _) = stack.deliver_upload_twice().await;
    assert_eq!(format!("{first:?}"), "[Processed(Uploaded)]");
    let import = stack.get(&format!("/imports/{id}"), &admin).await.body;
    assert_eq!(import["status"], "uploaded");
    assert!(
        import.get("started_at").is_none(),
        "it starts (and its rate counts) when started: {import}"
    );

    let preview = stack.get(&preview_path, &admin).await;
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    let p = &preview.body;
    assert_eq!(p["detected"]["delimiter"], ";");
    assert_eq!(p["header_row"], 1);
    let targets: Vec<(&str, Option<&str>)> = p["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["column"].as_str().unwrap(), c["target"].as_str()))
        .collect();
    assert_eq!(
        targets,
        vec![
            ("Vorname", Some("first_name")),
            ("Last Name", Some("last_name")),
            ("E-Mail", Some("email")),
            ("Email 2", None),
            ("Lifecycle Stage", Some("status")),
            ("Notiz", Some("note")),
            ("Tags", Some("tags")),
            ("Geburtstag", Some("birthday")),
        ]
    );
    assert!(
        p["columns"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("German")
    );
    assert_eq!(p["rows"].as_array().unwrap().len(), 2);
    assert_eq!(p["rows"][0]["row"], 2);
    assert_eq!(p["rows"][0]["cells"][0]["value"], "Jürgen");
    // Slashed dates are not read without a date order; the bad email is named on its cell.
    assert_eq!(p["rows"][0]["cells"][7]["error"]["rule"], "date");
    assert_eq!(p["rows"][1]["cells"][2]["error"]["rule"], "format");
    assert!(p["rows"][1]["cells"][0].get("error").is_none());

    // A mapping that does not fit: each mistake named, nothing changed.
    let bad = stack
        .call(
            "POST",
            &start_path,
            &admin,
            Some(json!({"mapping": {"columns": [
                {"column": "Nope", "target": "email"},
                {"column": "Vorname", "target": "shoe_size"},
                {"column": "Notiz", "target": "first_name", "separator": "/"}
            ]}})),
        )
        .await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec![
            "mapping.columns[0].column",
            "mapping.columns[1].target",
            "mapping.columns[2].separator"
        ]
    );
    assert_eq!(
        stack.get(&format!("/imports/{id}"), &admin).await.body["status"],
        "uploaded"
    );

    let mapping = json!({"columns": [
        {"column": "Vorname", "target": "first_name"},
        {"column": "Last Name", "target": "last_name"},
        {"column": "E-Mail", "target": "email"},
        {"column": "Email 2", "target": "email"},
        {"column": "Lifecycle Stage", "target": "status"},
        {"column": "Notiz", "target": "ignore"},
        {"column": "Tags", "target": "tags", "separator": "/"},
        {"column": "Geburtstag", "target": "birthday"}
    ], "date_order": "dmy"});
    let started = stack
        .call(
            "POST",
            &start_path,
            &admin,
            Some(json!({"mapping": mapping, "mode": "upsert"})),
        )
        .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    assert_eq!(started.body["status"], "queued");
    assert!(started.body["started_at"].is_string(), "{:?}", started.body);
    assert_eq!(started.body["mode"], "upsert");
    assert_eq!(
        stack
            .call("POST", &start_path, &admin, Some(json!({})))
            .await
            .status,
        409
    );
    stack
        .run_import_chunks_twice(&stack.runtime.functions.import_processor)
        .await;
    let import = stack.get(&format!("/imports/{id}"), &admin).await.body;
    assert_eq!(
        (
            &import["status"],
            import["created"].as_u64(),
            import["failed"].as_u64()
        ),
        (&json!("completed"), Some(1), Some(1)),
        "{import}"
    );
    assert_eq!(import["mapping"]["columns"][3]["target"], "email");
    let contacts = stack.list_all("/contacts?limit=200", &admin).await;
    let id = contacts[0]["id"].as_str().unwrap();
    let c = stack.get(&format!("/contacts/{id}"), &admin).await.body;
    let emails: Vec<&str> = c["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["address"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec!["juergen@example.com", "j.gross@example.org"]);
    assert_eq!(
        (&c["birthday"], &c["lifecycle_status"]),
        (&json!("1970-12-31"), &json!("customer"))
    );
    assert_eq!(c["tags"], json!(["a", "b"]));

    // The preview after the start shows the mapping.
    let after = stack.get(&preview_path, &admin).await.body;
    assert_eq!(
        (
            &after["columns"][3]["target"],
            &after["columns"][3]["reason"]
        ),
        (&json!("email"), &json!("as mapped"))
    );
    assert_eq!(after["columns"][5]["reason"], "not mapped: ignored");
    assert!(after["columns"][5].get("target").is_none());
    assert_eq!(after["rows"][0]["row"], 2);
}

/// Mapping templates are saved per tenant with unique names, checked like a mapping, changed
/// with If-Match and deleted; an import named with one starts on upload with its mapping and
/// mode (S5.2).
#[tokio::test]
async fn s5_2_import_templates_are_saved_and_named_at_create() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let mapping = json!({"columns": [
        {"column": "Mail", "target": "email"},
        {"column": "Wer", "target": "name"},
        {"column": "Rolle", "target": "job_title"}
    ]});
    let created = stack
        .call(
            "POST",
            "/import-templates",
            &admin,
            Some(json!({"name": "Messe-Liste", "mapping": mapping, "mode": "upsert"})),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let tid = created.body["id"].as_str().unwrap().to_string();
    let again = stack
        .call(
            "POST",
            "/import-templates",
            &admin,
            Some(json!({"name": "messe-liste", "mapping": mapping})),
        )
        .await;
    assert_eq!(again.status, 409, "names are unique, case aside");
    let bad = stack
        .call(
            "POST",
            "/import-templates",
            &admin,
            Some(json!({"name": "x", "mapping": {"columns": [{"column": "a", "target": "nope"}]}})),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["errors"][0]["field"], "mapping.columns[0].target");
    let viewer = stack.token("acme", "vera", "viewer");
    assert_eq!(
        stack
            .call(
                "POST",
                "/import-templates",
                &viewer,
                Some(json!({"name": "v", "mapping": mapping}))
            )
            .await
            .status,
        403
    );
    let other = stack.token("other", "olga", "admin");
    let path = format!("/import-templates/{tid}");
    assert_eq!(stack.get(&path, &other).await.status, 404);
    let stale = stack
        .request("PATCH", &path, Some(&admin))
        .header("if-match", "\"7\"")
        .json(&json!({"name": "Messe 2026"}));
    assert_eq!(stack.send(stale).await.status, 412);
    let renamed = stack
        .call("PATCH", &path, &admin, Some(json!({"name": "Messe 2026"})))
        .await;
    assert_eq!((renamed.status, &renamed.body["version"]), (200, &json!(2)));
    let list = stack.get("/import-templates", &admin).await.body;
    assert_eq!(list["items"][0]["name"], "Messe 2026");

    // Named at create: starts on upload with its mapping and mode.
    stack
        .create_contact(
            &admin,
            json!({"email": "eva@example.com", "first_name": "Eva"}),
        )
        .await;
    let (id, url) = stack
        .start_import_with(
            &admin,
            json!({"file_name": "messe.csv", "template": "messe 2026"}),
        )
        .await;
    stack
        .upload_csv(&url, "Wer,Mail,Rolle,Notiz\nEva Ernst,eva@example.com,CEO,x\nFritz Faber,fritz@example.com,CTO,y\n")
        .await;
    stack.deliver_upload_twice().await;
    let import = stack.get(&format!("/imports/{id}"), &admin).await.body;
    assert_eq!(
        (&import["status"], &import["mode"], &import["template_id"]),
        (&json!("completed"), &json!("upsert"), &json!(tid)),
        "{import}"
    );
    assert_eq!(
        (import["created"].as_u64(), import["updated"].as_u64()),
        (Some(1), Some(1))
    );

    assert_eq!(stack.call("DELETE", &path, &admin, None).await.status, 204);
    assert_eq!(stack.get(&path, &admin).await.status, 404);
    let gone = stack
        .call(
            "POST",
            "/imports",
            &admin,
            Some(json!({"file_name": "m.csv", "template": "Messe 2026"})),
        )
        .await;
    assert_eq!(gone.status, 422);
    assert_eq!(gone.body["errors"][0]["field"], "template");
}

/// Undo after a later manual change (S5.5): of the contacts the import created, the untouched
/// ones go to the trash and the one changed since stays and is reported; of those it updated,
/// the untouched one gets its values from before back (blank cells had kept the rest) and the
/// one changed since stays and is reported. Every undo page is delivered twice; asking again
/// answers the same undo.
#[tokio::test]
async fn s5_5_undo_after_a_later_manual_change() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let ann = stack
        .create_contact(
            &admin,
            json!({"email": "ann@example.com", "job_title": "CEO", "company": "Old"}),
        )
        .await;
    let bob = stack
        .create_contact(
            &admin,
            json!({"email": "bob@example.com", "job_title": "CTO"}),
        )
        .await;
    let (id, url) = stack
        .start_import_with(
            &admin,
            json!({"file_name": "u.csv", "mode": "upsert", "start": "on_upload"}),
        )
        .await;
    let undo_path = format!("/imports/{id}/undo");
    assert_eq!(
        stack.call("POST", &undo_path, &admin, None).await.status,
        409,
        "not ended"
    );
    let csv = "Email,Job title,Company\nann@example.com,Chair,\nbob@example.com,CIO,New Co\ncid@example.com,Dev,\ndan@example.com,Ops,\n";
    stack.upload_csv(&url, csv).await;
    stack.deliver_upload_twice().await;
    let import = stack.get(&format!("/imports/{id}"), &admin).await.body;
    assert_eq!(
        (import["created"].as_u64(), import["updated"].as_u64()),
        (Some(2), Some(2))
    );

    // Later, by hand: Bob and Dan change.
    let contacts = stack.list_all("/contacts?limit=200", &admin).await;
    let id_of = |email: &str| {
        contacts.iter().find(|c| c["email"] == email).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (cid, dan) = (id_of("cid@example.com"), id_of("dan@example.com"));
    for c in [&bob, &dan] {
        let r = stack
            .call(
                "PATCH",
                &format!("/contacts/{c}"),
                &admin,
                Some(json!({"website": "https://example.com"})),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }

    let viewer = stack.token("acme", "vera", "viewer");
    assert_eq!(
        stack.call("POST", &undo_path, &viewer, None).await.status,
        403
    );
    let asked = stack.call("POST", &undo_path, &admin, None).await;
    assert_eq!(
        (asked.status, &asked.body["status"]),
        (202, &json!("undoing")),
        "{:?}",
        asked.body
    );
    let again = stack.call("POST", &undo_path, &admin, None).await;
    assert_eq!(again.status, 202);
    stack
        .run_import_chunks_twice(&stack.runtime.functions.import_processor)
        .await;
    let import = stack.get(&format!("/imports/{id}"), &admin).await.body;
    assert_eq!(import["status"], "undone", "{import}");
    let undo = &import["undo"];
    assert_eq!(
        (
            undo["trashed"].as_u64(),
            undo["restored"].as_u64(),
            undo["left"].as_u64()
        ),
        (Some(1), Some(1), Some(2)),
        "{undo}"
    );
    let left: Vec<(u64, &str)> = undo["left_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["row"].as_u64().unwrap(), l["record_id"].as_str().unwrap()))
        .collect();
    assert_eq!(left, vec![(3, bob.as_str()), (5, dan.as_str())]);
    assert!(
        undo["left_rows"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("changed since")
    );

    let a = stack.get(&format!("/contacts/{ann}"), &admin).await.body;
    assert_eq!(
        (&a["job_title"], &a["company"]),
        (&json!("CEO"), &json!("Old")),
        "{a}"
    );
    let history = stack
        .get(&format!("/contacts/{ann}/history"), &admin)
        .await
        .body;
    assert_eq!(
        history["items"].as_array().unwrap().len(),
        3,
        "created, imported, undone"
    );
    let b = stack.get(&format!("/contacts/{bob}"), &admin).await.body;
    assert_eq!(
        (&b["job_title"], &b["website"]),
        (&json!("CIO"), &json!("https://example.com"))
    );
    assert_eq!(
        stack.get(&format!("/contacts/{cid}"), &admin).await.status,
        404,
        "in the trash"
    );
    let restored = stack
        .call("POST", &format!("/contacts/{cid}/restore"), &admin, None)
        .await;
    assert_eq!(restored.status, 200, "restorable from the trash");
    assert_eq!(
        stack.get(&format!("/contacts/{dan}"), &admin).await.status,
        200
    );
}

/// Owner columns take a user's email (HubSpot's "Contact owner" header), team columns a
/// team's name; an unknown one fails its row naming the column (S5.2).
#[tokio::test]
async fn s5_2_owner_by_email_and_team_by_name() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let team = stack.create_team(&admin, "Vertrieb Nord").await;
    stack
        .put_user(
            &admin,
            "bob",
            json!({"role": "member", "email": "Bob@Example.com", "teams": [team]}),
        )
        .await;
    let (id, url) = stack.start_import(&admin, "owners.csv").await;
    let csv = "Email,Contact owner,Team\nx@example.com,bob@example.com,vertrieb nord\ny@example.com,nobody@example.com,Vertrieb Nord\nz@example.com,bob@example.com,Süd\n";
    stack.upload_csv(&url, csv).await;
    stack.deliver_upload_twice().await;
    let import = stack.get(&format!("/imports/{id}"), &admin).await.body;
    assert_eq!(
        (import["created"].as_u64(), import["failed"].as_u64()),
        (Some(1), Some(2)),
        "{import}"
    );
    let errors: Vec<(&str, &str)> = import["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["column"].as_str().unwrap(), e["rule"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        vec![("Contact owner", "exists"), ("Team", "exists")]
    );
    let x = stack
        .list_all("/contacts?limit=200", &admin)
        .await
        .into_iter()
        .find(|c| c["email"] == "x@example.com")
        .unwrap();
    let x = stack
        .get(&format!("/contacts/{}", x["id"].as_str().unwrap()), &admin)
        .await
        .body;
    assert_eq!((&x["owner"], &x["team"]), (&json!("bob"), &json!(team)));
}
