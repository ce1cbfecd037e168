//! Operations (issue 14 item 8): what a request tells CloudWatch and X-Ray. One JSON log line
//! per API request with its ids, route, status and latency and no personal data; X-Ray
//! subsegments for the DynamoDB calls of a sampled trace, received by a stand-in daemon.

use crm_e2e_tests::{Stack, json};
use crm_shared::telemetry::xray::{Trace, traced};
use serde_json::Value;
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};

/// What the subscriber wrote, read back by the test.
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

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The e2e binary's one global subscriber, writing JSON lines into memory. Global, not a
/// thread's default: a thread-local subscriber loses events when other test threads register
/// the same callsites first (tracing caches each callsite's interest process-wide). Every
/// test's lines land here; a test reads its own by its tenant.
fn captured_logs() -> &'static Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED.get_or_init(|| {
        let out = Captured::default();
        let writer = out.clone();
        tracing::subscriber::set_global_default(api_kit::observe::json_logs("info", move || {
            writer.clone()
        }))
        .expect("no other global subscriber in the e2e binary");
        out
    })
}

#[tokio::test]
async fn every_request_logs_one_json_line_with_ids_route_status_and_latency_and_no_personal_data() {
    let out = captured_logs();
    let stack = Stack::start().await;
    // A tenant of this test's own: its lines are told from other tests' by it.
    let tenant = format!("ops{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let token = stack.token(&tenant, "u1", "admin");

    let created = stack
        .call(
            "POST",
            "/contacts",
            &token,
            Some(json!({"first_name": "Zelda", "last_name": "Quintero", "email": "zelda.q@example.org", "phones": [{"number": "+49 30 7391846"}]})),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let read = stack.get(&format!("/contacts/{id}"), &token).await;
    assert_eq!(read.status, 200, "{:?}", read.body);
    let searched = stack.get("/contacts?q=Quintero", &token).await;
    assert_eq!(searched.status, 200, "{:?}", searched.body);
    let refused = stack
        .call(
            "POST",
            "/contacts",
            &token,
            Some(json!({"email": "not-an-address"})),
        )
        .await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);

    let text = out.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object ({e}): {l}"))
        })
        .collect();
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "request" && l["tenant"] == tenant.as_str())
        .collect();
    let seen: Vec<(&str, u64)> = requests
        .iter()
        .map(|l| (l["route"].as_str().unwrap(), l["status"].as_u64().unwrap()))
        .collect();
    // Exactly one line per request, in order.
    assert_eq!(
        seen,
        vec![
            ("POST /contacts", 201),
            ("GET /contacts/{id}", 200),
            ("GET /contacts", 200),
            ("POST /contacts", 422)
        ],
        "{}",
        requests
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for line in &requests {
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["tenant"], tenant.as_str());
        let request_id = line["request_id"].as_str().unwrap();
        assert!(!request_id.is_empty());
        assert!(line["latency_ms"].as_f64().unwrap() >= 0.0);
    }
    let ids: std::collections::BTreeSet<&str> = requests
        .iter()
        .map(|l| l["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), requests.len(), "one request id per request");
    // Every line of the binary is searched (a core's warning may lack the tenant), with values
    // no other test uses and no id or number can contain by chance; a failure quotes only the
    // offending lines (the whole log of a run is megabytes).
    let signature = token.rsplit('.').next().unwrap();
    for personal in [
        "Zelda",
        "Quintero",
        "zelda.q@example.org",
        "30 7391846",
        "307391846",
        "not-an-address",
        signature,
    ] {
        let leaks: Vec<&str> = text.lines().filter(|l| l.contains(personal)).collect();
        assert!(
            leaks.is_empty(),
            "{personal} in the logs:\n{}",
            leaks.join("\n")
        );
    }
}

const HEADER: &str = "Root=1-6759a0f0-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1";

fn receive(daemon: &UdpSocket) -> Value {
    let mut buf = vec![0u8; 65_536];
    let n = daemon
        .recv(&mut buf)
        .expect("a subsegment within the read timeout");
    let text = std::str::from_utf8(&buf[..n]).unwrap();
    let (header, doc) = text
        .split_once('\n')
        .expect("header line, then the document");
    assert_eq!(header, r#"{"format": "json", "version": 1}"#);
    serde_json::from_str(doc).unwrap()
}

#[tokio::test]
async fn dynamodb_calls_of_a_sampled_trace_are_sent_to_the_xray_daemon_as_subsegments() {
    let stack = Stack::start().await;
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    // A bound on a lost datagram, not a stand-in for synchronisation: each send precedes its
    // receive.
    daemon
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let trace = Trace::to_daemon(HEADER, daemon.local_addr().unwrap()).unwrap();
    let dynamodb = &stack.runtime.aws.dynamodb;
    let table = stack.runtime.provisioned.resolved.refs["CrmTable"].clone();
    let key = std::collections::HashMap::from([
        (
            "PK".to_string(),
            aws_sdk_dynamodb::types::AttributeValue::S("T#acme#NOPE".into()),
        ),
        (
            "SK".to_string(),
            aws_sdk_dynamodb::types::AttributeValue::S("NOPE".into()),
        ),
    ]);

    // Outside a trace: nothing is sent (the next datagram is the traced call's).
    dynamodb
        .get_item()
        .table_name(&table)
        .set_key(Some(key.clone()))
        .send()
        .await
        .unwrap();

    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    traced(Some(trace.clone()), async {
        dynamodb
            .get_item()
            .table_name(&table)
            .set_key(Some(key.clone()))
            .send()
            .await
            .unwrap();
        // A call DynamoDB refuses: a 4xx is an error.
        let missing = dynamodb
            .describe_table()
            .table_name(format!("{table}-missing"))
            .send()
            .await;
        assert!(missing.is_err());
    })
    .await;

    let ok = receive(&daemon);
    assert_eq!(ok["name"], "DynamoDB");
    assert_eq!(ok["namespace"], "aws");
    assert_eq!(ok["type"], "subsegment");
    assert_eq!(ok["trace_id"], "1-6759a0f0-0123456789abcdef01234567");
    assert_eq!(ok["parent_id"], "53995c3f42cd8ad8");
    assert_eq!(ok["id"].as_str().unwrap().len(), 16);
    assert_eq!(ok["aws"]["operation"], "GetItem");
    assert_eq!(ok["aws"]["table_name"], table.as_str());
    assert_eq!(ok["aws"]["region"], "eu-central-1");
    assert_eq!(ok["http"]["response"]["status"], 200);
    let (start, end) = (
        ok["start_time"].as_f64().unwrap(),
        ok["end_time"].as_f64().unwrap(),
    );
    assert!(started - 1.0 <= start && start <= end, "{ok}");
    for flag in ["error", "throttle", "fault"] {
        assert!(ok.get(flag).is_none(), "{flag}: {ok}");
    }

    let refused = receive(&daemon);
    assert_eq!(refused["aws"]["operation"], "DescribeTable");
    assert_eq!(refused["aws"]["table_name"], format!("{table}-missing"));
    assert_eq!(refused["http"]["response"]["status"], 400);
    assert_eq!(refused["error"], true);
    assert!(refused.get("fault").is_none() && refused.get("throttle").is_none());
    assert_eq!(
        refused["cause"]["exceptions"][0]["type"],
        "ResourceNotFoundException"
    );
    assert_ne!(refused["id"], ok["id"]);
}
