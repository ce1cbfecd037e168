//! Object storage (S3) helpers the buckets' adapters share.

use crate::CrmError;
use crate::errors::sdk_error;

/// A presigned PutObject of `object_key` in `bucket` with its content type (and length, when
/// given) signed, valid for `ttl`: the URL and the headers the PUT must carry.
pub async fn presign_put(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    object_key: &str,
    content_type: &str,
    content_length: Option<i64>,
    ttl: std::time::Duration,
) -> Result<(String, Vec<(String, String)>), CrmError> {
    let presigning =
        aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl).map_err(CrmError::internal)?;
    let presigned = client
        .put_object()
        .bucket(bucket)
        .key(object_key)
        .content_type(content_type)
        .set_content_length(content_length)
        .presigned(presigning)
        .await
        .map_err(|e| sdk_error("presign PutObject", e))?;
    let mut headers: Vec<(String, String)> = presigned
        .headers()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    let signed = [
        Some(("content-type", content_type.to_string())),
        content_length.map(|n| ("content-length", n.to_string())),
    ];
    for (name, value) in signed.into_iter().flatten() {
        if !headers.iter().any(|(k, _)| k == name) {
            headers.push((name.to_string(), value));
        }
    }
    Ok((presigned.uri().to_string(), headers))
}

/// Stores `bytes` as `object_key` in `bucket` with its content type (objects a function makes:
/// a converted import file, an errors file, an `.xlsx` export).
pub async fn put_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    object_key: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<(), CrmError> {
    client
        .put_object()
        .bucket(bucket)
        .key(object_key)
        .content_type(content_type)
        .body(bytes.into())
        .send()
        .await
        .map_err(|e| sdk_error("PutObject", e))?;
    Ok(())
}

/// The size and last change of `object_key` in `bucket`; `None` when there is no such object.
pub async fn head_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    object_key: &str,
) -> Result<Option<(i64, chrono::DateTime<chrono::Utc>)>, CrmError> {
    match client
        .head_object()
        .bucket(bucket)
        .key(object_key)
        .send()
        .await
    {
        Ok(out) => Ok(Some((
            out.content_length().unwrap_or(0),
            out.last_modified()
                .and_then(|t| chrono::DateTime::from_timestamp_millis(t.to_millis().ok()?))
                .unwrap_or(chrono::DateTime::UNIX_EPOCH),
        ))),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
        Err(e) => Err(sdk_error("HeadObject", e)),
    }
}

/// At most the first `bytes` bytes of `object_key` in `bucket` (a ranged GetObject).
pub async fn read_start(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    object_key: &str,
    bytes: i64,
) -> Result<Vec<u8>, CrmError> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(object_key)
        .range(format!("bytes=0-{}", bytes - 1))
        .send()
        .await
        .map_err(|e| sdk_error("GetObject", e))?;
    let body = out
        .body
        .collect()
        .await
        .map_err(|e| sdk_error("GetObject body", e))?;
    let mut start = body.into_bytes().to_vec();
    start.truncate(bytes as usize);
    Ok(start)
}

/// A presigned GetObject of `object_key` in `bucket`, valid for `ttl`, answered with this
/// content type and as a download named `file_name`.
pub async fn presign_get(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    object_key: &str,
    file_name: &str,
    content_type: &str,
    ttl: std::time::Duration,
) -> Result<String, CrmError> {
    let presigning =
        aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl).map_err(CrmError::internal)?;
    let presigned = client
        .get_object()
        .bucket(bucket)
        .key(object_key)
        .response_content_type(content_type)
        .response_content_disposition(content_disposition(file_name))
        .presigned(presigning)
        .await
        .map_err(|e| sdk_error("presign GetObject", e))?;
    Ok(presigned.uri().to_string())
}

/// `attachment` with the name as typed (RFC 6266 `filename*`) and an ASCII fallback, so no
/// quote or line break of a name can break the header.
pub fn content_disposition(file_name: &str) -> String {
    let fallback: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded =
        percent_encoding::utf8_percent_encode(file_name, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}
