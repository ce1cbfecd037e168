//! What every API answer is bounded and marked with (issue 14 item 3, OWASP API4 / API8): a
//! request body cap (413 problem+json before any handler reads it) and the headers every
//! answer carries (`X-Content-Type-Options: nosniff`, `Cache-Control: no-store` unless the
//! handler set one). [`serve`] wraps a handler; the Lambda main ([`crate::run_lambda`]) and the
//! local gateway's dispatch both go through it.

use crate::{HttpHandler, Problem};
use crm_shared::CrmError;
use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, Request, Response};

/// The largest request body any route takes: 1 MiB (API Gateway itself stops at 10 MB). File
/// contents never come through the API (imports and attachments upload to S3 directly).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The length of a request's body in bytes.
pub fn body_len(req: &Request) -> usize {
    match req.body() {
        Body::Text(t) => t.len(),
        Body::Binary(b) => b.len(),
        _ => 0,
    }
}

/// `Err(PayloadTooLarge)` when the body is over [`MAX_BODY_BYTES`].
pub fn check_body(req: &Request) -> Result<(), CrmError> {
    let len = body_len(req);
    if len > MAX_BODY_BYTES {
        return Err(CrmError::PayloadTooLarge {
            detail: format!("the body is {len} bytes; at most {MAX_BODY_BYTES} are accepted"),
        });
    }
    Ok(())
}

/// Adds the headers every API answer carries.
pub fn harden(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Runs `handler` on `req` within the limits: an oversized body is refused before the
/// handler sees it, and the answer gets [`harden`]'s headers.
pub async fn serve<H: HttpHandler>(handler: &H, req: Request) -> Response<Body> {
    let response = match check_body(&req) {
        Err(e) => Problem::from(e).into_response(),
        Ok(()) => handler.handle(req).await,
    };
    harden(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_over_the_cap_are_refused_and_answers_are_marked() {
        let small = Request::new(Body::Text("{}".into()));
        assert!(check_body(&small).is_ok());
        let big = Request::new(Body::Text("x".repeat(MAX_BODY_BYTES + 1)));
        assert!(matches!(
            check_body(&big),
            Err(CrmError::PayloadTooLarge { .. })
        ));
        let r = harden(Response::new(Body::Empty));
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["cache-control"], "no-store");
    }
}
