//! Unit tests of custom fields: every type and rule, merge-patch semantics, required /
//! archived / visibility, definition validation, change assessment and index terms.

use super::*;
use crate::{Caller, FieldError, Role};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;

pub(super) fn def_json(body: Value) -> FieldDefinition {
    let new: NewFieldDefinition = serde_json::from_value(body).expect("a definition body");
    new.validate(&[], &[]).expect("a valid definition")
}

/// A contact field `f` of the given type (`{"kind": …}`).
pub(super) fn field(ty: Value) -> FieldDefinition {
    def_json(json!({"key": "f", "entity": "contact", "label": "F", "type": ty}))
}

fn ok(def: &FieldDefinition, raw: Value) -> FieldValue {
    validate(def, &raw, "custom_fields.f").unwrap_or_else(|e| panic!("{raw} refused: {e:?}"))
}

/// The rules broken, as `field rule` strings.
fn rules(def: &FieldDefinition, raw: Value) -> Vec<String> {
    match validate(def, &raw, "custom_fields.f") {
        Ok(v) => panic!("{raw} accepted as {v:?}"),
        Err(errors) => describe(&errors),
    }
}

fn describe(errors: &[FieldError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| format!("{} {}", e.field, e.rule))
        .collect()
}

fn admin() -> Caller {
    Caller::new("t1", "admin", Role::Admin)
}

fn member(teams: Vec<Uuid>) -> Caller {
    Caller {
        teams,
        ..Caller::new("t1", "mia", Role::Member)
    }
}

fn team(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().expect("an object").clone()
}

// --- values, type by type -------------------------------------------------------------

#[test]
fn s3_2_text_normalises_and_checks_length_and_pattern() {
    let d = field(
        json!({"kind": "text", "min_length": 2, "max_length": 5, "regex": "[A-Z]+( [0-9])?"}),
    );
    assert_eq!(ok(&d, json!("  AB\t1 ")), FieldValue::Text("AB 1".into()));
    assert_eq!(rules(&d, json!("A")), ["custom_fields.f min_length"]);
    assert_eq!(rules(&d, json!("ABCDEF")), ["custom_fields.f max_length"]);
    // The pattern must match the whole value, like HTML's `pattern`.
    assert_eq!(rules(&d, json!("ab")), ["custom_fields.f pattern"]);
    assert_eq!(
        rules(&d, json!("A\u{7}")),
        ["custom_fields.f no_control_characters"]
    );
    assert_eq!(rules(&d, json!(12)), ["custom_fields.f type"]);
    assert_eq!(rules(&d, json!("   ")), ["custom_fields.f required"]);
    let plain = field(json!({"kind": "text"}));
    assert_eq!(
        ok(&plain, json!("x".repeat(limits::TEXT_MAX))),
        FieldValue::Text("x".repeat(limits::TEXT_MAX))
    );
    assert_eq!(
        rules(&plain, json!("x".repeat(limits::TEXT_MAX + 1))),
        ["custom_fields.f max_length"]
    );
}

#[test]
fn s3_2_long_text_keeps_line_breaks() {
    let d = field(json!({"kind": "long_text", "max_length": 10}));
    assert_eq!(
        ok(&d, json!(" a\r\nb\n\tc ")),
        FieldValue::Text("a\nb\n\tc".into())
    );
    assert_eq!(
        rules(&d, json!("12345678901")),
        ["custom_fields.f max_length"]
    );
    assert_eq!(
        rules(&d, json!("a\u{0}")),
        ["custom_fields.f no_control_characters"]
    );
    let big = field(json!({"kind": "long_text"}));
    assert!(validate(&big, &json!("y".repeat(limits::LONG_TEXT_MAX)), "f").is_ok());
    assert!(validate(&big, &json!("y".repeat(limits::LONG_TEXT_MAX + 1)), "f").is_err());
}

#[test]
fn s3_2_integer_range_and_shapes() {
    let d = field(json!({"kind": "integer", "min": -5, "max": 10}));
    assert_eq!(ok(&d, json!(7)), FieldValue::Integer(7));
    assert_eq!(ok(&d, json!(-5)), FieldValue::Integer(-5));
    assert_eq!(ok(&d, json!(" 3 ")), FieldValue::Integer(3), "import text");
    assert_eq!(ok(&d, json!(4.0)), FieldValue::Integer(4));
    assert_eq!(rules(&d, json!(11)), ["custom_fields.f max"]);
    assert_eq!(rules(&d, json!(-6)), ["custom_fields.f min"]);
    assert_eq!(rules(&d, json!(1.5)), ["custom_fields.f type"]);
    assert_eq!(rules(&d, json!("1.5")), ["custom_fields.f type"]);
    assert_eq!(rules(&d, json!(true)), ["custom_fields.f type"]);
    let any = field(json!({"kind": "integer"}));
    assert_eq!(
        ok(&any, json!(limits::INTEGER_MAX)),
        FieldValue::Integer(limits::INTEGER_MAX)
    );
    assert_eq!(
        rules(&any, json!(limits::INTEGER_MAX + 1)),
        ["custom_fields.f type"]
    );
    assert_eq!(rules(&any, json!(u64::MAX)), ["custom_fields.f type"]);
}

#[test]
fn s3_2_decimal_is_exact_and_keeps_its_scale() {
    let d = field(json!({"kind": "decimal", "min": "-10", "max": "100.5", "scale": 2}));
    let v = ok(&d, json!("12.50"));
    assert_eq!(v.to_json(), json!("12.50"));
    assert_eq!(ok(&d, json!("007.1")).to_json(), json!("7.1"));
    assert_eq!(ok(&d, json!("-0.00")).to_json(), json!("0.00"));
    assert_eq!(
        ok(&d, json!(42)).to_json(),
        json!("42"),
        "a whole JSON number is exact"
    );
    // Zeros beyond the scale go; digits never do.
    assert_eq!(ok(&d, json!("1.500")).to_json(), json!("1.50"));
    assert_eq!(rules(&d, json!("1.555")), ["custom_fields.f scale"]);
    assert_eq!(
        rules(&d, json!(1.5)),
        ["custom_fields.f type"],
        "floats may have lost digits"
    );
    assert_eq!(rules(&d, json!("1e3")), ["custom_fields.f format"]);
    assert_eq!(rules(&d, json!("100.51")), ["custom_fields.f max"]);
    assert_eq!(rules(&d, json!("-10.01")), ["custom_fields.f min"]);
    let wide = field(json!({"kind": "decimal"}));
    assert_eq!(
        ok(&wide, json!("-123456789012345678.0123456789")).to_json(),
        json!("-123456789012345678.0123456789")
    );
    assert_eq!(
        rules(&wide, json!("1234567890123456789")),
        ["custom_fields.f format"]
    );
    assert_eq!(
        rules(&wide, json!("0.01234567891")),
        ["custom_fields.f scale"]
    );
}

#[test]
fn s3_2_currency_amounts_use_the_minor_units() {
    let d = field(json!({"kind": "currency", "currencies": ["eur", "JPY", "KWD"], "min": "0"}));
    assert_eq!(
        ok(&d, json!({"amount": "12.5", "currency": "eur"})).to_json(),
        json!({"amount": "12.50", "currency": "EUR"})
    );
    assert_eq!(
        ok(&d, json!({"amount": "1200", "currency": "JPY"})).to_json()["amount"],
        "1200"
    );
    assert_eq!(
        ok(&d, json!({"amount": "1.5", "currency": "KWD"})).to_json()["amount"],
        "1.500"
    );
    assert_eq!(
        ok(&d, json!({"amount": 3, "currency": "EUR"})).to_json()["amount"],
        "3.00"
    );
    assert_eq!(
        rules(&d, json!({"amount": "1.5", "currency": "JPY"})),
        ["custom_fields.f.amount scale"]
    );
    assert_eq!(
        rules(&d, json!({"amount": "1", "currency": "USD"})),
        ["custom_fields.f.currency currency"]
    );
    assert_eq!(
        rules(&d, json!({"amount": "1", "currency": "EURO"})),
        ["custom_fields.f.currency currency"]
    );
    assert_eq!(
        rules(&d, json!({"amount": "-1", "currency": "EUR"})),
        ["custom_fields.f.amount min"]
    );
    assert_eq!(
        rules(&d, json!({"amount": "1"})),
        ["custom_fields.f.currency required"]
    );
    assert_eq!(
        rules(&d, json!({"currency": "EUR"})),
        ["custom_fields.f.amount required"]
    );
    assert_eq!(
        rules(&d, json!({"amount": 1.5, "currency": "EUR"})),
        ["custom_fields.f.amount type"]
    );
    assert_eq!(
        rules(&d, json!({"amount": "1", "currency": "EUR", "rate": 1})),
        ["custom_fields.f.rate unknown_field"]
    );
    assert_eq!(rules(&d, json!("12.50 EUR")), ["custom_fields.f type"]);
    // One allowed currency: it may be left out.
    let eur = field(json!({"kind": "currency", "currencies": ["EUR"]}));
    assert_eq!(
        ok(&eur, json!({"amount": "2"})).to_json(),
        json!({"amount": "2.00", "currency": "EUR"})
    );
    let any = field(json!({"kind": "currency"}));
    assert_eq!(
        ok(&any, json!({"amount": "-2", "currency": "chf"})).to_json(),
        json!({"amount": "-2.00", "currency": "CHF"})
    );
}

#[test]
fn s3_2_dates_and_datetimes() {
    let d = field(json!({"kind": "date", "min": "2000-01-01", "max": "2030-12-31"}));
    assert_eq!(ok(&d, json!("2026-11-29")).to_json(), json!("2026-11-29"));
    assert_eq!(rules(&d, json!("2026-1-5")), ["custom_fields.f format"]);
    assert_eq!(rules(&d, json!("2026-02-30")), ["custom_fields.f format"]);
    assert_eq!(rules(&d, json!("1999-12-31")), ["custom_fields.f min"]);
    assert_eq!(rules(&d, json!("2031-01-01")), ["custom_fields.f max"]);
    let t = field(json!({"kind": "date_time", "max": "2030-01-01T00:00:00Z"}));
    assert_eq!(
        ok(&t, json!("2026-11-29T15:30:00.123456+01:00")).to_json(),
        json!("2026-11-29T14:30:00.123Z"),
        "UTC, milliseconds"
    );
    assert_eq!(
        rules(&t, json!("2026-11-29 14:30")),
        ["custom_fields.f format"]
    );
    assert_eq!(
        rules(&t, json!("2030-01-01T00:00:00.001Z")),
        ["custom_fields.f max"]
    );
    assert_eq!(rules(&t, json!(1_700_000_000)), ["custom_fields.f type"]);
}

#[test]
fn s3_2_booleans() {
    let d = field(json!({"kind": "boolean"}));
    assert_eq!(ok(&d, json!(true)), FieldValue::Boolean(true));
    assert_eq!(ok(&d, json!("False")), FieldValue::Boolean(false));
    assert_eq!(rules(&d, json!(1)), ["custom_fields.f type"]);
    assert_eq!(rules(&d, json!("yes")), ["custom_fields.f type"]);
}

fn select_def() -> FieldDefinition {
    field(json!({"kind": "select", "options": [
        {"label": "In Progress"},
        {"id": "done", "label": "Done"},
        {"id": "old", "label": "Old", "archived": true}
    ]}))
}

#[test]
fn s3_2_select_takes_ids_or_labels() {
    let d = select_def();
    assert_eq!(
        d.field_type.options()[0].id,
        "in_progress",
        "generated from the label"
    );
    assert_eq!(ok(&d, json!("done")), FieldValue::Select("done".into()));
    assert_eq!(
        ok(&d, json!("in progress")),
        FieldValue::Select("in_progress".into())
    );
    assert_eq!(rules(&d, json!("nope")), ["custom_fields.f option"]);
    assert_eq!(
        rules(&d, json!("old")),
        ["custom_fields.f option"],
        "archived"
    );
    assert_eq!(rules(&d, json!(["done"])), ["custom_fields.f type"]);
}

#[test]
fn s3_2_multi_select_dedupes_orders_and_counts() {
    let d = field(
        json!({"kind": "multi_select", "min_items": 2, "max_items": 3, "options": [
            {"id": "a", "label": "A"}, {"id": "b", "label": "B"}, {"id": "c", "label": "C"},
            {"id": "d", "label": "D"}, {"id": "x", "label": "X", "archived": true}
        ]}),
    );
    assert_eq!(
        ok(&d, json!(["c", "a", "c"])),
        FieldValue::MultiSelect(vec!["a".into(), "c".into()])
    );
    assert_eq!(rules(&d, json!(["a"])), ["custom_fields.f min_items"]);
    assert_eq!(
        rules(&d, json!(["a", "b", "c", "d"])),
        ["custom_fields.f max_items"]
    );
    assert_eq!(
        rules(&d, json!(["a", "zz", 3, "x"])),
        [
            "custom_fields.f[1] option",
            "custom_fields.f[2] type",
            "custom_fields.f[3] option"
        ]
    );
    assert_eq!(rules(&d, json!([])), ["custom_fields.f required"]);
    assert_eq!(rules(&d, json!({"a": true})), ["custom_fields.f type"]);
}

#[test]
fn s3_2_email_phone_url() {
    let e = field(json!({"kind": "email"}));
    assert_eq!(
        ok(&e, json!(" Ada@Example.COM ")),
        FieldValue::Text("ada@example.com".into())
    );
    assert_eq!(rules(&e, json!("ada@")), ["custom_fields.f format"]);
    let p = field(json!({"kind": "phone", "default_country": "de"}));
    assert_eq!(
        ok(&p, json!("030 1234567")),
        FieldValue::Text("+49301234567".into())
    );
    assert_eq!(
        ok(&p, json!("+1 212 555 0100")),
        FieldValue::Text("+12125550100".into())
    );
    assert_eq!(
        ok(&p, json!("030 1234567 ext. 12")),
        FieldValue::Text("+49 30 1234567 ext. 12".into()),
        "the extension is kept"
    );
    assert_eq!(rules(&p, json!("hello")), ["custom_fields.f format"]);
    assert_eq!(rules(&p, json!("0301")), ["custom_fields.f invalid_number"]);
    let unknown_country = field(json!({"kind": "phone"}));
    assert_eq!(
        ok(&unknown_country, json!("030  1234567")),
        FieldValue::Text("030 1234567".into())
    );
    let u = field(json!({"kind": "url"}));
    assert_eq!(
        ok(&u, json!("https://example.com/a#b")),
        FieldValue::Text("https://example.com/a#b".into())
    );
    assert_eq!(rules(&u, json!("example.com")), ["custom_fields.f format"]);
    assert_eq!(
        rules(&u, json!(format!("https://e.com/{}", "a".repeat(2000)))),
        ["custom_fields.f max_length"]
    );
}

#[test]
fn s3_2_references_are_shape_checked_and_returned_for_the_caller_to_check() {
    let user = field(json!({"kind": "user_ref"}));
    let contact = field(json!({"kind": "contact_ref"}));
    let client = field(json!({"kind": "client_ref"}));
    let id = Uuid::from_bytes([7; 16]);
    assert_eq!(
        ok(&user, json!("auth0|abc")).references(),
        [Reference::User("auth0|abc".into())]
    );
    assert_eq!(
        ok(&contact, json!(id.to_string())).references(),
        [Reference::Contact(id)]
    );
    assert_eq!(
        ok(&client, json!(id.simple().to_string().to_uppercase())).to_json(),
        json!(id.to_string()),
        "normalised to the hyphenated form"
    );
    assert_eq!(rules(&user, json!("a b")), ["custom_fields.f format"]);
    assert_eq!(
        rules(&contact, json!("not-a-uuid")),
        ["custom_fields.f format"]
    );
    assert!(FieldValue::Integer(1).references().is_empty());
    // Only references a write sets or changes need a look-up.
    let before = BTreeMap::from([("c".to_string(), FieldValue::Contact(id))]);
    let mut after = before.clone();
    after.insert("u".into(), FieldValue::User("bob".into()));
    assert_eq!(
        changed_references(Some(&before), &after),
        [("u".to_string(), Reference::User("bob".into()))]
    );
    assert_eq!(changed_references(None, &after).len(), 2);
    assert_eq!(reference_error("c").field, "custom_fields.c");
}

#[test]
fn null_is_no_value_for_every_type() {
    for ty in [
        json!({"kind": "text"}),
        json!({"kind": "integer"}),
        json!({"kind": "currency"}),
        json!({"kind": "boolean"}),
    ] {
        assert_eq!(rules(&field(ty), Value::Null), ["custom_fields.f required"]);
    }
}

// --- validate_values: merge patch, required, archived, visibility, defaults -----------

fn defs() -> Vec<FieldDefinition> {
    vec![
        def_json(
            json!({"key": "size", "entity": "contact", "label": "Size", "type": {"kind": "integer"}, "required": true, "default": 1}),
        ),
        def_json(
            json!({"key": "note", "entity": "contact", "label": "Note", "type": {"kind": "text"}}),
        ),
        def_json(
            json!({"key": "tier", "entity": "contact", "label": "Tier", "type": {"kind": "text"}, "default": "basic"}),
        ),
        def_json(
            json!({"key": "legacy", "entity": "contact", "label": "Legacy", "type": {"kind": "text"}, "required": true, "archived": true}),
        ),
        def_json(
            json!({"key": "salary", "entity": "contact", "label": "Salary", "type": {"kind": "integer"}, "required": true,
            "visibility": {"kind": "restricted", "teams": [team(1)], "roles": ["manager"]}}),
        ),
    ]
}

#[test]
fn s3_3_create_applies_defaults_and_enforces_required() {
    let values = validate_values(
        &defs(),
        &obj(json!({"note": "hi"})),
        None,
        &member(vec![]),
        true,
    )
    .unwrap();
    assert_eq!(
        values,
        BTreeMap::from([
            ("note".to_string(), FieldValue::Text("hi".into())),
            ("size".to_string(), FieldValue::Integer(1)),
            ("tier".to_string(), FieldValue::Text("basic".into())),
        ]),
        "defaults fill; the hidden required `salary` is not asked of a caller who cannot see it; archived `legacy` is not required"
    );
    // A caller who sees `salary` must give it.
    let errs =
        validate_values(&defs(), &obj(json!({})), None, &member(vec![team(1)]), true).unwrap_err();
    assert_eq!(describe(&errs), ["custom_fields.salary required"]);
    // An explicit null is not replaced by the default; on a required field it is an error.
    let errs = validate_values(
        &defs(),
        &obj(json!({"size": null, "tier": null})),
        None,
        &admin(),
        true,
    )
    .unwrap_err();
    assert_eq!(
        describe(&errs),
        [
            "custom_fields.size required",
            "custom_fields.salary required"
        ]
    );
    let values = validate_values(
        &defs(),
        &obj(json!({"tier": null, "salary": 5})),
        None,
        &admin(),
        true,
    )
    .unwrap();
    assert!(!values.contains_key("tier"));
}

#[test]
fn s3_3_patch_is_a_merge_patch() {
    let existing = BTreeMap::from([
        ("size".to_string(), FieldValue::Integer(3)),
        ("note".to_string(), FieldValue::Text("old".into())),
        ("tier".to_string(), FieldValue::Text("gold".into())),
    ]);
    let patched = validate_values(
        &defs(),
        &obj(json!({"note": null, "size": 4, "tier": "   "})),
        Some(&existing),
        &member(vec![]),
        false,
    )
    .unwrap();
    assert_eq!(
        patched,
        BTreeMap::from([("size".to_string(), FieldValue::Integer(4))]),
        "null and blank clear, a value sets"
    );
    let kept = validate_values(
        &defs(),
        &obj(json!({})),
        Some(&existing),
        &member(vec![]),
        false,
    )
    .unwrap();
    assert_eq!(
        kept, existing,
        "absent keys keep their values; no defaults on PATCH"
    );
    // Clearing a required field is refused; a required field that was never set is not
    // forced on an unrelated PATCH.
    let errs = validate_values(
        &defs(),
        &obj(json!({"size": null})),
        Some(&existing),
        &member(vec![]),
        false,
    )
    .unwrap_err();
    assert_eq!(describe(&errs), ["custom_fields.size required"]);
    assert!(
        validate_values(
            &defs(),
            &obj(json!({"note": "x"})),
            Some(&BTreeMap::new()),
            &member(vec![]),
            false
        )
        .is_ok()
    );
}

#[test]
fn s3_3_every_broken_rule_and_unknown_key_is_reported() {
    let errs = validate_values(
        &defs(),
        &obj(json!({"size": "big", "nope": 1, "note": 5})),
        None,
        &admin(),
        true,
    )
    .unwrap_err();
    assert_eq!(
        describe(&errs),
        [
            "custom_fields.nope unknown_field",
            "custom_fields.note type",
            "custom_fields.size type",
            "custom_fields.salary required",
        ]
    );
}

#[test]
fn s3_3_archived_fields_keep_values_and_cannot_be_newly_set() {
    let existing = BTreeMap::from([("legacy".to_string(), FieldValue::Text("v1".into()))]);
    let errs = validate_values(
        &defs(),
        &obj(json!({"legacy": "v2"})),
        Some(&existing),
        &admin(),
        false,
    )
    .unwrap_err();
    assert_eq!(describe(&errs), ["custom_fields.legacy archived"]);
    // Echoing the stored value back is no change; clearing is allowed although `required`.
    assert_eq!(
        validate_values(
            &defs(),
            &obj(json!({"legacy": "v1"})),
            Some(&existing),
            &admin(),
            false
        )
        .unwrap(),
        existing
    );
    assert!(
        validate_values(
            &defs(),
            &obj(json!({"legacy": null})),
            Some(&existing),
            &admin(),
            false
        )
        .unwrap()
        .is_empty()
    );
    assert!(visible_values(&defs(), &existing, &member(vec![])).contains_key("legacy"));
}

#[test]
fn s3_4_hidden_fields_are_unknown_to_writers_and_absent_for_readers() {
    let existing = BTreeMap::from([
        ("salary".to_string(), FieldValue::Integer(90)),
        ("note".to_string(), FieldValue::Text("n".into())),
        ("gone".to_string(), FieldValue::Text("no definition".into())),
    ]);
    let errs = validate_values(
        &defs(),
        &obj(json!({"salary": 1})),
        Some(&existing),
        &member(vec![]),
        false,
    )
    .unwrap_err();
    assert_eq!(
        describe(&errs),
        ["custom_fields.salary unknown_field"],
        "same as a key that does not exist"
    );
    assert_eq!(errs[0].message, "there is no custom field with this key");
    let seen = visible_values(&defs(), &existing, &member(vec![]));
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["note"]);
    for caller in [
        member(vec![team(1)]),
        Caller::new("t1", "m", Role::Manager),
        admin(),
        Caller::new("t1", "o", Role::Owner),
    ] {
        assert!(
            visible_values(&defs(), &existing, &caller).contains_key("salary"),
            "{:?}",
            caller.role
        );
        assert!(
            validate_values(
                &defs(),
                &obj(json!({"salary": 2})),
                Some(&existing),
                &caller,
                false
            )
            .is_ok()
        );
    }
    assert!(
        !visible_values(&defs(), &existing, &Caller::new("t1", "v", Role::Viewer))
            .contains_key("salary")
    );
}

#[test]
fn s3_3_archived_options_stay_on_records_that_have_them() {
    let d = vec![select_def()];
    let existing = BTreeMap::from([("f".to_string(), FieldValue::Select("old".into()))]);
    assert!(
        validate_values(
            &d,
            &obj(json!({"f": "old"})),
            Some(&existing),
            &admin(),
            false
        )
        .is_ok()
    );
    let errs = validate_values(&d, &obj(json!({"f": "old"})), None, &admin(), true).unwrap_err();
    assert_eq!(describe(&errs), ["custom_fields.f option"]);
}

#[test]
fn api_json_shape_of_values() {
    let values = BTreeMap::from([
        (
            "a".to_string(),
            FieldValue::Decimal(Exact::parse("1.50").unwrap()),
        ),
        ("b".to_string(), FieldValue::MultiSelect(vec!["x".into()])),
    ]);
    assert_eq!(
        Value::Object(values_to_json(&values)),
        json!({"a": "1.50", "b": ["x"]})
    );
    // The stored form is self-describing.
    assert_eq!(
        serde_json::to_value(&values["a"]).unwrap(),
        json!({"decimal": "1.50"})
    );
}

// --- definitions ----------------------------------------------------------------------

fn definition_errors(body: Value) -> Vec<String> {
    let new: NewFieldDefinition = serde_json::from_value(body).expect("a definition body");
    describe(&new.validate(&[], &[]).expect_err("refused"))
}

fn with_type(ty: Value) -> Value {
    json!({"key": "f", "entity": "client", "label": "F", "type": ty})
}

#[test]
fn s3_1_a_definition_round_trips_and_shows_its_default_plainly() {
    let d = def_json(json!({
        "key": "budget", "entity": "deal", "label": " Budget ", "help_text": "Net",
        "type": {"kind": "currency", "currencies": ["eur"]}, "required": true,
        "default": {"amount": "0"}, "order": 3,
        "visibility": {"kind": "restricted", "roles": ["manager", "manager"]}
    }));
    assert_eq!(d.label, "Budget");
    assert_eq!(d.version, 1);
    assert_eq!(
        d.visibility,
        FieldVisibility::Restricted {
            teams: vec![],
            roles: vec![Role::Manager]
        }
    );
    assert_eq!(
        d.to_json()["default"],
        json!({"amount": "0.00", "currency": "EUR"})
    );
    assert_eq!(
        d.to_json()["type"],
        json!({"kind": "currency", "currencies": ["EUR"]})
    );
    let back: FieldDefinition = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
    assert_eq!(back, d);
    let item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
        serde_dynamo::to_item(&d).unwrap();
    assert_eq!(
        serde_dynamo::from_item::<_, FieldDefinition>(item).unwrap(),
        d
    );
}

#[test]
fn s3_1_definition_bodies_refuse_unknown_fields() {
    for body in [
        json!({"key": "f", "entity": "contact", "label": "F", "type": {"kind": "text"}, "id": 1}),
        json!({"key": "f", "entity": "contact", "label": "F", "type": {"kind": "text", "scale": 2}}),
        json!({"key": "f", "entity": "contact", "label": "F", "type": {"kind": "select", "options": [{"label": "A", "colour": "red"}]}}),
        json!({"key": "f", "entity": "contact", "label": "F", "type": {"kind": "rating"}}),
        json!({"key": "f", "entity": "order", "label": "F", "type": {"kind": "text"}}),
    ] {
        assert!(
            serde_json::from_value::<NewFieldDefinition>(body.clone()).is_err(),
            "{body}"
        );
    }
}

#[test]
fn s3_1_definition_rules() {
    assert_eq!(
        definition_errors(
            json!({"key": "Bad-Key", "entity": "contact", "label": " ", "type": {"kind": "boolean"}})
        ),
        ["key format", "label required"]
    );
    assert_eq!(
        definition_errors(with_type(
            json!({"kind": "text", "min_length": 5, "max_length": 2})
        )),
        ["type.min_length range"]
    );
    assert_eq!(
        definition_errors(with_type(json!({"kind": "text", "max_length": 5000}))),
        ["type.max_length max"]
    );
    assert_eq!(
        definition_errors(with_type(json!({"kind": "text", "regex": "(a"}))),
        ["type.regex pattern"]
    );
    assert_eq!(
        definition_errors(with_type(json!({"kind": "text", "regex": "a".repeat(201)}))),
        ["type.regex max_length"]
    );
    assert_eq!(
        definition_errors(with_type(json!({"kind": "integer", "min": 3, "max": 1}))),
        ["type.min range"]
    );
    assert_eq!(
        definition_errors(with_type(
            json!({"kind": "decimal", "min": "2.5", "max": "1"})
        )),
        ["type.min range"]
    );
    assert_eq!(
        definition_errors(with_type(json!({"kind": "decimal", "scale": 11}))),
        ["type.scale max"]
    );
    assert_eq!(
        definition_errors(with_type(
            json!({"kind": "decimal", "scale": 1, "min": "0.05"})
        )),
        ["type.min scale"]
    );
    assert_eq!(
        definition_errors(with_type(
            json!({"kind": "currency", "currencies": ["EUR", "eur", "XYZ"]})
        )),
        ["type.currencies[1] unique", "type.currencies[2] currency"]
    );
    assert_eq!(
        definition_errors(with_type(
            json!({"kind": "date", "min": "2020-01-02", "max": "2020-01-01"})
        )),
        ["type.min range"]
    );
    assert_eq!(
        definition_errors(with_type(json!({"kind": "phone", "default_country": "XX"}))),
        ["type.default_country iso_3166"]
    );
    assert_eq!(
        definition_errors(with_type(json!({"kind": "select", "options": [
            {"id": "a", "label": "One"}, {"id": "a", "label": "Two"}, {"label": "one"}, {"id": "B!", "label": "Three"}
        ]}))),
        [
            "type.options[2].label unique",
            "type.options[3].id format",
            "type.options[1].id unique"
        ]
    );
    assert_eq!(
        definition_errors(with_type(json!({"kind": "select", "options": []}))),
        ["type.options required"]
    );
    let too_many: Vec<Value> = (0..=limits::MAX_OPTIONS)
        .map(|i| json!({"label": format!("o{i}")}))
        .collect();
    assert_eq!(
        definition_errors(with_type(json!({"kind": "select", "options": too_many}))),
        ["type.options max_items"]
    );
    assert_eq!(
        definition_errors(with_type(
            json!({"kind": "select", "options": [{"label": "x".repeat(101)}]})
        )),
        ["type.options[0].label max_length"]
    );
    assert_eq!(
        definition_errors(with_type(
            json!({"kind": "multi_select", "min_items": 2, "max_items": 60, "options": [{"label": "A"}]})
        )),
        ["type.max_items max", "type.min_items max"]
    );
    assert_eq!(
        definition_errors(
            json!({"key": "f", "entity": "contact", "label": "F", "type": {"kind": "text"}, "visibility": {"kind": "restricted"}})
        ),
        ["visibility required"]
    );
    assert_eq!(
        definition_errors(
            json!({"key": "f", "entity": "contact", "label": "F", "type": {"kind": "text"}, "group": "nope"})
        ),
        ["group unknown_group"]
    );
}

#[test]
fn s3_1_a_default_must_pass_the_fields_own_rules() {
    let body = |ty: Value, default: Value| json!({"key": "f", "entity": "contact", "label": "F", "type": ty, "default": default});
    assert_eq!(
        definition_errors(body(json!({"kind": "integer", "max": 5}), json!(6))),
        ["default max"]
    );
    assert_eq!(
        definition_errors(body(
            json!({"kind": "text", "regex": "[a-z]+"}),
            json!("A1")
        )),
        ["default pattern"]
    );
    assert_eq!(
        definition_errors(body(
            json!({"kind": "currency", "currencies": ["JPY"]}),
            json!({"amount": "1.5"})
        )),
        ["default.amount scale"]
    );
    assert_eq!(
        definition_errors(body(
            json!({"kind": "select", "options": [{"id": "a", "label": "A", "archived": true}]}),
            json!("a")
        )),
        ["default option"]
    );
    assert_eq!(
        def_json(body(
            json!({"kind": "multi_select", "options": [{"label": "A"}, {"label": "B"}]}),
            json!(["b", "a"])
        ))
        .default,
        Some(FieldValue::MultiSelect(vec!["a".into(), "b".into()]))
    );
}

#[test]
fn s3_1_keys_are_unique_per_entity_and_fields_are_limited() {
    let existing = def_json(
        json!({"key": "f", "entity": "contact", "label": "F", "type": {"kind": "text"}, "order": 7}),
    );
    let new = |entity: &str| -> NewFieldDefinition {
        serde_json::from_value(
            json!({"key": "f", "entity": entity, "label": "F", "type": {"kind": "text"}}),
        )
        .unwrap()
    };
    assert_eq!(
        describe(
            &new("contact")
                .validate(std::slice::from_ref(&existing), &[])
                .unwrap_err()
        ),
        ["key unique"]
    );
    let other = new("client")
        .validate(std::slice::from_ref(&existing), &[])
        .unwrap();
    assert_eq!(other.order, 0, "order counts within the entity");
    let next: NewFieldDefinition = serde_json::from_value(
        json!({"key": "g", "entity": "contact", "label": "G", "type": {"kind": "text"}}),
    )
    .unwrap();
    assert_eq!(
        next.clone()
            .validate(std::slice::from_ref(&existing), &[])
            .unwrap()
            .order,
        8,
        "after the last"
    );
    let full: Vec<FieldDefinition> = (0..limits::MAX_FIELDS_PER_ENTITY)
        .map(|i| FieldDefinition {
            key: format!("k{i}"),
            ..existing.clone()
        })
        .collect();
    assert_eq!(
        describe(&next.validate(&full, &[]).unwrap_err()),
        ["entity max_items"]
    );
    assert!(definition::is_valid_key(&"a".repeat(40)));
    assert!(!definition::is_valid_key(&"a".repeat(41)));
    assert!(!definition::is_valid_key("1a"));
    assert!(!definition::is_valid_key(""));
}

#[test]
fn s3_1_a_change_keeps_key_entity_and_option_ids() {
    let old = select_def();
    let change: NewFieldDefinition = serde_json::from_value(json!({"key": "f", "entity": "contact", "label": "F2", "type": {"kind": "select", "options": [
        {"id": "in_progress", "label": "Working"}, {"id": "done", "label": "Done"}, {"label": "Old"}
    ]}})).unwrap();
    let new = change.validate_change(&old, &[]).unwrap();
    assert_eq!(new.version, 2);
    let ids: Vec<&str> = new
        .field_type
        .options()
        .iter()
        .map(|o| o.id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["in_progress", "done", "old_2"],
        "a new option never reuses a removed id"
    );
    let moved: NewFieldDefinition = serde_json::from_value(
        json!({"key": "g", "entity": "client", "label": "F", "type": {"kind": "boolean"}}),
    )
    .unwrap();
    assert_eq!(
        describe(&moved.validate_change(&old, &[]).unwrap_err()),
        ["key immutable", "entity immutable"]
    );
}

#[test]
fn s3_4_groups_and_layout() {
    let g = |key: &str, order: u32, teams: Vec<Uuid>| -> FieldGroup {
        serde_json::from_value::<NewFieldGroup>(
            json!({"key": key, "entity": "contact", "label": key, "order": order, "teams": teams}),
        )
        .unwrap()
        .validate(&[])
        .unwrap()
    };
    let groups = vec![g("sales", 2, vec![team(1)]), g("basics", 1, vec![])];
    let field_in = |key: &str, group: Option<&str>, order: u32| {
        let new: NewFieldDefinition = serde_json::from_value(json!({"key": key, "entity": "contact", "label": key, "type": {"kind": "text"}, "group": group, "order": order})).unwrap();
        new.validate(&[], &groups).unwrap()
    };
    let fields = vec![
        field_in("b", Some("basics"), 2),
        field_in("a", Some("basics"), 1),
        field_in("s", Some("sales"), 0),
        field_in("free", None, 0),
    ];
    let keys = |caller: &Caller| -> Vec<(Option<String>, Vec<String>)> {
        layout(Entity::CONTACT, &fields, &groups, caller)
            .into_iter()
            .map(|(g, fs)| {
                (
                    g.map(|g| g.key.clone()),
                    fs.into_iter().map(|f| f.key.clone()).collect(),
                )
            })
            .collect()
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        keys(&member(vec![team(1)])),
        [
            (None, s(&["free"])),
            (Some("basics".into()), s(&["a", "b"])),
            (Some("sales".into()), s(&["s"]))
        ]
    );
    // The sales group is not meant for other teams; its field still shows, ungrouped.
    assert_eq!(
        keys(&member(vec![])),
        [
            (None, s(&["free", "s"])),
            (Some("basics".into()), s(&["a", "b"]))
        ]
    );
    let dup: NewFieldGroup =
        serde_json::from_value(json!({"key": "sales", "entity": "contact", "label": " "})).unwrap();
    assert_eq!(
        describe(&dup.validate(&groups).unwrap_err()),
        ["key unique", "label required"]
    );
}

// --- definition changes ---------------------------------------------------------------

fn change(old: Value, new: Value) -> ChangeImpact {
    assess_change(&field(old), &field(new))
}

#[test]
fn s3_3_lossless_type_changes() {
    for (from, to) in [
        (json!({"kind": "text"}), json!({"kind": "long_text"})),
        (json!({"kind": "email"}), json!({"kind": "text"})),
        (json!({"kind": "url"}), json!({"kind": "long_text"})),
        (json!({"kind": "integer"}), json!({"kind": "decimal"})),
        (
            json!({"kind": "select", "options": [{"label": "A"}]}),
            json!({"kind": "multi_select", "options": [{"label": "A"}]}),
        ),
    ] {
        let impact = change(from.clone(), to.clone());
        assert!(
            impact.is_safe() && impact.needs_migration(),
            "{from} → {to}: {impact:?}"
        );
    }
    for (from, to) in [
        (json!({"kind": "long_text"}), json!({"kind": "text"})),
        (json!({"kind": "decimal"}), json!({"kind": "integer"})),
        (json!({"kind": "text"}), json!({"kind": "email"})),
        (json!({"kind": "date"}), json!({"kind": "date_time"})),
        (
            json!({"kind": "multi_select", "options": [{"label": "A"}]}),
            json!({"kind": "select", "options": [{"label": "A"}]}),
        ),
    ] {
        let impact = change(from.clone(), to.clone());
        assert!(!impact.is_safe(), "{from} → {to}");
        assert!(impact.type_change.is_some_and(|t| !t.lossless));
    }
    // A lossless type with narrower rules is not safe.
    let narrow = change(
        json!({"kind": "email"}),
        json!({"kind": "text", "max_length": 20}),
    );
    assert_eq!(narrow.narrowed_rules, ["max_length"]);
    assert_eq!(
        change(
            json!({"kind": "integer"}),
            json!({"kind": "decimal", "max": "5"})
        )
        .narrowed_rules,
        ["max"]
    );
}

#[test]
fn s3_3_narrowing_and_widening_rules() {
    assert!(
        change(
            json!({"kind": "text", "max_length": 10}),
            json!({"kind": "text", "max_length": 20})
        )
        .is_safe()
    );
    assert!(
        change(
            json!({"kind": "integer", "min": 0}),
            json!({"kind": "integer"})
        )
        .is_safe()
    );
    assert_eq!(
        change(
            json!({"kind": "text"}),
            json!({"kind": "text", "min_length": 2, "max_length": 9, "regex": "a+"})
        )
        .narrowed_rules,
        ["min_length", "max_length", "pattern"]
    );
    assert_eq!(
        change(
            json!({"kind": "integer", "min": 0, "max": 9}),
            json!({"kind": "integer", "min": 1, "max": 8})
        )
        .narrowed_rules,
        ["min", "max"]
    );
    assert_eq!(
        change(
            json!({"kind": "decimal", "scale": 4}),
            json!({"kind": "decimal", "scale": 2})
        )
        .narrowed_rules,
        ["scale"]
    );
    assert_eq!(
        change(
            json!({"kind": "currency"}),
            json!({"kind": "currency", "currencies": ["EUR"]})
        )
        .narrowed_rules,
        ["currency"]
    );
    assert!(
        change(
            json!({"kind": "currency", "currencies": ["EUR"]}),
            json!({"kind": "currency", "currencies": ["EUR", "USD"]})
        )
        .is_safe()
    );
    assert_eq!(
        change(
            json!({"kind": "date"}),
            json!({"kind": "date", "min": "2020-01-01"})
        )
        .narrowed_rules,
        ["min"]
    );
    assert_eq!(
        change(
            json!({"kind": "phone"}),
            json!({"kind": "phone", "default_country": "DE"})
        )
        .narrowed_rules,
        ["default_country"]
    );
    let multi = |min: u32, max: u32| json!({"kind": "multi_select", "min_items": min, "max_items": max, "options": [{"label": "A"}, {"label": "B"}]});
    assert_eq!(
        change(multi(0, 2), multi(1, 1)).narrowed_rules,
        ["min_items", "max_items"]
    );
}

#[test]
fn s3_3_option_removal_needs_a_mapping_and_relabels_are_free() {
    let old = select_def();
    let relabel = field(json!({"kind": "select", "options": [
        {"id": "in_progress", "label": "Working"}, {"id": "done", "label": "Done"}, {"id": "old", "label": "Old", "archived": true}
    ]}));
    let impact = assess_change(&old, &relabel);
    assert!(impact.is_safe() && !impact.needs_migration());
    assert_eq!(impact.relabelled_options, ["in_progress"]);

    let removed = field(
        json!({"kind": "select", "options": [{"id": "in_progress", "label": "In Progress"}, {"id": "done", "label": "Done"}]}),
    );
    let impact = assess_change(&old, &removed);
    assert_eq!(impact.removed_options, ["old"]);
    assert!(!impact.is_safe());
    assert!(!value_survives(&removed, &FieldValue::Select("old".into())));
    assert!(value_survives(&removed, &FieldValue::Select("done".into())));
    // An archived option a record already has survives a change that keeps it.
    assert!(value_survives(&relabel, &FieldValue::Select("old".into())));

    let describe_mapping = |m: OptionMapping| {
        validate_mapping(&old, &removed, &m)
            .err()
            .map(|e| describe(&e))
    };
    assert_eq!(
        describe_mapping(OptionMapping::new()),
        Some(vec!["mapping.old required".to_string()])
    );
    assert_eq!(
        describe_mapping(OptionMapping::from([("old".into(), Some("done".into()))])),
        None
    );
    assert_eq!(
        describe_mapping(OptionMapping::from([("old".into(), None)])),
        None
    );
    assert_eq!(
        describe_mapping(OptionMapping::from([
            ("old".into(), Some("zz".into())),
            ("done".into(), None)
        ])),
        Some(vec![
            "mapping.done unknown_field".to_string(),
            "mapping.old option".to_string()
        ])
    );

    let to_done = OptionMapping::from([("old".into(), Some("done".into()))]);
    assert_eq!(
        migrate(&FieldValue::Select("old".into()), &to_done),
        Some(FieldValue::Select("done".into()))
    );
    assert_eq!(
        migrate(
            &FieldValue::Select("old".into()),
            &OptionMapping::from([("old".into(), None)])
        ),
        None
    );
    assert_eq!(
        migrate(
            &FieldValue::MultiSelect(vec!["done".into(), "old".into()]),
            &to_done
        ),
        Some(FieldValue::MultiSelect(vec!["done".into()]))
    );
    assert_eq!(
        migrate(&FieldValue::Integer(3), &to_done),
        Some(FieldValue::Integer(3))
    );
    assert_eq!(
        migrate_to(&removed, &FieldValue::Select("old".into()), &to_done),
        Ok(Some(FieldValue::Select("done".into())))
    );
    assert_eq!(
        migrate_to(
            &removed,
            &FieldValue::Select("old".into()),
            &OptionMapping::new()
        ),
        Err(())
    );
}

#[test]
fn s3_3_values_are_converted_or_counted_never_corrupted() {
    let integer = field(json!({"kind": "integer"}));
    let decimal = field(json!({"kind": "decimal", "scale": 2}));
    let select = field(json!({"kind": "select", "options": [{"id": "a", "label": "A"}]}));
    let multi = field(json!({"kind": "multi_select", "options": [{"id": "a", "label": "A"}]}));
    let none = OptionMapping::new();
    assert_eq!(
        migrate_to(&decimal, &FieldValue::Integer(7), &none),
        Ok(Some(ok(&decimal, json!("7"))))
    );
    assert_eq!(
        migrate_to(&multi, &FieldValue::Select("a".into()), &none),
        Ok(Some(FieldValue::MultiSelect(vec!["a".into()])))
    );
    assert!(
        !value_survives(&integer, &ok(&decimal, json!("7.5"))),
        "decimal → integer would round"
    );
    // Not lossless in general, but a text naming an option converts; other texts are counted.
    assert_eq!(
        migrate_to(&select, &FieldValue::Text("A".into()), &none),
        Ok(Some(FieldValue::Select("a".into())))
    );
    assert!(!value_survives(&select, &FieldValue::Text("b".into())));
    let short = field(json!({"kind": "text", "max_length": 3}));
    assert!(value_survives(&short, &FieldValue::Text("abc".into())));
    assert!(!value_survives(&short, &FieldValue::Text("abcd".into())));
    let required_select = def_json(
        json!({"key": "f", "entity": "contact", "label": "F", "required": true,
        "type": {"kind": "select", "options": [{"id": "a", "label": "A"}]}}),
    );
    assert_eq!(
        migrate_to(
            &required_select,
            &FieldValue::Select("b".into()),
            &OptionMapping::from([("b".into(), None)])
        ),
        Err(()),
        "clearing a required field's value is not a silent migration"
    );
}

// --- index terms ----------------------------------------------------------------------

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
