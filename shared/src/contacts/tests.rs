//! Contact fields: the display name rule and validation naming every bad field (S1.1, S1.2).

use super::*;

fn input(first: Option<&str>, last: Option<&str>, email: Option<&str>) -> NewContact {
    NewContact {
        first_name: first.map(Into::into),
        last_name: last.map(Into::into),
        email: email.map(Into::into),
        ..Default::default()
    }
}

#[test]
fn s1_1_display_name_follows_the_rule() {
    let f = ContactFields::validate(input(
        Some("Ada"),
        Some("Lovelace"),
        Some("ADA@Example.com"),
    ))
    .unwrap();
    assert_eq!(f.display_name().as_deref(), Some("Ada Lovelace"));
    assert_eq!(f.email(), Some("ada@example.com"));
    let f = ContactFields::validate(input(None, None, Some("x@y.org"))).unwrap();
    assert_eq!(f.display_name().as_deref(), Some("x@y.org"));
    let f = ContactFields::validate(NewContact {
        company: Some("ACME".into()),
        email: Some("a@b.co".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(f.display_name().as_deref(), Some("ACME"));
    let f = ContactFields::validate(NewContact {
        display_name: Some("The Boss".into()),
        first_name: Some("A".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(f.display_name().as_deref(), Some("The Boss"));
}

#[test]
fn s1_2_validation_names_every_bad_field() {
    let errs =
        ContactFields::validate(input(Some("a\u{0}b"), None, Some("not-an-email"))).unwrap_err();
    let fields: Vec<_> = errs
        .iter()
        .map(|e| (e.field.as_str(), e.rule.as_str()))
        .collect();
    assert_eq!(
        fields,
        vec![("first_name", "no_control_characters"), ("email", "format")]
    );
    let errs = ContactFields::validate(NewContact::default()).unwrap_err();
    assert_eq!(errs[0].rule, "required_one_of");
}
