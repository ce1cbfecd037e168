//! A deal's attachments (S4.5): a presigned upload checked on the bucket's S3 event (delivered
//! twice), confirmed or rejected with the object deleted, downloaded through a presigned GET,
//! deleted; limits and who may do what.

use super::sales_pipeline;
use crm_e2e_tests::{Stack, errors, json, pair};
use serde_json::Value;

const PDF: &[u8] =
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n";
const EXE: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0\xb8\0\0\0\0\0\0\0@\0\0\0\0\0\0\0";

/// Asks for an upload of `bytes` as `content_type` and PUTs them with the returned headers.
async fn upload(
    stack: &Stack,
    token: &str,
    deal: &str,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Value {
    let body = json!({"file_name": name, "content_type": content_type, "size": bytes.len()});
    let r = stack
        .call(
            "POST",
            &format!("/deals/{deal}/attachments"),
            token,
            Some(body),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["attachment"]["status"], "pending");
    let upload = &r.body["upload"];
    let mut put = reqwest::Client::new().put(upload["url"].as_str().unwrap());
    for (name, value) in upload["headers"].as_object().unwrap() {
        if name != "content-length" {
            put = put.header(name, value.as_str().unwrap());
        }
    }
    let response = put.body(bytes.to_vec()).send().await.unwrap();
    assert!(response.status().is_success(), "PUT: {}", response.status());
    r.body["attachment"].clone()
}

/// Delivers the one pending S3 notification to its function twice, then acknowledges it.
async fn deliver_twice(stack: &Stack) {
    let mut events = stack.runtime.receive_s3_events().await.unwrap();
    assert_eq!(events.len(), 1, "one ObjectCreated notification");
    let delivery = events.remove(0);
    assert_eq!(delivery.function, "attachment-processor");
    for _ in 0..2 {
        stack
            .runtime
            .invoke_s3_function(&delivery.function, delivery.event.clone())
            .await
            .unwrap();
    }
    stack.runtime.ack_s3_event(&delivery.receipt).await.unwrap();
}

async fn object_exists(stack: &Stack, key: &str) -> bool {
    let bucket = &stack.runtime.provisioned.resolved.refs["AttachmentsBucket"];
    stack
        .runtime
        .aws
        .s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn s4_5_an_attachment_is_checked_confirmed_downloaded_and_deleted() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    sales_pipeline(&stack).await;
    let deal = stack
        .create("/deals", &admin, json!({"title": "Relaunch"}))
        .await;
    let list = format!("/deals/{deal}/attachments");

    let name = "Angebot \"Q3\" – final.pdf";
    let attachment = upload(&stack, &admin, &deal, name, "application/pdf", PDF).await;
    let id = attachment["id"].as_str().unwrap();
    let key = format!("attachments/acme/{deal}/{id}");
    assert!(
        object_exists(&stack, &key).await,
        "the server chose the key"
    );
    // Not downloadable before it is checked.
    assert_eq!(
        stack
            .status("GET", &format!("{list}/{id}"), &admin, None)
            .await,
        409
    );
    deliver_twice(&stack).await;

    let r = stack.get(&list, &admin).await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (
            &items[0]["status"],
            &items[0]["file_name"],
            items[0]["size"].as_u64()
        ),
        (&json!("confirmed"), &json!(name), Some(PDF.len() as u64))
    );
    let r = stack.get(&format!("{list}/{id}"), &admin).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let download = reqwest::get(r.body["download_url"].as_str().unwrap())
        .await
        .unwrap();
    assert!(download.status().is_success());
    let disposition = download
        .headers()
        .get("content-disposition")
        .map(|v| v.to_str().unwrap().to_string());
    assert!(
        disposition.as_deref().is_some_and(|d| d
            .starts_with("attachment; filename=\"Angebot _Q3_ _ final.pdf\"; filename*=UTF-8''")),
        "{disposition:?}"
    );
    assert_eq!(download.bytes().await.unwrap().as_ref(), PDF);

    // Who may: a viewer reads but cannot attach; another tenant sees no such deal.
    let viewer = stack.token("acme", "vic", "viewer");
    assert_eq!(stack.status("GET", &list, &viewer, None).await, 200);
    let body = json!({"file_name": "a.pdf", "content_type": "application/pdf", "size": 10});
    assert_eq!(
        stack
            .status("POST", &list, &viewer, Some(body.clone()))
            .await,
        403
    );
    let olga = stack.token("other-tenant", "olga", "owner");
    assert_eq!(stack.status("GET", &list, &olga, None).await, 404);
    assert_eq!(stack.status("POST", &list, &olga, Some(body)).await, 404);
    assert_eq!(
        stack
            .status("GET", &format!("{list}/{id}"), &olga, None)
            .await,
        404
    );
    assert_eq!(
        stack
            .status("DELETE", &format!("{list}/{id}"), &olga, None)
            .await,
        404
    );

    // Deleted: gone from the list and from the bucket.
    assert_eq!(
        stack
            .status("DELETE", &format!("{list}/{id}"), &admin, None)
            .await,
        204
    );
    assert!(
        stack.get(&list, &admin).await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(!object_exists(&stack, &key).await);
    assert_eq!(
        stack
            .status("GET", &format!("{list}/{id}"), &admin, None)
            .await,
        404
    );
}

#[tokio::test]
async fn s4_5_a_file_of_another_type_is_rejected_and_deleted_and_limits_hold() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    sales_pipeline(&stack).await;
    let deal = stack
        .create("/deals", &admin, json!({"title": "Relaunch"}))
        .await;
    let list = format!("/deals/{deal}/attachments");

    // Refused at once: too large, a type not on the allow-list, an empty name.
    let too_large = json!({"file_name": "big.pdf", "content_type": "application/pdf", "size": 25 * 1024 * 1024 + 1});
    let r = stack.call("POST", &list, &admin, Some(too_large)).await;
    assert_eq!((r.status, errors(&r)), (422, vec![pair("size", "range")]));
    let exe =
        json!({"file_name": "setup.exe", "content_type": "application/x-msdownload", "size": 100});
    let r = stack.call("POST", &list, &admin, Some(exe)).await;
    assert_eq!(
        (r.status, errors(&r)),
        (422, vec![pair("content_type", "allowed")])
    );
    let unnamed = json!({"file_name": " ", "content_type": "application/pdf", "size": 100});
    let r = stack.call("POST", &list, &admin, Some(unnamed)).await;
    assert_eq!(
        (r.status, errors(&r)),
        (422, vec![pair("file_name", "length")])
    );

    // A PUT with another type than the signed one is refused at once, as S3 does; no event.
    let body =
        json!({"file_name": "scan.pdf", "content_type": "application/pdf", "size": PDF.len()});
    let r = stack.call("POST", &list, &admin, Some(body)).await;
    let put = reqwest::Client::new()
        .put(r.body["upload"]["url"].as_str().unwrap())
        .header("content-type", "image/png")
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 403);
    assert!(stack.runtime.receive_s3_events().await.unwrap().is_empty());
    let pending = r.body["attachment"]["id"].as_str().unwrap();
    assert_eq!(
        stack
            .status("DELETE", &format!("{list}/{pending}"), &admin, None)
            .await,
        204
    );

    // An executable declared as a PDF: rejected on the S3 event, the object deleted.
    let attachment = upload(&stack, &admin, &deal, "invoice.pdf", "application/pdf", EXE).await;
    let id = attachment["id"].as_str().unwrap();
    deliver_twice(&stack).await;
    let r = stack.get(&list, &admin).await;
    let item = &r.body["items"][0];
    assert_eq!(item["status"], "rejected");
    assert!(
        item["rejection_reason"]
            .as_str()
            .unwrap()
            .contains("not application/pdf"),
        "{item:?}"
    );
    assert!(!object_exists(&stack, &format!("attachments/acme/{deal}/{id}")).await);
    assert_eq!(
        stack
            .status("GET", &format!("{list}/{id}"), &admin, None)
            .await,
        409
    );

    // An object no attachment asked for is deleted.
    let bucket = &stack.runtime.provisioned.resolved.refs["AttachmentsBucket"];
    let stray = format!("attachments/acme/{deal}/{}", uuid::Uuid::now_v7());
    stack
        .runtime
        .aws
        .s3
        .put_object()
        .bucket(bucket)
        .key(&stray)
        .body(PDF.to_vec().into())
        .send()
        .await
        .unwrap();
    deliver_twice(&stack).await;
    assert!(!object_exists(&stack, &stray).await);

    // 100 per deal (the rejected one does not count); the 101st is refused.
    for i in 0..100 {
        let body = json!({"file_name": format!("f{i}.pdf"), "content_type": "application/pdf", "size": 10});
        let r = stack.call("POST", &list, &admin, Some(body)).await;
        assert_eq!(r.status, 201, "attachment {i}: {:?}", r.body);
    }
    let body = json!({"file_name": "one-more.pdf", "content_type": "application/pdf", "size": 10});
    let r = stack.call("POST", &list, &admin, Some(body)).await;
    assert_eq!(
        (r.status, errors(&r)),
        (409, vec![pair("attachments", "max_count")])
    );
}
