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
