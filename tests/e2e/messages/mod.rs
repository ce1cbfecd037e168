//! Email out (S6.4) through the gateway and the local SES: the mail as SES accepted it (headers,
//! both parts, escaped merge values), refusals with nothing sent (opted out, do-not-contact,
//! header injection, a suppressed address), the unsubscribe link round trip, a bounce delivered
//! twice, templates, deals, and another tenant's probes.

use crm_e2e_tests::{Reply, Stack, json};
use mail_parser::MessageParser;

/// An admin (alice, with a name and an address in the directory) of a tenant whose mail shows
/// "Acme GmbH", and a contact at a per-test address: (admin token, contact id, address).
async fn setup(stack: &Stack, first_name: &str) -> (String, String, String) {
    let admin = stack.token("acme", "alice", "admin");
    stack
        .put_user(
            &admin,
            "alice",
            json!({"role": "admin", "name": "Alice Admin", "email": "alice@acme.example"}),
        )
        .await;
    let r = stack
        .call(
            "PATCH",
            "/settings",
            &admin,
            Some(json!({"display_name": "Acme GmbH"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let address = format!("{}-{}@example.com", first_name.to_lowercase(), stack.prefix);
    let id = stack
        .create_contact(
            &admin,
            json!({"first_name": first_name, "last_name": "Lovelace", "company": "Smith & <Sons>", "email": address}),
        )
        .await;
    (admin, id, address)
}

async fn send(stack: &Stack, token: &str, contact: &str, body: serde_json::Value) -> Reply {
    stack
        .call(
            "POST",
            &format!("/contacts/{contact}/messages"),
            token,
            Some(body),
        )
        .await
}

fn hello(bulk: bool) -> serde_json::Value {
    json!({
        "subject": "Hi {{first_name}}",
        "text": "Dear {{first_name}} of {{company}}, from {{owner.name}} at {{tenant.name}}",
        "html": "<p>Dear {{first_name}} of <b>{{company}}</b></p>",
        "bulk": bulk
    })
}

/// The raw `List-Unsubscribe` URL of a raw message.
fn unsubscribe_url(raw: &str) -> String {
    let line = raw
        .lines()
        .find(|l| l.starts_with("List-Unsubscribe: "))
        .expect("a List-Unsubscribe header");
    line.trim_start_matches("List-Unsubscribe: <")
        .trim_end_matches('>')
        .to_string()
}

#[tokio::test]
async fn s6_4_mail_is_readable_from_local_ses_with_its_headers_and_both_parts() {
    let stack = Stack::start().await;
    let (admin, contact, address) = setup(&stack, "Ada").await;
    let r = send(&stack, &admin, &contact, hello(true)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["to"], address.as_str());
    assert_eq!(r.body["subject"], "Hi Ada");
    assert!(
        r.body["ses_message_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(r.body["sent_at"].is_string());
    // Logged as an outbound email activity on the contact's timeline, with its Message-ID.
    let activity = r.body["activity_id"].as_str().expect("an activity id");
    let a = stack.get(&format!("/activities/{activity}"), &admin).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["type"], "email");
    assert_eq!(a.body["direction"], "outbound");
    assert_eq!(a.body["message_id"], r.body["message_id"]);
    let c = stack.get(&format!("/contacts/{contact}"), &admin).await;
    assert!(c.body["last_contacted_at"].is_string(), "{:?}", c.body);

    let raw = stack.raw_emails_to(&address).await;
    assert_eq!(raw.len(), 1, "one mail");
    let m = MessageParser::default().parse(raw[0].as_bytes()).unwrap();
    let from = m.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Acme GmbH"));
    assert_eq!(from.address(), Some("crm@example.com"));
    let reply_to = m.reply_to().unwrap().first().unwrap();
    assert_eq!(reply_to.address(), Some("alice@acme.example"));
    assert_eq!(reply_to.name(), Some("Alice Admin"));
    assert_eq!(
        m.to().unwrap().first().unwrap().address(),
        Some(address.as_str())
    );
    assert_eq!(m.subject(), Some("Hi Ada"));
    assert_eq!(m.message_id(), r.body["message_id"].as_str());
    assert!(unsubscribe_url(&raw[0]).contains("/unsubscribe/"));
    assert!(raw[0].contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert_eq!(
        m.body_text(0).unwrap(),
        "Dear Ada of Smith & <Sons>, from Alice Admin at Acme GmbH"
    );
    let html = m.body_html(0).unwrap();
    assert!(
        html.contains("<b>Smith &amp; &lt;Sons&gt;</b>"),
        "merge values are escaped in HTML: {html}"
    );

    // Not bulk: no unsubscribe headers.
    let r = send(&stack, &admin, &contact, hello(false)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let raw = stack.raw_emails_to(&address).await;
    assert_eq!(raw.len(), 2);
    assert!(!raw[1].contains("List-Unsubscribe"));
}

#[tokio::test]
async fn s6_4_opted_out_and_do_not_contact_contacts_are_refused_with_nothing_sent() {
    let stack = Stack::start().await;
    let (admin, contact, address) = setup(&stack, "Olga").await;
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{contact}"),
            &admin,
            Some(json!({"email_opt_out": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["email_opt_out"], true);
    let r = send(&stack, &admin, &contact, hello(false)).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(
        r.problem_field(),
        ("email_opt_out".into(), "opted_out".into())
    );

    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{contact}"),
            &admin,
            Some(json!({"email_opt_out": false, "do_not_contact": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = send(&stack, &admin, &contact, hello(false)).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(
        r.problem_field(),
        ("do_not_contact".into(), "do_not_contact".into())
    );
    assert!(
        stack.raw_emails_to(&address).await.is_empty(),
        "nothing sent"
    );
}

#[tokio::test]
async fn s6_4_header_injection_attempts_are_refused_with_nothing_sent() {
    let stack = Stack::start().await;
    let (admin, contact, address) = setup(&stack, "Eve").await;
    for subject in [
        "Hi\r\nBcc: x@evil.example",
        "=?UTF-8?Q?a=0D=0ABcc:_x@evil?=",
        "Hi\u{2028}Bcc: x@evil.example",
    ] {
        let r = send(
            &stack,
            &admin,
            &contact,
            json!({"subject": subject, "text": "hello"}),
        )
        .await;
        assert_eq!(r.status, 422, "{subject:?}: {:?}", r.body);
        assert_eq!(
            r.problem_field(),
            ("subject".into(), "header_injection".into())
        );
    }
    // Through a merge value: the tenant's display name reaches From (and {{tenant.name}} the
    // subject); settings refuse a line break, so the one way left is an encoded word.
    let r = stack
        .call(
            "PATCH",
            "/settings",
            &admin,
            Some(json!({"display_name": "=?UTF-8?Q?Acme=0D=0ABcc:_x@evil?="})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = send(
        &stack,
        &admin,
        &contact,
        json!({"subject": "From {{tenant.name}}", "text": "hello"}),
    )
    .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let fields: Vec<String> = crm_e2e_tests::errors(&r).into_iter().map(|e| e.0).collect();
    assert_eq!(fields, vec!["from_name", "subject"]);
    assert!(
        stack.raw_emails_to(&address).await.is_empty(),
        "nothing sent"
    );
}

#[tokio::test]
async fn s6_4_the_unsubscribe_link_round_trips_and_cannot_be_forged() {
    let stack = Stack::start().await;
    let (admin, contact, address) = setup(&stack, "Una").await;
    assert_eq!(
        send(&stack, &admin, &contact, hello(true)).await.status,
        201
    );
    let raw = stack.raw_emails_to(&address).await;
    let url = unsubscribe_url(&raw[0]);
    let token = url.rsplit('/').next().unwrap().to_string();
    let path = format!("/unsubscribe/{token}");

    // No login: the page has a button that POSTs.
    let page = stack.send(stack.request("GET", &path, None)).await;
    assert_eq!(page.status, 200);
    let text = page.body.as_str().unwrap_or("");
    assert!(
        text.contains("method=\"post\"") && text.contains(&address),
        "{text}"
    );

    // A tampered token: 404, nothing changed.
    let mut chars: Vec<char> = token.chars().collect();
    let last = chars.len() - 3;
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let r = stack
        .send(stack.request("POST", &format!("/unsubscribe/{tampered}"), None))
        .await;
    assert_eq!(r.status, 404);
    let c = stack.get(&format!("/contacts/{contact}"), &admin).await;
    assert_eq!(c.body["email_opt_out"], false);

    // One click, twice: opted out once.
    let r = stack.send(stack.request("POST", &path, None)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let c = stack.get(&format!("/contacts/{contact}"), &admin).await;
    assert_eq!(c.body["email_opt_out"], true);
    let r = stack.send(stack.request("POST", &path, None)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let again = stack.get(&format!("/contacts/{contact}"), &admin).await;
    assert_eq!(
        again.body["version"], c.body["version"],
        "the second click changed nothing"
    );

    let r = send(&stack, &admin, &contact, hello(true)).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.problem_field().1, "opted_out");
    assert_eq!(stack.raw_emails_to(&address).await.len(), 1);
}

#[tokio::test]
async fn s6_4_a_bounce_delivered_twice_suppresses_the_address_once_and_stops_sends() {
    let stack = Stack::start().await;
    let (admin, contact, address) = setup(&stack, "Bea").await;
    assert_eq!(
        send(&stack, &admin, &contact, hello(false)).await.status,
        201
    );

    // What SNS puts into the queue for an SES bounce event of this mail (moto never bounces).
    let envelope = crm_shared::email::events::sns_envelope(
        &crm_shared::email::events::bounce_event("acme", &contact, &address, "Permanent"),
    );
    let queue = stack.runtime.provisioned.resolved.refs["MailEventsQueue"].clone();
    for _ in 0..2 {
        stack
            .runtime
            .aws
            .sqs
            .send_message()
            .queue_url(&queue)
            .message_body(envelope.to_string())
            .send()
            .await
            .unwrap();
    }
    let delivered = stack
        .runtime
        .deliver_sqs_messages("MailEventsQueue")
        .await
        .unwrap();
    assert_eq!(delivered, 2);
    let table = stack.table();
    let items = table
        .query_all(crm_shared::store::Query::partition(
            crm_shared::email::suppression::suppression_pk("acme", &address),
        ))
        .await
        .unwrap();
    assert_eq!(items.len(), 1, "suppressed once");

    let r = send(&stack, &admin, &contact, hello(false)).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.problem_field(), ("to".into(), "suppressed".into()));
    assert_eq!(
        stack.raw_emails_to(&address).await.len(),
        1,
        "nothing more sent"
    );
}

#[tokio::test]
async fn s6_4_templates_crud_and_sending_from_a_template_and_a_deal() {
    let stack = Stack::start().await;
    let (admin, contact, address) = setup(&stack, "Tia").await;

    let r = stack
        .call(
            "POST",
            "/email-templates",
            &admin,
            Some(json!({"name": "Welcome", "subject": "Hi {{first_name}}", "text": "{{nope}} and {{cf.missing}}"})),
        )
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(r.problem_field(), ("text".into(), "merge_field".into()));

    let template = stack
        .create(
            "/email-templates",
            &admin,
            json!({"name": "Welcome", "subject": "Welcome, {{first_name}}", "text": "Hello {{display_name}}"}),
        )
        .await;
    let path = format!("/email-templates/{template}");
    let list = stack.get("/email-templates", &admin).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let r = stack
        .call(
            "PATCH",
            &path,
            &admin,
            Some(json!({"html": "<p>Hello {{display_name}}</p>"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["version"], 2);
    let r = stack
        .call("PATCH", &path, &admin, Some(json!({"subject": "{{bad}}"})))
        .await;
    assert_eq!(r.problem_field(), ("subject".into(), "merge_field".into()));

    let r = send(&stack, &admin, &contact, json!({"template_id": template})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["subject"], "Welcome, Tia");

    // From a deal: its primary contact; a contact not on the deal is refused.
    stack
        .create(
            "/pipelines",
            &admin,
            json!({"name": "Sales", "stages": [{"name": "Lead", "probability": "20"}, {"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}]}),
        )
        .await;
    let deal = stack
        .create(
            "/deals",
            &admin,
            json!({"title": "Relaunch", "contact_ids": [contact]}),
        )
        .await;
    let r = stack
        .call(
            "POST",
            &format!("/deals/{deal}/messages"),
            &admin,
            Some(json!({"template_id": template})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["contact_id"], contact.as_str());
    let other = stack
        .create_contact(&admin, json!({"first_name": "Other"}))
        .await;
    let r = stack
        .call(
            "POST",
            &format!("/deals/{deal}/messages"),
            &admin,
            Some(json!({"template_id": template, "contact_id": other})),
        )
        .await;
    assert_eq!(
        r.problem_field(),
        ("contact_id".into(), "deal_contact".into())
    );
    assert_eq!(stack.raw_emails_to(&address).await.len(), 2);

    // Another tenant sees none of it.
    stack
        .assert_hidden_from_other_tenant(
            &[
                (
                    "POST",
                    format!("/contacts/{contact}/messages"),
                    Some(hello(false)),
                ),
                (
                    "POST",
                    format!("/deals/{deal}/messages"),
                    Some(hello(false)),
                ),
                ("GET", path.clone(), None),
                ("PATCH", path.clone(), Some(json!({"name": "x"}))),
                ("DELETE", path.clone(), None),
            ],
            &["/email-templates"],
        )
        .await;
    // Its own contact with this tenant's template: 404.
    let foreign = stack.token("other-tenant", "intruder", "owner");
    let theirs = stack
        .create_contact(
            &foreign,
            json!({"first_name": "Mallory", "email": format!("m-{}@example.com", stack.prefix)}),
        )
        .await;
    let r = send(&stack, &foreign, &theirs, json!({"template_id": template})).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert_eq!(stack.raw_emails_to(&address).await.len(), 2, "nothing sent");

    let r = stack.call("DELETE", &path, &admin, None).await;
    assert_eq!(r.status, 204);
    assert_eq!(stack.get(&path, &admin).await.status, 404);
}
