//! Where export files go (S3 in Lambda, multipart for CSV) and how rows reach them.

use super::{DOWNLOAD_TTL, PART_BYTES};
use crate::CrmError;
use futures::future::BoxFuture;

/// Where export files go: S3 in Lambda.
pub trait ExportFiles: Send + Sync {
    /// Starts a multipart upload: its id.
    fn start<'a>(
        &'a self,
        key: &'a str,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<String, CrmError>>;
    /// Uploads part `number` (from 1): its ETag.
    fn part<'a>(
        &'a self,
        key: &'a str,
        upload: &'a str,
        number: i32,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<String, CrmError>>;
    /// Completes the upload from its parts' ETags, in order.
    fn complete<'a>(
        &'a self,
        key: &'a str,
        upload: &'a str,
        etags: Vec<String>,
    ) -> BoxFuture<'a, Result<(), CrmError>>;
    fn put<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), CrmError>>;
    fn presign_get<'a>(
        &'a self,
        key: &'a str,
        file_name: &'a str,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<String, CrmError>>;
}

/// The imports bucket's `exports/` prefix.
pub struct S3ExportFiles {
    pub client: crate::sdk_client::SdkClient<aws_sdk_s3::Client>,
    pub bucket: String,
}

impl ExportFiles for S3ExportFiles {
    fn start<'a>(
        &'a self,
        key: &'a str,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<String, CrmError>> {
        Box::pin(async move {
            let out = self
                .client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .send()
                .await
                .map_err(|e| crate::errors::sdk_error("CreateMultipartUpload", e))?;
            out.upload_id
                .ok_or_else(|| CrmError::Internal("no upload id".into()))
        })
    }

    fn part<'a>(
        &'a self,
        key: &'a str,
        upload: &'a str,
        number: i32,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<String, CrmError>> {
        Box::pin(async move {
            let out = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload)
                .part_number(number)
                .body(bytes.into())
                .send()
                .await
                .map_err(|e| crate::errors::sdk_error("UploadPart", e))?;
            Ok(out.e_tag.unwrap_or_default())
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        upload: &'a str,
        etags: Vec<String>,
    ) -> BoxFuture<'a, Result<(), CrmError>> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        Box::pin(async move {
            let parts = etags
                .into_iter()
                .enumerate()
                .map(|(i, etag)| {
                    CompletedPart::builder()
                        .part_number(i as i32 + 1)
                        .e_tag(etag)
                        .build()
                })
                .collect();
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| crate::errors::sdk_error("CompleteMultipartUpload", e))?;
            Ok(())
        })
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

    fn presign_get<'a>(
        &'a self,
        key: &'a str,
        file_name: &'a str,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<String, CrmError>> {
        Box::pin(crate::store::objects::presign_get(
            &self.client,
            &self.bucket,
            key,
            file_name,
            content_type,
            DOWNLOAD_TTL,
        ))
    }
}

pub(super) fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().from_writer(Vec::new())
}

/// Writes the file's rows as CSV parts or into a workbook (one per export: its size is moot).
#[allow(clippy::large_enum_variant)]
pub(super) enum Sink<'a> {
    Csv {
        files: &'a dyn ExportFiles,
        key: String,
        upload: String,
        writer: csv::Writer<Vec<u8>>,
        etags: Vec<String>,
    },
    Xlsx {
        workbook: Box<rust_xlsxwriter::Workbook>,
        row: u32,
    },
}

impl Sink<'_> {
    pub(super) async fn row(&mut self, cells: &[String]) -> Result<(), CrmError> {
        match self {
            Sink::Csv {
                files,
                key,
                upload,
                writer,
                etags,
            } => {
                writer.write_record(cells).map_err(CrmError::internal)?;
                if writer.get_ref().len() >= PART_BYTES {
                    let bytes = std::mem::replace(writer, csv_writer())
                        .into_inner()
                        .map_err(CrmError::internal)?;
                    let etag = files
                        .part(key, upload, etags.len() as i32 + 1, bytes)
                        .await?;
                    etags.push(etag);
                }
                Ok(())
            }
            Sink::Xlsx { workbook, row } => {
                let sheet = workbook
                    .worksheet_from_index(0)
                    .map_err(CrmError::internal)?;
                for (col, value) in cells.iter().enumerate() {
                    sheet
                        .write_string(*row, col as u16, value)
                        .map_err(CrmError::internal)?;
                }
                *row += 1;
                Ok(())
            }
        }
    }
}
