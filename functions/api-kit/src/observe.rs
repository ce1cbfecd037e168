//! What every invocation tells operations: one structured JSON log line per API request
//! (`request`) and per event (`event`), the invocation's EMF metrics (`crate::metrics`), and
//! the X-Ray trace its DynamoDB calls join (`crm_shared::telemetry::xray`).
//!
//! Log lines carry ids, route templates, statuses, counts and times, never personal data: no
//! names, addresses, bodies, query values, paths with values, or tokens.

use crate::metrics::{Metrics, Unit, emit, now_ms};
use crm_shared::CrmError;
use crm_shared::telemetry::metrics::{Counter, Counters, counted};
use crm_shared::telemetry::xray::{Trace, traced};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The JSON log format of every function: one object per line, the event's fields at the top
/// level, no timestamp (CloudWatch stamps each line).
/// `filter`: `RUST_LOG` directives (an `EnvFilter`, or text such as `"info"`).
pub fn json_logs<W>(
    filter: impl Into<EnvFilter>,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .without_time()
        .with_env_filter(filter.into())
        .with_writer(writer)
        .finish()
}

/// The function's name in metrics: Lambda's, or `local`.
pub fn function_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into())
    })
}

#[derive(Debug, Clone, Default)]
struct RequestScope {
    tenant: Arc<Mutex<Option<String>>>,
}

tokio::task_local! {
    static REQUEST: RequestScope;
}

/// Names the tenant of the request being served (once its token is read).
pub fn set_tenant(tenant: &str) {
    let _ = REQUEST.try_with(|scope| {
        if let Ok(mut t) = scope.tenant.lock() {
            *t = Some(tenant.to_string());
        }
    });
}

/// What one API request did, as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// API Gateway's request id (`requestContext.requestId`).
    pub request_id: Option<String>,
    /// The Lambda invocation's request id (the `REPORT` line's).
    pub lambda_request_id: Option<String>,
    pub tenant: Option<String>,
    /// The route template, `GET /contacts/{id}`.
    pub route: String,
    pub status: u16,
    pub latency_ms: f64,
    pub counters: Vec<(Counter, u64)>,
}

/// Serves one request through `handle`, then logs it and emits its metrics. Nested calls (a
/// function's `main` and its `Routes`) observe the request once, in the outermost.
pub async fn http<F, Fut>(req: Request, handle: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    if REQUEST.try_with(|_| ()).is_ok() {
        return handle(req).await;
    }
    let (response, record) = observe_http(req, handle).await;
    log_request(&record);
    emit(&request_metrics(&record).document(function_name(), now_ms()));
    response
}

/// Serves one request through `handle` and says what it did (without logging it).
pub async fn observe_http<F, Fut>(req: Request, handle: F) -> (Response<Body>, RequestRecord)
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let started = Instant::now();
    let (request_id, route) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => (ctx.request_id.clone(), ctx.route_key.clone()),
        _ => (None, None),
    };
    let lambda = req.lambda_context_ref();
    let lambda_request_id = lambda.map(|c| c.request_id.clone());
    let trace = lambda
        .and_then(|c| c.xray_trace_id.as_deref())
        .and_then(Trace::from_header);
    let scope = RequestScope::default();
    let counters = Counters::default();
    let response = REQUEST
        .scope(
            scope.clone(),
            // Boxed: the handler's future nests deep; a box keeps the wrappers' types shallow.
            counted(counters.clone(), traced(trace, Box::pin(handle(req)))),
        )
        .await;
    let tenant = scope.tenant.lock().ok().and_then(|t| t.clone());
    let record = RequestRecord {
        request_id,
        lambda_request_id,
        tenant,
        route: route.unwrap_or_else(|| "-".into()),
        status: response.status().as_u16(),
        latency_ms: millis(started),
        counters: counters.totals(),
    };
    (response, record)
}

fn millis(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn log_request(r: &RequestRecord) {
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                request_id = r.request_id.as_deref(),
                lambda_request_id = r.lambda_request_id.as_deref(),
                tenant = r.tenant.as_deref(),
                route = %r.route,
                status = r.status,
                latency_ms = r.latency_ms,
                "request"
            )
        };
    }
    if r.status >= 500 {
        line!(error)
    } else {
        line!(info)
    }
}

/// The request's metrics: `Requests`, `ClientErrors` (4xx), `ServerErrors` (5xx), `Latency`,
/// and the business counters it counted.
pub fn request_metrics(r: &RequestRecord) -> Metrics {
    let mut m = Metrics::default();
    m.put("Requests", Unit::Count, 1.0)
        .put(
            "ClientErrors",
            Unit::Count,
            f64::from(u8::from((400..500).contains(&r.status))),
        )
        .put(
            "ServerErrors",
            Unit::Count,
            f64::from(u8::from(r.status >= 500)),
        )
        .put("Latency", Unit::Milliseconds, r.latency_ms)
        .counters(&r.counters)
        .property("request_id", r.request_id.clone())
        .property("route", r.route.clone())
        .property("tenant", r.tenant.clone())
        .property("status", r.status);
    m
}

/// What one event did, as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub request_id: String,
    /// The event's records (`Records` of an S3, SQS or stream event; 1 for anything else).
    pub records: usize,
    /// Records reported back as failed (`batchItemFailures`); all of them when the invocation
    /// failed as a whole.
    pub failures: usize,
    /// The invocation failed as a whole (Lambda retries the event).
    pub failed: bool,
    pub latency_ms: f64,
    pub counters: Vec<(Counter, u64)>,
}

/// Runs one event through `handle` (as the function's event type `E`), then logs it and emits
/// its metrics.
pub async fn event<E, R, F, Fut>(
    context: &lambda_http::Context,
    payload: serde_json::Value,
    handle: F,
) -> Result<R, CrmError>
where
    E: serde::de::DeserializeOwned,
    R: serde::Serialize,
    F: FnOnce(E) -> Fut,
    Fut: Future<Output = Result<R, CrmError>>,
{
    let trace = context
        .xray_trace_id
        .as_deref()
        .and_then(Trace::from_header);
    let (result, record) = observe_event(&context.request_id, trace, payload, handle).await;
    log_event(&record);
    emit(&event_metrics(&record).document(function_name(), now_ms()));
    result
}

/// Runs one event and says what it did (without logging it).
pub async fn observe_event<E, R, F, Fut>(
    request_id: &str,
    trace: Option<Trace>,
    payload: serde_json::Value,
    handle: F,
) -> (Result<R, CrmError>, EventRecord)
where
    E: serde::de::DeserializeOwned,
    R: serde::Serialize,
    F: FnOnce(E) -> Fut,
    Fut: Future<Output = Result<R, CrmError>>,
{
    let started = Instant::now();
    let records = payload
        .get("Records")
        .and_then(|r| r.as_array())
        .map_or(1, Vec::len);
    let counters = Counters::default();
    // serde's message can quote the payload; only its category is kept.
    let result = match serde_json::from_value::<E>(payload) {
        Ok(event) => counted(counters.clone(), traced(trace, Box::pin(handle(event)))).await,
        Err(e) => Err(CrmError::Internal(format!(
            "not the function's event ({:?} error)",
            e.classify()
        ))),
    };
    let failures = match &result {
        Ok(answer) => serde_json::to_value(answer)
            .ok()
            .and_then(|v| v.get("batchItemFailures")?.as_array().map(Vec::len))
            .unwrap_or(0),
        Err(_) => records,
    };
    let record = EventRecord {
        request_id: request_id.to_string(),
        records,
        failures,
        failed: result.is_err(),
        latency_ms: millis(started),
        counters: counters.totals(),
    };
    (result, record)
}

fn log_event(r: &EventRecord) {
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                function = function_name(),
                request_id = %r.request_id,
                records = r.records,
                failures = r.failures,
                failed = r.failed,
                latency_ms = r.latency_ms,
                "event"
            )
        };
    }
    if r.failed {
        line!(error)
    } else if r.failures > 0 {
        line!(warn)
    } else {
        line!(info)
    }
}

/// The event's metrics: `Records`, `RecordFailures`, `EventErrors` (the invocation failed),
/// `Latency`, and the business counters it counted.
pub fn event_metrics(r: &EventRecord) -> Metrics {
    let mut m = Metrics::default();
    m.put("Records", Unit::Count, r.records as f64)
        .put("RecordFailures", Unit::Count, r.failures as f64)
        .put("EventErrors", Unit::Count, f64::from(u8::from(r.failed)))
        .put("Latency", Unit::Milliseconds, r.latency_ms)
        .counters(&r.counters)
        .property("request_id", r.request_id.clone());
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_shared::telemetry::metrics::count;
    use lambda_http::http::StatusCode;

    /// A writer the test reads back: everything the subscriber wrote.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Captured {
            self.clone()
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<serde_json::Value> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).expect("every line is JSON"))
                .collect()
        }
    }

    fn create_contact_event() -> Request {
        lambda_http::request::from_str(include_str!("../../../events/http-create-contact.json"))
            .unwrap()
    }

    /// Stands in for a function: reads the token's tenant as `authenticate` does, reads the
    /// body, counts a contact, answers 201.
    async fn create(req: Request) -> Response<Body> {
        let caller = crate::caller(&req).unwrap();
        set_tenant(&caller.tenant_id);
        let _body: serde_json::Value = crate::json_body(&req).unwrap();
        count(Counter::ContactsCreated, 1);
        crate::json_response(StatusCode::CREATED, &serde_json::json!({"id": "c1"}), None)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_logs_one_json_line_with_its_fields_and_no_personal_data() {
        let out = Captured::default();
        let _guard = tracing::subscriber::set_default(json_logs("info", out.clone()));
        let response = http(create_contact_event(), |req| async move {
            // The function's own Routes wrapper inside main's: still one line.
            http(req, create).await
        })
        .await;
        assert_eq!(response.status(), 201);

        let lines = out.lines();
        let requests: Vec<_> = lines.iter().filter(|l| l["message"] == "request").collect();
        assert_eq!(requests.len(), 1, "{lines:?}");
        let line = requests[0];
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["request_id"], "Q7xYkiAbFiAEJ2w=");
        assert_eq!(line["tenant"], "tenant-a");
        assert_eq!(line["route"], "POST /contacts");
        assert_eq!(line["status"], 201);
        assert!(line["latency_ms"].as_f64().unwrap() >= 0.0);

        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        for personal in [
            "Ada",
            "Lovelace",
            "ada@example.com",
            "eyJ",
            "203.0.113.10",
            "Mozilla",
        ] {
            assert!(!text.contains(personal), "{personal} in the logs: {text}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_is_observed_with_its_counters_and_a_5xx_is_an_error_line() {
        let (_, record) = observe_http(create_contact_event(), create).await;
        assert_eq!(record.counters, vec![(Counter::ContactsCreated, 1)]);
        let doc = request_metrics(&record).document("f", 1);
        assert_eq!(doc["Requests"], 1.0);
        assert_eq!(doc["ServerErrors"], 0.0);
        assert_eq!(doc["ClientErrors"], 0.0);
        assert_eq!(doc["ContactsCreated"], 1.0);
        assert_eq!(doc["tenant"], "tenant-a");

        let out = Captured::default();
        let _guard = tracing::subscriber::set_default(json_logs("info", out.clone()));
        http(create_contact_event(), |_| async {
            crate::error_response(CrmError::Internal("boom".into()))
        })
        .await;
        let lines = out.lines();
        let line = lines.iter().find(|l| l["message"] == "request").unwrap();
        assert_eq!(line["level"], "ERROR");
        assert_eq!(line["status"], 500);
        assert!(line.get("tenant").is_none());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_event_counts_its_records_and_failures() {
        let payload = serde_json::json!({"Records": [{"messageId": "a"}, {"messageId": "b"}]});
        let (result, record) =
            observe_event("req-1", None, payload, |e: serde_json::Value| async move {
                count(Counter::WorkflowStepsRun, 3);
                assert_eq!(e["Records"].as_array().unwrap().len(), 2);
                Ok(serde_json::json!({"batchItemFailures": [{"itemIdentifier": "b"}]}))
            })
            .await;
        assert!(result.is_ok());
        assert_eq!(
            (record.records, record.failures, record.failed),
            (2, 1, false)
        );
        assert_eq!(record.counters, vec![(Counter::WorkflowStepsRun, 3)]);
        let doc = event_metrics(&record).document("f", 1);
        assert_eq!(doc["Records"], 2.0);
        assert_eq!(doc["RecordFailures"], 1.0);
        assert_eq!(doc["EventErrors"], 0.0);
        assert_eq!(doc["WorkflowStepsRun"], 3.0);

        let (result, record) = observe_event::<u32, (), _, _>(
            "req-2",
            None,
            serde_json::json!({"sweep": {"secret": "ada@example.com"}}),
            |_| async { Ok(()) },
        )
        .await;
        let error = result.unwrap_err().to_string();
        assert!(!error.contains("ada@example.com"), "{error}");
        assert_eq!(
            (record.records, record.failures, record.failed),
            (1, 1, true)
        );
    }
}
