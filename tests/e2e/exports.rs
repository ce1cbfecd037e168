//! Exports (S5.4): `POST /exports` → job queue → job worker → S3, `GET /exports/{id}` → a
//! presigned download.

use crm_e2e_tests::{Stack, json};
use serde_json::Value;

/// Runs every job queue message twice (as SQS may deliver it) until the queue is empty.
async fn run_jobs_twice(stack: &Stack) {
    let worker = job_worker::JobWorker::new(stack.runtime.deps("job-worker").unwrap());
    while let Some(batch) = stack.runtime.receive_sqs_batch("JobQueue").await.unwrap() {
        for _ in 0..2 {
            assert!(
                worker
                    .handle(batch.clone())
                    .await
                    .batch_item_failures
                    .is_empty()
            );
        }
        stack
            .runtime
            .ack_sqs_batch("JobQueue", &batch)
            .await
            .unwrap();
    }
}

/// Exports as `token` and downloads the file: the export and the file's bytes.
async fn run_export(stack: &Stack, token: &str, body: Value) -> (Value, Vec<u8>) {
    let started = stack.call("POST", "/exports", token, Some(body)).await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    assert_eq!(started.body["status"], "queued");
    let id = started.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        started.headers["location"].to_str().unwrap(),
        format!("/exports/{id}")
    );
    run_jobs_twice(stack).await;
    let done = stack.get(&format!("/exports/{id}"), token).await.body;
    assert_eq!(done["status"], "completed", "{done}");
    let file = reqwest::get(done["download"]["url"].as_str().unwrap())
        .await
        .unwrap();
    assert!(file.status().is_success());
    (done, file.bytes().await.unwrap().to_vec())
}

/// Bob (a member of Sales) and Alice (admin) with contacts: Bob's own, with formula-looking
/// cells, a select value, a client; Alice's private one; a salary field only admins see.
async fn setup(stack: &Stack) -> (String, String) {
    let admin = stack.token("acme", "alice", "admin");
    let sales = stack.create_team(&admin, "Sales").await;
    stack
        .put_user(
            &admin,
            "bob",
            json!({"role": "member", "email": "bob@example.com", "teams": [sales]}),
        )
        .await;
    stack
        .put_user(
            &admin,
            "alice",
            json!({"role": "admin", "email": "alice@example.com"}),
        )
        .await;
    stack
        .create_field(
            &admin,
            json!({"key": "tier", "entity": "contact", "label": "Tier",
                   "type": {"kind": "select", "options": [{"id": "gold", "label": "Gold"}, {"id": "silver", "label": "Silver"}]}}),
        )
        .await;
    stack
        .create_field(
            &admin,
            json!({"key": "salary", "entity": "contact", "label": "Salary", "type": {"kind": "text"},
                   "visibility": {"kind": "restricted", "roles": ["admin"]}}),
        )
        .await;
    let bob = stack.token("acme", "bob", "member");
    let acme = stack
        .create_client(&bob, json!({"name": "ACME GmbH"}))
        .await;
    let hidden = stack
        .create_client(
            &admin,
            json!({"name": "Hidden Corp", "visibility": "private"}),
        )
        .await;
    let mallory = stack
        .create_contact(
            &bob,
            json!({"first_name": "=HYPERLINK(\"http://evil\")", "last_name": "Mallory",
                   "email": "mallory@example.com", "company": "@SUM(1)", "job_title": "+49 30",
                   "tags": ["-minus", "vip"], "custom_fields": {"tier": "gold"}}),
        )
        .await;
    stack
        .link_contact(
            &admin,
            &mallory,
            &acme,
            json!({"role": "billing", "primary": true}),
        )
        .await;
    stack
        .link_contact(&admin, &mallory, &hidden, json!({"role": "other"}))
        .await;
    stack
        .call(
            "PATCH",
            &format!("/contacts/{mallory}"),
            &admin,
            Some(json!({"custom_fields": {"salary": "90000"}})),
        )
        .await;
    stack
        .create_contact(
            &admin,
            json!({"first_name": "Secret", "email": "secret@example.com", "visibility": "private"}),
        )
        .await;
    (admin, bob)
}

/// A member's CSV export holds what they may see (not Alice's private contact, not the name of a
/// client he may not see), relations as names, select values as labels,
/// formula-looking cells made text, and no column of a field they may not see; an admin's holds
/// that column and every contact; other tenants do not see the export (S5.4).
#[tokio::test]
async fn s5_4_a_csv_export_holds_what_the_caller_may_see_with_formulas_escaped() {
    let stack = Stack::start().await;
    let (admin, bob) = setup(&stack).await;
    let (export, bytes) = run_export(&stack, &bob, json!({"entity": "contacts"})).await;
    assert_eq!(export["rows"], 1, "{export}");
    assert!(
        export["download"]["file_name"]
            .as_str()
            .unwrap()
            .ends_with(".csv")
    );
    let csv = String::from_utf8(bytes).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert!(header.contains(&"Tier".to_string()), "{header:?}");
    assert!(
        !header.contains(&"Salary".to_string()),
        "a field Bob may not see: {header:?}"
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    let cell = |name: &str| rows[0][header.iter().position(|h| h == name).unwrap()].to_string();
    assert_eq!(cell("first_name"), "'=HYPERLINK(\"http://evil\")");
    assert_eq!(cell("company"), "'@SUM(1)");
    assert_eq!(cell("job_title"), "'+49 30");
    assert_eq!(cell("tags"), "'-minus, vip");
    assert_eq!(cell("owner"), "bob@example.com");
    assert_eq!(cell("team"), "Sales");
    assert_eq!(
        cell("clients"),
        "ACME GmbH",
        "a client Bob may not see is left out"
    );
    assert_eq!(cell("Tier"), "Gold");

    let (export, bytes) = run_export(
        &stack,
        &admin,
        json!({"entity": "contacts", "columns": ["email", "cf.salary"], "filters": {"sort": "name"}}),
    )
    .await;
    assert_eq!(export["rows"], 2);
    let csv = String::from_utf8(bytes).unwrap();
    assert_eq!(
        csv.lines().collect::<Vec<_>>(),
        vec![
            "email,Salary",
            "mallory@example.com,90000",
            "secret@example.com,"
        ]
    );

    let other = stack.token("other", "olga", "admin");
    let id = export["id"].as_str().unwrap();
    assert_eq!(
        stack.get(&format!("/exports/{id}"), &other).await.status,
        404
    );
    assert_eq!(
        stack.get(&format!("/exports/{id}"), &bob).await.status,
        404,
        "not his"
    );
}

/// Bad columns and filters are named before any job starts; an `.xlsx` export is a real
/// workbook (read back with calamine) (S5.4).
#[tokio::test]
async fn s5_4_bad_requests_are_named_and_xlsx_is_a_real_workbook() {
    let stack = Stack::start().await;
    let (admin, bob) = setup(&stack).await;
    let bad = stack
        .call(
            "POST",
            "/exports",
            &bob,
            Some(json!({"entity": "contacts", "columns": ["email", "cf.salary", "shoe"], "filters": {"bogus": "1"}})),
        )
        .await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["columns[1]", "columns[2]"]);
    let bad_filter = stack
        .call(
            "POST",
            "/exports",
            &bob,
            Some(json!({"entity": "contacts", "filters": {"bogus": "1"}})),
        )
        .await;
    assert_eq!(bad_filter.status, 422);
    assert_eq!(bad_filter.body["errors"][0]["field"], "filters.bogus");
    assert!(
        stack
            .runtime
            .receive_sqs_batch("JobQueue")
            .await
            .unwrap()
            .is_none(),
        "no job"
    );

    let (export, bytes) = run_export(
        &stack,
        &admin,
        json!({"entity": "contacts", "format": "xlsx", "columns": ["first_name", "company", "cf.tier"], "filters": {"q": "mallory"}}),
    )
    .await;
    assert_eq!(export["rows"], 1);
    use calamine::Reader;
    let mut workbook = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
        .expect("an xlsx workbook");
    let sheet = workbook.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["first_name".to_string(), "company".into(), "Tier".into()],
            vec![
                "'=HYPERLINK(\"http://evil\")".to_string(),
                "'@SUM(1)".into(),
                "Gold".into()
            ],
        ]
    );
}

/// Deals export too (S5.4): pipeline, stage, client and contacts by name, the value and its
/// currency apart, formula-looking titles made text, a deal the member may not see left out,
/// and the list filters of `GET /deals` applied.
#[tokio::test]
async fn s5_4_deals_export_names_relations_and_keeps_to_what_the_caller_sees() {
    let stack = Stack::start().await;
    let (admin, bob) = setup(&stack).await;
    let pipeline = crate::deals::sales_pipeline(&stack).await;
    let pipeline_id = pipeline["id"].as_str().unwrap();
    let proposal = crate::deals::stage(&pipeline, 1);
    let acme = stack
        .ids("/clients?limit=200", &bob)
        .await
        .into_iter()
        .next()
        .expect("Bob's client");
    let mallory = stack
        .ids("/contacts?limit=200", &bob)
        .await
        .into_iter()
        .next()
        .expect("Bob's contact");
    create_deal(
        &stack,
        &bob,
        json!({"title": "=1+1 Rollout", "pipeline_id": pipeline_id,
        "stage_id": proposal, "value": {"amount": "1200.50", "currency": "EUR"},
        "client_id": acme, "contact_ids": [mallory], "expected_close": "2027-03-31"}),
    )
    .await;
    create_deal(
        &stack,
        &bob,
        json!({"title": "Small one", "pipeline_id": pipeline_id}),
    )
    .await;
    create_deal(
        &stack,
        &admin,
        json!({"title": "Secret deal", "pipeline_id": pipeline_id,
        "visibility": "private"}),
    )
    .await;

    let (export, bytes) = run_export(
        &stack,
        &bob,
        json!({"entity": "deals", "columns": ["title", "pipeline", "stage", "value", "currency",
               "client", "contacts", "owner", "expected_close"], "filters": {"sort": "title"}}),
    )
    .await;
    assert_eq!(export["rows"], 2, "not Alice's private deal: {export}");
    assert!(
        export["download"]["file_name"]
            .as_str()
            .unwrap()
            .starts_with("deals-")
    );
    let csv = String::from_utf8(bytes).unwrap();
    assert_eq!(
        csv.lines().collect::<Vec<_>>(),
        vec![
            "title,pipeline,stage,value,currency,client,contacts,owner,expected_close",
            "'=1+1 Rollout,Sales,Proposal,1200.50,EUR,ACME GmbH,\"'=HYPERLINK(\"\"http://evil\"\") Mallory\",bob@example.com,2027-03-31",
            "Small one,Sales,Lead,,,,,bob@example.com,",
        ]
    );

    let (export, _) = run_export(
        &stack,
        &admin,
        json!({"entity": "deals", "filters": {"stage": proposal}}),
    )
    .await;
    assert_eq!(
        export["rows"], 1,
        "the stage filter of GET /deals: {export}"
    );
    let bad = stack
        .call(
            "POST",
            "/exports",
            &admin,
            Some(json!({"entity": "deals", "columns": ["clients"]})),
        )
        .await;
    assert_eq!(bad.status, 422, "clients is a contact column");
}

async fn create_deal(stack: &Stack, token: &str, body: Value) {
    let r = stack.call("POST", "/deals", token, Some(body)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}
