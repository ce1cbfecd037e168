//! Faults (issue 14 item 5): throttling, 500s, timeouts, `UnprocessedItems` and crashes
//! between two steps, injected by the local endpoint's test-only fault layer
//! (`infra/moto_server.py`, `/_faults/{service}`), under every flow that writes: HTTP writes,
//! imports and the step executor. Each test checks that nothing is lost and nothing is done
//! twice, reading back every item the flow would touch. Rules are scoped to the test's own
//! table (or a `match` naming its resources), so tests running at once do not see each
//! other's faults.

mod http_writes;
mod imports;
mod step_executor;

use crm_e2e_tests::Stack;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The fault rules one test arms on the shared local endpoint.
pub struct Faults {
    http: reqwest::Client,
    endpoint: String,
    table: String,
    /// What the rules cleared so far had fired, by service and scope.
    cleared: std::sync::Mutex<Vec<(String, String, Value)>>,
}

impl Faults {
    pub fn new(stack: &Stack) -> Self {
        Self {
            http: reqwest::Client::new(),
            endpoint: stack.runtime.endpoint_url.clone(),
            table: stack.runtime.provisioned.resolved.refs["CrmTable"].clone(),
            cleared: Default::default(),
        }
    }

    /// Arms a DynamoDB rule on the stack's table.
    pub async fn dynamodb(&self, mut rule: Value) {
        rule["table"] = json!(self.table);
        self.arm("dynamodb", rule).await;
    }

    /// Arms a rule of `service` (sqs, ses, scheduler, s3); it must name a `match` of the
    /// test's own.
    pub async fn service(&self, service: &str, rule: Value) {
        assert!(rule["match"].is_string(), "scope the rule with a match");
        self.arm(service, rule).await;
    }

    async fn arm(&self, service: &str, rule: Value) {
        let r = self
            .http
            .post(format!("{}/_faults/{service}", self.endpoint))
            .json(&rule)
            .send()
            .await
            .expect("the fault layer answers");
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    /// The faults fired by this test's rules of `service` (by kind), summed, cleared rules
    /// included.
    pub async fn fired(&self, service: &str, scope: Option<&str>) -> Value {
        let scope = scope.unwrap_or(&self.table);
        let mut fired = self.armed_fired(service, scope).await;
        for (s, sc, earlier) in self.cleared.lock().unwrap().iter() {
            if s == service && sc == scope {
                add(&mut fired, earlier);
            }
        }
        fired
    }

    /// What the rules still armed have fired.
    async fn armed_fired(&self, service: &str, scope: &str) -> Value {
        let state: Value = self
            .http
            .get(format!("{}/_faults/{service}", self.endpoint))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut fired = json!({"throttle": 0, "server_error": 0, "in_progress": 0, "unprocessed": 0, "delay": 0});
        for rule in state["rules"].as_array().into_iter().flatten() {
            if rule["table"] == scope || rule["match"] == scope {
                add(&mut fired, &rule["fired"]);
            }
        }
        fired
    }

    /// Disarms this test's DynamoDB rules, and those of `service` scoped by `scope`.
    pub async fn clear(&self, also: &[(&str, &str)]) {
        let mut scopes = vec![("dynamodb", "table", self.table.as_str())];
        scopes.extend(
            also.iter()
                .map(|(service, scope)| (*service, "match", *scope)),
        );
        for (service, by, scope) in scopes {
            let fired = self.armed_fired(service, scope).await;
            let entry = (service.to_string(), scope.to_string(), fired);
            self.cleared.lock().unwrap().push(entry);
            self.http
                .delete(format!("{}/_faults/{service}", self.endpoint))
                .query(&[(by, scope)])
                .send()
                .await
                .unwrap();
        }
    }
}

fn add(sum: &mut Value, fired: &Value) {
    for (kind, n) in fired.as_object().into_iter().flatten() {
        sum[kind] = json!(sum[kind].as_u64().unwrap_or(0) + n.as_u64().unwrap_or(0));
    }
}

/// How many email claims (unique-email items) the stack's table holds.
pub async fn email_claims(stack: &Stack) -> usize {
    items(stack)
        .await
        .into_iter()
        .filter(|(pk, _)| pk.contains("#EMAIL#"))
        .count()
}

/// Every item of the stack's table, as (PK, SK): the whole state a flow could have touched.
pub async fn items(stack: &Stack) -> BTreeSet<(String, String)> {
    let table = &stack.runtime.provisioned.resolved.refs["CrmTable"];
    let mut keys = BTreeSet::new();
    let mut start = None;
    loop {
        let page = stack
            .runtime
            .aws
            .dynamodb
            .scan()
            .table_name(table)
            .projection_expression("PK, SK")
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("Scan");
        for item in page.items() {
            let text = |k: &str| item[k].as_s().unwrap().clone();
            keys.insert((text("PK"), text("SK")));
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return keys;
        }
    }
}

/// The items of `after` that `before` did not hold.
pub fn added(
    before: &BTreeSet<(String, String)>,
    after: &BTreeSet<(String, String)>,
) -> Vec<(String, String)> {
    after.difference(before).cloned().collect()
}
