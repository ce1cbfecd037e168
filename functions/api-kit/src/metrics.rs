//! CloudWatch embedded metric format (EMF): one JSON document per invocation on stdout, which
//! CloudWatch Logs turns into metrics of the `CRM` namespace. The one dimension is the function
//! (low cardinality: one metric stream per function and name); the request's id, route and
//! tenant ride along as properties, searchable in Logs Insights but never dimensions.
//!
//! Printed in Lambda only (`AWS_LAMBDA_FUNCTION_NAME` is set), or locally with
//! `CRM_EMF=stdout`; elsewhere the document is built and dropped.

use crm_shared::telemetry::metrics::Counter;
use serde_json::{Map, Value, json};
use std::io::Write as _;
use std::sync::OnceLock;

pub const NAMESPACE: &str = "CRM";
/// The dimension every metric has: the function's name.
pub const DIMENSION: &str = "Function";

/// The CloudWatch units the CRM's metrics use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// The metrics and properties of one invocation.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    values: Vec<(&'static str, Unit, f64)>,
    properties: Map<String, Value>,
}

impl Metrics {
    pub fn put(&mut self, name: &'static str, unit: Unit, value: f64) -> &mut Self {
        match self.values.iter_mut().find(|(n, _, _)| *n == name) {
            Some(existing) => existing.2 += value,
            None => self.values.push((name, unit, value)),
        }
        self
    }

    /// The business counters the invocation counted.
    pub fn counters(&mut self, totals: &[(Counter, u64)]) -> &mut Self {
        for (counter, n) in totals {
            self.put(counter.name(), Unit::Count, *n as f64);
        }
        self
    }

    /// A property: in the document, not a dimension.
    pub fn property(&mut self, name: &str, value: impl Into<Value>) -> &mut Self {
        let value = value.into();
        if !value.is_null() {
            self.properties.insert(name.to_string(), value);
        }
        self
    }

    /// The EMF document for `function` at `timestamp_ms` (milliseconds since the epoch).
    pub fn document(&self, function: &str, timestamp_ms: i64) -> Value {
        let definitions: Vec<Value> = self
            .values
            .iter()
            .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit.as_str() }))
            .collect();
        let mut doc = self.properties.clone();
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": definitions,
                }],
            }),
        );
        doc.insert(DIMENSION.into(), json!(function));
        for (name, _, value) in &self.values {
            doc.insert((*name).into(), json!(value));
        }
        Value::Object(doc)
    }
}

fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
            || std::env::var("CRM_EMF").is_ok_and(|v| v == "stdout")
    })
}

/// Prints the document as one line on stdout (where Lambda's log agent reads it).
pub fn emit(doc: &Value) {
    if enabled() {
        let mut line = doc.to_string();
        line.push('\n');
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_follows_the_emf_specification() {
        let mut m = Metrics::default();
        m.put("Requests", Unit::Count, 1.0)
            .put("Latency", Unit::Milliseconds, 12.5)
            .counters(&[(Counter::ContactsCreated, 1), (Counter::EmailsSent, 2)])
            .put("Requests", Unit::Count, 0.0)
            .property("route", "POST /contacts")
            .property("tenant", "acme")
            .property("request_id", Value::Null);
        let doc = m.document("crm-dev-ContactsApi", 1_700_000_000_123);

        // The metadata: a timestamp in ms and one directive naming namespace, dimensions, metrics.
        let aws = &doc["_aws"];
        assert_eq!(aws["Timestamp"], 1_700_000_000_123_i64);
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let d = &directives[0];
        assert_eq!(d["Namespace"], "CRM");
        assert_eq!(d["Dimensions"], json!([["Function"]]));
        assert_eq!(
            d["Metrics"],
            json!([
                {"Name": "Requests", "Unit": "Count"},
                {"Name": "Latency", "Unit": "Milliseconds"},
                {"Name": "ContactsCreated", "Unit": "Count"},
                {"Name": "EmailsSent", "Unit": "Count"},
            ])
        );
        assert!(d["Metrics"].as_array().unwrap().len() <= 100);
        // Every referenced member is at the root: the dimension a string, the metrics numbers.
        assert_eq!(doc["Function"], "crm-dev-ContactsApi");
        assert_eq!(doc["Requests"], 1.0);
        assert_eq!(doc["Latency"], 12.5);
        assert_eq!(doc["ContactsCreated"], 1.0);
        assert_eq!(doc["EmailsSent"], 2.0);
        // Properties ride along; null ones are left out; the tenant is never a dimension.
        assert_eq!(doc["route"], "POST /contacts");
        assert_eq!(doc["tenant"], "acme");
        assert!(doc.get("request_id").is_none());
        assert!(!d["Dimensions"].to_string().contains("tenant"));
        // One line of JSON.
        assert!(!doc.to_string().contains('\n'));
    }
}
