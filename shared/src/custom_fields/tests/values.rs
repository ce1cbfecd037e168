//! Values, type by type: each type normalises what it accepts and names the rule it breaks (S3.2).

use super::*;

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
    // The one i64 without a positive counterpart is out of range, not an overflow.
    assert_eq!(rules(&any, json!(i64::MIN)), ["custom_fields.f type"]);
    assert_eq!(
        rules(&any, json!(i64::MIN.to_string())),
        ["custom_fields.f type"]
    );
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
