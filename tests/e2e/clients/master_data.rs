//! A client's master data (S2.1–S2.4): stored normalised, patched with If-Match, listed,
//! deleted, and bad data refused naming each field.

use crm_e2e_tests::{Stack, json};
use serde_json::Value;

/// Globex with every kind of master data, written as a user might.
fn globex() -> Value {
    json!({
        "name": "Globex  GmbH", "legal_name": "Globex Gesellschaft mbH", "domain": "Globex.Example",
        "industry": "Manufacturing", "size": "51-200", "status": "prospect", "tags": ["VIP", "vip", "DACH"],
        "billing_address": {"street": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin", "country": "de"},
        "phone": "+49 30 1234567", "email": "Info@Globex.example", "website": "https://globex.example",
        "vat_id": "de 123456789",
        "communication": {"preferred_channel": "email", "language": "de-DE", "time_zone": "Europe/Berlin", "email_opt_out": true},
        "currency": "chf", "payment_terms_days": 30, "payment_method": "bank_transfer",
        "billing_email": "billing@globex.example", "default_hourly_rate": "120.5"
    })
}

/// Master data is normalised (names, domain, tags, country, email, VAT id, currency, amounts),
/// owned by its creator, and stored and returned unchanged (S2.1–S2.4).
#[tokio::test]
async fn s2_1_to_s2_4_master_data_is_stored_normalised() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let r = stack.call("POST", "/clients", &admin, Some(globex())).await;
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
}

/// A client is patched with If-Match (null clears; a stale version is refused), listed and
/// deleted (S2.1).
#[tokio::test]
async fn s2_1_a_client_is_patched_with_if_match_listed_and_deleted() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let path = format!("/clients/{}", stack.create_client(&admin, globex()).await);
    let patched = stack
        .call_if_match(
            "PATCH",
            &path,
            &admin,
            "\"1\"",
            Some(json!({"status": "active", "legal_name": null})),
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
        .call_if_match(
            "PATCH",
            &path,
            &admin,
            "\"1\"",
            Some(json!({"status": "churned"})),
        )
        .await;
    assert_eq!(stale.status, 412);

    let listed = stack.call("GET", "/clients", &admin, None).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(stack.call("DELETE", &path, &admin, None).await.status, 204);
    assert_eq!(stack.call("GET", &path, &admin, None).await.status, 404);
}

/// Bad master data is refused naming each field and its rule, read-only fields are refused,
/// a viewer may not create, and nothing is written (S2.4).
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
