//! Client rules: normalisation and validation, and on the in-memory store the hierarchy,
//! deletion with a tombstone and its history (S2.1–S2.3, S6.5).

use super::*;

fn fields(name: &str) -> ClientFields {
    ClientFields {
        name: name.into(),
        ..Default::default()
    }
}

#[test]
fn s2_1_defaults_and_normalisation() {
    let f = ClientFields {
        domain: Some(" ACME.Example ".into()),
        vat_id: Some("de 123 456 789".into()),
        tags: vec!["VIP".into(), "vip".into(), " key  account ".into()],
        default_hourly_rate: Some("95.5".into()),
        ..fields(" ACME  GmbH ")
    }
    .validate()
    .unwrap();
    assert_eq!(f.name, "ACME GmbH");
    assert_eq!(f.domain.as_deref(), Some("acme.example"));
    assert_eq!(f.vat_id.as_deref(), Some("DE123456789"));
    assert_eq!(f.tags, vec!["VIP", "key account"]);
    assert_eq!(f.currency.as_deref(), Some("EUR"));
    assert_eq!(f.status, Some(ClientStatus::Active));
    assert_eq!(f.default_hourly_rate.as_deref(), Some("95.50"));
}

#[test]
fn s2_3_every_broken_rule_is_named() {
    let errs = ClientFields {
        currency: Some("EURO".into()),
        email: Some("nope".into()),
        billing_address: Some(Address {
            country: Some("Germany".into()),
            ..Default::default()
        }),
        communication: CommunicationPreferences {
            language: Some("german!".into()),
            time_zone: Some("Berlin".into()),
            ..Default::default()
        },
        payment_terms_days: Some(400),
        ..fields("")
    }
    .validate()
    .unwrap_err();
    let got: Vec<(&str, &str)> = errs
        .iter()
        .map(|e| (e.field.as_str(), e.rule.as_str()))
        .collect();
    for expected in [
        ("name", "required"),
        ("currency", "iso_4217"),
        ("payment_terms_days", "range"),
        ("communication.language", "bcp_47"),
        ("communication.time_zone", "iana"),
        ("billing_address.country", "iso_3166"),
        ("email", "format"),
    ] {
        assert!(got.contains(&expected), "{expected:?} in {got:?}");
    }
}

#[test]
fn a_client_address_country_follows_the_one_country_rule() {
    // "ZZ" is two capital letters but no ISO 3166-1 country: refused on a client as on a
    // contact (it used to pass the client's own two-letter check).
    let client = ClientFields {
        billing_address: Some(Address {
            country: Some("ZZ".into()),
            ..Default::default()
        }),
        ..fields("Acme")
    }
    .validate()
    .unwrap_err();
    let contact = crate::contacts::ContactFields::validate(crate::contacts::NewContact {
        first_name: Some("Ada".into()),
        addresses: Some(vec![crate::contacts::ContactAddress {
            country: Some("ZZ".into()),
            ..Default::default()
        }]),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(
        (client[0].field.as_str(), client[0].rule.as_str()),
        ("billing_address.country", "iso_3166")
    );
    assert_eq!(
        (contact[0].field.as_str(), contact[0].rule.as_str()),
        ("addresses[0].country", "iso_3166")
    );
}
