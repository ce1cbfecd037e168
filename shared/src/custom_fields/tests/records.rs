//! A record's `custom_fields` object: merge patch, required, archived, visibility and defaults
//! (S3.3, S3.4).

use super::*;

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
