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
    assert_eq!(format!("{first:?}"), "[Processed(Completed)]");
    assert_eq!(format!("{second:?}"), "[AlreadyDone]");
    stack.runtime.ack_s3_event(&receipt).await.unwrap();
    id
}

/// An uploaded CSV is processed once even when its notification is delivered twice: the import
/// counts its rows and names each failed row's column, value and rule; another tenant cannot
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
            body["failed"].as_u64()
        ),
        (Some(4), Some(2), Some(2))
    );
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["row"], 3);
    assert_eq!(errors[0]["column"], "Email");
    assert_eq!(errors[0]["value"], "not-an-email");
    assert_eq!(errors[0]["rule"], "format");
    assert_eq!(errors[1]["row"], 4);
    assert_eq!(errors[1]["rule"], "unique");

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
        "[Processed(Completed)] [AlreadyDone]"
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
