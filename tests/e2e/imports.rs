//! Slice 2: presigned upload → S3 → import processor (S5.1, S5.3, S5.5).

use crm_e2e_tests::{Stack, json};

/// With taken@example.com already a contact, leads.csv (a BOM, a bad email, a duplicate, an
/// upper-case address) uploaded, its S3 notification delivered twice to the import processor:
/// the import's id.
async fn import_leads(stack: &Stack, admin: &str) -> String {
    // One existing contact makes row 4 a duplicate.
    stack
        .create_contact(admin, json!({"email": "taken@example.com"}))
        .await;

    let (id, url) = stack.start_import(admin, "leads.csv").await;
    let csv = "\u{feff}Name,Email\nAda Lovelace,ada@example.com\nGrace Hopper,not-an-email\n\"Hopper, Grace\",taken@example.com\nAlan Turing,ALAN@example.com\n";
    stack.upload_csv(&url, csv).await;

    // The S3 notification, as the import processor receives it.
    let mut events = stack.runtime.receive_s3_events().await.unwrap();
    assert_eq!(events.len(), 1, "one ObjectCreated notification");
    let crm_local::S3Delivery { event, receipt, .. } = events.remove(0);
    assert_eq!(
        event.records[0].event_name.as_deref(),
        Some("ObjectCreated:Put")
    );

    // Delivered twice: the second delivery changes nothing.
    let first = stack
        .runtime
        .invoke_import_processor(event.clone())
        .await
        .unwrap();
    let second = stack.runtime.invoke_import_processor(event).await.unwrap();
    assert_eq!(format!("{first:?}"), "[Processed(Queued)]");
    assert_eq!(format!("{second:?}"), "[AlreadyDone]");
    stack.runtime.ack_s3_event(&receipt).await.unwrap();
    // Its one chunk, delivered twice.
    let chunks = stack
        .run_import_chunks_twice(&stack.runtime.functions.import_processor)
        .await;
    assert_eq!(chunks, 1);
    id
}

/// An uploaded CSV is processed once even when its notification and its chunk are delivered
/// twice: the import counts its rows and names each failed row's column, value and rule; the
/// row whose email is a contact's is skipped (mode create) and reported; another tenant cannot
/// see it (S5.1, S5.3, S5.5).
#[tokio::test]
async fn s5_1_uploaded_csv_is_imported_once_even_when_the_event_is_delivered_twice() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = import_leads(&stack, &admin).await;
    let import = stack.get(&format!("/imports/{id}"), &admin).await;
    assert_eq!(import.status, 200);
    let body = &import.body;
    assert_eq!(body["status"], "completed");
    assert_eq!(
        (
            body["rows"].as_u64(),
            body["created"].as_u64(),
            body["skipped"].as_u64(),
            body["failed"].as_u64()
        ),
        (Some(4), Some(2), Some(1), Some(1))
    );
    assert_eq!(body["mode"], "create");
    assert_eq!(body["progress"]["percent"], 100);
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["row"], 3);
    assert_eq!(errors[0]["column"], "Email");
    assert_eq!(errors[0]["value"], "not-an-email");
    assert_eq!(errors[0]["rule"], "format");
    assert_eq!(errors[1]["row"], 4);
    assert_eq!(errors[1]["rule"], "exists");
    assert_eq!(errors[1]["value"], "taken@example.com");

    // Another tenant cannot see the import.
    let other = stack.token("other", "olga", "admin");
    assert_eq!(
        stack.get(&format!("/imports/{id}"), &other).await.status,
        404
    );
}

/// The valid rows become contacts once, normalised, owned by the importer, sourced from the
/// import, with one audit entry each (S5.1, S6.5).
#[tokio::test]
async fn s5_1_imported_rows_become_contacts_once_owned_by_the_importer() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let id = import_leads(&stack, &admin).await;
    let contacts = stack.call("GET", "/contacts", &admin, None).await;
    let mut emails: Vec<&str> = contacts.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["email"].as_str())
        .collect();
    emails.sort();
    assert_eq!(
        emails,
        vec!["ada@example.com", "alan@example.com", "taken@example.com"]
    );
    let ada = contacts.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == "ada@example.com")
        .unwrap();
    assert_eq!(
        (
            ada["first_name"].as_str(),
            ada["last_name"].as_str(),
            ada["import_id"].as_str()
        ),
        (Some("Ada"), Some("Lovelace"), Some(id.as_str()))
    );
    assert_eq!(ada["owner"], "alice", "the importer owns imported contacts");
    assert_eq!(ada["lead_source"], "import");
    let history = stack
        .get(
            &format!("/contacts/{}/history", ada["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(
        history.body["items"].as_array().unwrap().len(),
        1,
        "a redelivery adds no second audit entry"
    );
    assert_eq!(history.body["items"][0]["source"], format!("import:{id}"));
}

/// An imported contact belongs to the importer's team as a created one does (the importer's
/// one team; a deliberate change: imports used to leave the team empty, so teammates did not
/// see imported contacts), and the importer's teammates see it (S5.1, S1.4).
#[tokio::test]
async fn s5_1_imported_rows_belong_to_the_importers_team_like_created_ones() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let sales = stack.create_team(&admin, "Sales").await;
    for user in ["mia", "max"] {
        let member = json!({"role": "member", "teams": [sales]});
        stack.put_user(&admin, user, member).await;
    }
    let mia = stack.token("acme", "mia", "member");
    let created = stack
        .create_contact(&mia, json!({"first_name": "Created"}))
        .await;
    let (_, url) = stack.start_import(&mia, "team.csv").await;
    stack.upload_csv(&url, "Name\nImported Lead\n").await;
    let (first, second) = stack.deliver_upload_twice().await;
    assert_eq!(
        format!("{first:?} {second:?}"),
        "[Processed(Queued)] [AlreadyDone]"
    );
    let max = stack.token("acme", "max", "member");
    let seen = stack.list_all("/contacts", &max).await;
    let teams: Vec<(&str, &str)> = (seen.iter())
        .map(|c| {
            (
                c["display_name"].as_str().unwrap(),
                c["team"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        teams,
        vec![
            ("Imported Lead", sales.as_str()),
            ("Created", sales.as_str())
        ]
    );
    assert_eq!(
        stack
            .get(&format!("/contacts/{created}"), &max)
            .await
            .status,
        200
    );
}

/// A file no column of which maps fails the import with a reason, and creates nothing (S5.3).
#[tokio::test]
async fn s5_3_an_unreadable_file_fails_the_import_with_a_reason() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (id, url) = stack.start_import(&admin, "weird.csv").await;
    stack.upload_csv(&url, "foo;bar\n1;2\n").await;
    assert_eq!(stack.runtime.deliver_s3_events().await.unwrap(), 1);
    let import = stack
        .call("GET", &format!("/imports/{id}"), &admin, None)
        .await;
    assert_eq!(import.body["status"], "failed");
    assert!(
        import.body["failure_reason"]
            .as_str()
            .unwrap()
            .contains("no column maps")
    );
    assert_eq!(
        stack.call("GET", "/contacts", &admin, None).await.body["items"],
        json!([])
    );
}

/// An import request is validated: the file type, no unknown fields, writers only, and a
/// missing import is 404 (S5.1).
#[tokio::test]
async fn s5_1_import_requests_are_validated() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let viewer = stack.token("acme", "vic", "viewer");
    let r = stack
        .call(
            "POST",
            "/imports",
            &admin,
            Some(json!({"file_name": "contacts.exe"})),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.problem_field(), ("file_name".into(), "file_type".into()));
    let r = stack
        .call(
            "POST",
            "/imports",
            &admin,
            Some(json!({"file_name": "a.csv", "tenant_id": "other"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.problem_field(),
        ("tenant_id".into(), "unknown_field".into())
    );
    assert_eq!(
        stack
            .call(
                "POST",
                "/imports",
                &viewer,
                Some(json!({"file_name": "a.csv"}))
            )
            .await
            .status,
        403
    );
    assert_eq!(
        stack
            .call(
                "GET",
                &format!("/imports/{}", uuid::Uuid::now_v7()),
                &admin,
                None
            )
            .await
            .status,
        404
    );
}

/// Uploads `bytes` as import `name` and delivers its S3 event twice: the import afterwards.
async fn import_file(stack: &Stack, admin: &str, name: &str, bytes: Vec<u8>) -> serde_json::Value {
    let (id, url) = stack.start_import(admin, name).await;
    stack.upload_bytes(&url, bytes).await;
    stack.deliver_upload_twice().await;
    stack.get(&format!("/imports/{id}"), admin).await.body
}

/// A contact list as German Excel writes it (Windows-1252, `;`, quoted `;` and line breaks,
/// German headers) and the same list in UTF-16 with tabs import with every umlaut intact; the
/// detected encoding and delimiter are on the import (S5.1).
#[tokio::test]
async fn s5_1_a_german_excel_export_and_a_utf16_file_are_read_as_written() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let text = "Anrede;Vorname;Nachname;Firma;E-Mail;Telefon;Straße;PLZ;Ort;Geburtstag\r\n\
                Herr;Jürgen;Müller;\"Müller; Söhne\r\nGmbH\";juergen@example.de;+49 30 1234567;Hauptstraße 1;10115;Berlin;01.02.1970\r\n\
                ;;;;;;;;;\r\n\
                Frau;Zoë;Weiß;Café Größe;zoe@example.de;;;;;\r\n";
    let (latin, _, _) = encoding_rs::WINDOWS_1252.encode(text);
    let import = import_file(&stack, &admin, "kontakte.csv", latin.into_owned()).await;
    assert_eq!(import["status"], "completed", "{import:?}");
    assert_eq!(
        (import["rows"].as_u64(), import["created"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        import["detected"],
        json!({"format": "csv", "encoding": "windows-1252", "delimiter": ";"})
    );
    let r = stack.get("/contacts?q=müller", &admin).await;
    let juergen = &r.body["items"][0];
    // The quoted `;` and line break stayed in one cell (a company is one line, as through the API).
    assert_eq!(
        (
            &juergen["first_name"],
            &juergen["last_name"],
            &juergen["company"]
        ),
        (
            &json!("Jürgen"),
            &json!("Müller"),
            &json!("Müller; Söhne GmbH")
        )
    );

    // Phone, address and birthday columns land in their fields (the salutation has none).
    let id = juergen["id"].as_str().unwrap();
    let juergen = stack.get(&format!("/contacts/{id}"), &admin).await.body;
    assert_eq!(juergen["phones"][0]["number"], "+49 30 1234567");
    assert_eq!(
        (
            &juergen["addresses"][0]["street"],
            &juergen["addresses"][0]["postal_code"],
            &juergen["addresses"][0]["city"]
        ),
        (&json!("Hauptstraße 1"), &json!("10115"), &json!("Berlin"))
    );
    assert_eq!(juergen["birthday"], "1970-02-01");

    let tabbed = "Vorname\tNachname\tE-Mail\nŁukasz\tŻółw\tlukasz@example.pl\n";
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in tabbed.encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    let import = import_file(&stack, &admin, "kontakte-utf16.csv", utf16).await;
    assert_eq!(
        import["detected"],
        json!({"format": "csv", "encoding": "utf-16le", "delimiter": "\t"})
    );
    assert_eq!(import["created"], 1);
    let r = stack.get("/contacts?q=łukasz", &admin).await;
    assert_eq!(r.body["items"][0]["last_name"], "Żółw");
}

/// Files that are not contact lists fail whole with a reason and create nothing: an empty file,
/// an .xlsx uploaded as CSV, bytes with NULs; a file with only a header completes with no rows
/// (S5.1, S5.3).
#[tokio::test]
async fn s5_1_empty_binary_and_header_only_files_are_told_apart() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    for (name, bytes, reason) in [
        ("empty.csv", Vec::new(), "empty"),
        (
            "sheet.csv",
            b"PK\x03\x04\x14\0\x06\0\x08\0\0\0!\0".to_vec(),
            "not a spreadsheet",
        ),
        ("nul.csv", b"name\nab\0cd\n".to_vec(), "not text"),
    ] {
        let import = import_file(&stack, &admin, name, bytes).await;
        assert_eq!(import["status"], "failed", "{name}: {import:?}");
        assert!(
            import["failure_reason"].as_str().unwrap().contains(reason),
            "{name}: {import:?}"
        );
    }
    let import = import_file(&stack, &admin, "header.csv", b"name;email\r\n".to_vec()).await;
    assert_eq!(
        (&import["status"], import["rows"].as_u64()),
        (&json!("completed"), Some(0))
    );
    assert!(stack.ids("/contacts", &admin).await.is_empty());
}

/// An .xlsx written by a spreadsheet library: the sheet asked for is read, dates as dates,
/// long numbers in full (not `4.93E+10`), blank rows skipped; a sheet that does not exist fails
/// the import naming the sheets there are (S5.1).
#[tokio::test]
async fn s5_1_an_xlsx_sheet_is_read_with_dates_and_numbers_as_written() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let mut workbook = Workbook::new();
    let notes = workbook.add_worksheet();
    notes.set_name("Notes").unwrap();
    notes.write(0, 0, "nothing to import here").unwrap();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Kontakte").unwrap();
    let date = Format::new().set_num_format("dd.mm.yyyy");
    for (col, header) in ["Vorname", "Nachname", "E-Mail", "Telefon", "Geburtstag"]
        .iter()
        .enumerate()
    {
        sheet.write(0, col as u16, *header).unwrap();
    }
    sheet.write(1, 0, "Grete").unwrap();
    sheet.write(1, 1, "Weiß").unwrap();
    sheet.write(1, 2, "grete@example.de").unwrap();
    sheet.write(1, 3, 4930123456789_f64).unwrap();
    let birthday = ExcelDateTime::from_ymd(1985, 7, 14).unwrap();
    sheet
        .write_datetime_with_format(1, 4, &birthday, &date)
        .unwrap();
    // Row 3 stays blank; row 4 has a contact without a birthday.
    sheet.write(3, 0, "Hans").unwrap();
    sheet.write(3, 2, "hans@example.de").unwrap();
    let bytes = workbook.save_to_buffer().unwrap();

    let body = json!({"file_name": "kontakte.xlsx", "sheet": "Kontakte", "start": "on_upload"});
    let r = stack.call("POST", "/imports", &admin, Some(body)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let (id, url) = (
        r.body["import"]["id"].as_str().unwrap(),
        r.body["upload"]["url"].as_str().unwrap(),
    );
    let content_type = r.body["upload"]["headers"]["content-type"]
        .as_str()
        .unwrap();
    assert_eq!(
        content_type,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let put = reqwest::Client::new()
        .put(url)
        .header("content-type", content_type)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    stack.deliver_upload_twice().await;
    let import = stack.get(&format!("/imports/{id}"), &admin).await.body;
    assert_eq!(import["status"], "completed", "{import:?}");
    assert_eq!(
        import["detected"],
        json!({"format": "xlsx", "sheet": "Kontakte"})
    );
    assert_eq!(
        (import["rows"].as_u64(), import["created"].as_u64()),
        (Some(2), Some(2))
    );
    let r = stack.get("/contacts?q=grete", &admin).await;
    let grete = stack
        .get(
            &format!("/contacts/{}", r.body["items"][0]["id"].as_str().unwrap()),
            &admin,
        )
        .await
        .body;
    assert_eq!(grete["birthday"], "1985-07-14");
    assert_eq!(grete["phones"][0]["number"], "4930123456789");
    assert_eq!(grete["last_name"], "Weiß");

    // A sheet the workbook does not have.
    let body = json!({"file_name": "kontakte.xlsx", "sheet": "Kunden", "start": "on_upload"});
    let r = stack.call("POST", "/imports", &admin, Some(body)).await;
    let (id, url) = (
        r.body["import"]["id"].as_str().unwrap(),
        r.body["upload"]["url"].as_str().unwrap(),
    );
    reqwest::Client::new()
        .put(url)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    stack.deliver_upload_twice().await;
    let import = stack.get(&format!("/imports/{id}"), &admin).await.body;
    assert_eq!(import["status"], "failed");
    assert_eq!(
        import["failure_reason"],
        "the workbook has no sheet \"Kunden\"; its sheets: Notes, Kontakte"
    );
}

/// `GET /imports` lists the tenant's imports newest first, a page at a time; another tenant's
/// list does not hold them (S5.5).
#[tokio::test]
async fn s5_5_a_tenants_imports_are_listed_newest_first() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let mut ids = Vec::new();
    for name in ["a.csv", "b.xlsx", "c.csv"] {
        ids.push(stack.start_import(&admin, name).await.0);
    }
    ids.reverse();
    assert_eq!(stack.ids("/imports?limit=1", &admin).await, ids);
    let page = stack.get("/imports", &admin).await.body;
    assert_eq!(page["items"][1]["file_name"], "b.xlsx");
    let other = stack.token("other", "olga", "admin");
    assert!(stack.ids("/imports", &other).await.is_empty());
}
