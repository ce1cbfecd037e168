//! The rules of deal attachments on the in-memory store with an in-memory bucket (S4.5): what
//! the S3 event confirms and what it rejects, and that a redelivered event changes nothing.

use super::*;
use crate::deals::attachments::{
    AttachmentFiles, AttachmentStatus, Attachments, MAX_BYTES, NewAttachment, SignedRequest,
    StoredObject, UploadOutcome, object_key,
};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Mutex;

/// A bucket in memory: objects by key.
#[derive(Default)]
struct MemoryFiles(Mutex<HashMap<String, Vec<u8>>>);

impl MemoryFiles {
    fn put(&self, key: &str, bytes: &[u8]) {
        self.0.lock().unwrap().insert(key.into(), bytes.to_vec());
    }
    fn holds_key(&self, key: &str) -> bool {
        self.0.lock().unwrap().contains_key(key)
    }
}

impl AttachmentFiles for MemoryFiles {
    fn presign_put<'a>(
        &'a self,
        object_key: &'a str,
        _: &'a str,
        _: i64,
        _: std::time::Duration,
    ) -> BoxFuture<'a, Result<SignedRequest, CrmError>> {
        Box::pin(async move { Ok((format!("memory://{object_key}"), vec![])) })
    }
    fn presign_get<'a>(
        &'a self,
        object_key: &'a str,
        _: &'a str,
        _: &'a str,
        _: std::time::Duration,
    ) -> BoxFuture<'a, Result<String, CrmError>> {
        Box::pin(async move { Ok(format!("memory://{object_key}")) })
    }
    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<StoredObject>, CrmError>> {
        let found = self.0.lock().unwrap().get(key).map(|b| StoredObject {
            size: b.len() as i64,
        });
        Box::pin(async move { Ok(found) })
    }
    fn read_start<'a>(&'a self, key: &'a str, n: i64) -> BoxFuture<'a, Result<Vec<u8>, CrmError>> {
        let mut bytes = self.0.lock().unwrap().get(key).cloned().unwrap_or_default();
        bytes.truncate(n as usize);
        Box::pin(async move { Ok(bytes) })
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CrmError>> {
        self.0.lock().unwrap().remove(key);
        Box::pin(async { Ok(()) })
    }
    fn holds(&self, _: &str) -> bool {
        true
    }
}

const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n";

fn pdf(size: usize) -> NewAttachment {
    NewAttachment {
        file_name: "offer.pdf".into(),
        content_type: "application/pdf".into(),
        size: size as i64,
    }
}

#[tokio::test]
async fn s4_5_the_s3_event_confirms_only_what_was_declared_and_rejects_the_rest_once() {
    let catalog = Catalog::new(Table::in_memory());
    let pipeline = sales_pipeline(&catalog).await;
    let deals = catalog.deals();
    let input = serde_json::from_value(
        serde_json::json!({"title": "Relaunch", "pipeline_id": pipeline.id}),
    )
    .unwrap();
    let deal = deals.create(&admin(), input, None).await.unwrap();
    let files = MemoryFiles::default();
    let attachments = Attachments {
        deals: &deals,
        files: &files,
    };
    let upload = |bytes: &'static [u8], declared: usize| {
        let attachments = &attachments;
        let files = &files;
        async move {
            let a = attachments
                .create(&admin(), deal.id, pdf(declared))
                .await
                .unwrap()
                .attachment;
            let key = object_key("acme", deal.id, a.id);
            files.put(&key, bytes);
            (a.id, key)
        }
    };

    // As declared: confirmed; the second delivery finds it settled.
    let (ok, key) = upload(PDF, PDF.len()).await;
    assert_eq!(
        attachments.on_uploaded(&key).await.unwrap(),
        UploadOutcome::Confirmed
    );
    assert_eq!(
        attachments.on_uploaded(&key).await.unwrap(),
        UploadOutcome::AlreadyDone
    );
    assert!(files.holds_key(&key));

    // More bytes than declared (a client that ignored the signed length): rejected, deleted.
    let (long, key) = upload(PDF, PDF.len() - 3).await;
    match attachments.on_uploaded(&key).await.unwrap() {
        UploadOutcome::Rejected(reason) => assert!(reason.contains("were declared"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(!files.holds_key(&key));
    assert_eq!(
        attachments.on_uploaded(&key).await.unwrap(),
        UploadOutcome::AlreadyDone
    );

    // A key no attachment was asked for is deleted.
    let stray = object_key("acme", deal.id, crate::values::new_id());
    files.put(&stray, PDF);
    assert_eq!(
        attachments.on_uploaded(&stray).await.unwrap(),
        UploadOutcome::Unknown
    );
    assert!(!files.holds_key(&stray));

    let list = attachments.list(&admin(), deal.id).await.unwrap().items;
    let status = |id| list.iter().find(|a| a.id == id).unwrap().status;
    assert_eq!(
        (status(ok), status(long)),
        (AttachmentStatus::Confirmed, AttachmentStatus::Rejected)
    );
    // Too large is refused before any upload.
    let err = attachments
        .create(&admin(), deal.id, pdf(MAX_BYTES as usize + 1))
        .await
        .unwrap_err();
    assert!(matches!(err, CrmError::Validation(_)));
    // The rejected one freed its place: deleting it changes no count; deleting the confirmed one
    // removes its object.
    attachments.delete(&admin(), deal.id, long).await.unwrap();
    attachments.delete(&admin(), deal.id, ok).await.unwrap();
    assert!(
        attachments
            .list(&admin(), deal.id)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(!files.holds_key(&object_key("acme", deal.id, ok)));
}
