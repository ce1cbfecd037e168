//! The suites every record kind passes (`crm_e2e_tests::suites`), run for contacts, clients and
//! deals and the test-only widgets: one engine, the same behaviour.

use crm_e2e_tests::suites::{self, KindUnderTest};
use crm_e2e_tests::{Stack, json};

const CONTACTS: KindUnderTest = KindUnderTest {
    plural: "contacts",
    entity: "contact",
    trash: true,
    new: |name| json!({"first_name": name, "last_name": "Test"}),
    change: (|| json!({"job_title": "CFO"}), "job_title", || json!("CFO")),
    invalid: (
        || json!({"first_name": "X", "email": "nope"}),
        "email",
        "format",
    ),
    facet: Some(("tag=vip", || json!({"tags": ["VIP"]}))),
    sort: Some("name"),
    setup: None,
};

const CLIENTS: KindUnderTest = KindUnderTest {
    plural: "clients",
    entity: "client",
    trash: false,
    new: |name| json!({"name": name}),
    change: (
        || json!({"industry": "Software"}),
        "industry",
        || json!("Software"),
    ),
    invalid: (
        || json!({"name": "X", "currency": "EURO"}),
        "currency",
        "iso_4217",
    ),
    facet: None,
    sort: None,
    setup: None,
};

const WIDGETS: KindUnderTest = KindUnderTest {
    plural: "widgets",
    entity: "widget",
    trash: true,
    new: |name| json!({"name": name}),
    change: (|| json!({"status": "live"}), "status", || json!("live")),
    invalid: (
        || json!({"name": "W", "status": "gone"}),
        "status",
        "one_of",
    ),
    facet: Some(("tag=blue", || json!({"tags": ["Blue"]}))),
    sort: Some("name"),
    setup: None,
};

/// A pipeline of three stages: where every deal of the suites goes (the tenant's default).
fn sales_pipeline() -> serde_json::Value {
    json!({"name": "Sales", "stages": [
        {"name": "Lead", "probability": "20"},
        {"name": "Won", "kind": "won"},
        {"name": "Lost", "kind": "lost"}
    ]})
}

const DEALS: KindUnderTest = KindUnderTest {
    plural: "deals",
    entity: "deal",
    trash: true,
    new: |name| json!({"title": name}),
    change: (
        || json!({"expected_close": "2027-03-31"}),
        "expected_close",
        || json!("2027-03-31"),
    ),
    invalid: (
        || json!({"title": "X", "value": {"amount": 10.5, "currency": "EUR"}}),
        "value.amount",
        "type",
    ),
    facet: Some(("tag=blue", || json!({"tags": ["Blue"]}))),
    sort: Some("title"),
    setup: Some(("/pipelines", sales_pipeline)),
};

macro_rules! every_kind {
    ($($suite:ident),*) => {$(
        mod $suite {
            use super::*;

            #[tokio::test]
            async fn contacts() {
                suites::$suite(&Stack::start().await, &CONTACTS).await;
            }

            #[tokio::test]
            async fn clients() {
                suites::$suite(&Stack::start().await, &CLIENTS).await;
            }

            #[tokio::test]
            async fn widgets() {
                suites::$suite(&Stack::start().await, &WIDGETS).await;
            }

            #[tokio::test]
            async fn deals() {
                suites::$suite(&Stack::start().await, &DEALS).await;
            }
        }
    )*};
}

every_kind!(
    role_by_route_matrix,
    cross_tenant_probe,
    audit_trail,
    trash_and_restore,
    custom_fields,
    lists
);

/// A body that breaks a rule is refused naming the field and the rule, and writes nothing.
#[tokio::test]
async fn bad_bodies_are_refused_naming_the_field_for_every_kind() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    for kind in [&CONTACTS, &CLIENTS, &WIDGETS, &DEALS] {
        suites::prepare(&stack, kind).await;
        let (body, field, rule) = ((kind.invalid.0)(), kind.invalid.1, kind.invalid.2);
        let r = stack
            .call("POST", &format!("/{}", kind.plural), &admin, Some(body))
            .await;
        assert_eq!(
            (r.status, r.problem_field()),
            (422, (field.into(), rule.into())),
            "{}",
            kind.plural
        );
        assert_eq!(
            stack.ids(&format!("/{}", kind.plural), &admin).await,
            Vec::<String>::new()
        );
    }
}
