//! Definitions and groups: what an admin may define, and the layout a caller sees (S3.1, S3.4).

use super::*;

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
        definition_errors(with_type(json!({"kind": "integer", "min": i64::MIN}))),
        ["type.min max"]
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
