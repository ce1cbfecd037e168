//! The HTTP edge shared by the API functions: who is calling (from the authorizer's claims),
//! body parsing, problem+json errors, ETag / If-Match, Idempotency-Key. The handlers stay thin:
//! parse with this, call the domain core, answer with this.

pub mod conditional;
pub mod json_numbers;
pub mod limits;
pub mod metrics;
pub mod observe;
pub mod query_checks;
pub mod records;

use crm_shared::idempotency::{self, Begin, StoredResponse};
use crm_shared::{Caller, CrmError, Deps, FieldError, Role};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use uuid::Uuid;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// RFC 9457 problem details.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A relative URI naming the kind of problem, e.g. `/problems/validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The offending fields and the rule each broke.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For a refused custom field change: how many records hold values it would break.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affected_records: Option<u64>,
    /// Seconds to wait before retrying (429, 503): sent as the `Retry-After` header.
    #[serde(skip)]
    pub retry_after_secs: Option<u64>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        slug: &str,
        detail: impl Into<String>,
        errors: Vec<FieldError>,
    ) -> Self {
        Self {
            kind: format!("/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            errors,
            affected_records: None,
            retry_after_secs: None,
        }
    }

    pub fn unauthorized(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail, vec![])
    }

    pub fn into_response(self) -> Response<Body> {
        let body = serde_json::to_string(&self).unwrap_or_default();
        let mut builder = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, PROBLEM_JSON);
        if let Some(secs) = self.retry_after_secs {
            builder = builder.header(header::RETRY_AFTER, secs.to_string());
        }
        builder.body(Body::Text(body)).expect("valid response")
    }
}

impl From<CrmError> for Problem {
    fn from(e: CrmError) -> Self {
        match e {
            CrmError::BadRequest { detail, errors } => {
                Self::new(StatusCode::BAD_REQUEST, "bad-request", detail, errors)
            }
            CrmError::Validation(errors) => {
                let detail = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation",
                    detail,
                    errors,
                )
            }
            CrmError::NotFound => Self::new(
                StatusCode::NOT_FOUND,
                "not-found",
                "no such resource",
                vec![],
            ),
            CrmError::Forbidden(detail) => {
                Self::new(StatusCode::FORBIDDEN, "forbidden", detail, vec![])
            }
            CrmError::Conflict { detail, errors } => {
                Self::new(StatusCode::CONFLICT, "conflict", detail, errors)
            }
            CrmError::ChangeRefused {
                detail,
                affected_records,
                errors,
            } => Self {
                affected_records: Some(affected_records),
                ..Self::new(StatusCode::CONFLICT, "affected-records", detail, errors)
            },
            CrmError::PreconditionFailed => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "the record changed since it was read; fetch it again and retry with its ETag",
                vec![FieldError::new(
                    "If-Match",
                    "current_version",
                    "must be the current ETag",
                )],
            ),
            CrmError::IdempotencyMismatch => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "this Idempotency-Key was used with a different request",
                vec![FieldError::new(
                    "Idempotency-Key",
                    "same_request",
                    "a key may only be replayed with the same request",
                )],
            ),
            CrmError::IdempotencyInProgress => Self::new(
                StatusCode::CONFLICT,
                "idempotency-in-progress",
                "a request with this Idempotency-Key is still being processed; retry shortly",
                vec![],
            ),
            CrmError::TooManyRequests {
                detail,
                retry_after_secs,
            } => Self {
                retry_after_secs: Some(retry_after_secs),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-requests",
                    detail,
                    vec![],
                )
            },
            CrmError::Unavailable {
                detail,
                retry_after_secs,
            } => Self {
                retry_after_secs: Some(retry_after_secs),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    detail,
                    vec![],
                )
            },
            CrmError::PayloadTooLarge { detail } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                detail,
                vec![],
            ),
            CrmError::UnsupportedMediaType { detail } => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                detail,
                vec![FieldError::new(
                    "Content-Type",
                    "media_type",
                    "must be application/json",
                )],
            ),
            CrmError::Internal(detail) => {
                // The detail may name resources; it goes to the log, not to the caller.
                tracing::error!(detail = %crm_shared::telemetry::Redacted(&detail), "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred; nothing was changed",
                    vec![],
                )
            }
        }
    }
}

pub fn error_response(e: CrmError) -> Response<Body> {
    Problem::from(e).into_response()
}

/// The caller, from the JWT claims API Gateway's authorizer put into the request context.
#[allow(clippy::result_large_err)] // once per request, answered at once: boxing gains nothing
pub fn caller(req: &Request) -> Result<Caller, Problem> {
    let RequestContext::ApiGatewayV2(ctx) = req.request_context() else {
        return Err(Problem::unauthorized(
            "no API Gateway HTTP API request context",
        ));
    };
    let claims = ctx
        .authorizer
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .map(|jwt| jwt.claims.clone())
        .ok_or_else(|| Problem::unauthorized("no verified token"))?;
    let tenant_id = claims
        .get("tenant_id")
        .filter(|t| Caller::is_valid_tenant_id(t));
    let user_id = claims.get("sub").filter(|s| !s.is_empty());
    let role = claims.get("role").and_then(|r| Role::parse(r));
    match (tenant_id, user_id, role) {
        (Some(tenant_id), Some(user_id), Some(role)) => {
            Ok(Caller::new(tenant_id.clone(), user_id.clone(), role))
        }
        _ => Err(Problem::unauthorized(
            "the token lacks a valid tenant_id, sub or role claim",
        )),
    }
}

/// The caller of this request as the tenant's directory knows them (S9.4): the token's
/// identity, with the role and teams of the user's record. Answers 401 without a valid token
/// and 403 for a deactivated user.
pub async fn authenticate(deps: &Deps, req: &Request) -> Result<Caller, Response<Body>> {
    let token = caller(req).map_err(Problem::into_response)?;
    observe::set_tenant(&token.tenant_id);
    crm_shared::directory::Directory::new(deps.table())
        .effective_caller(token)
        .await
        .map_err(error_response)
}

/// All query string parameters (the last value of a repeated one).
pub fn query_params(req: &Request) -> std::collections::BTreeMap<String, String> {
    req.query_string_parameters()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `METHOD /path/{param}` as API Gateway matched it.
pub fn route_key(req: &Request) -> String {
    match req.request_context() {
        RequestContext::ApiGatewayV2(ctx) => ctx.route_key.unwrap_or_default(),
        _ => String::new(),
    }
}

fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => b"",
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    }
}

/// Parses a JSON body; unknown fields and malformed JSON are 400s naming the field.
/// A JSON body whose `custom_fields` object is taken apart from the record's own fields (for
/// bodies whose type refuses unknown fields and is also the stored form).
pub fn json_body_with_custom_fields<T: serde::de::DeserializeOwned>(
    req: &Request,
) -> Result<(T, Option<serde_json::Map<String, serde_json::Value>>), CrmError> {
    let mut value: serde_json::Value = json_body(req)?;
    let custom = match value
        .as_object_mut()
        .and_then(|o| o.remove("custom_fields"))
    {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Object(m)) => Some(m),
        Some(_) => {
            return Err(CrmError::BadRequest {
                detail: "custom_fields must be an object of field keys and values".into(),
                errors: vec![FieldError::new(
                    "custom_fields",
                    "type",
                    "must be an object",
                )],
            });
        }
    };
    let fields = serde_json::from_value(value).map_err(body_error)?;
    Ok((fields, custom))
}

pub fn json_body<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T, CrmError> {
    conditional::require_json(
        req.headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )?;
    limits::check_body(req)?;
    let mut value: serde_json::Value =
        serde_json::from_slice(body_bytes(req)).map_err(body_error)?;
    // Every body of the API is an object; serde would also read a struct from an array.
    if !value.is_object() {
        return Err(CrmError::BadRequest {
            detail: "the body must be a JSON object".into(),
            errors: vec![FieldError::new("body", "object", "must be a JSON object")],
        });
    }
    json_numbers::integral_floats_as_integers(&mut value);
    serde_json::from_value(value).map_err(body_error)
}

/// A body that does not deserialise: 400 naming the unknown or missing field when serde says
/// which.
fn body_error(e: serde_json::Error) -> CrmError {
    let text = e.to_string();
    let field = text
        .split('`')
        .nth(1)
        .filter(|_| text.starts_with("unknown field") || text.starts_with("missing field"))
        .unwrap_or("body")
        .to_string();
    let rule = if text.starts_with("unknown field") {
        "unknown_field"
    } else if text.starts_with("missing field") {
        "required"
    } else {
        "json"
    };
    CrmError::BadRequest {
        detail: text.clone(),
        errors: vec![FieldError::new(field, rule, text)],
    }
}

/// A path parameter that must be an id. A malformed id cannot name a record: 404.
pub fn path_id(req: &Request, name: &str) -> Result<Uuid, CrmError> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .and_then(|v| Uuid::parse_str(v).ok())
        .ok_or(CrmError::NotFound)
}

/// A path parameter as text (percent-decoded by API Gateway).
pub fn path_param(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_string)
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_string)
}

/// `?limit=` (checked and capped) and `?cursor=` of a list request.
pub fn page_params(req: &Request) -> Result<(i32, Option<String>), CrmError> {
    let limit = crm_shared::pagination::page_size(query_param(req, "limit").as_deref())?;
    Ok((limit, query_param(req, "cursor")))
}

/// The expected version of a conditional write ([`conditional`]): absent or `*` → `None`
/// (`*` asks only that the record exists); `"3"` → `Some(3)`; a list of tags none of which
/// this API issued → a version no record has (412 once the record is found); a value that is
/// not an entity-tag list → 400.
pub fn if_match(req: &Request) -> Result<Option<u64>, CrmError> {
    Ok(conditional::if_match_header(req.headers())?.and_then(|m| m.expected_version(None)))
}

pub fn json_response<T: Serialize>(
    status: StatusCode,
    value: &T,
    etag: Option<String>,
) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(etag) = etag {
        builder = builder.header(header::ETAG, etag);
    }
    builder
        .body(Body::Text(serde_json::to_string(value).unwrap_or_default()))
        .expect("valid response")
}

pub fn no_content() -> Response<Body> {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::Empty)
        .expect("valid response")
}

/// Runs a POST with `Idempotency-Key` support: the first response (success or client error) is
/// stored and replayed for the same key and request; a server fault releases the key.
pub async fn idempotent<F, Fut>(
    deps: &Deps,
    caller: &Caller,
    req: &Request,
    run: F,
) -> Response<Body>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Response<Body>, CrmError>>,
{
    let Some(raw_key) = req.headers().get("idempotency-key") else {
        return run().await.unwrap_or_else(error_response);
    };
    let idem_key = raw_key.to_str().unwrap_or("").to_string();
    if let Err(e) = idempotency::validate_key(&idem_key) {
        return error_response(e);
    }
    let fingerprint =
        idempotency::fingerprint(req.method().as_str(), req.uri().path(), body_bytes(req));
    let table = deps.table();
    match idempotency::begin(&table, &caller.tenant_id, &idem_key, &fingerprint).await {
        Err(e) => return error_response(e),
        Ok(Begin::Replay(stored)) => return replayed(stored),
        Ok(Begin::New) => {}
    }
    let response = run().await.unwrap_or_else(error_response);
    if response.status().is_server_error() {
        if let Err(e) = idempotency::abort(&table, &caller.tenant_id, &idem_key).await {
            tracing::error!(error = %crm_shared::telemetry::Redacted(&e), "could not release an idempotency key");
        }
        return response;
    }
    let stored = StoredResponse {
        status: response.status().as_u16(),
        body: String::from_utf8_lossy(match response.body() {
            Body::Text(t) => t.as_bytes(),
            Body::Binary(b) => b,
            _ => b"",
        })
        .into_owned(),
        headers: response
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_string(), v.to_string()))
            })
            .collect(),
    };
    if let Err(e) =
        idempotency::complete(&table, &caller.tenant_id, &idem_key, &fingerprint, &stored).await
    {
        tracing::error!(error = %crm_shared::telemetry::Redacted(&e), "could not store an idempotent response");
    }
    response
}

fn replayed(stored: StoredResponse) -> Response<Body> {
    let mut builder = Response::builder().status(stored.status);
    for (k, v) in &stored.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let mut response = builder
        .body(Body::Text(stored.body))
        .expect("stored response is valid");
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// JSON logs for CloudWatch; level from `RUST_LOG`.
pub fn init_tracing() {
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::from_default_env();
    let _ = observe::json_logs(filter, std::io::stdout).try_init();
}

/// A function's HTTP handler: one per API function, called by the Lambda runtime in AWS and by
/// the local gateway in development and tests.
pub trait HttpHandler: Send + Sync + 'static {
    fn handle(&self, req: Request) -> impl std::future::Future<Output = Response<Body>> + Send;
}

/// The routes of an API function behind authentication: `route` answers one request (its
/// route key, `GET /contacts/{id}`) of a known caller, and an error becomes its problem
/// response. Every such function is an [`HttpHandler`].
pub trait Routes: Send + Sync + 'static {
    fn route(
        &self,
        route: &str,
        caller: &Caller,
        req: &Request,
    ) -> impl std::future::Future<Output = Result<Response<Body>, CrmError>> + Send;

    /// The dependencies the caller is authenticated with.
    fn deps(&self) -> &Deps;
}

/// The answer to a request behind the authorizer: the caller (401/403 as [`authenticate`]
/// answers), the query's values checked (400 for an empty one), then `serve` for that caller
/// with its error as problem+json.
pub async fn serve_authenticated<F, Fut>(deps: &Deps, req: &Request, serve: F) -> Response<Body>
where
    F: FnOnce(Caller) -> Fut,
    Fut: std::future::Future<Output = Result<Response<Body>, CrmError>>,
{
    let caller = match authenticate(deps, req).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    if let Err(e) = query_checks::refuse_empty_query_values(req) {
        return error_response(e);
    }
    serve(caller).await.unwrap_or_else(error_response)
}

impl<R: Routes> HttpHandler for R {
    async fn handle(&self, req: Request) -> Response<Body> {
        // Logged here when the local gateway calls it; in Lambda `run_lambda` already does.
        observe::http(req, |req| async move {
            let (req, route) = (&req, route_key(&req));
            serve_authenticated(self.deps(), req, |caller| async move {
                // Boxed as a trait object: a function with many routes (workflows-api) makes
                // a future type so deep that the release build overflows rustc's query depth
                // computing its layout. One allocation per request erases it.
                let routed: std::pin::Pin<
                    Box<
                        dyn std::future::Future<Output = Result<Response<Body>, CrmError>>
                            + Send
                            + '_,
                    >,
                > = Box::pin(self.route(&route, &caller, req));
                routed.await
            })
            .await
        })
        .await
    }
}

/// The `main` of every API function: tracing, dependencies once per cold start, then serve.
pub async fn run_lambda<H: HttpHandler>(
    build: impl FnOnce(Deps) -> H,
) -> Result<(), lambda_http::Error> {
    init_tracing();
    let handler = std::sync::Arc::new(build(Deps::from_env().await?));
    lambda_http::run(lambda_http::service_fn(move |req| {
        let handler = handler.clone();
        async move {
            let response = observe::http(req, |req| limits::serve(&*handler, req)).await;
            Ok::<_, std::convert::Infallible>(response)
        }
    }))
    .await
}

/// What an event-driven function does with one event (an `S3Event`, an `SqsEvent`): its answer,
/// or an error that makes Lambda retry the event.
pub trait EventHandler<E>: Send + Sync + 'static {
    type Response: serde::Serialize + Send;
    fn handle_event(
        &self,
        event: E,
    ) -> impl std::future::Future<Output = Result<Self::Response, crm_shared::CrmError>> + Send;
}

/// The cold start and invocation loop of an event-driven function: configuration and clients
/// once, then `handle_event` per event.
pub async fn run_event_lambda<E, H>(
    build: impl FnOnce(Deps) -> Result<H, crm_shared::CrmError>,
) -> Result<(), lambda_http::Error>
where
    E: serde::de::DeserializeOwned + Send + 'static,
    H: EventHandler<E>,
{
    init_tracing();
    let handler = std::sync::Arc::new(build(Deps::from_env().await?)?);
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<serde_json::Value>| {
            let handler = handler.clone();
            async move {
                observe::event(&event.context, event.payload, |e: E| {
                    handler.handle_event(e)
                })
                .await
                .map_err(lambda_http::Error::from)
            }
        },
    ))
    .await
}

/// The response for a route this function does not serve (cannot happen behind API Gateway).
pub fn unknown_route() -> Response<Body> {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "no such route", vec![]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_http_events_carry_the_caller_where_api_gateway_puts_it() {
        let create = lambda_http::request::from_str(include_str!(
            "../../../events/http-create-contact.json"
        ))
        .unwrap();
        let expected = Caller::new("tenant-a", "user-1", Role::Admin);
        assert_eq!(caller(&create).unwrap(), expected);
        assert_eq!(route_key(&create), "POST /contacts");
        let body: serde_json::Value = json_body(&create).unwrap();
        assert_eq!(body["email"], "ada@example.com");

        let get =
            lambda_http::request::from_str(include_str!("../../../events/http-get-contact.json"))
                .unwrap();
        assert_eq!(route_key(&get), "GET /contacts/{id}");
        assert!(path_id(&get, "id").is_ok());
        assert!(matches!(path_id(&get, "other"), Err(CrmError::NotFound)));
    }

    #[test]
    fn if_match_takes_strong_etags_and_refuses_only_malformed_values() {
        let with = |v: &str| {
            let mut req = Request::default();
            req.headers_mut()
                .insert(header::IF_MATCH, HeaderValue::from_str(v).unwrap());
            if_match(&req)
        };
        assert_eq!(with("\"3\"").unwrap(), Some(3));
        assert_eq!(with("W/\"4\"").unwrap(), Some(conditional::NO_VERSION));
        assert_eq!(with("\"stale-0\"").unwrap(), Some(conditional::NO_VERSION));
        assert_eq!(with("*").unwrap(), None);
        assert!(with("abc").is_err());
        assert_eq!(
            with("").unwrap(),
            Some(conditional::NO_VERSION),
            "an empty If-Match is a list of no tags: it matches nothing (412)"
        );
        assert_eq!(if_match(&Request::default()).unwrap(), None);
    }

    #[test]
    fn a_json_body_must_be_an_object() {
        for body in ["[]", "[1]", "3", "\"x\"", "null"] {
            let mut req = Request::new(Body::Text(body.into()));
            req.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            let e = json_body::<serde_json::Value>(&req).unwrap_err();
            let problem = Problem::from(e);
            assert_eq!(
                (problem.status, problem.errors[0].rule.as_str()),
                (400, "object"),
                "{body}"
            );
        }
    }

    #[test]
    fn a_json_body_of_another_media_type_is_415() {
        let mut req = Request::new(Body::Text("{}".into()));
        req.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let e = json_body::<serde_json::Value>(&req).unwrap_err();
        assert_eq!(Problem::from(e).status, 415);
    }

    #[test]
    fn every_429_and_503_carries_retry_after() {
        for (e, status) in [
            (
                CrmError::TooManyRequests {
                    detail: "slow down".into(),
                    retry_after_secs: 7,
                },
                429,
            ),
            (
                CrmError::Unavailable {
                    detail: "busy".into(),
                    retry_after_secs: 3,
                },
                503,
            ),
        ] {
            let secs = match &e {
                CrmError::TooManyRequests {
                    retry_after_secs, ..
                }
                | CrmError::Unavailable {
                    retry_after_secs, ..
                } => *retry_after_secs,
                _ => unreachable!(),
            };
            let response = error_response(e);
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(
                response.headers()[header::RETRY_AFTER].to_str().unwrap(),
                secs.to_string()
            );
            assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        }
    }
}
