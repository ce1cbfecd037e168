use super::*;
use serde_json::json;

fn new(body: serde_json::Value) -> Result<Outreach, Vec<FieldError>> {
    let mut body = body;
    body["contact_id"] = json!(uuid::Uuid::nil());
    record::from_new(serde_json::from_value(body).unwrap())
}

fn fields(errors: Vec<FieldError>) -> Vec<(String, String)> {
    errors.into_iter().map(|e| (e.field, e.rule)).collect()
}

#[test]
fn each_type_takes_its_own_fields_and_refuses_the_others_by_name() {
    let ok = new(json!({"type": "platform", "platform": "upwork",
        "proposal_url": "https://www.upwork.com/proposals/1"}))
    .unwrap();
    assert_eq!(ok.direction, Direction::Outbound);
    let wrong = new(json!({"type": "email", "email_address": "a@example.com",
        "phone_number": "+49 30 1234567", "platform": "fiverr"}))
    .unwrap_err();
    let mut got = fields(wrong);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("phone_number".into(), "not_for_type".into()),
            ("platform".into(), "not_for_type".into())
        ]
    );
}

#[test]
fn required_fields_of_a_type_are_named() {
    let other = new(json!({"type": "platform", "platform": "other"})).unwrap_err();
    assert_eq!(
        fields(other),
        vec![("platform_name".into(), "required".into())]
    );
    let call = new(json!({"type": "call"})).unwrap_err();
    assert_eq!(
        fields(call),
        vec![("phone_number".into(), "required".into())]
    );
    let call = new(json!({"type": "call", "phone_number": "+49 30 1234567"})).unwrap();
    assert_eq!(call.phone_number.as_deref(), Some("+49301234567"));
    let social = new(json!({"type": "social", "network": "linkedin"})).unwrap_err();
    assert_eq!(
        fields(social),
        vec![("profile_handle".into(), "required_one_of".into())]
    );
}

#[test]
fn a_type_change_needs_the_old_fields_cleared() {
    let call = new(json!({"type": "call", "phone_number": "+49 30 1234567"})).unwrap();
    let patch: OutreachPatch =
        serde_json::from_value(json!({"type": "email", "email_address": "a@example.com"})).unwrap();
    let Err(CrmError::Validation(e)) = record::apply(&call, patch) else {
        panic!("refused");
    };
    assert_eq!(
        fields(e),
        vec![("phone_number".into(), "not_for_type".into())]
    );
    let patch: OutreachPatch = serde_json::from_value(
        json!({"type": "email", "email_address": "a@example.com", "phone_number": null}),
    )
    .unwrap();
    let email = record::apply(&call, patch).unwrap();
    assert_eq!(email.kind, OutreachType::Email);
}
