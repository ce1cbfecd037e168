//! Inbound email (S6.4). SES receives mail for `in.<domain>` and stores each message in the
//! inbox bucket under `inbound/`; the bucket's S3 event runs `inbound-mail`, which hands each
//! object to [`Inbox::on_object`]:
//!
//! 1. **Read** ([`parse`]): the object's size is checked first (at most
//!    [`parse::MAX_MESSAGE_BYTES`]; a larger one is recorded failed, `too_large`, after its first
//!    64 KiB told whom it was for), then the MIME is parsed with `mail-parser`.
//! 2. **Route** ([`address`]): the tenants it is for are the ones named by its recipients at the
//!    inbound domain, `{tenant}@in.<domain>` or a dropbox `{tenant}+{anything}@in.<domain>`
//!    (To, Cc, Delivered-To, X-Original-To, the `for` of Received headers, the receipt). A
//!    tenant exists when it saved settings or has a user record; mail for none is recorded
//!    failed (`no_tenant`) under [`messages::NO_TENANT`].
//! 3. **Match**: the sender and the recipients (inbox addresses excluded) are looked up by the
//!    contacts' email claims (`T#t#EMAIL#{address}`: key reads, any of a contact's addresses).
//!    With `inbound_auto_lead` on, an unknown sender of mail to the tenant's own address (not
//!    a dropbox, whose sender is the tenant's user) becomes a lead through the contacts' create
//!    use case, as the system actor [`process::SYSTEM_ACTOR`].
//! 4. **Thread** ([`threads`]): by Message-ID, In-Reply-To and References; outbound mail
//!    records its Message-IDs with [`threads::Threads::record_outbound`].
//! 5. **Log**: attachments go to the inbox bucket (`attachments/{tenant}/{message}/{n}`), the
//!    activity is logged, and the inbound-message item ([`messages`]) is written last, once.

pub mod address;
pub mod messages;
pub mod parse;
pub mod process;
pub mod threads;

pub use address::MailDomain;
pub use messages::{InboundMessage, InboundMessages, InboundStatus, StoredAttachment};
pub use process::{InboundEmail, Inbox, MailObjects, ObjectInfo, Outcome};
pub use threads::{Direction, Threads};

use crate::CrmError;
use crate::errors::sdk_error;
use futures::future::BoxFuture;

/// The inbox bucket on S3.
#[derive(Clone, Debug)]
pub struct S3MailObjects {
    pub client: crate::sdk_client::SdkClient<aws_sdk_s3::Client>,
    pub bucket: String,
}

impl MailObjects for S3MailObjects {
    fn holds(&self, bucket: &str) -> bool {
        bucket == self.bucket
    }

    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<ObjectInfo>, CrmError>> {
        Box::pin(async move {
            let found = crate::store::objects::head_object(&self.client, &self.bucket, key).await?;
            Ok(found.map(|(size, last_modified)| ObjectInfo {
                size,
                last_modified,
            }))
        })
    }

    fn read<'a>(&'a self, key: &'a str, bytes: i64) -> BoxFuture<'a, Result<Vec<u8>, CrmError>> {
        Box::pin(crate::store::objects::read_start(
            &self.client,
            &self.bucket,
            key,
            bytes,
        ))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), CrmError>> {
        Box::pin(crate::store::objects::put_object(
            &self.client,
            &self.bucket,
            key,
            bytes,
            content_type,
        ))
    }

    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<(), CrmError>> {
        Box::pin(async move {
            for key in keys {
                self.client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| sdk_error("DeleteObject", e))?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
