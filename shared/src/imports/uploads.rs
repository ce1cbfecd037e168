//! Where import files are uploaded and read from: the port the import use cases take, and its
//! S3 adapter.

use super::ReadFailure;
use crate::CrmError;
use futures::future::BoxFuture;
use std::time::Duration;

pub trait Uploads: Send + Sync {
    /// A URL a client PUTs one object to, with this content type, until `ttl` runs out.
    fn presign_put<'a>(
        &'a self,
        object_key: &'a str,
        content_type: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<String, CrmError>>;
    /// The object's bytes, refused when larger than `max_bytes` or unreadable.
    fn read<'a>(
        &'a self,
        object_key: &'a str,
        max_bytes: i64,
    ) -> BoxFuture<'a, Result<Vec<u8>, ReadFailure>>;
    /// Whether `bucket` is where uploads go.
    fn holds(&self, bucket: &str) -> bool;
    /// The object's size in bytes.
    fn size<'a>(&'a self, object_key: &'a str) -> BoxFuture<'a, Result<u64, ReadFailure>>;
    /// Up to `len` bytes of the object from byte `start` (fewer at its end).
    fn read_range<'a>(
        &'a self,
        object_key: &'a str,
        start: u64,
        len: u64,
    ) -> BoxFuture<'a, Result<Vec<u8>, ReadFailure>>;
    /// A URL that downloads the object as `file_name` until `ttl` runs out.
    fn presign_get<'a>(
        &'a self,
        object_key: &'a str,
        file_name: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<String, CrmError>>;
    /// Stores an object the processing made (a spreadsheet's rows as CSV).
    fn write<'a>(
        &'a self,
        object_key: &'a str,
        bytes: Vec<u8>,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), CrmError>>;
}

fn unreadable<E: std::fmt::Debug>(what: &'static str) -> impl FnOnce(E) -> ReadFailure {
    move |e| {
        tracing::error!(error = %crate::telemetry::Redacted(&format!("{e:?}")), "{what} failed");
        ReadFailure("the uploaded file could not be read".into())
    }
}

/// The imports bucket in S3.
pub struct S3Uploads {
    pub client: crate::sdk_client::SdkClient<aws_sdk_s3::Client>,
    pub bucket: String,
}

impl Uploads for S3Uploads {
    fn presign_put<'a>(
        &'a self,
        object_key: &'a str,
        content_type: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<String, CrmError>> {
        Box::pin(async move {
            let (url, _) = crate::store::objects::presign_put(
                &self.client,
                &self.bucket,
                object_key,
                content_type,
                None,
                ttl,
            )
            .await?;
            Ok(url)
        })
    }

    fn read<'a>(
        &'a self,
        object_key: &'a str,
        max_bytes: i64,
    ) -> BoxFuture<'a, Result<Vec<u8>, ReadFailure>> {
        Box::pin(async move {
            let out = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(object_key)
                .send()
                .await
                .map_err(|e| {
                    tracing::error!(error = %aws_sdk_s3::error::DisplayErrorContext(&e), "GetObject failed");
                    ReadFailure("the uploaded file could not be read".into())
                })?;
            if out.content_length().unwrap_or(0) > max_bytes {
                return Err(ReadFailure(format!(
                    "the file is larger than the {} MiB limit",
                    max_bytes / 1024 / 1024
                )));
            }
            let body = out
                .body
                .collect()
                .await
                .map_err(|_| ReadFailure("the uploaded file could not be read".into()))?;
            Ok(body.into_bytes().to_vec())
        })
    }

    fn holds(&self, bucket: &str) -> bool {
        bucket == self.bucket
    }

    fn presign_get<'a>(
        &'a self,
        object_key: &'a str,
        file_name: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<String, CrmError>> {
        Box::pin(crate::store::objects::presign_get(
            &self.client,
            &self.bucket,
            object_key,
            file_name,
            "text/csv; charset=utf-8",
            ttl,
        ))
    }

    fn size<'a>(&'a self, object_key: &'a str) -> BoxFuture<'a, Result<u64, ReadFailure>> {
        Box::pin(async move {
            let head = self
                .client
                .head_object()
                .bucket(&self.bucket)
                .key(object_key)
                .send()
                .await
                .map_err(unreadable("HeadObject"))?;
            Ok(head.content_length().unwrap_or(0).max(0) as u64)
        })
    }

    fn read_range<'a>(
        &'a self,
        object_key: &'a str,
        start: u64,
        len: u64,
    ) -> BoxFuture<'a, Result<Vec<u8>, ReadFailure>> {
        Box::pin(async move {
            if len == 0 {
                return Ok(Vec::new());
            }
            let out = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(object_key)
                .range(format!("bytes={start}-{}", start + len - 1))
                .send()
                .await
                .map_err(unreadable("GetObject (range)"))?;
            let body = out
                .body
                .collect()
                .await
                .map_err(unreadable("reading a range"))?;
            Ok(body.into_bytes().to_vec())
        })
    }

    fn write<'a>(
        &'a self,
        object_key: &'a str,
        bytes: Vec<u8>,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), CrmError>> {
        Box::pin(crate::store::objects::put_object(
            &self.client,
            &self.bucket,
            object_key,
            bytes,
            content_type,
        ))
    }
}
