//! X-Ray subsegments of DynamoDB calls. There is no official X-Ray SDK for Rust; this is the
//! part of one the CRM needs: an SDK interceptor on the DynamoDB client that times every call
//! (its retries included) and sends one subsegment document per call over UDP to the X-Ray
//! daemon (`AWS_XRAY_DAEMON_ADDRESS`, which Lambda sets with active tracing; default
//! `127.0.0.1:2000`), under the invocation's segment: trace id and parent from the trace
//! header Lambda hands each invocation (`_X_AMZN_TRACE_ID`, in the runtime's context).
//!
//! The trace is ambient per invocation: the function edge runs the invocation inside
//! [`traced`]. Without a trace, or with a trace not sampled (`Sampled=0`), the interceptor does
//! nothing, so local runs and tests send nothing unless they set one.

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, Region, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::OnceLock;

/// Where the daemon listens when `AWS_XRAY_DAEMON_ADDRESS` is not set.
pub const DEFAULT_DAEMON: &str = "127.0.0.1:2000";

/// The daemon's UDP protocol: this header line, then one JSON document.
const DAEMON_HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";

/// An X-Ray trace header: `Root=1-…;Parent=…;Sampled=1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    pub root: String,
    pub parent: Option<String>,
    pub sampled: bool,
}

impl TraceHeader {
    pub fn parse(header: &str) -> Option<Self> {
        let (mut root, mut parent, mut sampled) = (None, None, false);
        for part in header.split(';') {
            match part.trim().split_once('=') {
                Some(("Root", v)) => root = Some(v.to_string()),
                Some(("Parent", v)) => parent = Some(v.to_string()),
                Some(("Sampled", v)) => sampled = v == "1",
                _ => {}
            }
        }
        Some(Self {
            root: root.filter(|r| r.starts_with("1-"))?,
            parent,
            sampled,
        })
    }
}

/// A sampled trace and the daemon its subsegments go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub root: String,
    pub parent: String,
    pub daemon: SocketAddr,
}

impl Trace {
    /// The invocation's trace from its header, sent to the daemon the environment names. `None`
    /// (nothing is sent) when the header is malformed, has no parent or is not sampled.
    pub fn from_header(header: &str) -> Option<Self> {
        let daemon = daemon_address(
            std::env::var("AWS_XRAY_DAEMON_ADDRESS")
                .as_deref()
                .unwrap_or(DEFAULT_DAEMON),
        )?;
        Self::to_daemon(header, daemon)
    }

    /// As [`Trace::from_header`], sending to `daemon`.
    pub fn to_daemon(header: &str, daemon: SocketAddr) -> Option<Self> {
        let header = TraceHeader::parse(header)?;
        if !header.sampled {
            return None;
        }
        Some(Self {
            root: header.root,
            parent: header.parent?,
            daemon,
        })
    }
}

/// `AWS_XRAY_DAEMON_ADDRESS`: `host:port`, or `tcp:host:port udp:host:port` (the UDP one).
pub fn daemon_address(raw: &str) -> Option<SocketAddr> {
    let udp = raw
        .split_whitespace()
        .find_map(|p| p.strip_prefix("udp:"))
        .unwrap_or(raw.trim());
    udp.to_socket_addrs().ok()?.next()
}

tokio::task_local! {
    static TRACE: Option<Trace>;
}

/// Runs `fut` as part of `trace` (`None`: untraced).
pub async fn traced<F: std::future::Future>(trace: Option<Trace>, fut: F) -> F::Output {
    TRACE.scope(trace, fut).await
}

fn current() -> Option<Trace> {
    TRACE.try_with(Clone::clone).ok().flatten()
}

/// The interceptor: one subsegment per DynamoDB call of a sampled trace.
#[derive(Debug, Default, Clone, Copy)]
pub struct DynamoDbSubsegments;

/// One call in flight: its trace, when it started, what it does.
#[derive(Debug, Clone)]
struct Call {
    trace: Trace,
    start: f64,
    operation: Option<String>,
    tables: Vec<String>,
    attempts: u32,
}

impl Storable for Call {
    type Storer = StoreReplace<Self>;
}

/// What the last attempt's response said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    pub status: Option<u16>,
    pub request_id: Option<String>,
    /// The error's type (`ResourceNotFoundException`), from the body's `__type`.
    pub error_type: Option<String>,
    /// The call ended in an error (an error response, or no response at all).
    pub failed: bool,
}

impl Intercept for DynamoDbSubsegments {
    fn name(&self) -> &'static str {
        "XRayDynamoDbSubsegments"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(trace) = current() {
            cfg.interceptor_state().store_put(Call {
                trace,
                start: epoch_seconds(),
                operation: None,
                tables: Vec::new(),
                attempts: 0,
            });
        }
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(mut call) = cfg.load::<Call>().cloned() else {
            return Ok(());
        };
        let request = context.request();
        // DynamoDB's JSON protocol: `X-Amz-Target: DynamoDB_20120810.GetItem`.
        call.operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .map(str::to_string);
        if call.tables.is_empty() {
            call.tables = request.body().bytes().map(table_names).unwrap_or_default();
        }
        call.attempts += 1;
        cfg.interceptor_state().store_put(call);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = cfg.load::<Call>() else {
            return Ok(());
        };
        let mut answer = Answer {
            failed: matches!(context.output_or_error(), Some(Err(_))),
            ..Answer::default()
        };
        if let Some(response) = context.response() {
            answer.status = Some(response.status().as_u16());
            answer.request_id = response
                .headers()
                .get("x-amzn-requestid")
                .map(str::to_string);
            if response.status().as_u16() >= 400 {
                answer.error_type = response.body().bytes().and_then(error_type);
            }
        }
        let region = cfg.load::<Region>().map(|r| r.to_string());
        let doc = subsegment(
            &call.trace,
            &Operation {
                name: call.operation.as_deref().unwrap_or("Unknown"),
                tables: &call.tables,
                region: region.as_deref(),
                retries: call.attempts.saturating_sub(1),
            },
            call.start,
            epoch_seconds(),
            &answer,
        );
        send(call.trace.daemon, &doc);
        Ok(())
    }
}

/// The call a subsegment describes.
#[derive(Debug, Clone, Copy)]
pub struct Operation<'a> {
    pub name: &'a str,
    pub tables: &'a [String],
    pub region: Option<&'a str>,
    pub retries: u32,
}

/// Error types DynamoDB answers when it throttles.
fn is_throttle(error_type: &str) -> bool {
    matches!(
        error_type,
        "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "LimitExceededException"
    )
}

/// The subsegment document of one call: `error` for a 4xx, `throttle` (with `error`) for a
/// throttled call, `fault` for a 5xx or a call that got no answer.
pub fn subsegment(
    trace: &Trace,
    op: &Operation<'_>,
    start: f64,
    end: f64,
    answer: &Answer,
) -> Value {
    let mut aws = json!({ "operation": op.name, "retries": op.retries });
    match op.tables {
        [] => {}
        [one] => aws["table_name"] = json!(one),
        many => aws["table_names"] = json!(many),
    }
    if let Some(region) = op.region {
        aws["region"] = json!(region);
    }
    if let Some(id) = &answer.request_id {
        aws["request_id"] = json!(id);
    }
    let mut doc = json!({
        "name": "DynamoDB",
        "id": new_id(),
        "trace_id": trace.root,
        "parent_id": trace.parent,
        "type": "subsegment",
        "namespace": "aws",
        "start_time": start,
        "end_time": end.max(start),
        "aws": aws,
    });
    if let Some(status) = answer.status {
        doc["http"] = json!({ "response": { "status": status } });
    }
    let status = answer.status.unwrap_or(0);
    let throttled = status == 429 || answer.error_type.as_deref().is_some_and(is_throttle);
    if throttled {
        doc["throttle"] = json!(true);
    }
    if status >= 500 || (answer.failed && answer.status.is_none()) {
        doc["fault"] = json!(true);
    } else if throttled || (400..500).contains(&status) || answer.failed {
        doc["error"] = json!(true);
    }
    if let Some(kind) = &answer.error_type {
        doc["cause"] = json!({
            "exceptions": [{ "id": new_id(), "type": kind, "remote": true }]
        });
    }
    doc
}

/// The tables a request names: `TableName`, the keys of `RequestItems` (batches), each
/// `TableName` of `TransactItems`.
fn table_names(body: &[u8]) -> Vec<String> {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let mut names = BTreeSet::new();
    if let Some(t) = request["TableName"].as_str() {
        names.insert(t.to_string());
    }
    if let Some(items) = request["RequestItems"].as_object() {
        names.extend(items.keys().cloned());
    }
    for item in request["TransactItems"].as_array().into_iter().flatten() {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            if let Some(t) = op["TableName"].as_str() {
                names.insert(t.to_string());
            }
        }
    }
    names.into_iter().collect()
}

/// `com.amazonaws.dynamodb.v20120810#ResourceNotFoundException` → `ResourceNotFoundException`.
fn error_type(body: &[u8]) -> Option<String> {
    let error: Value = serde_json::from_slice(body).ok()?;
    let kind = error["__type"].as_str()?;
    Some(kind.rsplit('#').next().unwrap_or(kind).to_string())
}

fn epoch_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// 16 hex digits, random (the random tail of a UUIDv7).
fn new_id() -> String {
    uuid::Uuid::now_v7().as_bytes()[8..]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Sends one document to the daemon; a failure is logged, never the caller's problem.
pub fn send(daemon: SocketAddr, doc: &Value) {
    static SOCKET: OnceLock<Option<UdpSocket>> = OnceLock::new();
    let Some(socket) = SOCKET.get_or_init(|| UdpSocket::bind("0.0.0.0:0").ok()) else {
        return;
    };
    let datagram = format!("{DAEMON_HEADER}{doc}");
    if let Err(error) = socket.send_to(datagram.as_bytes(), daemon) {
        tracing::debug!(%error, "an X-Ray subsegment was not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    fn trace() -> Trace {
        Trace::to_daemon(HEADER, "127.0.0.1:2000".parse().unwrap()).unwrap()
    }

    #[test]
    fn a_sampled_header_with_a_parent_is_a_trace_and_nothing_else_is() {
        let t = trace();
        assert_eq!(t.root, "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(t.parent, "53995c3f42cd8ad8");
        let daemon = "127.0.0.1:2000".parse().unwrap();
        let unsampled = HEADER.replace("Sampled=1", "Sampled=0");
        assert_eq!(Trace::to_daemon(&unsampled, daemon), None);
        assert_eq!(
            Trace::to_daemon("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1", daemon),
            None
        );
        assert_eq!(
            Trace::to_daemon("Root=nonsense;Parent=a;Sampled=1", daemon),
            None
        );
        assert_eq!(Trace::to_daemon("", daemon), None);
        let with_lineage = format!("{HEADER};Lineage=a87bd80c:1");
        assert_eq!(Trace::to_daemon(&with_lineage, daemon), Some(t));
    }

    #[test]
    fn the_daemon_address_takes_the_udp_one() {
        let at = |s: &str| daemon_address(s).map(|a| a.to_string());
        assert_eq!(
            at("169.254.79.129:2000").as_deref(),
            Some("169.254.79.129:2000")
        );
        assert_eq!(
            at("tcp:127.0.0.1:2000 udp:127.0.0.2:2001").as_deref(),
            Some("127.0.0.2:2001")
        );
        assert_eq!(at("nonsense"), None);
    }

    #[test]
    fn a_subsegment_names_the_call_and_flags_errors_throttles_and_faults() {
        let tables = vec!["crm".to_string()];
        let op = Operation {
            name: "PutItem",
            tables: &tables,
            region: Some("eu-central-1"),
            retries: 0,
        };
        let ok = Answer {
            status: Some(200),
            request_id: Some("R1".into()),
            ..Answer::default()
        };
        let doc = subsegment(&trace(), &op, 10.0, 10.5, &ok);
        assert_eq!(doc["name"], "DynamoDB");
        assert_eq!(doc["namespace"], "aws");
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(doc["id"].as_str().unwrap().len(), 16);
        assert_eq!(doc["aws"]["operation"], "PutItem");
        assert_eq!(doc["aws"]["table_name"], "crm");
        assert_eq!(doc["aws"]["region"], "eu-central-1");
        assert_eq!(doc["aws"]["request_id"], "R1");
        assert_eq!(doc["http"]["response"]["status"], 200);
        assert_eq!(
            (doc["start_time"].as_f64(), doc["end_time"].as_f64()),
            (Some(10.0), Some(10.5))
        );
        for flag in ["error", "throttle", "fault"] {
            assert!(doc.get(flag).is_none(), "{flag} on a success");
        }

        let throttled = Answer {
            status: Some(400),
            error_type: Some("ProvisionedThroughputExceededException".into()),
            failed: true,
            ..Answer::default()
        };
        let doc = subsegment(&trace(), &op, 10.0, 10.5, &throttled);
        assert_eq!(
            (doc["throttle"].as_bool(), doc["error"].as_bool()),
            (Some(true), Some(true))
        );
        assert!(doc.get("fault").is_none());
        assert_eq!(
            doc["cause"]["exceptions"][0]["type"],
            "ProvisionedThroughputExceededException"
        );

        let missing = Answer {
            status: Some(400),
            error_type: Some("ResourceNotFoundException".into()),
            failed: true,
            ..Answer::default()
        };
        let doc = subsegment(&trace(), &op, 10.0, 10.5, &missing);
        assert_eq!(doc["error"], true);
        assert!(doc.get("throttle").is_none() && doc.get("fault").is_none());

        let unreachable = Answer {
            failed: true,
            ..Answer::default()
        };
        let doc = subsegment(&trace(), &op, 10.0, 10.5, &unreachable);
        assert_eq!(doc["fault"], true);
        assert!(doc.get("http").is_none());

        let batch = vec!["a".to_string(), "b".to_string()];
        let doc = subsegment(
            &trace(),
            &Operation {
                tables: &batch,
                ..op
            },
            1.0,
            2.0,
            &ok,
        );
        assert_eq!(doc["aws"]["table_names"], json!(["a", "b"]));
        assert!(doc["aws"].get("table_name").is_none());
    }

    #[test]
    fn table_names_come_from_every_request_shape() {
        let names = |v: Value| table_names(v.to_string().as_bytes());
        assert_eq!(names(json!({"TableName": "t"})), vec!["t"]);
        assert_eq!(
            names(json!({"RequestItems": {"b": [], "a": []}})),
            vec!["a", "b"]
        );
        assert_eq!(
            names(
                json!({"TransactItems": [{"Put": {"TableName": "t"}}, {"Update": {"TableName": "u"}}]})
            ),
            vec!["t", "u"]
        );
        assert!(table_names(b"not json").is_empty());
        assert_eq!(
            error_type(
                br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"}"#
            )
            .as_deref(),
            Some("ResourceNotFoundException")
        );
    }

    #[test]
    fn a_document_reaches_the_daemon_with_the_protocol_header() {
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        send(daemon.local_addr().unwrap(), &json!({"name": "DynamoDB"}));
        let mut buf = [0u8; 2048];
        let n = daemon.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        let (header, doc) = text.split_once('\n').unwrap();
        assert_eq!(header, r#"{"format": "json", "version": 1}"#);
        assert_eq!(
            serde_json::from_str::<Value>(doc).unwrap()["name"],
            "DynamoDB"
        );
    }

    #[tokio::test]
    async fn the_trace_is_ambient_only_inside_its_scope() {
        assert_eq!(current(), None);
        let inside = traced(Some(trace()), async { current() }).await;
        assert_eq!(inside, Some(trace()));
        assert_eq!(traced(None, async { current() }).await, None);
    }
}
