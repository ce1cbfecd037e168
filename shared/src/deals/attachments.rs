//! A deal's attachments (S4.5). The client asks for an upload (name, type, size) and PUTs the
//! file to a presigned URL whose content type and length are signed; the bucket's S3 event
//! then confirms the attachment (its size equal to the declared one and within the limit, its
//! bytes sniffed to an allowed type that matches the declared one) or deletes the object and
//! records why. Object keys are chosen here (`attachments/{tenant}/{deal}/{attachment}`), never
//! from the file name; downloads go through short-lived presigned GETs.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | attachment | `T#{t}#DEAL#{deal}` | `ATTACHMENT#{id}` |
//! | the deal's count (pending + confirmed) | `T#{t}#DEAL#{deal}` | `ATTACHMENTS` |

use super::Deals;
use crate::errors::sdk_error;
use crate::store::{Condition, Item, Key, Query, Table, WriteOp, from_item, key, n, to_item};
use crate::{Caller, CrmError, FieldError};
use chrono::{DateTime, Duration, Utc};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Largest file: 25 MiB.
pub const MAX_BYTES: i64 = 25 * 1024 * 1024;
/// Most attachments of one deal (pending and confirmed).
pub const MAX_PER_DEAL: u64 = 100;
/// How long an upload URL and a download URL live.
pub const UPLOAD_TTL_SECONDS: i64 = 15 * 60;
pub const DOWNLOAD_TTL_SECONDS: i64 = 5 * 60;
/// Bytes read from the start of a file to tell its type.
pub const SNIFF_BYTES: i64 = 64 * 1024;

const ATTACHMENT_PREFIX: &str = "ATTACHMENT#";
const COUNT_SK: &str = "ATTACHMENTS";
const KEY_PREFIX: &str = "attachments/";

/// The types an attachment may have.
pub const ALLOWED_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/msword",
    "application/vnd.ms-excel",
];

/// Types stored as zip archives: sniffing the first bytes may only see the zip.
const ZIP_CONTAINERS: &[&str] = &[
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
];
/// Old Office types share the OLE compound file container.
const OLE_CONTAINERS: &[&str] = &["application/msword", "application/vnd.ms-excel"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentStatus {
    /// Waiting for the upload.
    Pending,
    /// Uploaded and checked: downloadable.
    Confirmed,
    /// The upload broke a rule; the object was deleted (`rejection_reason` says why).
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    pub id: Uuid,
    pub deal_id: Uuid,
    /// The name the file is shown and downloaded as (never part of the object key).
    pub file_name: String,
    /// The declared type; once confirmed, also the detected one.
    pub content_type: String,
    /// Declared size in bytes; once confirmed, the stored size.
    pub size: i64,
    pub status: AttachmentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
    pub uploaded_by: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// `POST /deals/{id}/attachments`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAttachment {
    pub file_name: String,
    pub content_type: String,
    /// Bytes; at most 25 MiB.
    pub size: i64,
}

/// Where and how to PUT the file: send exactly these headers.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PresignedUpload {
    pub url: String,
    pub method: String,
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AttachmentUpload {
    pub attachment: Attachment,
    pub upload: PresignedUpload,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AttachmentDownload {
    #[serde(flatten)]
    pub attachment: Attachment,
    /// A presigned GET, valid for 5 minutes.
    pub download_url: String,
    pub download_expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AttachmentList {
    pub items: Vec<Attachment>,
}

/// What the bucket holds about an object.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    pub size: i64,
}

/// A presigned URL and the headers the request must carry.
pub type SignedRequest = (String, Vec<(String, String)>);

/// The attachments bucket: the port the use cases take, S3 behind it in functions.
pub trait AttachmentFiles: Send + Sync {
    fn presign_put<'a>(
        &'a self,
        object_key: &'a str,
        content_type: &'a str,
        size: i64,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<SignedRequest, CrmError>>;
    fn presign_get<'a>(
        &'a self,
        object_key: &'a str,
        file_name: &'a str,
        content_type: &'a str,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<String, CrmError>>;
    /// The object, or `None` when there is none.
    fn head<'a>(
        &'a self,
        object_key: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredObject>, CrmError>>;
    /// At most `bytes` bytes from the start of the object.
    fn read_start<'a>(
        &'a self,
        object_key: &'a str,
        bytes: i64,
    ) -> BoxFuture<'a, Result<Vec<u8>, CrmError>>;
    fn delete<'a>(&'a self, object_key: &'a str) -> BoxFuture<'a, Result<(), CrmError>>;
    /// Whether `bucket` is the attachments bucket.
    fn holds(&self, bucket: &str) -> bool;
}

pub fn object_key(tenant: &str, deal: Uuid, id: Uuid) -> String {
    format!("{KEY_PREFIX}{tenant}/{deal}/{id}")
}

/// The tenant, deal and attachment an object key names, if it is one of ours.
pub fn parse_object_key(object_key: &str) -> Option<(String, Uuid, Uuid)> {
    let rest = object_key.strip_prefix(KEY_PREFIX)?;
    let mut parts = rest.split('/');
    let (tenant, deal, id) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || tenant.is_empty() {
        return None;
    }
    Some((tenant.to_string(), deal.parse().ok()?, id.parse().ok()?))
}

/// The type `head` (the first bytes of a file declared as `declared`) is, if it is an allowed
/// type consistent with the declaration; else why not.
pub fn check_content(declared: &str, head: &[u8]) -> Result<String, String> {
    if !ALLOWED_TYPES.contains(&declared) {
        return Err(format!("{declared} is not an allowed type"));
    }
    let detected = infer::get(head).map(|t| t.mime_type());
    let consistent = match detected {
        Some(found) if found == declared => true,
        Some("application/zip") => ZIP_CONTAINERS.contains(&declared),
        Some("application/x-ole-storage") => OLE_CONTAINERS.contains(&declared),
        Some(_) => false,
        // No magic number: only text may have none.
        None => declared.starts_with("text/") && is_text(head),
    };
    if consistent {
        Ok(declared.to_string())
    } else {
        Err(match detected {
            Some(found) => format!("the file is {found}, not {declared}"),
            None => format!("the file's content is not {declared}"),
        })
    }
}

/// UTF-8 text without NUL bytes (a character cut at the end of the sniffed bytes is fine).
fn is_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

fn validate(input: &NewAttachment) -> Result<(), CrmError> {
    let mut errors = Vec::new();
    let name = input.file_name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        errors.push(FieldError::new(
            "file_name",
            "length",
            "1 to 255 characters",
        ));
    } else if name.chars().any(|c| c.is_control()) {
        errors.push(FieldError::new(
            "file_name",
            "no_control_characters",
            "no control characters",
        ));
    }
    if !ALLOWED_TYPES.contains(&input.content_type.as_str()) {
        errors.push(FieldError::new(
            "content_type",
            "allowed",
            format!("one of {}", ALLOWED_TYPES.join(", ")),
        ));
    }
    if input.size < 1 || input.size > MAX_BYTES {
        errors.push(FieldError::new(
            "size",
            "range",
            format!("1 to {MAX_BYTES} bytes (25 MiB)"),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CrmError::Validation(errors))
    }
}

/// A deal's attachments.
pub struct Attachments<'a> {
    pub deals: &'a Deals,
    pub files: &'a dyn AttachmentFiles,
}

fn deal_pk(tenant: &str, deal: Uuid) -> String {
    crate::records::keys::record_pk(tenant, &super::SCHEMA, deal)
}

fn attachment_key(tenant: &str, deal: Uuid, id: Uuid) -> Key {
    Key::new(deal_pk(tenant, deal), format!("{ATTACHMENT_PREFIX}{id}"))
}

fn count_key(tenant: &str, deal: Uuid) -> Key {
    Key::new(deal_pk(tenant, deal), COUNT_SK)
}

fn item_of(tenant: &str, a: &Attachment) -> Result<Item, CrmError> {
    let k = attachment_key(tenant, a.deal_id, a.id);
    let mut keys = key(k.pk, k.sk);
    keys.insert("entity".into(), crate::store::s("deal_attachment"));
    to_item(a, keys)
}

fn status_is(status: AttachmentStatus) -> Condition {
    let raw = match status {
        AttachmentStatus::Pending => "pending",
        AttachmentStatus::Confirmed => "confirmed",
        AttachmentStatus::Rejected => "rejected",
    };
    Condition::eq("status", crate::store::s(raw))
}

/// How the S3 event left an attachment.
#[derive(Debug, Clone, PartialEq)]
pub enum UploadOutcome {
    Confirmed,
    Rejected(String),
    /// Already confirmed or rejected (a redelivered event), or deleted meanwhile.
    AlreadyDone,
    /// Not an attachment's object: deleted.
    Unknown,
}

impl Attachments<'_> {
    fn table(&self) -> &Table {
        &self.deals.ctx.table
    }

    /// Records a pending attachment and presigns its upload (the caller may change the deal).
    pub async fn create(
        &self,
        caller: &Caller,
        deal_id: Uuid,
        input: NewAttachment,
    ) -> Result<AttachmentUpload, CrmError> {
        let deal = self.deals.get_for_write(caller, deal_id).await?;
        validate(&input)?;
        let tenant = &caller.tenant_id;
        let attachment = Attachment {
            id: crate::values::new_id(),
            deal_id: deal.id,
            file_name: input.file_name.trim().to_string(),
            content_type: input.content_type,
            size: input.size,
            status: AttachmentStatus::Pending,
            rejection_reason: None,
            uploaded_by: caller.user_id.clone(),
            created_at: Utc::now(),
            confirmed_at: None,
        };
        // The count is read, then written back one higher on condition it did not change:
        // concurrent uploads cannot pass the limit together.
        let mut tries = 0;
        loop {
            let ck = count_key(tenant, deal.id);
            let count: u64 = match self.table().get(&ck.pk, &ck.sk).await? {
                Some(item) => item
                    .get("count")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                None => 0,
            };
            if count >= MAX_PER_DEAL {
                return Err(CrmError::Conflict {
                    detail: format!("a deal has at most {MAX_PER_DEAL} attachments"),
                    errors: vec![FieldError::new(
                        "attachments",
                        "max_count",
                        format!("at most {MAX_PER_DEAL} per deal"),
                    )],
                });
            }
            let mut counter = key(ck.pk.clone(), ck.sk.clone());
            counter.insert("count".into(), n(count + 1));
            let unchanged = if count == 0 {
                Condition::Or(vec![Condition::NotExists, Condition::eq("count", n(0))])
            } else {
                Condition::eq("count", n(count))
            };
            let writes = vec![
                WriteOp::put_new(item_of(tenant, &attachment)?),
                WriteOp::put_if(counter, unchanged),
            ];
            match self.table().transact(writes).await {
                Ok(()) => break,
                Err(e) if e.failed_at(1) && tries < 5 => tries += 1,
                Err(e) => return Err(e.into_error("attachment")),
            }
        }
        let ttl = std::time::Duration::from_secs(UPLOAD_TTL_SECONDS as u64);
        let (url, headers) = self
            .files
            .presign_put(
                &object_key(tenant, deal.id, attachment.id),
                &attachment.content_type,
                attachment.size,
                ttl,
            )
            .await?;
        Ok(AttachmentUpload {
            upload: PresignedUpload {
                url,
                method: "PUT".into(),
                headers: headers.into_iter().collect(),
                expires_at: attachment.created_at + Duration::seconds(UPLOAD_TTL_SECONDS),
            },
            attachment,
        })
    }

    /// The deal's attachments, oldest first, for a caller who may see the deal.
    pub async fn list(&self, caller: &Caller, deal_id: Uuid) -> Result<AttachmentList, CrmError> {
        let deal = self.deals.get(caller, deal_id).await?;
        let items = self
            .table()
            .query_all(
                Query::partition(deal_pk(&caller.tenant_id, deal.id)).prefix(ATTACHMENT_PREFIX),
            )
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<Attachment>, _>>()?;
        Ok(AttachmentList { items })
    }

    async fn load(
        &self,
        tenant: &str,
        deal: Uuid,
        id: Uuid,
    ) -> Result<Option<Attachment>, CrmError> {
        let k = attachment_key(tenant, deal, id);
        self.table()
            .get(&k.pk, &k.sk)
            .await?
            .map(from_item)
            .transpose()
    }

    /// One attachment with a download URL (confirmed ones; others answer 409).
    pub async fn download(
        &self,
        caller: &Caller,
        deal_id: Uuid,
        id: Uuid,
    ) -> Result<AttachmentDownload, CrmError> {
        let deal = self.deals.get(caller, deal_id).await?;
        let attachment = self
            .load(&caller.tenant_id, deal.id, id)
            .await?
            .ok_or(CrmError::NotFound)?;
        if attachment.status != AttachmentStatus::Confirmed {
            return Err(CrmError::Conflict {
                detail: "the attachment has not been uploaded and checked".into(),
                errors: vec![FieldError::new(
                    "status",
                    "confirmed",
                    "a confirmed attachment",
                )],
            });
        }
        let ttl = std::time::Duration::from_secs(DOWNLOAD_TTL_SECONDS as u64);
        let url = self
            .files
            .presign_get(
                &object_key(&caller.tenant_id, deal.id, id),
                &attachment.file_name,
                &attachment.content_type,
                ttl,
            )
            .await?;
        Ok(AttachmentDownload {
            attachment,
            download_url: url,
            download_expires_at: Utc::now() + Duration::seconds(DOWNLOAD_TTL_SECONDS),
        })
    }

    /// Deletes an attachment and its file (the caller may change the deal).
    pub async fn delete(&self, caller: &Caller, deal_id: Uuid, id: Uuid) -> Result<(), CrmError> {
        let deal = self.deals.get_for_write(caller, deal_id).await?;
        let tenant = &caller.tenant_id;
        let attachment = self
            .load(tenant, deal.id, id)
            .await?
            .ok_or(CrmError::NotFound)?;
        self.files.delete(&object_key(tenant, deal.id, id)).await?;
        self.forget(tenant, &attachment).await
    }

    /// Removes the item, and its place in the count unless it was rejected (which freed it).
    async fn forget(&self, tenant: &str, a: &Attachment) -> Result<(), CrmError> {
        let mut writes = vec![WriteOp::delete_if(
            attachment_key(tenant, a.deal_id, a.id),
            status_is(a.status),
        )];
        if a.status != AttachmentStatus::Rejected {
            writes.push(uncount(tenant, a.deal_id));
        }
        match self.table().transact(writes).await {
            Ok(()) => Ok(()),
            // Deleted or changed meanwhile: what is left is someone else's outcome.
            Err(e) if e.failed_at(0) => Ok(()),
            Err(e) => Err(e.into_error("attachment")),
        }
    }

    /// The S3 event of object `object_key`: confirms its attachment or rejects it (the object
    /// deleted, the reason kept). Redelivery finds the attachment settled and does nothing.
    pub async fn on_uploaded(&self, object_key: &str) -> Result<UploadOutcome, CrmError> {
        let Some((tenant, deal, id)) = parse_object_key(object_key) else {
            self.files.delete(object_key).await?;
            return Ok(UploadOutcome::Unknown);
        };
        let Some(attachment) = self.load(&tenant, deal, id).await? else {
            self.files.delete(object_key).await?;
            return Ok(UploadOutcome::Unknown);
        };
        if attachment.status != AttachmentStatus::Pending {
            return Ok(UploadOutcome::AlreadyDone);
        }
        let Some(object) = self.files.head(object_key).await? else {
            return Ok(UploadOutcome::AlreadyDone);
        };
        let verdict = if object.size != attachment.size {
            Err(format!(
                "the file has {} bytes, {} were declared",
                object.size, attachment.size
            ))
        } else if object.size > MAX_BYTES {
            Err(format!(
                "the file is larger than {MAX_BYTES} bytes (25 MiB)"
            ))
        } else {
            let head = self.files.read_start(object_key, SNIFF_BYTES).await?;
            check_content(&attachment.content_type, &head)
        };
        let mut next = attachment.clone();
        let mut writes = Vec::new();
        let outcome = match verdict {
            Ok(_) => {
                next.status = AttachmentStatus::Confirmed;
                next.size = object.size;
                next.confirmed_at = Some(Utc::now());
                UploadOutcome::Confirmed
            }
            Err(reason) => {
                self.files.delete(object_key).await?;
                next.status = AttachmentStatus::Rejected;
                next.rejection_reason = Some(reason.clone());
                writes.push(uncount(&tenant, deal));
                UploadOutcome::Rejected(reason)
            }
        };
        writes.insert(
            0,
            WriteOp::put_if(
                item_of(&tenant, &next)?,
                status_is(AttachmentStatus::Pending),
            ),
        );
        match self.table().transact(writes).await {
            Ok(()) => Ok(outcome),
            Err(e) if e.failed_at(0) => Ok(UploadOutcome::AlreadyDone),
            Err(e) => Err(e.into_error("attachment")),
        }
    }
}

fn uncount(tenant: &str, deal: Uuid) -> WriteOp {
    WriteOp::Add {
        key: count_key(tenant, deal),
        add: vec![("count".into(), -rust_decimal::Decimal::ONE)],
        set: Item::new(),
    }
}

/// The attachments bucket in S3.
pub struct S3AttachmentFiles {
    pub client: crate::sdk_client::SdkClient<aws_sdk_s3::Client>,
    pub bucket: String,
}

impl AttachmentFiles for S3AttachmentFiles {
    fn presign_put<'a>(
        &'a self,
        object_key: &'a str,
        content_type: &'a str,
        size: i64,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<SignedRequest, CrmError>> {
        // Type and length are signed: S3 refuses a PUT with other ones.
        Box::pin(crate::store::objects::presign_put(
            &self.client,
            &self.bucket,
            object_key,
            content_type,
            Some(size),
            ttl,
        ))
    }

    fn presign_get<'a>(
        &'a self,
        object_key: &'a str,
        file_name: &'a str,
        content_type: &'a str,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<String, CrmError>> {
        Box::pin(crate::store::objects::presign_get(
            &self.client,
            &self.bucket,
            object_key,
            file_name,
            content_type,
            ttl,
        ))
    }

    fn head<'a>(
        &'a self,
        object_key: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredObject>, CrmError>> {
        Box::pin(async move {
            let found =
                crate::store::objects::head_object(&self.client, &self.bucket, object_key).await?;
            Ok(found.map(|(size, _)| StoredObject { size }))
        })
    }

    fn read_start<'a>(
        &'a self,
        object_key: &'a str,
        bytes: i64,
    ) -> BoxFuture<'a, Result<Vec<u8>, CrmError>> {
        Box::pin(crate::store::objects::read_start(
            &self.client,
            &self.bucket,
            object_key,
            bytes,
        ))
    }

    fn delete<'a>(&'a self, object_key: &'a str) -> BoxFuture<'a, Result<(), CrmError>> {
        Box::pin(async move {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(object_key)
                .send()
                .await
                .map_err(|e| sdk_error("DeleteObject", e))?;
            Ok(())
        })
    }

    fn holds(&self, bucket: &str) -> bool {
        bucket == self.bucket
    }
}

pub use crate::store::objects::content_disposition;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const EXE: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0";

    #[test]
    fn s4_5_the_bytes_decide_the_type_not_the_declaration() {
        assert_eq!(
            check_content("application/pdf", PDF),
            Ok("application/pdf".into())
        );
        assert_eq!(check_content("image/png", PNG), Ok("image/png".into()));
        assert!(
            check_content("image/png", PDF)
                .unwrap_err()
                .contains("application/pdf")
        );
        assert!(check_content("application/pdf", EXE).is_err());
        assert!(check_content("text/plain", EXE).is_err());
        assert!(check_content("text/csv", b"a;b\n1;2\n").is_ok());
        assert!(check_content("text/plain", "Grüße".as_bytes()).is_ok());
        // A UTF-8 character cut by the sniffing window is still text; a NUL is not.
        assert!(check_content("text/plain", &"ü".as_bytes()[..1]).is_ok());
        assert!(check_content("text/plain", b"a\0b").is_err());
        assert!(
            check_content("application/x-msdownload", EXE)
                .unwrap_err()
                .contains("not an allowed type")
        );
    }

    #[test]
    fn s4_5_object_keys_round_trip_and_nothing_else_parses() {
        let (deal, id) = (crate::values::new_id(), crate::values::new_id());
        let k = object_key("acme", deal, id);
        assert_eq!(parse_object_key(&k), Some(("acme".into(), deal, id)));
        for junk in [
            "attachments/acme/x/y",
            "imports/acme/a/b",
            "attachments//a/b",
            &format!("{k}/more"),
        ] {
            assert_eq!(parse_object_key(junk), None, "{junk}");
        }
    }

    proptest! {
        /// No file name can put a quote, a line break or a non-ASCII byte into the header's
        /// plain part; the encoded part decodes to the name.
        #[test]
        fn s4_5_content_disposition_is_one_safe_header(name in "\\PC{0,40}|[\"\\\\\r\n\u{2028};]{0,10}") {
            let header = content_disposition(&name);
            prop_assert!(header.is_ascii());
            prop_assert!(!header.contains('\r') && !header.contains('\n'));
            let (plain, encoded) = header.split_once("; filename*=UTF-8''").unwrap();
            let quoted = plain.strip_prefix("attachment; filename=\"").unwrap().strip_suffix('"').unwrap();
            prop_assert!(!quoted.contains('"'));
            let decoded = percent_encoding::percent_decode_str(encoded).decode_utf8().unwrap();
            prop_assert_eq!(decoded, name);
        }
    }
}
