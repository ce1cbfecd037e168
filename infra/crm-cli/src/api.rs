//! The HTTP API client: bearer token, JSON in and out, and every refusal mapped to a
//! [`Failure`] from its RFC 9457 problem body. Presigned uploads and downloads go to the
//! storage directly, without the token.

use crate::error::{Failure, Problem};
use crate::model::UploadTarget;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// How long one API request may take (uploads and downloads have no such limit).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Result<Self, Failure> {
        let base = base.trim_end_matches('/').to_string();
        if reqwest::Url::parse(&base).is_err() {
            return Err(Failure::Usage(format!(
                "--api-url / CRM_API_URL is not a URL: \"{base}\""
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("crm-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::Protocol(format!("cannot set up HTTP: {e}")))?;
        Ok(Self {
            http,
            base,
            token: token.to_string(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        self.call(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, Failure> {
        self.call(self.request(reqwest::Method::POST, path).json(body))
            .await
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(REQUEST_TIMEOUT)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, Failure> {
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(&self.base, &e))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| unreachable(&self.base, &e))?;
        if !(200..300).contains(&status) {
            let problem = Problem::from_body(&body);
            return Err(match status {
                401 | 403 => Failure::TokenRefused { status, problem },
                408 | 429 => Failure::Server { status, problem },
                400..=499 => Failure::Refused { status, problem },
                _ => Failure::Server { status, problem },
            });
        }
        serde_json::from_str(&body).map_err(|e| {
            let start: String = body.chars().take(200).collect();
            Failure::Protocol(format!("{e} in {start}"))
        })
    }

    /// Sends `file` (of `size` bytes) to a presigned upload, with exactly its signed headers.
    pub async fn upload(
        &self,
        target: &UploadTarget,
        file: &Path,
        size: u64,
    ) -> Result<(), Failure> {
        let method = reqwest::Method::from_bytes(target.method.as_bytes())
            .map_err(|_| Failure::Protocol(format!("upload method \"{}\"", target.method)))?;
        let body = tokio::fs::File::open(file)
            .await
            .map_err(|e| Failure::io(file, e))?;
        let mut request = self
            .http
            .request(method, &target.url)
            .header(reqwest::header::CONTENT_LENGTH, size);
        for (name, value) in &target.headers {
            request = request.header(name, value);
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable(&origin(&target.url), &e))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(Failure::Transfer {
            what: "upload".into(),
            status,
            body: storage_message(&response.text().await.unwrap_or_default()),
        })
    }

    /// Downloads a presigned URL into `dest` (through `dest.part`, so a broken download
    /// leaves no half file under the name): the bytes written.
    pub async fn download(&self, url: &str, dest: &Path) -> Result<u64, Failure> {
        let mut response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| unreachable(&origin(url), &e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(Failure::Transfer {
                what: "download".into(),
                status,
                body: storage_message(&response.text().await.unwrap_or_default()),
            });
        }
        let mut part = dest.as_os_str().to_owned();
        part.push(".part");
        let part = std::path::PathBuf::from(part);
        let mut out = tokio::fs::File::create(&part)
            .await
            .map_err(|e| Failure::io(&part, e))?;
        let mut written = 0u64;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unreachable(&origin(url), &e))?
        {
            out.write_all(&chunk)
                .await
                .map_err(|e| Failure::io(&part, e))?;
            written += chunk.len() as u64;
        }
        out.flush().await.map_err(|e| Failure::io(&part, e))?;
        drop(out);
        tokio::fs::rename(&part, dest)
            .await
            .map_err(|e| Failure::io(dest, e))?;
        Ok(written)
    }
}

/// A request that got no answer: what the innermost error says (`Connection refused`).
fn unreachable(url: &str, error: &reqwest::Error) -> Failure {
    let cause = if error.is_timeout() {
        "no answer in time".to_string()
    } else {
        let mut cause: &dyn std::error::Error = error;
        while let Some(source) = cause.source() {
            cause = source;
        }
        cause.to_string()
    };
    Failure::Unreachable {
        url: url.to_string(),
        cause,
    }
}

/// A presigned URL without its query (the signature is nobody's business in an error).
fn origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "the storage".into(),
    }
}

/// S3 answers XML: its `<Message>`, else the start of the body.
fn storage_message(body: &str) -> String {
    if let Some(start) = body.find("<Message>") {
        let rest = &body[start + "<Message>".len()..];
        if let Some(end) = rest.find("</Message>") {
            return rest[..end].to_string();
        }
    }
    body.trim().chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presigned_urls_lose_their_signature_in_messages() {
        assert_eq!(
            origin("http://127.0.0.1:5050/bucket/imports/x?X-Amz-Signature=abc"),
            "http://127.0.0.1:5050/bucket/imports/x"
        );
    }

    #[test]
    fn storage_errors_are_read_from_their_xml() {
        assert_eq!(
            storage_message(
                "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code>\
                 <Message>Request has expired</Message></Error>"
            ),
            "Request has expired"
        );
    }
}
