//! The index terms of a value per type (S1.3, S3.5).

use super::*;

#[test]
fn s1_3_index_terms_per_type() {
    let terms = |ty: Value, raw: Value| {
        let d = field(ty);
        index_terms(&d, &ok(&d, raw))
    };
    assert_eq!(
        terms(json!({"kind": "integer"}), json!(42)),
        ["p000000000000000042.0000000000"]
    );
    assert_eq!(
        terms(json!({"kind": "integer"}), json!(-42)),
        ["n999999999999999957.9999999999"]
    );
    assert_eq!(
        terms(json!({"kind": "decimal"}), json!("42.00")),
        terms(json!({"kind": "integer"}), json!(42)),
        "integer → decimal keeps the index"
    );
    assert_eq!(
        terms(
            json!({"kind": "currency"}),
            json!({"amount": "1.5", "currency": "EUR"})
        ),
        ["EUR:p000000000000000001.5000000000"]
    );
    assert_eq!(
        terms(json!({"kind": "date"}), json!("2026-11-29")),
        ["2026-11-29"]
    );
    assert_eq!(
        terms(json!({"kind": "date_time"}), json!("2026-11-29T14:30:00Z")),
        ["2026-11-29T14:30:00.000Z"]
    );
    assert_eq!(terms(json!({"kind": "boolean"}), json!(false)), ["false"]);
    assert_eq!(
        terms(
            json!({"kind": "multi_select", "options": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]}),
            json!(["b", "a"])
        ),
        ["a", "b"]
    );
    assert_eq!(
        terms(json!({"kind": "text"}), json!("Müller GmbH")),
        ["v:muller gmbh", "w:muller", "w:mueller", "w:gmbh"]
    );
    assert_eq!(
        terms(json!({"kind": "email"}), json!("Ada@Example.com")),
        [
            "v:ada@example.com",
            "w:ada@example.com",
            "w:ada",
            "w:example.com"
        ]
    );
    assert_eq!(
        terms(json!({"kind": "url"}), json!("https://Ex.com/a#b")),
        ["v:https://ex.com/a%23b"]
    );
    assert_eq!(terms(json!({"kind": "user_ref"}), json!("bob")), ["bob"]);
    assert!(
        EMPTY_TERM < "0"
            && EMPTY_TERM < "false"
            && EMPTY_TERM < "n"
            && EMPTY_TERM < "EUR:"
            && EMPTY_TERM < "v:"
    );
}
