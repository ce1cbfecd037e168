//! API7:2023 Server Side Request Forgery. No user-supplied URL is ever fetched: a canary HTTP
//! server on loopback counts every connection while every URL-valued field of every model
//! (contact website and social profiles, client website, URL custom fields, outreach proposal
//! and profile URLs, links in email templates, messages and workflow mail, a web form's
//! honeypot, an imported website column) is set to it and every flow that could fetch runs:
//! create, change, import, export, send mail, run workflow steps. The canary sees nothing.

use crm_e2e_tests::{Stack, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A loopback HTTP server that answers 200 and counts connections: its URL and the count.
async fn canary() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    (format!("http://127.0.0.1:{port}/canary"), hits)
}

async fn run_jobs(stack: &Stack) {
    let worker = job_worker::JobWorker::new(stack.runtime.deps("job-worker").unwrap());
    while let Some(batch) = stack.runtime.receive_sqs_batch("JobQueue").await.unwrap() {
        assert!(
            worker
                .handle(batch.clone())
                .await
                .batch_item_failures
                .is_empty()
        );
        stack
            .runtime
            .ack_sqs_batch("JobQueue", &batch)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn api7_no_user_supplied_url_is_ever_fetched() {
    let (url, hits) = canary().await;
    // The canary counts: a request to it is seen.
    reqwest::get(&url).await.unwrap();
    assert_eq!(
        hits.swap(0, Ordering::SeqCst),
        1,
        "the canary counts connections"
    );

    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let link = format!("<a href=\"{url}\">{url}</a>");
    stack
        .create_field(
            &admin,
            json!({"key": "homepage", "entity": "contact", "label": "Homepage", "type": {"kind": "url"}}),
        )
        .await;
    stack
        .create_field(
            &admin,
            json!({"key": "portal", "entity": "client", "label": "Portal", "type": {"kind": "url"}}),
        )
        .await;
    let to = format!("ssrf-{}@example.com", stack.prefix);
    let contact = stack
        .create_contact(
            &admin,
            json!({"first_name": "Canary", "email": to, "lifecycle_status": "customer",
                   "website": url, "social_profiles": [{"network": "linkedin", "url": url}],
                   "custom_fields": {"homepage": url}}),
        )
        .await;
    let r = stack
        .call(
            "PATCH",
            &format!("/contacts/{contact}"),
            &admin,
            Some(json!({"website": format!("{url}/2")})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let client = stack
        .create_client(
            &admin,
            json!({"name": "Canary Co", "website": url, "custom_fields": {"portal": url}}),
        )
        .await;
    stack
        .link_contact(&admin, &contact, &client, json!({"role": "billing"}))
        .await;
    stack
        .create(
            "/outreach",
            &admin,
            json!({"contact_id": contact, "type": "platform", "platform": "upwork",
                   "proposal_url": url, "direction": "outbound"}),
        )
        .await;
    stack
        .create(
            "/outreach",
            &admin,
            json!({"contact_id": contact, "type": "social", "network": "linkedin",
                   "profile_url": url, "direction": "outbound"}),
        )
        .await;
    // Mail with links: a template, a message sent with it and without, a workflow's mail.
    let template = stack
        .create(
            "/email-templates",
            &admin,
            json!({"name": "Links", "subject": "See this", "text": format!("Visit {url}"), "html": link}),
        )
        .await;
    let path = format!("/contacts/{contact}/messages");
    for body in [
        json!({"template_id": template}),
        json!({"subject": "Link", "text": format!("{url}"), "html": link, "bulk": true}),
    ] {
        let r = stack.call("POST", &path, &admin, Some(body.clone())).await;
        assert_eq!(r.status, 201, "{body}: {:?}", r.body);
    }
    let workflow = stack
        .create(
            "/workflows",
            &admin,
            json!({"name": "Links", "steps": [{"type": "send_email", "subject": "Hi", "body": format!("Go to {url}")}]}),
        )
        .await;
    stack
        .create(
            &format!("/workflows/{workflow}/runs"),
            &admin,
            json!({"contact_id": contact}),
        )
        .await;
    for _ in 0..10 {
        if stack.runtime.deliver_step_messages().await.unwrap() == 0 {
            break;
        }
    }
    assert!(
        stack.sent_emails_to(&to).await.len() >= 3,
        "the mail went out"
    );
    // A web form's honeypot (a URL a bot fills in) and a lead with a URL in its message.
    let r = stack
        .call(
            "PUT",
            "/lead-sources",
            &admin,
            Some(json!({"sources": [{"key": "web", "label": "Web", "kind": "web_form"}]})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = stack
        .call(
            "POST",
            "/web-forms",
            &admin,
            Some(json!({"name": "Contact", "lead_source": "web"})),
        )
        .await;
    let key = r.body["form_key"].as_str().unwrap().to_string();
    for body in [
        json!({"name": "Bot", "email": "bot@example.com", "website_url": url}),
        json!({"name": "Lead", "email": format!("lead-{}@example.com", stack.prefix), "message": url}),
    ] {
        let r = stack
            .send(
                stack
                    .request("POST", &format!("/forms/{key}/submissions"), None)
                    .json(&body),
            )
            .await;
        assert_eq!(r.status, 202, "{:?}", r.body);
    }
    // An import with a website column, and an export of everything.
    let (id, upload) = stack.start_import(&admin, "sites.csv").await;
    let csv = format!(
        "name,email,website\nImported Site,site-{}@example.com,{url}\n",
        stack.prefix
    );
    let import = stack
        .import_with(
            &stack.runtime.functions.import_processor,
            &admin,
            &upload,
            &id,
            &csv,
        )
        .await;
    assert_eq!(import["status"], "completed", "{import:?}");
    for entity in ["contacts", "clients"] {
        let r = stack
            .call("POST", "/exports", &admin, Some(json!({"entity": entity})))
            .await;
        assert_eq!(r.status, 202, "{:?}", r.body);
    }
    run_jobs(&stack).await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a user-supplied URL was fetched"
    );
}
