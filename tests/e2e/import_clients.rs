//! Clients as an import entity and contacts related to clients by company name (S5.1–S5.3,
//! S5.5): through the gateway, every S3 event and chunk delivered twice, chunks of one batch
//! each so that a name seen in an earlier batch is still known.

use crm_e2e_tests::{Stack, json};
use import_processor::ImportProcessor;
use serde_json::Value;
use std::time::Duration;

/// Chunks of at most 40 rows in batches of 20, the time budget spent at once.
fn small_chunks(stack: &Stack) -> ImportProcessor {
    let mut processor = ImportProcessor::new(stack.runtime.deps("import-processor").unwrap())
        .expect("the import processor's configuration");
    processor.settings.rows_per_chunk = 40;
    processor.settings.batch_rows = 20;
    processor.settings.time_budget = Duration::ZERO;
    processor
}

fn named<'a>(clients: &'a [Value], name: &str) -> Vec<&'a Value> {
    clients.iter().filter(|c| c["name"] == name).collect()
}

fn errors_by_row(import: &Value) -> Vec<(u64, String, String)> {
    import["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["column"].as_str().unwrap_or_default().to_string(),
                e["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A clients file with German headers in mode upsert: a name an existing client has (in other
/// case) updates it, blank cells keeping its values; new names become clients with their
/// master data; a name twice in the file (in the same batch and across batches) is imported
/// once; a name two clients share is reported, not guessed; bad cells fail their row only.
/// The undo then deletes the created clients and restores the updated one.
#[tokio::test]
async fn s5_1_clients_import_by_name_with_modes_duplicates_and_undo() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let processor = small_chunks(&stack);
    let mueller = stack
        .create_client(
            &admin,
            json!({"name": "Müller GmbH", "industry": "Maschinenbau", "vat_id": "DE111111111"}),
        )
        .await;
    for _ in 0..2 {
        stack
            .create_client(&admin, json!({"name": "Twin AG"}))
            .await;
    }
    let mut csv = String::from(
        "Firma;Domain;Branche;Mitarbeiter;Status;Zahlungsziel;USt-IdNr;Straße;PLZ;Ort;Land;Notiz\n",
    );
    // Line 2: the existing client, in other case; a blank vat id keeps its own.
    csv.push_str("MÜLLER GMBH;;Anlagenbau;250;Aktiv;30 Tage;;Hauptstr. 1;10115;Berlin;de;x\n");
    csv.push_str("müller gmbh;;;;;;;;;;;same batch\n"); // line 3: duplicate of line 2
    for i in 0..45 {
        // Lines 4..=48: new clients.
        csv.push_str(&format!(
            "Neu {i} GmbH;https://www.neu{i}.example/;Handel;1.200;Interessent;14;DE{:09};;;;AT;\n",
            100_000 + i
        ));
    }
    csv.push_str("Neu 0 GmbH;;;;;;;;;;;later batch\n"); // line 49: duplicate of line 4
    csv.push_str("twin ag;;;;;;;;;;;\n"); // line 50: ambiguous
    csv.push_str("Kaputt KG;;;many;;;;;;;;\n"); // line 51: bad size
    csv.push_str(";nameless.example;;;;;;;;;;\n"); // line 52: no name
    let (id, url) = stack
        .start_import_with(
            &admin,
            json!({"file_name": "firmen.csv", "entity": "clients", "mode": "upsert", "start": "on_upload"}),
        )
        .await;
    let import = stack.import_with(&processor, &admin, &url, &id, &csv).await;
    assert_eq!(import["status"], "completed", "{import}");
    assert_eq!(import["entity"], "clients");
    assert_eq!(import["rows"], 51);
    assert_eq!(
        (
            import["created"].as_u64(),
            import["updated"].as_u64(),
            import["failed"].as_u64()
        ),
        (Some(45), Some(1), Some(5)),
        "{import}"
    );
    let errors = errors_by_row(&import);
    assert!(errors.contains(&(3, "Firma".into(), "duplicate".into())));
    assert!(
        errors.contains(&(49, "Firma".into(), "duplicate".into())),
        "{errors:?}"
    );
    assert!(errors.contains(&(50, "Firma".into(), "ambiguous".into())));
    assert!(errors.contains(&(51, "Mitarbeiter".into(), "one_of".into())));
    assert!(errors.contains(&(52, "name".into(), "required".into())));

    let clients = stack.list_all("/clients?limit=200", &admin).await;
    assert_eq!(clients.len(), 3 + 45, "every new name once");
    let m = stack.get(&format!("/clients/{mueller}"), &admin).await.body;
    assert_eq!(m["name"], "Müller GmbH", "the match key stays as it was");
    assert_eq!(m["industry"], "Anlagenbau");
    assert_eq!(m["size"], "201-1000");
    assert_eq!(m["status"], "active");
    assert_eq!(m["payment_terms_days"], 30);
    assert_eq!(m["vat_id"], "DE111111111", "a blank cell never overwrites");
    assert_eq!(m["billing_address"]["city"], "Berlin");
    assert_eq!(m["billing_address"]["country"], "DE");
    let neu = named(&clients, "Neu 7 GmbH");
    assert_eq!(neu.len(), 1);
    assert_eq!(neu[0]["domain"], "neu7.example");
    assert_eq!(neu[0]["size"], "1001+");
    assert_eq!(neu[0]["status"], "prospect");
    assert_eq!(neu[0]["owner"], "alice");
    assert_eq!(neu[0]["billing_address"]["country"], "AT");

    // Undo: the created clients are deleted (clients have no trash), Müller is restored.
    let undo = stack
        .call("POST", &format!("/imports/{id}/undo"), &admin, None)
        .await;
    assert_eq!(undo.status, 202, "{:?}", undo.body);
    stack.run_import_chunks_twice(&processor).await;
    let import = stack.get(&format!("/imports/{id}"), &admin).await.body;
    assert_eq!(import["status"], "undone", "{import}");
    assert_eq!(import["undo"]["trashed"], 45);
    assert_eq!(import["undo"]["restored"], 1);
    assert_eq!(stack.list_all("/clients?limit=200", &admin).await.len(), 3);
    let m = stack.get(&format!("/clients/{mueller}"), &admin).await.body;
    assert_eq!(m["industry"], "Maschinenbau");
    assert!(m.get("size").is_none() || m["size"].is_null(), "{m}");
}

/// A clients import in mode create skips a name a client has; a contacts template cannot
/// start a clients import; `link_clients` belongs to contact imports.
#[tokio::test]
async fn s5_2_clients_import_create_mode_and_entity_checks() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let retail = stack.create_team(&admin, "Retail").await;
    stack
        .put_user(
            &admin,
            "bob",
            json!({"role": "member", "email": "bob@example.com", "teams": [retail]}),
        )
        .await;
    stack.create_client(&admin, json!({"name": "Acme"})).await;
    let refused = stack
        .call(
            "POST",
            "/imports",
            &admin,
            Some(json!({"file_name": "c.csv", "entity": "clients", "link_clients": "existing"})),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert_eq!(
        refused.problem_field(),
        ("link_clients".into(), "contacts_only".into())
    );
    let template = stack
        .call(
            "POST",
            "/import-templates",
            &admin,
            Some(json!({"name": "people", "mapping": {"columns": [{"column": "Mail", "target": "email"}]}})),
        )
        .await;
    assert_eq!(template.status, 201, "{:?}", template.body);
    let wrong = stack
        .call(
            "POST",
            "/imports",
            &admin,
            Some(json!({"file_name": "c.csv", "entity": "clients", "template": "people"})),
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert_eq!(wrong.problem_field(), ("template".into(), "entity".into()));
    let bad_target = stack
        .call(
            "POST",
            "/import-templates",
            &admin,
            Some(json!({"name": "firms", "entity": "clients", "mapping": {"columns": [{"column": "Vorname", "target": "first_name"}]}})),
        )
        .await;
    assert_eq!(bad_target.status, 422, "first_name is no client field");

    let (id, url) = stack
        .start_import_with(&admin, json!({"file_name": "c.csv", "entity": "clients"}))
        .await;
    stack
        .upload_csv(&url, "Company name,Industry,Company Domain Name,Company owner,Team\nACME,Software,acme.example,,\nBeta,Retail,beta.example,bob@example.com,Retail\n")
        .await;
    stack.deliver_upload_twice().await;
    let preview = stack.get(&format!("/imports/{id}/preview"), &admin).await;
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    let targets: Vec<&str> = preview.body["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["target"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        targets,
        vec!["name", "industry", "domain", "owner", "team"],
        "HubSpot's company headers"
    );
    let started = stack
        .call(
            "POST",
            &format!("/imports/{id}/start"),
            &admin,
            Some(json!({})),
        )
        .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    stack
        .run_import_chunks_twice(&stack.runtime.functions.import_processor)
        .await;
    let import = stack.get(&format!("/imports/{id}"), &admin).await.body;
    assert_eq!(
        (import["created"].as_u64(), import["skipped"].as_u64()),
        (Some(1), Some(1)),
        "{import}"
    );
    assert_eq!(
        errors_by_row(&import),
        vec![(2, "Company name".into(), "exists".into())]
    );
    let clients = stack.list_all("/clients?limit=200", &admin).await;
    let beta = named(&clients, "Beta");
    assert_eq!(beta[0]["owner"], "bob", "the owner by user email: {beta:?}");
    assert_eq!(beta[0]["team"], retail.as_str(), "the team by name");
}

/// Contacts relate to clients by their company cell: `create_missing` links a company name to
/// the one client the importer sees under it, creates one client per missing name (across
/// batches and redeliveries), links nothing for a name two clients share; an existing contact
/// the import updates is linked too. `existing` creates no client.
#[tokio::test]
async fn s5_2_contacts_link_to_clients_by_company_name() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let processor = small_chunks(&stack);
    let acme = stack.create_client(&admin, json!({"name": "Acme"})).await;
    for _ in 0..2 {
        stack.create_client(&admin, json!({"name": "Twin"})).await;
    }
    let old = stack
        .create_contact(
            &admin,
            json!({"email": "old@example.com", "job_title": "CFO"}),
        )
        .await;
    let mut csv = String::from("E-Mail;Firma;Position\n");
    csv.push_str("old@example.com;ACME;\n"); // line 2: existing contact, updated and linked
    for i in 0..50 {
        // Lines 3..=52: Beta GmbH in every batch, Acme, Twin, none.
        let company = match i % 4 {
            0 => "Beta GmbH",
            1 => "acme",
            2 => "Twin",
            _ => "",
        };
        csv.push_str(&format!("p{i}@example.com;{company};Dev\n"));
    }
    let (id, url) = stack
        .start_import_with(
            &admin,
            json!({"file_name": "p.csv", "mode": "upsert", "link_clients": "create_missing", "start": "on_upload"}),
        )
        .await;
    let import = stack.import_with(&processor, &admin, &url, &id, &csv).await;
    assert_eq!(import["status"], "completed", "{import}");
    assert_eq!(import["link_clients"], "create_missing");
    assert_eq!(
        (import["created"].as_u64(), import["updated"].as_u64()),
        (Some(50), Some(1))
    );
    let clients = stack.list_all("/clients?limit=200", &admin).await;
    let beta = named(&clients, "Beta GmbH");
    assert_eq!(beta.len(), 1, "one client per missing name: {clients:?}");
    let beta = beta[0]["id"].as_str().unwrap().to_string();
    assert_eq!(clients.len(), 4);

    let of_client = |client: &str| format!("/contacts?client={client}&limit=200");
    assert_eq!(stack.ids(&of_client(&beta), &admin).await.len(), 13);
    let acme_contacts = stack.ids(&of_client(&acme), &admin).await;
    assert_eq!(acme_contacts.len(), 14, "13 new and the updated one");
    assert!(acme_contacts.contains(&old));
    for twin in named(&clients, "Twin") {
        let twin = twin["id"].as_str().unwrap();
        assert!(stack.ids(&of_client(twin), &admin).await.is_empty());
    }
    let links = stack
        .get(&format!("/contacts/{old}/clients"), &admin)
        .await
        .body;
    assert_eq!(links["items"][0]["client_id"], acme.as_str(), "{links}");
    let contact = stack.get(&format!("/contacts/{old}"), &admin).await.body;
    assert_eq!(contact["primary_client_id"], acme.as_str());
    assert_eq!(contact["company"], "ACME");

    // `existing`: a missing name stays text.
    let (id, url) = stack
        .start_import_with(
            &admin,
            json!({"file_name": "q.csv", "link_clients": "existing", "start": "on_upload"}),
        )
        .await;
    let import = stack
        .import_with(
            &processor,
            &admin,
            &url,
            &id,
            "Email,Company\nq1@example.com,Gamma\nq2@example.com,Beta GmbH\n",
        )
        .await;
    assert_eq!(import["created"], 2, "{import}");
    assert_eq!(stack.list_all("/clients?limit=200", &admin).await.len(), 4);
    assert_eq!(stack.ids(&of_client(&beta), &admin).await.len(), 14);
}
