//! Custom fields (S3.1–S3.5) through the gateway and the shipped handlers: definitions of
//! every type with their rules, values set / changed / cleared through the ordinary create and
//! PATCH, every rule named in the problem, definition changes refused with the count of
//! affected records or migrated, option renames, archived fields, visibility by team and role,
//! and list filters with every operator.

use crm_e2e_tests::{Reply, Stack, errors, json, pair};
use serde_json::Value;

async fn define(stack: &Stack, token: &str, def: Value) -> Reply {
    let r = stack.call("POST", "/custom-fields", token, Some(def)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r
}

async fn create_contact(stack: &Stack, token: &str, body: Value) -> Value {
    let r = stack.call("POST", "/contacts", token, Some(body)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body
}

/// The ids of every contact a list returns (all pages), in order.
async fn ids(stack: &Stack, token: &str, query: &str) -> Vec<String> {
    stack
        .list_all(&format!("/contacts?{query}"), token)
        .await
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// One field of every type, with rules (S3.2).
fn every_type() -> Vec<Value> {
    vec![
        json!({"key": "nickname", "entity": "contact", "label": "Nickname",
               "type": {"kind": "text", "min_length": 2, "max_length": 20, "regex": "[A-Za-z ]+"}}),
        json!({"key": "bio", "entity": "contact", "label": "Bio",
               "type": {"kind": "long_text", "max_length": 500}}),
        json!({"key": "employees", "entity": "contact", "label": "Employees",
               "type": {"kind": "integer", "min": 1, "max": 100000}}),
        json!({"key": "score", "entity": "contact", "label": "Score",
               "type": {"kind": "decimal", "scale": 2, "min": "0", "max": "100"}}),
        json!({"key": "budget", "entity": "contact", "label": "Budget",
               "type": {"kind": "currency", "currencies": ["EUR", "USD"], "min": "0"}}),
        json!({"key": "renewal", "entity": "contact", "label": "Renewal",
               "type": {"kind": "date", "min": "2020-01-01"}}),
        json!({"key": "last_demo", "entity": "contact", "label": "Last demo",
               "type": {"kind": "date_time"}}),
        json!({"key": "newsletter", "entity": "contact", "label": "Newsletter",
               "type": {"kind": "boolean"}}),
        json!({"key": "stage", "entity": "contact", "label": "Stage",
               "type": {"kind": "select", "options": [
                   {"id": "new", "label": "New"}, {"id": "qualified", "label": "Qualified"},
                   {"id": "won", "label": "Won"}]}}),
        json!({"key": "interests", "entity": "contact", "label": "Interests",
               "type": {"kind": "multi_select", "max_items": 2, "options": [
                   {"id": "crm", "label": "CRM"}, {"id": "erp", "label": "ERP"},
                   {"id": "bi", "label": "BI"}]}}),
        json!({"key": "billing_email", "entity": "contact", "label": "Billing email",
               "type": {"kind": "email"}}),
        json!({"key": "mobile", "entity": "contact", "label": "Mobile",
               "type": {"kind": "phone", "default_country": "DE"}}),
        json!({"key": "homepage", "entity": "contact", "label": "Homepage", "type": {"kind": "url"}}),
        json!({"key": "account_manager", "entity": "contact", "label": "Account manager",
               "type": {"kind": "user_ref"}}),
        json!({"key": "referred_by", "entity": "contact", "label": "Referred by",
               "type": {"kind": "contact_ref"}}),
        json!({"key": "parent_account", "entity": "contact", "label": "Account",
               "type": {"kind": "client_ref"}}),
    ]
}

#[tokio::test]
async fn s3_1_s3_2_every_type_is_defined_validated_and_round_trips() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let member = stack.token("acme", "mia", "member");

    // Only owners and admins define; a member is refused and nothing is stored.
    let denied = stack
        .call(
            "POST",
            "/custom-fields",
            &member,
            Some(every_type()[0].clone()),
        )
        .await;
    assert_eq!(denied.status, 403, "{:?}", denied.body);
    for def in every_type() {
        define(&stack, &admin, def).await;
    }
    let dup = stack
        .call(
            "POST",
            "/custom-fields",
            &admin,
            Some(every_type()[0].clone()),
        )
        .await;
    assert_eq!(dup.status, 422, "{:?}", dup.body);
    assert_eq!(errors(&dup), vec![pair("key", "unique")]);
    // A broken definition names its field and rule.
    let bad = stack
        .call(
            "POST",
            "/custom-fields",
            &admin,
            Some(json!({"key": "Bad Key", "entity": "contact", "label": "",
                        "type": {"kind": "integer", "min": 5, "max": 1}})),
        )
        .await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    let errs = errors(&bad);
    assert!(errs.contains(&pair("key", "format")), "{errs:?}");
    assert!(errs.contains(&pair("label", "required")), "{errs:?}");
    // Deals have no records yet, but their fields can be defined now.
    define(
        &stack,
        &admin,
        json!({"key": "probability", "entity": "deal", "label": "Probability",
               "type": {"kind": "integer", "min": 0, "max": 100}}),
    )
    .await;
    let deal_fields = stack
        .call("GET", "/custom-fields?entity=deal", &member, None)
        .await;
    assert_eq!(deal_fields.body["fields"][0]["key"], "probability");
    let listed = stack
        .call("GET", "/custom-fields?entity=contact", &member, None)
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let keys: Vec<&str> = listed.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 16, "{keys:?}");
    assert_eq!(keys[0], "nickname", "in definition order");

    let referred = create_contact(&stack, &admin, json!({"first_name": "Ref"})).await;
    let client = stack
        .call("POST", "/clients", &admin, Some(json!({"name": "ACME"})))
        .await;
    assert_eq!(client.status, 201, "{:?}", client.body);
    let values = json!({
        "nickname": "  Ada  L ",
        "bio": "Line one\r\nLine two",
        "employees": "250",
        "score": "99.5",
        "budget": {"amount": "1234.5", "currency": "usd"},
        "renewal": "2027-01-31",
        "last_demo": "2026-11-29T14:30:00+01:00",
        "newsletter": true,
        "stage": "Qualified",
        "interests": ["erp", "crm"],
        "billing_email": "Billing@Example.COM",
        "mobile": "030 1234567",
        "homepage": "https://example.com/a",
        "account_manager": "alice",
        "referred_by": referred["id"],
        "parent_account": client.body["id"],
    });
    let contact = create_contact(
        &stack,
        &admin,
        json!({"first_name": "Ada", "custom_fields": values}),
    )
    .await;
    let expected = json!({
        "nickname": "Ada L",
        "bio": "Line one\nLine two",
        "employees": 250,
        "score": "99.5",
        "budget": {"amount": "1234.50", "currency": "USD"},
        "renewal": "2027-01-31",
        "last_demo": "2026-11-29T13:30:00.000Z",
        "newsletter": true,
        "stage": "qualified",
        "interests": ["crm", "erp"],
        "billing_email": "billing@example.com",
        "mobile": "+49301234567",
        "homepage": "https://example.com/a",
        "account_manager": "alice",
        "referred_by": referred["id"],
        "parent_account": client.body["id"],
    });
    assert_eq!(contact["custom_fields"], expected);
    assert!(
        contact.get("custom_terms").is_none(),
        "bookkeeping stays hidden"
    );
    let id = contact["id"].as_str().unwrap();
    let viewer = stack.token("acme", "vic", "viewer");
    let read = stack
        .call("GET", &format!("/contacts/{id}"), &viewer, None)
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["custom_fields"], expected, "stored unchanged");

    // Every rule, each named with its field.
    let before = stack.list_all("/contacts", &admin).await.len();
    let broken = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "Bad", "custom_fields": {
                "nickname": "A",
                "bio": "x".repeat(501),
                "employees": 0,
                "score": "1.234",
                "budget": {"amount": "5", "currency": "GBP"},
                "renewal": "2019-12-31",
                "last_demo": "yesterday",
                "newsletter": "maybe",
                "stage": "lost",
                "interests": ["crm", "erp", "bi"],
                "billing_email": "not-an-email",
                "homepage": "ftp://example.com",
                "account_manager": "nobody",
                "referred_by": "0190a0a0-0000-7000-8000-000000000000",
                "parent_account": "not-a-uuid",
                "unknown": 1,
            }})),
        )
        .await;
    assert_eq!(broken.status, 422, "{:?}", broken.body);
    let errs = errors(&broken);
    for expected in [
        pair("custom_fields.nickname", "min_length"),
        pair("custom_fields.bio", "max_length"),
        pair("custom_fields.employees", "min"),
        pair("custom_fields.score", "scale"),
        pair("custom_fields.budget.currency", "currency"),
        pair("custom_fields.renewal", "min"),
        pair("custom_fields.last_demo", "format"),
        pair("custom_fields.newsletter", "type"),
        pair("custom_fields.stage", "option"),
        pair("custom_fields.interests", "max_items"),
        pair("custom_fields.billing_email", "format"),
        pair("custom_fields.homepage", "format"),
        pair("custom_fields.parent_account", "format"),
        pair("custom_fields.unknown", "unknown_field"),
    ] {
        assert!(errs.contains(&expected), "{expected:?} missing in {errs:?}");
    }
    // The upper bounds.
    let above = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "Big", "custom_fields": {
                "nickname": "A very long nickname indeed",
                "employees": 100001,
                "score": "100.01",
                "budget": {"amount": "-1", "currency": "EUR"},
            }})),
        )
        .await;
    assert_eq!(above.status, 422, "{:?}", above.body);
    assert_eq!(
        errors(&above),
        vec![
            pair("custom_fields.budget.amount", "min"),
            pair("custom_fields.employees", "max"),
            pair("custom_fields.nickname", "max_length"),
            pair("custom_fields.score", "max"),
        ]
    );
    assert_eq!(
        stack.list_all("/contacts", &admin).await.len(),
        before,
        "nothing written"
    );
    // The pattern; then references that do not exist (checked once the values are valid).
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &admin,
            Some(json!({"custom_fields": {"nickname": "Ada 2"}})),
        )
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(errors(&r), vec![pair("custom_fields.nickname", "pattern")]);
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &admin,
            Some(json!({"custom_fields": {"account_manager": "nobody",
                        "referred_by": "0190a0a0-0000-7000-8000-000000000000"}})),
        )
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(
        errors(&r),
        vec![
            pair("custom_fields.account_manager", "reference"),
            pair("custom_fields.referred_by", "reference"),
        ]
    );

    // PATCH: merge semantics — set one, clear one, keep the rest.
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &admin,
            Some(json!({"custom_fields": {"score": "12.00", "bio": null}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["custom_fields"]["score"], "12.00");
    assert!(r.body["custom_fields"].get("bio").is_none());
    assert_eq!(r.body["custom_fields"]["stage"], "qualified");
    // The history names each custom field that changed.
    let history = stack
        .call("GET", &format!("/contacts/{id}/history"), &admin, None)
        .await;
    let changed: Vec<&str> = history.body["items"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(changed, vec!["custom_fields.bio", "custom_fields.score"]);
    // The data export shows the same plain values.
    let export = stack
        .call("GET", &format!("/contacts/{id}/export"), &admin, None)
        .await;
    assert_eq!(export.status, 200, "{:?}", export.body);
    assert_eq!(export.body["contact"]["custom_fields"]["score"], "12.00");
    assert_eq!(
        export.body["contact"]["custom_fields"]["budget"],
        json!({"amount": "1234.50", "currency": "USD"})
    );
    assert!(export.body["contact"].get("custom_terms").is_none());
}

#[tokio::test]
async fn s3_3_required_fields_defaults_and_archived_fields() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    define(
        &stack,
        &admin,
        json!({"key": "segment", "entity": "contact", "label": "Segment", "required": true,
               "type": {"kind": "select", "options": [{"label": "SMB"}, {"label": "Enterprise"}]}}),
    )
    .await;
    define(
        &stack,
        &admin,
        json!({"key": "priority", "entity": "contact", "label": "Priority", "default": 3,
               "type": {"kind": "integer", "min": 1, "max": 5}}),
    )
    .await;
    let missing = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "A"})),
        )
        .await;
    assert_eq!(missing.status, 422);
    assert_eq!(
        errors(&missing),
        vec![pair("custom_fields.segment", "required")]
    );
    let c = create_contact(
        &stack,
        &admin,
        json!({"first_name": "A", "custom_fields": {"segment": "SMB"}}),
    )
    .await;
    assert_eq!(
        c["custom_fields"],
        json!({"segment": "smb", "priority": 3}),
        "option ids made from labels; the default filled in"
    );
    let id = c["id"].as_str().unwrap();
    let cleared = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &admin,
            Some(json!({"custom_fields": {"segment": null}})),
        )
        .await;
    assert_eq!(cleared.status, 422);
    assert_eq!(
        errors(&cleared),
        vec![pair("custom_fields.segment", "required")]
    );

    // Archived: values kept and shown, no longer required, not newly set.
    let r = stack
        .call(
            "PATCH",
            "/custom-fields/contact/segment",
            &admin,
            Some(json!({"archived": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["migrated_records"], 0);
    create_contact(&stack, &admin, json!({"first_name": "B"})).await;
    let read = stack
        .call("GET", &format!("/contacts/{id}"), &admin, None)
        .await;
    assert_eq!(read.body["custom_fields"]["segment"], "smb");
    let set = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &admin,
            Some(json!({"custom_fields": {"segment": "enterprise"}})),
        )
        .await;
    assert_eq!(set.status, 422);
    assert_eq!(
        errors(&set),
        vec![pair("custom_fields.segment", "archived")]
    );
    // A stale If-Match on a definition change is refused.
    let stale = stack
        .send(
            stack
                .request("PATCH", "/custom-fields/contact/priority", Some(&admin))
                .header("if-match", "\"7\"")
                .json(&json!({"label": "Prio"})),
        )
        .await;
    assert_eq!(stale.status, 412);
}

#[tokio::test]
async fn s3_3_option_rename_keeps_values_removal_is_refused_with_the_count_or_mapped() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    define(
        &stack,
        &admin,
        json!({"key": "stage", "entity": "contact", "label": "Stage",
               "type": {"kind": "select", "options": [
                   {"id": "new", "label": "New"}, {"id": "open", "label": "Open"},
                   {"id": "won", "label": "Won"}]}}),
    )
    .await;
    let mut open = Vec::new();
    for i in 0..3 {
        let c = create_contact(
            &stack,
            &admin,
            json!({"first_name": format!("O{i}"), "custom_fields": {"stage": "open"}}),
        )
        .await;
        open.push(c["id"].as_str().unwrap().to_string());
    }
    let new = create_contact(
        &stack,
        &admin,
        json!({"first_name": "N", "custom_fields": {"stage": "new"}}),
    )
    .await;

    // Rename: the id stays, so every value and filter stays.
    let renamed = stack
        .call(
            "PATCH",
            "/custom-fields/contact/stage",
            &admin,
            Some(json!({"type": {"kind": "select", "options": [
                {"id": "new", "label": "New"}, {"id": "open", "label": "In progress"},
                {"id": "won", "label": "Won"}]}})),
        )
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    assert_eq!(renamed.body["migrated_records"], 0);
    assert_eq!(
        renamed.body["definition"]["type"]["options"][1]["label"],
        "In progress"
    );
    assert_eq!(
        sorted(ids(&stack, &admin, "cf.stage=open").await),
        sorted(open.clone())
    );
    // The new label is accepted as input for the same id.
    let by_label = stack
        .call(
            "PATCH",
            &format!("/contacts/{}", new["id"].as_str().unwrap()),
            &admin,
            Some(json!({"custom_fields": {"stage": "In Progress"}})),
        )
        .await;
    assert_eq!(by_label.body["custom_fields"]["stage"], "open");
    let mut open_now = open.clone();
    open_now.push(new["id"].as_str().unwrap().to_string());

    // Removing `open` without a mapping: refused with the count, nothing changed.
    let without_open = json!({"type": {"kind": "select", "options": [
        {"id": "new", "label": "New"}, {"id": "won", "label": "Won"}]}});
    let refused = stack
        .call(
            "PATCH",
            "/custom-fields/contact/stage",
            &admin,
            Some(without_open.clone()),
        )
        .await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(refused.body["affected_records"], 4);
    assert_eq!(errors(&refused)[0].1, "affected_records");
    let def = stack
        .call("GET", "/custom-fields/contact/stage", &admin, None)
        .await;
    assert_eq!(def.body["version"], 2, "unchanged");
    assert_eq!(
        sorted(ids(&stack, &admin, "cf.stage=open").await),
        sorted(open_now.clone())
    );

    // With a mapping, the values move to `won` and the option goes.
    let mut body = without_open.clone();
    body["option_mapping"] = json!({"open": "won"});
    let mapped = stack
        .call("PATCH", "/custom-fields/contact/stage", &admin, Some(body))
        .await;
    assert_eq!(mapped.status, 200, "{:?}", mapped.body);
    assert_eq!(mapped.body["migrated_records"], 4);
    assert_eq!(
        sorted(ids(&stack, &admin, "cf.stage=won").await),
        sorted(open_now.clone())
    );
    let c = stack
        .call("GET", &format!("/contacts/{}", open[0]), &admin, None)
        .await;
    assert_eq!(c.body["custom_fields"]["stage"], "won");
    let history = stack
        .call(
            "GET",
            &format!("/contacts/{}/history", open[0]),
            &admin,
            None,
        )
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

#[tokio::test]
async fn s3_3_type_changes_and_narrowed_rules_are_counted_or_converted() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    define(
        &stack,
        &admin,
        json!({"key": "code", "entity": "contact", "label": "Code", "type": {"kind": "text"}}),
    )
    .await;
    let twelve = create_contact(
        &stack,
        &admin,
        json!({"first_name": "A", "custom_fields": {"code": "12"}}),
    )
    .await;
    let word = create_contact(
        &stack,
        &admin,
        json!({"first_name": "B", "custom_fields": {"code": "abcdef"}}),
    )
    .await;
    let to_integer = json!({"type": {"kind": "integer"}});
    let refused = stack
        .call(
            "PATCH",
            "/custom-fields/contact/code",
            &admin,
            Some(to_integer.clone()),
        )
        .await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(refused.body["affected_records"], 1, "only `abcdef` breaks");
    assert!(errors(&refused).contains(&pair("type", "affected_records")));
    // Narrowing a rule is counted the same way.
    let narrowed = stack
        .call(
            "PATCH",
            "/custom-fields/contact/code",
            &admin,
            Some(json!({"type": {"kind": "text", "max_length": 3}})),
        )
        .await;
    assert_eq!(narrowed.status, 409);
    assert_eq!(narrowed.body["affected_records"], 1);
    // Widening is safe: no record is read or changed.
    let widened = stack
        .call(
            "PATCH",
            "/custom-fields/contact/code",
            &admin,
            Some(json!({"type": {"kind": "text", "max_length": 500}})),
        )
        .await;
    assert_eq!(widened.status, 200, "{:?}", widened.body);
    assert_eq!(widened.body["migrated_records"], 0);

    let wid = word["id"].as_str().unwrap();
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{wid}"),
            &admin,
            Some(json!({"custom_fields": {"code": null}})),
        )
        .await;
    assert_eq!(r.status, 200);
    let converted = stack
        .call(
            "PATCH",
            "/custom-fields/contact/code",
            &admin,
            Some(to_integer),
        )
        .await;
    assert_eq!(converted.status, 200, "{:?}", converted.body);
    assert_eq!(converted.body["migrated_records"], 1);
    let c = stack
        .call(
            "GET",
            &format!("/contacts/{}", twelve["id"].as_str().unwrap()),
            &admin,
            None,
        )
        .await;
    assert_eq!(c.body["custom_fields"]["code"], 12, "now an integer");
    // …and the index follows the new type: a numeric range finds it.
    assert_eq!(
        ids(&stack, &admin, "cf.code[gte]=10").await,
        vec![twelve["id"].as_str().unwrap().to_string()]
    );
}

#[tokio::test]
async fn s3_4_fields_hidden_from_a_team_are_absent_and_cannot_be_written() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let team = |name: &'static str| {
        let stack = &stack;
        let admin = admin.clone();
        async move {
            let r = stack
                .call("POST", "/teams", &admin, Some(json!({"name": name})))
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            r.body["id"].as_str().unwrap().to_string()
        }
    };
    let finance = team("Finance").await;
    let sales = team("Sales").await;
    for (user, t) in [("fred", &finance), ("sam", &sales)] {
        let r = stack
            .call(
                "PUT",
                &format!("/users/{user}"),
                &admin,
                Some(json!({"role": "member", "teams": [t]})),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let fred = stack.token("acme", "fred", "member");
    let sam = stack.token("acme", "sam", "member");
    // A section meant for Finance, ordered first; a team that does not exist is refused.
    let group = stack
        .call(
            "POST",
            "/custom-field-groups",
            &admin,
            Some(json!({"key": "finance", "entity": "contact", "label": "Finance", "order": 0, "teams": [finance]})),
        )
        .await;
    assert_eq!(group.status, 201, "{:?}", group.body);
    let ghost = stack
        .call(
            "POST",
            "/custom-field-groups",
            &admin,
            Some(
                json!({"key": "ghost", "entity": "contact", "label": "Ghost",
                        "teams": ["0190a0a0-0000-7000-8000-000000000000"]}),
            ),
        )
        .await;
    assert_eq!(ghost.status, 422);
    assert_eq!(errors(&ghost), vec![pair("teams", "exists")]);
    let no_group = stack
        .call(
            "POST",
            "/custom-fields",
            &admin,
            Some(json!({"key": "x", "entity": "contact", "label": "X", "type": {"kind": "boolean"}, "group": "nope"})),
        )
        .await;
    assert_eq!(no_group.status, 422);
    assert_eq!(errors(&no_group), vec![pair("group", "unknown_group")]);
    define(
        &stack,
        &admin,
        json!({"key": "credit_limit", "entity": "contact", "label": "Credit limit", "group": "finance",
               "type": {"kind": "currency", "currencies": ["EUR"]},
               "visibility": {"kind": "restricted", "teams": [finance]}}),
    )
    .await;
    // Groups are renamed and reordered; their key stays.
    let general = stack
        .call(
            "POST",
            "/custom-field-groups",
            &admin,
            Some(json!({"key": "general", "entity": "contact", "label": "General", "order": 5})),
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
        .call("GET", "/custom-fields?entity=contact", &fred, None)
        .await;
    let group_keys: Vec<&str> = fred_view.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(group_keys, vec!["general", "finance"], "ordered");
    assert_eq!(fred_view.body["groups"][1]["label"], "Finance & billing");
    assert_eq!(fred_view.body["fields"][0]["group"], "finance");
    define(
        &stack,
        &admin,
        json!({"key": "hobby", "entity": "contact", "label": "Hobby", "type": {"kind": "text"}}),
    )
    .await;
    // A contact both teams see (shared with Sales, owned by Fred's team).
    let c = create_contact(
        &stack,
        &fred,
        json!({"first_name": "Shared", "custom_fields": {"credit_limit": {"amount": "5000"}, "hobby": "Chess"}}),
    )
    .await;
    assert_eq!(
        c["custom_fields"]["credit_limit"],
        json!({"amount": "5000.00", "currency": "EUR"})
    );
    let id = c["id"].as_str().unwrap();
    let shared = stack
        .call(
            "POST",
            &format!("/contacts/{id}/shares"),
            &fred,
            Some(json!({"team": sales})),
        )
        .await;
    assert_eq!(shared.status, 200, "{:?}", shared.body);

    let seen = stack
        .call("GET", &format!("/contacts/{id}"), &sam, None)
        .await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.body["custom_fields"], json!({"hobby": "Chess"}));
    let defs = stack
        .call("GET", "/custom-fields?entity=contact", &sam, None)
        .await;
    let keys: Vec<&str> = defs.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["hobby"]);
    let sam_groups: Vec<&str> = defs.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        sam_groups,
        vec!["general"],
        "the Finance section is not Sam's"
    );
    let hidden = stack
        .call("GET", "/custom-fields/contact/credit_limit", &sam, None)
        .await;
    assert_eq!(hidden.status, 404);
    // Writing or filtering a hidden field reads like a field that does not exist.
    let write = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &sam,
            Some(json!({"custom_fields": {"credit_limit": null}})),
        )
        .await;
    assert_eq!(write.status, 422);
    assert_eq!(
        errors(&write),
        vec![pair("custom_fields.credit_limit", "unknown_field")]
    );
    let filter = stack
        .call("GET", "/contacts?cf.credit_limit[empty]=false", &sam, None)
        .await;
    assert_eq!(filter.status, 422);
    assert_eq!(
        errors(&filter),
        vec![pair("cf.credit_limit[empty]", "unknown_field")]
    );
    // Sam's own change leaves the hidden value alone; the history hides it from him.
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &sam,
            Some(json!({"custom_fields": {"hobby": "Go"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let full = stack
        .call("GET", &format!("/contacts/{id}"), &fred, None)
        .await;
    assert_eq!(
        full.body["custom_fields"],
        json!({"credit_limit": {"amount": "5000.00", "currency": "EUR"}, "hobby": "Go"})
    );
    let history = stack
        .call("GET", &format!("/contacts/{id}/history"), &sam, None)
        .await;
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
    // A field for a role: managers (of any team) see it, members do not.
    define(
        &stack,
        &admin,
        json!({"key": "margin", "entity": "contact", "label": "Margin", "type": {"kind": "decimal"},
               "visibility": {"kind": "restricted", "roles": ["manager"]}}),
    )
    .await;
    let r = stack
        .call(
            "PUT",
            "/users/max",
            &admin,
            Some(json!({"role": "manager", "teams": [sales]})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let max = stack.token("acme", "max", "manager");
    let keys_of = |body: &Value| -> Vec<String> {
        body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap().to_string())
            .collect()
    };
    let for_max = stack
        .call("GET", "/custom-fields?entity=contact", &max, None)
        .await;
    assert!(keys_of(&for_max.body).contains(&"margin".to_string()));
    let for_sam = stack
        .call("GET", "/custom-fields?entity=contact", &sam, None)
        .await;
    assert!(!keys_of(&for_sam.body).contains(&"margin".to_string()));
    // A reference must point at a record the writer can see.
    define(
        &stack,
        &admin,
        json!({"key": "partner", "entity": "contact", "label": "Partner", "type": {"kind": "contact_ref"}}),
    )
    .await;
    let private = create_contact(
        &stack,
        &fred,
        json!({"first_name": "Private", "visibility": "private"}),
    )
    .await;
    let pid = private["id"].as_str().unwrap();
    let unseen = stack
        .call(
            "PATCH",
            &format!("/contacts/{id}"),
            &sam,
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
            &fred,
            Some(json!({"custom_fields": {"partner": pid}})),
        )
        .await;
    assert_eq!(seen.status, 200, "{:?}", seen.body);
    // Fred's team filter works.
    assert_eq!(
        ids(&stack, &fred, "cf.credit_limit[gte]=1000%20EUR").await,
        vec![id.to_string()]
    );
}

#[tokio::test]
async fn s3_5_filters_by_every_operator_combined_with_standard_filters_and_sorted() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    for def in every_type() {
        define(&stack, &admin, def).await;
    }
    define(
        &stack,
        &admin,
        json!({"key": "notes", "entity": "contact", "label": "Notes", "type": {"kind": "text"}}),
    )
    .await;
    let rows = [
        // name, status, custom values
        (
            "Anna",
            "lead",
            json!({"employees": 10, "score": "10.5", "budget": {"amount": "100", "currency": "EUR"},
                   "renewal": "2027-01-01", "last_demo": "2026-01-01T10:00:00Z", "newsletter": true,
                   "stage": "new", "interests": ["crm"], "nickname": "Big Fish",
                   "bio": "Likes sailing and chess", "billing_email": "anna@north.example"}),
        ),
        (
            "Ben",
            "customer",
            json!({"employees": 200, "score": "55", "budget": {"amount": "100", "currency": "USD"},
                   "renewal": "2028-06-30", "newsletter": false, "stage": "won",
                   "interests": ["crm", "erp"], "nickname": "Small Fish"}),
        ),
        (
            "Cleo",
            "customer",
            json!({"employees": 3000, "score": "99.99", "budget": {"amount": "2500.50", "currency": "EUR"},
                   "stage": "qualified", "interests": ["bi", "erp"],
                   "billing_email": "cleo@south.example"}),
        ),
        (
            "Dan",
            "lead",
            // More words than the index keeps: the last ones are found through the overflow.
            json!({"notes": "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda my nu xi omicron pi rho sigma tau zebra"}),
        ),
    ];
    let mut id = std::collections::BTreeMap::new();
    for (name, status, values) in &rows {
        let c = create_contact(
            &stack,
            &admin,
            json!({"first_name": name, "lifecycle_status": status, "custom_fields": values}),
        )
        .await;
        id.insert(*name, c["id"].as_str().unwrap().to_string());
    }
    let names = |found: Vec<String>| -> Vec<&str> {
        let mut out: Vec<&str> = found
            .iter()
            .map(|f| {
                *id.iter()
                    .find(|(_, v)| *v == f)
                    .map(|(k, _)| k)
                    .expect("a known contact")
            })
            .collect();
        out.sort();
        out
    };
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("cf.employees=200", vec!["Ben"]),
        ("cf.employees[ne]=200", vec!["Anna", "Cleo", "Dan"]),
        ("cf.employees[lt]=200", vec!["Anna"]),
        ("cf.employees[lte]=200", vec!["Anna", "Ben"]),
        ("cf.employees[gt]=200", vec!["Cleo"]),
        ("cf.employees[gte]=200", vec!["Ben", "Cleo"]),
        ("cf.employees[in]=10,3000", vec!["Anna", "Cleo"]),
        ("cf.score[gte]=55.00", vec!["Ben", "Cleo"]),
        ("cf.score[lt]=10.51", vec!["Anna"]),
        ("cf.budget[gte]=100%20EUR", vec!["Anna", "Cleo"]),
        ("cf.budget=100%20USD", vec!["Ben"]),
        ("cf.renewal[gt]=2027-06-01", vec!["Ben"]),
        ("cf.last_demo[lte]=2026-06-01T00:00:00Z", vec!["Anna"]),
        ("cf.newsletter=false", vec!["Ben"]),
        ("cf.newsletter[empty]=true", vec!["Cleo", "Dan"]),
        ("cf.stage=Qualified", vec!["Cleo"]),
        ("cf.stage[in]=new,won", vec!["Anna", "Ben"]),
        ("cf.interests[contains]=erp", vec!["Ben", "Cleo"]),
        ("cf.interests[in]=crm,erp", vec!["Anna", "Ben", "Cleo"]),
        ("cf.interests=erp", vec!["Ben", "Cleo"]),
        ("cf.nickname=big%20FISH", vec!["Anna"]),
        ("cf.nickname[contains]=fish", vec!["Anna", "Ben"]),
        ("cf.nickname[contains]=sma%20fi", vec!["Ben"]),
        ("cf.bio[contains]=chess", vec!["Anna"]),
        ("cf.notes[contains]=zebra", vec!["Dan"]),
        ("cf.notes[contains]=alpha%20zeb", vec!["Dan"]),
        ("cf.billing_email[contains]=south", vec!["Cleo"]),
        ("cf.stage[empty]=false", vec!["Anna", "Ben", "Cleo"]),
        ("cf.stage[empty]=true", vec!["Dan"]),
        // Combined with standard filters and with each other.
        ("cf.employees[gte]=100&status=customer", vec!["Ben", "Cleo"]),
        (
            "cf.interests[contains]=erp&status=customer&cf.score[gt]=60",
            vec!["Cleo"],
        ),
        ("status=lead&cf.stage[ne]=new", vec!["Dan"]),
    ];
    for (query, expected) in cases {
        // A page size of 1 walks every cursor: nothing is missed or repeated across pages.
        let found = ids(&stack, &admin, &format!("{query}&limit=1")).await;
        let mut unique = found.clone();
        unique.dedup();
        assert_eq!(unique.len(), found.len(), "{query}: repeated {found:?}");
        assert_eq!(names(found), expected, "{query}");
    }
    // Sorting by a custom field, both ways; records without a value come after the others.
    let by_score = ids(&stack, &admin, "sort=cf.score&limit=2").await;
    assert_eq!(
        by_score,
        vec![
            id["Anna"].clone(),
            id["Ben"].clone(),
            id["Cleo"].clone(),
            id["Dan"].clone()
        ]
    );
    let by_score_desc = ids(&stack, &admin, "sort=-cf.score&status=customer").await;
    assert_eq!(by_score_desc, vec![id["Cleo"].clone(), id["Ben"].clone()]);
    let by_score_desc = ids(&stack, &admin, "sort=-cf.score&cf.score[lt]=90").await;
    assert_eq!(by_score_desc, vec![id["Ben"].clone(), id["Anna"].clone()]);
    // A multi-valued field sorted: each record once.
    let by_interest = ids(&stack, &admin, "sort=cf.interests&limit=1").await;
    assert_eq!(by_interest.len(), 4, "{by_interest:?}");
    assert_eq!(by_interest[3], id["Dan"], "the one without a value last");
    // Bad filters are named with their rule.
    for (query, field, rule) in [
        ("cf.bio[gt]=a", "cf.bio[gt]", "operator"),
        ("cf.employees[gte]=many", "cf.employees[gte]", "type"),
        (
            "cf.employees[between]=1",
            "cf.employees[between]",
            "operator",
        ),
        ("cf.nope=1", "cf.nope", "unknown_field"),
        ("cf.stage=lost", "cf.stage", "option"),
        ("sort=cf.nope", "sort", "unknown_field"),
    ] {
        let r = stack
            .call("GET", &format!("/contacts?{query}"), &admin, None)
            .await;
        assert_eq!(r.status, 422, "{query}: {:?}", r.body);
        assert_eq!(errors(&r), vec![pair(field, rule)], "{query}");
    }
    // Filters follow changes and deletes.
    let ben = &id["Ben"];
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{ben}"),
            &admin,
            Some(json!({"custom_fields": {"employees": 5}})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        names(ids(&stack, &admin, "cf.employees[lt]=100").await),
        vec!["Anna", "Ben"]
    );
    let r = stack
        .call("DELETE", &format!("/contacts/{ben}"), &admin, None)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        names(ids(&stack, &admin, "cf.employees[lt]=100").await),
        vec!["Anna"]
    );
}

#[tokio::test]
async fn s3_3_client_fields_validate_show_and_count_affected_clients() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    define(
        &stack,
        &admin,
        json!({"key": "tier", "entity": "client", "label": "Tier", "required": true,
               "type": {"kind": "select", "options": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]}}),
    )
    .await;
    let missing = stack
        .call("POST", "/clients", &admin, Some(json!({"name": "ACME"})))
        .await;
    assert_eq!(missing.status, 422, "{:?}", missing.body);
    assert_eq!(
        errors(&missing),
        vec![pair("custom_fields.tier", "required")]
    );
    let both = stack
        .call(
            "POST",
            "/clients",
            &admin,
            Some(json!({"name": "", "custom_fields": {"tier": "c"}})),
        )
        .await;
    assert_eq!(both.status, 422);
    let errs = errors(&both);
    assert!(errs.contains(&pair("name", "required")), "{errs:?}");
    assert!(
        errs.contains(&pair("custom_fields.tier", "option")),
        "{errs:?}"
    );
    let acme = stack
        .call(
            "POST",
            "/clients",
            &admin,
            Some(json!({"name": "ACME", "custom_fields": {"tier": "B"}})),
        )
        .await;
    assert_eq!(acme.status, 201, "{:?}", acme.body);
    assert_eq!(acme.body["custom_fields"], json!({"tier": "b"}));
    let listed = stack.list_all("/clients", &admin).await;
    assert_eq!(listed[0]["custom_fields"], json!({"tier": "b"}));
    assert!(listed[0].get("custom_terms").is_none());
    let id = acme.body["id"].as_str().unwrap();
    let r = stack
        .call(
            "PATCH",
            &format!("/clients/{id}"),
            &admin,
            Some(json!({"custom_fields": {"tier": "a"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["custom_fields"], json!({"tier": "a"}));
    let refused = stack
        .call(
            "PATCH",
            "/custom-fields/client/tier",
            &admin,
            Some(json!({"type": {"kind": "select", "options": [{"id": "b", "label": "B"}]}})),
        )
        .await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(refused.body["affected_records"], 1);
}

#[tokio::test]
async fn s3_3_imported_rows_fill_custom_fields_through_the_same_validator() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    define(
        &stack,
        &admin,
        json!({"key": "tier", "entity": "contact", "label": "Customer tier",
               "type": {"kind": "select", "options": [{"id": "gold", "label": "Gold"}, {"id": "silver", "label": "Silver"}]}}),
    )
    .await;
    define(
        &stack,
        &admin,
        json!({"key": "seats", "entity": "contact", "label": "Seats",
               "type": {"kind": "integer", "min": 1}}),
    )
    .await;
    let r = stack
        .call(
            "POST",
            "/imports",
            &admin,
            Some(json!({"file_name": "leads.csv"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["import"]["id"].as_str().unwrap().to_string();
    let url = r.body["upload"]["url"].as_str().unwrap().to_string();
    // Columns by label and by `cf.{key}`; row 3 breaks two rules.
    let csv = "Name,Email,Customer Tier,cf.seats\nAda Lovelace,ada@example.com,Gold,12\nBob Byte,bob@example.com,Bronze,0\n";
    let put = reqwest::Client::new()
        .put(&url)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    // The notification delivered twice: the second delivery writes nothing again.
    let (first, second) = stack.deliver_upload_twice().await;
    assert_eq!(format!("{first:?}"), "[Processed(Completed)]");
    assert_eq!(format!("{second:?}"), "[AlreadyDone]");
    let import = stack
        .call("GET", &format!("/imports/{id}"), &admin, None)
        .await;
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
    let found = ids(&stack, &admin, "cf.tier=gold&cf.seats[gte]=10").await;
    assert_eq!(found.len(), 1);
    let c = stack
        .call("GET", &format!("/contacts/{}", found[0]), &admin, None)
        .await;
    assert_eq!(
        c.body["custom_fields"],
        json!({"tier": "gold", "seats": 12})
    );
}

#[tokio::test]
async fn s3_5_client_lists_filter_and_sort_by_custom_fields() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    define(
        &stack,
        &admin,
        json!({"key": "segment", "entity": "client", "label": "Segment",
               "type": {"kind": "multi_select", "options": [{"id": "smb", "label": "SMB"}, {"id": "mid", "label": "Mid"}, {"id": "ent", "label": "Enterprise"}]}}),
    )
    .await;
    define(
        &stack,
        &admin,
        json!({"key": "arr", "entity": "client", "label": "ARR", "type": {"kind": "currency", "currencies": ["EUR"]}}),
    )
    .await;
    let mut id = std::collections::BTreeMap::new();
    for (name, values) in [
        (
            "Alpha",
            json!({"segment": ["smb"], "arr": {"amount": "10000"}}),
        ),
        (
            "Beta",
            json!({"segment": ["mid", "ent"], "arr": {"amount": "250000"}}),
        ),
        (
            "Gamma",
            json!({"segment": ["ent"], "arr": {"amount": "90000"}}),
        ),
        ("Delta", json!({})),
    ] {
        let r = stack
            .call(
                "POST",
                "/clients",
                &admin,
                Some(json!({"name": name, "custom_fields": values})),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        id.insert(r.body["id"].as_str().unwrap().to_string(), name);
    }
    let names = |items: Vec<Value>| -> Vec<&str> {
        items
            .iter()
            .map(|c| *id.get(c["id"].as_str().unwrap()).unwrap())
            .collect()
    };
    let sorted_names = |items: Vec<Value>| {
        let mut n = names(items);
        n.sort();
        n
    };
    for (query, expected) in [
        ("cf.segment[contains]=ent", vec!["Beta", "Gamma"]),
        ("cf.segment[in]=smb,ent", vec!["Alpha", "Beta", "Gamma"]),
        ("cf.arr[gte]=50000%20EUR", vec!["Beta", "Gamma"]),
        ("cf.arr[gte]=50000%20EUR&cf.segment=mid", vec!["Beta"]),
        (
            "cf.arr[lt]=100000%20EUR&cf.arr[gt]=5000%20EUR",
            vec!["Alpha", "Gamma"],
        ),
        ("cf.segment[empty]=true", vec!["Delta"]),
        ("cf.segment[ne]=smb", vec!["Beta", "Delta", "Gamma"]),
    ] {
        let found = stack
            .list_all(&format!("/clients?{query}&limit=1"), &admin)
            .await;
        assert_eq!(sorted_names(found), expected, "{query}");
    }
    // Sorted by ARR, both ways; the client without a value last.
    let asc = stack.list_all("/clients?sort=cf.arr&limit=2", &admin).await;
    assert_eq!(names(asc), vec!["Alpha", "Gamma", "Beta", "Delta"]);
    let desc = stack.list_all("/clients?sort=-cf.arr", &admin).await;
    assert_eq!(names(desc), vec!["Beta", "Gamma", "Alpha", "Delta"]);
    // Shown in their plain shape, filtered by visibility like every list.
    let page = stack
        .call("GET", "/clients?cf.arr[gte]=200000%20EUR", &admin, None)
        .await;
    assert_eq!(
        page.body["items"][0]["custom_fields"]["arr"],
        json!({"amount": "250000.00", "currency": "EUR"})
    );
    let member = stack.token("acme", "mia", "member");
    assert!(
        stack
            .list_all("/clients?cf.segment[in]=smb,mid,ent", &member)
            .await
            .is_empty(),
        "a member sees none of the admin's clients"
    );
    for (query, field, rule) in [
        ("cf.nope=1", "cf.nope", "unknown_field"),
        ("sort=name", "sort", "one_of"),
        ("bogus=1", "bogus", "unknown_parameter"),
    ] {
        let r = stack
            .call("GET", &format!("/clients?{query}"), &admin, None)
            .await;
        assert_eq!(r.status, 422, "{query}: {:?}", r.body);
        assert_eq!(errors(&r), vec![pair(field, rule)], "{query}");
    }
}
