//! Definition changes: which are lossless, which narrow, and how stored values are converted
//! or counted, never corrupted (S3.3).

use super::*;

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
