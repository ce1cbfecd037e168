//! Custom field values on stored records, on the in-memory store: written and read through
//! a kind's use cases, hidden by field visibility, filtered by the list planner, converted by
//! a definition change, and references checked against what the writer may see (S3.3–S3.5).

use super::*;
use crate::contacts::{Contact, Contacts};
use crate::custom_fields::{Entity, FieldValue, admin, store};
use crate::records::query::RecordQuery;
use serde_json::{Value, json};
use std::collections::BTreeMap;

struct Tenant {
    catalog: Catalog,
    contacts: Contacts,
    fields: store::FieldStore,
}

fn tenant() -> Tenant {
    let catalog = Catalog::new(Table::in_memory());
    Tenant {
        contacts: catalog.contacts(),
        fields: store::FieldStore::new(catalog.table().clone()),
        catalog,
    }
}

fn owner() -> Caller {
    Caller::new("acme", "alice", Role::Owner)
}

async fn define(t: &Tenant, body: Value) {
    let input = serde_json::from_value(body).expect("a definition body");
    admin::create(&t.fields, &owner(), input)
        .await
        .expect("defined");
}

async fn contact(
    t: &Tenant,
    caller: &Caller,
    name: &str,
    custom: Value,
) -> Result<Contact, CrmError> {
    let input = serde_json::from_value(json!({ "first_name": name })).unwrap();
    t.contacts.create(caller, input, custom.as_object()).await
}

async fn listed(t: &Tenant, caller: &Caller, params: &[(&str, &str)]) -> Vec<Uuid> {
    let params = (params.iter())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let q = RecordQuery::parse(t.contacts.schema(), &params).expect("a valid query");
    let page = t
        .contacts
        .list(caller, &q, 100, None)
        .await
        .expect("a page");
    page.items.iter().map(|c| c.id).collect()
}

async fn tier_and_secret(t: &Tenant) {
    define(
        t,
        json!({"key": "tier", "entity": "contact", "label": "Tier",
        "type": {"kind": "select", "options": [{"id": "gold", "label": "Gold"},
            {"id": "silver", "label": "Silver"}, {"id": "bronze", "label": "Bronze"}]}}),
    )
    .await;
    define(
        t,
        json!({"key": "secret", "entity": "contact", "label": "Secret",
        "type": {"kind": "text"}, "visibility": {"kind": "restricted", "roles": ["admin"]}}),
    )
    .await;
}

#[tokio::test]
async fn s3_4_values_are_stored_and_shown_only_where_the_field_is_visible() {
    let t = tenant();
    tier_and_secret(&t).await;
    let ada = contact(&t, &owner(), "Ada", json!({"tier": "Gold", "secret": "s3"})).await;
    let ada = ada.unwrap();
    let shown = t.contacts.present(&owner(), &ada).await.unwrap();
    assert_eq!(
        shown["custom_fields"],
        json!({"tier": "gold", "secret": "s3"})
    );
    let viewer = Caller::new("acme", "vic", Role::Viewer);
    let seen = t.contacts.present(&viewer, &ada).await.unwrap();
    assert_eq!(seen["custom_fields"], json!({"tier": "gold"}));
    let member = Caller::new("acme", "bob", Role::Member);
    let write = contact(&t, &member, "Bo", json!({"secret": "mine"})).await;
    let Err(CrmError::Validation(errors)) = write else {
        panic!("{write:?}")
    };
    assert_eq!(
        (errors[0].field.as_str(), errors[0].rule.as_str()),
        ("custom_fields.secret", "unknown_field")
    );
}

#[tokio::test]
async fn s3_5_lists_filter_by_values_and_a_definition_change_moves_them() {
    let t = tenant();
    tier_and_secret(&t).await;
    let mut ids = BTreeMap::new();
    for (name, tier) in [
        ("Ada", "gold"),
        ("Bo", "silver"),
        ("Cy", "bronze"),
        ("Di", "gold"),
    ] {
        let c = contact(&t, &owner(), name, json!({ "tier": tier }))
            .await
            .unwrap();
        ids.insert(name, c.id);
    }
    let gold = listed(&t, &owner(), &[("cf.tier", "gold")]).await;
    // Driven by the field's entries: in the field's order, then the order of creation.
    assert_eq!(gold, vec![ids["Ada"], ids["Di"]]);
    let not_gold = listed(&t, &owner(), &[("cf.tier[ne]", "gold")]).await;
    assert_eq!(
        not_gold,
        vec![ids["Cy"], ids["Bo"]],
        "checked on each record: newest first"
    );
    // Removing an option needs a mapping; the mapped values move and the index follows.
    let patch = json!({"type": {"kind": "select", "options": [{"id": "gold", "label": "Gold"},
        {"id": "silver", "label": "Silver"}]}});
    let entity = Entity::CONTACT;
    let unmapped = admin::change(
        &t.fields,
        &t.catalog,
        &owner(),
        entity,
        "tier",
        patch.as_object().unwrap().clone(),
        None,
    )
    .await;
    assert!(
        matches!(
            unmapped,
            Err(CrmError::ChangeRefused {
                affected_records: 1,
                ..
            })
        ),
        "{unmapped:?}"
    );
    let mut mapped = patch.as_object().unwrap().clone();
    mapped.insert("option_mapping".into(), json!({"bronze": "silver"}));
    let alice = owner();
    let outcome = admin::change(&t.fields, &t.catalog, &alice, entity, "tier", mapped, None);
    assert_eq!(outcome.await.unwrap().migrated_records, 1);
    let silver = listed(&t, &owner(), &[("cf.tier", "silver")]).await;
    assert_eq!(silver, vec![ids["Bo"], ids["Cy"]]);
    let cy = t.contacts.get(&owner(), ids["Cy"]).await.unwrap();
    assert_eq!(
        cy.custom_fields["tier"],
        FieldValue::Select("silver".into())
    );
}

#[tokio::test]
async fn s3_3_a_reference_must_point_at_a_record_the_writer_sees() {
    let t = tenant();
    define(
        &t,
        json!({"key": "referrer", "entity": "contact", "label": "Referrer",
        "type": {"kind": "contact_ref"}}),
    )
    .await;
    let private = json!({"first_name": "Private", "visibility": "private"});
    let input = serde_json::from_value(private).unwrap();
    let hidden = t.contacts.create(&owner(), input, None).await.unwrap();
    let member = Caller::new("acme", "bob", Role::Member);
    let refused = contact(&t, &member, "Bo", json!({"referrer": hidden.id})).await;
    let Err(CrmError::Validation(errors)) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(
        (errors[0].field.as_str(), errors[0].rule.as_str()),
        ("custom_fields.referrer", "reference")
    );
    let ok = contact(&t, &owner(), "Di", json!({"referrer": hidden.id}))
        .await
        .unwrap();
    assert_eq!(ok.custom_fields["referrer"], FieldValue::Contact(hidden.id));
}

#[tokio::test]
async fn s3_5_a_value_and_a_status_read_only_the_records_having_both() {
    let t = tenant();
    tier_and_secret(&t).await;
    let mut ids = Vec::new();
    for (status, tier) in [
        ("customer", "gold"),
        ("lead", "gold"),
        ("customer", "silver"),
    ] {
        let body = json!({"first_name": "C", "lifecycle_status": status});
        let input = serde_json::from_value(body).unwrap();
        let custom = json!({ "tier": tier });
        let c = t.contacts.create(&owner(), input, custom.as_object()).await;
        ids.push(c.unwrap().id);
    }
    let params = [("cf.tier", "gold"), ("status", "customer")];
    assert_eq!(listed(&t, &owner(), &params).await, vec![ids[0]]);
    let params = [("cf.tier", "gold"), ("status", "lead")];
    assert_eq!(listed(&t, &owner(), &params).await, vec![ids[1]]);
    // The value's entries qualified by the status: the one match is all that is read.
    let params = BTreeMap::from([
        ("cf.tier".into(), "gold".into()),
        ("status".into(), "lead".into()),
    ]);
    let q = RecordQuery::parse(t.contacts.schema(), &params).unwrap();
    let (page, stats) = t
        .contacts
        .list_with_stats(&owner(), &q, 10, None)
        .await
        .unwrap();
    assert_eq!((page.items.len(), stats.items_read), (1, 1));
}
