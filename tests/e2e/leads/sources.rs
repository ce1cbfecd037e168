//! S8.2: the lead source catalogue. Its first save takes in the free-text sources contacts
//! already have; after it an unknown source is refused naming it — on create, on patch and
//! on an import row; every contact keeps how it entered.

use crm_e2e_tests::stack::{errors, pair};
use crm_e2e_tests::{Stack, json};

#[tokio::test]
async fn s8_2_the_catalogue_takes_in_sources_in_use_then_refuses_unknown_ones() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let member = stack.token("acme", "mia", "member");
    // Free text before the catalogue exists.
    let fair = stack
        .create_contact(
            &admin,
            json!({"first_name": "Ada", "lead_source": "fair-2026"}),
        )
        .await;
    stack
        .create_contact(
            &admin,
            json!({"first_name": "Bob", "lead_source": "partner"}),
        )
        .await;
    let r = stack.get(&format!("/contacts/{fair}"), &admin).await;
    assert_eq!(r.body["entry"]["path"], "api");
    assert_eq!(r.body["entry"]["source"], "fair-2026");
    let empty = stack.get("/lead-sources", &member).await;
    assert_eq!(empty.body, json!({"sources": [], "version": 0}));

    // Members do not change it; bad entries are named.
    let catalogue = json!({"sources": [
        {"key": "web", "label": "Website", "kind": "web_form", "utm_source": "site", "utm_medium": "form"},
        {"key": "ads", "label": "Ads", "kind": "ads", "active": false}
    ]});
    assert_eq!(
        stack
            .status("PUT", "/lead-sources", &member, Some(catalogue.clone()))
            .await,
        403
    );
    let r = stack
        .call(
            "PUT",
            "/lead-sources",
            &admin,
            Some(json!({"sources": [{"key": "Bad Key", "label": ""}]})),
        )
        .await;
    let mut named = errors(&r);
    named.sort();
    assert_eq!(
        named,
        vec![
            pair("sources[0].key", "format"),
            pair("sources[0].label", "required")
        ]
    );

    // The first save adds the sources in use, and the system's own (imports, inbound mail).
    let r = stack
        .call("PUT", "/lead-sources", &admin, Some(catalogue))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let keys: Vec<&str> = r.body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "web",
            "ads",
            "import",
            "inbound_email",
            "fair-2026",
            "partner"
        ]
    );
    assert_eq!(r.body["sources"][2]["kind"], "import");
    assert_eq!(r.body["sources"][4]["kind"], "other");
    assert_eq!(r.header("etag"), Some("\"1\""));

    // Unknown or inactive sources: 422 naming the field and the source.
    let r = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "Cy", "lead_source": "tv"})),
        )
        .await;
    assert_eq!(errors(&r), vec![pair("lead_source", "one_of")]);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("tv")
    );
    let r = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "Cy", "lead_source": "ads"})),
        )
        .await;
    assert_eq!(errors(&r), vec![pair("lead_source", "inactive")]);
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{fair}"),
            &admin,
            Some(json!({"lead_source": "tv"})),
        )
        .await;
    assert_eq!(errors(&r), vec![pair("lead_source", "one_of")]);
    // Known ones pass; the entry is not patchable.
    assert_eq!(
        stack
            .call(
                "PATCH",
                &format!("/contacts/{fair}"),
                &admin,
                Some(json!({"lead_source": "web"}))
            )
            .await
            .status,
        200
    );
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{fair}"),
            &admin,
            Some(json!({"entry": {"path": "import"}})),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    // An import row with an unknown source fails with that reason; the other row lands with
    // its entry path `import`.
    let (id, url) = stack.start_import(&admin, "sources.csv").await;
    let csv = "Name,Email,Source\nAl One,al@example.com,web\nBo Two,bo@example.com,radio\n";
    let import = stack
        .import_with(
            &stack.runtime.functions.import_processor,
            &admin,
            &url,
            &id,
            csv,
        )
        .await;
    assert_eq!(
        (import["created"].as_u64(), import["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(import["errors"][0]["column"], "Source");
    assert_eq!(import["errors"][0]["rule"], "one_of");
    let al = stack.list_all("/contacts?q=al@example.com", &admin).await;
    let al = stack
        .get(
            &format!("/contacts/{}", al[0]["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(al.body["entry"]["path"], "import");
    assert_eq!(al.body["entry"]["source"], "web");
}
