//! Clients (S2.1–S2.4): CRUD through the gateway and clients-api, validation, tenancy, the
//! parent / subsidiary hierarchy with cycles refused.

use crm_e2e_tests::{Stack, json};

async fn create(stack: &Stack, token: &str, body: serde_json::Value) -> String {
    let r = stack.call("POST", "/clients", token, Some(body)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn s2_1_to_s2_4_master_data_round_trips_normalised() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let r = stack
        .call(
            "POST",
            "/clients",
            &admin,
            Some(json!({
                "name": "Globex  GmbH", "legal_name": "Globex Gesellschaft mbH", "domain": "Globex.Example",
                "industry": "Manufacturing", "size": "51-200", "status": "prospect", "tags": ["VIP", "vip", "DACH"],
                "billing_address": {"street": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin", "country": "de"},
                "phone": "+49 30 1234567", "email": "Info@Globex.example", "website": "https://globex.example",
                "vat_id": "de 123456789",
                "communication": {"preferred_channel": "email", "language": "de-DE", "time_zone": "Europe/Berlin", "email_opt_out": true},
                "currency": "chf", "payment_terms_days": 30, "payment_method": "bank_transfer",
                "billing_email": "billing@globex.example", "default_hourly_rate": "120.5"
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let c = &r.body;
    assert_eq!(c["name"], "Globex GmbH");
    assert_eq!(c["domain"], "globex.example");
    assert_eq!(c["tags"], json!(["VIP", "DACH"]));
    assert_eq!(c["billing_address"]["country"], "DE");
    assert_eq!(c["email"], "info@globex.example");
    assert_eq!(c["vat_id"], "DE123456789");
    assert_eq!(c["currency"], "CHF");
    assert_eq!(c["default_hourly_rate"], "120.50");
    assert_eq!(c["communication"]["email_opt_out"], true);
    assert_eq!(c["owner"], "alice");
    assert_eq!(c["version"], 1);
    let path = format!("/clients/{}", c["id"].as_str().unwrap());
    let got = stack.call("GET", &path, &admin, None).await;
    assert_eq!(got.body, r.body, "stored and returned unchanged");

    let patched = stack
        .send(
            stack
                .request("PATCH", &path, Some(&admin))
                .header("if-match", "\"1\"")
                .json(&json!({"status": "active", "legal_name": null})),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(
        (
            patched.body["status"].as_str(),
            patched.body.get("legal_name")
        ),
        (Some("active"), None)
    );
    let stale = stack
        .send(
            stack
                .request("PATCH", &path, Some(&admin))
                .header("if-match", "\"1\"")
                .json(&json!({"status": "churned"})),
        )
        .await;
    assert_eq!(stale.status, 412);

    let listed = stack.call("GET", "/clients", &admin, None).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(stack.call("DELETE", &path, &admin, None).await.status, 204);
    assert_eq!(stack.call("GET", &path, &admin, None).await.status, 404);
}

#[tokio::test]
async fn s2_4_bad_master_data_is_refused_naming_each_field() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let r = stack
        .call("POST", "/clients", &admin, Some(json!({"name": "X", "currency": "EURO", "default_hourly_rate": "1.5", "billing_email": "nope"})))
        .await;
    assert_eq!(r.status, 422);
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"currency") && fields.contains(&"billing_email"),
        "{fields:?}"
    );
    let jpy = stack
        .call(
            "POST",
            "/clients",
            &admin,
            Some(json!({"name": "X", "currency": "JPY", "default_hourly_rate": "1.5"})),
        )
        .await;
    assert_eq!(jpy.status, 422);
    assert_eq!(
        jpy.problem_field(),
        ("default_hourly_rate".into(), "amount".into())
    );
    let mass = stack
        .call(
            "POST",
            "/clients",
            &admin,
            Some(json!({"name": "X", "version": 7})),
        )
        .await;
    assert_eq!(mass.status, 400);
    assert_eq!(
        stack.call("GET", "/clients", &admin, None).await.body["items"],
        json!([])
    );
    let viewer = stack.token("acme", "vic", "viewer");
    assert_eq!(
        stack
            .call("POST", "/clients", &viewer, Some(json!({"name": "V"})))
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn s2_2_hierarchy_rolls_up_and_refuses_cycles() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let group = create(&stack, &admin, json!({"name": "Group"})).await;
    let de = create(
        &stack,
        &admin,
        json!({"name": "Group DE", "parent_id": group}),
    )
    .await;
    let at = create(
        &stack,
        &admin,
        json!({"name": "Group AT", "parent_id": group}),
    )
    .await;
    let berlin = create(
        &stack,
        &admin,
        json!({"name": "Group Berlin", "parent_id": de}),
    )
    .await;

    let subs = stack
        .call(
            "GET",
            &format!("/clients/{group}/subsidiaries"),
            &admin,
            None,
        )
        .await;
    let mut names: Vec<&str> = subs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["Group AT", "Group DE"]);

    let tree = stack
        .call("GET", &format!("/clients/{group}/hierarchy"), &admin, None)
        .await;
    assert_eq!(tree.status, 200, "{:?}", tree.body);
    assert_eq!(tree.body["client"]["id"], group.as_str());
    let children = tree.body["subsidiaries"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    let de_node = children
        .iter()
        .find(|c| c["client"]["id"] == de.as_str())
        .unwrap();
    assert_eq!(de_node["subsidiaries"][0]["client"]["id"], berlin.as_str());

    // Making the group a subsidiary of its own grandchild would close a cycle.
    let cycle = stack
        .call(
            "PATCH",
            &format!("/clients/{group}"),
            &admin,
            Some(json!({"parent_id": berlin})),
        )
        .await;
    assert_eq!(cycle.status, 422);
    assert_eq!(
        cycle.problem_field(),
        ("parent_id".into(), "no_cycle".into())
    );
    let own = stack
        .call(
            "PATCH",
            &format!("/clients/{at}"),
            &admin,
            Some(json!({"parent_id": at})),
        )
        .await;
    assert_eq!(own.problem_field(), ("parent_id".into(), "no_cycle".into()));
    let missing = stack
        .call(
            "POST",
            "/clients",
            &admin,
            Some(json!({"name": "Orphan", "parent_id": uuid::Uuid::now_v7()})),
        )
        .await;
    assert_eq!(
        missing.problem_field(),
        ("parent_id".into(), "exists".into())
    );

    // A parent with subsidiaries is not deleted; moving the child out of it frees it.
    assert_eq!(
        stack
            .call("DELETE", &format!("/clients/{de}"), &admin, None)
            .await
            .status,
        409
    );
    let moved = stack
        .call(
            "PATCH",
            &format!("/clients/{berlin}"),
            &admin,
            Some(json!({"parent_id": at})),
        )
        .await;
    assert_eq!(moved.status, 200);
    assert_eq!(
        stack
            .call("DELETE", &format!("/clients/{de}"), &admin, None)
            .await
            .status,
        204
    );

    // Another tenant sees none of it, and cannot hang its clients below them.
    let other = stack.token("other", "olga", "admin");
    assert_eq!(
        stack
            .call("GET", &format!("/clients/{group}"), &other, None)
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .call("GET", &format!("/clients/{group}/hierarchy"), &other, None)
            .await
            .status,
        404
    );
    let foreign = stack
        .call(
            "POST",
            "/clients",
            &other,
            Some(json!({"name": "Intruder", "parent_id": group})),
        )
        .await;
    assert_eq!(
        foreign.problem_field(),
        ("parent_id".into(), "exists".into())
    );
}

#[tokio::test]
async fn s1_5_a_contact_links_to_several_clients_with_roles_and_one_primary() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let ada = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "Ada"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let initech = create(&stack, &admin, json!({"name": "Initech"})).await;
    let globex = create(&stack, &admin, json!({"name": "Globex"})).await;
    let link = |client: &str| format!("/contacts/{ada}/clients/{client}");

    let first = stack
        .call(
            "PUT",
            &link(&initech),
            &admin,
            Some(json!({"role": "billing", "primary": true})),
        )
        .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(
        stack
            .call(
                "PUT",
                &link(&globex),
                &admin,
                Some(json!({"role": "technical"}))
            )
            .await
            .status,
        200
    );
    assert_eq!(
        stack
            .call("GET", &format!("/contacts/{ada}"), &admin, None)
            .await
            .body["primary_client_id"],
        initech.as_str()
    );

    let mine = stack
        .call("GET", &format!("/contacts/{ada}/clients"), &admin, None)
        .await;
    let mut roles: Vec<(String, bool)> = mine.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["role"].as_str().unwrap().to_string(),
                l["primary"].as_bool().unwrap(),
            )
        })
        .collect();
    roles.sort();
    assert_eq!(
        roles,
        vec![
            ("billing".to_string(), true),
            ("technical".to_string(), false)
        ]
    );
    let theirs = stack
        .call("GET", &format!("/clients/{initech}/contacts"), &admin, None)
        .await;
    assert_eq!(theirs.body["items"][0]["contact_id"], ada.as_str());

    // One primary client: making Globex primary demotes Initech.
    stack
        .call(
            "PUT",
            &link(&globex),
            &admin,
            Some(json!({"role": "technical", "primary": true})),
        )
        .await;
    assert_eq!(
        stack
            .call("GET", &format!("/contacts/{ada}"), &admin, None)
            .await
            .body["primary_client_id"],
        globex.as_str()
    );
    let initech_link = stack
        .call("GET", &format!("/clients/{initech}/contacts"), &admin, None)
        .await;
    assert_eq!(initech_link.body["items"][0]["primary"], false);

    // A client with linked contacts is not deleted; unlinking frees it and clears the primary.
    assert_eq!(
        stack
            .call("DELETE", &format!("/clients/{globex}"), &admin, None)
            .await
            .status,
        409
    );
    assert_eq!(
        stack
            .call("DELETE", &link(&globex), &admin, None)
            .await
            .status,
        204
    );
    assert!(
        stack
            .call("GET", &format!("/contacts/{ada}"), &admin, None)
            .await
            .body
            .get("primary_client_id")
            .is_none()
    );
    assert_eq!(
        stack
            .call("GET", &format!("/clients/{globex}/contacts"), &admin, None)
            .await
            .body["items"],
        json!([])
    );
    assert_eq!(
        stack
            .call("DELETE", &format!("/clients/{globex}"), &admin, None)
            .await
            .status,
        204
    );

    // Bad input, missing records, roles and tenants.
    assert_eq!(
        stack
            .call(
                "PUT",
                &link(&initech),
                &admin,
                Some(json!({"role": "boss"}))
            )
            .await
            .status,
        400
    );
    assert_eq!(
        stack
            .call(
                "PUT",
                &link(&uuid::Uuid::now_v7().to_string()),
                &admin,
                Some(json!({"role": "other"}))
            )
            .await
            .status,
        404
    );
    let viewer = stack.token("acme", "vic", "viewer");
    assert_eq!(
        stack
            .call(
                "PUT",
                &link(&initech),
                &viewer,
                Some(json!({"role": "other"}))
            )
            .await
            .status,
        403
    );
    let other = stack.token("other", "olga", "admin");
    assert_eq!(
        stack
            .call(
                "PUT",
                &link(&initech),
                &other,
                Some(json!({"role": "other"}))
            )
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .call("GET", &format!("/clients/{initech}/contacts"), &other, None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn s6_5_client_history_records_create_change_and_delete_newest_first() {
    let stack = Stack::start().await;
    let alice = stack.token("acme", "alice", "admin");
    let bob = stack.token("acme", "bob", "admin");
    let vic = stack.token("acme", "vic", "viewer");
    let id = create(
        &stack,
        &alice,
        json!({"name": "Initech", "billing_address": {"city": "Berlin"}}),
    )
    .await;
    let path = format!("/clients/{id}");
    let history = format!("{path}/history");
    let patched = stack
        .call(
            "PATCH",
            &path,
            &bob,
            Some(json!({"name": "Initech AG", "phone": "+49 30 1234567", "billing_address": {"city": "Bonn"}})),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    // A PATCH that changes nothing records nothing; a refused one neither.
    stack
        .call("PATCH", &path, &bob, Some(json!({"name": "Initech AG"})))
        .await;
    assert_eq!(
        stack
            .call("PATCH", &path, &bob, Some(json!({"currency": "EURO"})))
            .await
            .status,
        422
    );

    let r = stack.call("GET", &history, &bob, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let entries = r.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(
        (
            entries[0]["action"].as_str(),
            entries[0]["actor"].as_str(),
            entries[0]["version"].as_u64()
        ),
        (Some("updated"), Some("bob"), Some(2))
    );
    // Changed fields only, sorted, nested objects whole, absent → null.
    assert_eq!(
        entries[0]["changes"],
        json!([
            {"field": "billing_address", "old": {"city": "Berlin"}, "new": {"city": "Bonn"}},
            {"field": "name", "old": "Initech", "new": "Initech AG"},
            {"field": "phone", "old": null, "new": "+49 30 1234567"},
        ])
    );
    assert_eq!(
        (entries[1]["action"].as_str(), entries[1]["actor"].as_str()),
        (Some("created"), Some("alice"))
    );
    let created: Vec<&str> = entries[1]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(
        created.contains(&"name") && created.contains(&"currency") && !created.contains(&"version"),
        "{created:?}"
    );

    // Paginated, newest first; the cursor belongs to this list and tenant.
    let first = stack
        .call("GET", &format!("{history}?limit=1"), &alice, None)
        .await;
    assert_eq!(first.body["items"][0]["action"], "updated");
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let second = stack
        .call(
            "GET",
            &format!("{history}?limit=1&cursor={cursor}"),
            &alice,
            None,
        )
        .await;
    assert_eq!(second.body["items"][0]["action"], "created");
    assert_eq!(
        stack
            .call("GET", &format!("{history}?limit=0"), &alice, None)
            .await
            .problem_field(),
        ("limit".into(), "range".into())
    );

    // Another tenant sees nothing, not even with a cursor of this list.
    let other = stack.token("other", "olga", "admin");
    assert_eq!(stack.call("GET", &history, &other, None).await.status, 404);
    assert_eq!(
        stack
            .call(
                "GET",
                &format!("/clients/{}/history", uuid::Uuid::now_v7()),
                &alice,
                None
            )
            .await
            .status,
        404
    );

    // Deleted: the client is gone, its trail stays, for owners and admins only.
    assert_eq!(
        stack
            .send(
                stack
                    .request("DELETE", &path, Some(&alice))
                    .header("if-match", "\"2\"")
            )
            .await
            .status,
        204
    );
    assert_eq!(stack.call("GET", &path, &alice, None).await.status, 404);
    let after = stack.call("GET", &history, &alice, None).await;
    assert_eq!(after.status, 200, "{:?}", after.body);
    let entries = after.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(
        (
            entries[0]["action"].as_str(),
            entries[0]["actor"].as_str(),
            entries[0]["version"].as_u64()
        ),
        (Some("deleted"), Some("alice"), Some(2))
    );
    assert!(
        entries[0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "name" && c["old"] == "Initech AG" && c["new"].is_null())
    );
    assert_eq!(stack.call("GET", &history, &vic, None).await.status, 404);
    assert_eq!(stack.call("GET", &history, &other, None).await.status, 404);
    let owner = stack.token("acme", "oscar", "owner");
    assert_eq!(stack.call("GET", &history, &owner, None).await.status, 200);
    // The deleted client does not come back through a PATCH, and is listed nowhere.
    assert_eq!(
        stack
            .call("PATCH", &path, &alice, Some(json!({"name": "X"})))
            .await
            .status,
        404
    );
    assert_eq!(
        stack.call("GET", "/clients", &alice, None).await.body["items"],
        json!([])
    );
}
