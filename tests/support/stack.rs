//! The test stack: each test provisions its own (resource names prefixed uniquely) on the
//! shared moto server, serves the real gateway on a free port, with the test-only record kind
//! ([`super::widget`]) beside the template's functions, and talks HTTP to it. Typed helpers
//! say what a step does (create a contact, define a field, a foreign tenant's probe) so the
//! scenarios read as the behaviour they check.

use crm_local::{LocalRuntime, Options};
use serde_json::Value;
use std::sync::Arc;

pub use serde_json::json;

pub struct Stack {
    pub runtime: Arc<LocalRuntime>,
    pub base_url: String,
    pub prefix: String,
    http: reqwest::Client,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `field` of the first problem error, and its rule.
    pub fn problem_field(&self) -> (String, String) {
        let e = &self.body["errors"][0];
        (
            e["field"].as_str().unwrap_or("").to_string(),
            e["rule"].as_str().unwrap_or("").to_string(),
        )
    }
}

/// The `(field, rule)` of every error of a problem reply.
pub fn errors(r: &Reply) -> Vec<(String, String)> {
    r.body["errors"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or("").to_string(),
                e["rule"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// A `(field, rule)` pair as [`errors`] lists them.
pub fn pair(field: &str, rule: &str) -> (String, String) {
    (field.to_string(), rule.to_string())
}

/// An audit entry's `(action, actor, version)`, as a history route lists it.
pub fn audit_entry(entry: &Value) -> (Option<&str>, Option<&str>, Option<u64>) {
    (
        entry["action"].as_str(),
        entry["actor"].as_str(),
        entry["version"].as_u64(),
    )
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(std::collections::HashMap::new()).await
    }

    /// A stack whose template parameters `parameters` override (as `sam deploy
    /// --parameter-overrides` would).
    pub async fn start_with(parameters: std::collections::HashMap<String, String>) -> Self {
        // The tail of a UUIDv7 is random; its head is the clock, shared by tests starting together.
        let id = uuid::Uuid::now_v7().simple().to_string();
        let prefix = format!("t{}", &id[id.len() - 12..]);
        let mut options = Options::from_env(&prefix)
            .expect("end-to-end tests need the local stack: run `make test`");
        options.parameter_overrides = parameters;
        let runtime = LocalRuntime::start(options)
            .await
            .expect("provisioning the local stack");
        // The test-only kind, served as a function of its own would be.
        let deps = runtime
            .deps("contacts-api")
            .expect("a function's configuration");
        let widgets = api_kit::records::RecordsApi::<super::widget::WidgetKind>::new(deps);
        let routes = api_kit::records::routes::<super::widget::WidgetKind>()
            .into_iter()
            .map(|(method, path)| crm_local::template::HttpRoute {
                method: method.into(),
                path,
                function: "WidgetsFunction".into(),
                binary: "widgets-api".into(),
                authorized: true,
            })
            .collect();
        let (addr, _server) = runtime
            .serve_gateway(([127, 0, 0, 1], 0).into(), |gateway| {
                gateway.with_function(routes, "widgets-api", std::sync::Arc::new(widgets))
            })
            .await
            .expect("serving the gateway");
        Self {
            runtime,
            base_url: format!("http://{addr}"),
            prefix,
            http: reqwest::Client::new(),
        }
    }

    /// The stack's table through the storage port (for looking at what was stored).
    pub fn table(&self) -> crm_shared::store::Table {
        crm_shared::store::Table::new(crm_shared::store::dynamo::DynamoItemStore::new(
            self.runtime.aws.dynamodb.clone(),
            self.runtime.provisioned.resolved.refs["CrmTable"].clone(),
        ))
    }

    /// Stores `items` as they are, 25 per BatchWriteItem (for loading many records at once).
    pub async fn put_items(&self, items: Vec<crm_shared::store::Item>) {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let table = &self.runtime.provisioned.resolved.refs["CrmTable"];
        for chunk in items.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    let put = PutRequest::builder().set_item(Some(item.clone())).build();
                    WriteRequest::builder().put_request(put.unwrap()).build()
                })
                .collect();
            while !requests.is_empty() {
                let out = self
                    .runtime
                    .aws
                    .dynamodb
                    .batch_write_item()
                    .request_items(table, requests)
                    .send()
                    .await
                    .expect("BatchWriteItem");
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(table))
                    .unwrap_or_default();
            }
        }
    }

    pub fn token(&self, tenant: &str, user: &str, role: &str) -> String {
        self.runtime.token(tenant, user, role)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.expect("request reaches the local gateway");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Uploads `csv` to import `id`'s URL and delivers its S3 notification twice, then every
    /// chunk twice, all with `processor`: the import afterwards.
    pub async fn import_with(
        &self,
        processor: &import_processor::ImportProcessor,
        token: &str,
        url: &str,
        id: &str,
        csv: &str,
    ) -> Value {
        self.upload_csv(url, csv).await;
        let mut events = self.runtime.receive_s3_events().await.unwrap();
        assert_eq!(events.len(), 1, "one ObjectCreated notification");
        let crm_local::S3Delivery { event, receipt, .. } = events.remove(0);
        for _ in 0..2 {
            processor.handle(event.clone()).await.unwrap();
        }
        self.runtime.ack_s3_event(&receipt).await.unwrap();
        self.run_import_chunks_twice(processor).await;
        self.get(&format!("/imports/{id}"), token).await.body
    }

    /// Delivers the one pending S3 notification to the import processor twice, as
    /// at-least-once delivery may, and acknowledges it: the outcomes of both deliveries.
    pub async fn deliver_upload_twice(
        &self,
    ) -> (
        Vec<crm_shared::imports::ProcessOutcome>,
        Vec<crm_shared::imports::ProcessOutcome>,
    ) {
        let mut events = self.runtime.receive_s3_events().await.unwrap();
        assert_eq!(events.len(), 1, "one ObjectCreated notification");
        let crm_local::S3Delivery { event, receipt, .. } = events.remove(0);
        let first = self
            .runtime
            .invoke_import_processor(event.clone())
            .await
            .unwrap();
        let second = self.runtime.invoke_import_processor(event).await.unwrap();
        self.runtime.ack_s3_event(&receipt).await.unwrap();
        self.run_import_chunks_twice(&self.runtime.functions.import_processor)
            .await;
        (first, second)
    }

    /// Runs every message on the import queue with `processor`, each delivered twice (as
    /// at-least-once delivery may), until the queue is empty: how many messages ran.
    pub async fn run_import_chunks_twice(
        &self,
        processor: &import_processor::ImportProcessor,
    ) -> usize {
        let mut messages = 0;
        while let Some(batch) = self.runtime.receive_sqs_batch("ImportQueue").await.unwrap() {
            for _ in 0..2 {
                let response = processor.handle_chunks(batch.clone()).await;
                assert!(
                    response.batch_item_failures.is_empty(),
                    "a chunk failed: {response:?}"
                );
            }
            self.runtime
                .ack_sqs_batch("ImportQueue", &batch)
                .await
                .unwrap();
            messages += batch.records.len();
            assert!(messages < 10_000, "the import ends");
        }
        messages
    }

    /// Every item of a list route (`path` may carry a query string), following `next_cursor`.
    pub async fn list_all(&self, path: &str, token: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let page_path = match &cursor {
                None => path.to_string(),
                Some(c) => format!("{path}{sep}cursor={c}"),
            };
            let r = self.call("GET", &page_path, token, None).await;
            assert_eq!(r.status, 200, "{page_path}: {:?}", r.body);
            items.extend(r.body["items"].as_array().cloned().unwrap_or_default());
            match r.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return items,
            }
        }
    }

    pub async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
        let mut req = self.request(method, path, Some(token));
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    /// Emails moto accepted for `to`, as (subject, text body): Simple content and raw MIME
    /// messages alike.
    pub async fn sent_emails_to(&self, to: &str) -> Vec<(String, String)> {
        let data = self.moto_data().await;
        let mut found = Vec::new();
        // moto lists the mails SES accepted under ses.Message (Simple content).
        for message in data["ses"]["Message"].as_array().into_iter().flatten() {
            let destinations = message["destinations"].to_string();
            if destinations.contains(to) {
                found.push((
                    message["subject"].as_str().unwrap_or("").to_string(),
                    message["body"].as_str().unwrap_or("").to_string(),
                ));
            }
        }
        for raw in self.raw_emails_to(to).await {
            let parsed = mail_parser::MessageParser::default()
                .parse(raw.as_bytes())
                .expect("a MIME message");
            found.push((
                parsed.subject().unwrap_or("").to_string(),
                parsed.body_text(0).unwrap_or_default().to_string(),
            ));
        }
        found
    }

    /// The raw MIME messages moto accepted for `to` (ses.RawMessage), oldest first.
    pub async fn raw_emails_to(&self, to: &str) -> Vec<String> {
        let data = self.moto_data().await;
        data["ses"]["RawMessage"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["destinations"].to_string().contains(to))
            .map(|m| m["raw_data"].as_str().unwrap_or("").to_string())
            .collect()
    }

    async fn moto_data(&self) -> Value {
        reqwest::get(format!("{}/moto-api/data.json", self.runtime.endpoint_url))
            .await
            .expect("moto data")
            .json()
            .await
            .expect("moto data is JSON")
    }

    /// `POST {collection}` that must succeed: the new record's id.
    pub async fn create(&self, collection: &str, token: &str, body: Value) -> String {
        let r = self.call("POST", collection, token, Some(body)).await;
        assert_eq!(r.status, 201, "POST {collection}: {:?}", r.body);
        r.body["id"].as_str().expect("an id").to_string()
    }

    /// A new contact (201): its id.
    pub async fn create_contact(&self, token: &str, body: Value) -> String {
        self.create("/contacts", token, body).await
    }

    /// A new client (201): its id.
    pub async fn create_client(&self, token: &str, body: Value) -> String {
        self.create("/clients", token, body).await
    }

    /// A new team, created by an owner or admin: its id.
    pub async fn create_team(&self, admin: &str, name: &str) -> String {
        self.create("/teams", admin, json!({ "name": name })).await
    }

    /// Adds or changes a user of the tenant (an owner's or admin's `PUT /users/{id}`).
    pub async fn put_user(&self, admin: &str, user: &str, body: Value) {
        let r = self
            .call("PUT", &format!("/users/{user}"), admin, Some(body))
            .await;
        assert_eq!(r.status, 200, "PUT /users/{user}: {:?}", r.body);
    }

    /// Defines a custom field (the reply, to check it or its refusal).
    pub async fn define_field(&self, admin: &str, definition: Value) -> Reply {
        self.call("POST", "/custom-fields", admin, Some(definition))
            .await
    }

    /// Defines a custom field that must be accepted (201): the reply.
    pub async fn create_field(&self, admin: &str, definition: Value) -> Reply {
        let r = self.define_field(admin, definition).await;
        assert_eq!(r.status, 201, "POST /custom-fields: {:?}", r.body);
        r
    }

    /// `GET {path}` (the reply, to check it).
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, token, None).await
    }

    /// Each `(path, parameter)` GET is refused naming the parameter: 400 for an empty value
    /// (a schema violation, api-kit's query checks: a path ending in `=` or `=%20`), 422 for a
    /// malformed one (the filter's rule). Never read as "no filter" (issue 14 item 1).
    pub async fn assert_filters_refused<P: AsRef<str>>(&self, token: &str, cases: &[(P, &str)]) {
        for (path, field) in cases {
            let path = path.as_ref();
            let r = self.get(path, token).await;
            let expected = if path.ends_with('=') || path.ends_with("=%20") {
                400
            } else {
                422
            };
            assert_eq!(
                (r.status, r.problem_field().0.as_str()),
                (expected, *field),
                "{path}"
            );
        }
    }

    /// The status a request is answered with.
    pub async fn status(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> u16 {
        self.call(method, path, token, body).await.status
    }

    /// A conditional request: `If-Match: {etag}` (an ETag as the API sends it, `"1"`).
    pub async fn call_if_match(
        &self,
        method: &str,
        path: &str,
        token: &str,
        etag: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .request(method, path, Some(token))
            .header("if-match", etag);
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    /// Links a contact to a client (`PUT /contacts/{contact}/clients/{client}`), which must
    /// succeed: the link.
    pub async fn link_contact(
        &self,
        token: &str,
        contact: &str,
        client: &str,
        body: Value,
    ) -> Reply {
        let path = format!("/contacts/{contact}/clients/{client}");
        let r = self.call("PUT", &path, token, Some(body)).await;
        assert_eq!(r.status, 200, "PUT {path}: {:?}", r.body);
        r
    }

    /// Shares a contact with a user or a team (`{"user": …}`, `{"team": …}`), which must succeed.
    pub async fn share_contact(&self, token: &str, contact: &str, with: Value) {
        let path = format!("/contacts/{contact}/shares");
        let r = self.call("POST", &path, token, Some(with)).await;
        assert_eq!(r.status, 200, "POST {path}: {:?}", r.body);
    }

    /// Starts an import of `file_name` (201, awaiting its upload by PUT): the import's id and
    /// the presigned upload URL.
    pub async fn start_import(&self, token: &str, file_name: &str) -> (String, String) {
        self.start_import_with(
            token,
            json!({ "file_name": file_name, "start": "on_upload" }),
        )
        .await
    }

    /// [`Self::start_import`] with a whole request body (a mode, a sheet).
    pub async fn start_import_with(&self, token: &str, body: Value) -> (String, String) {
        let r = self.call("POST", "/imports", token, Some(body)).await;
        assert_eq!(r.status, 201, "POST /imports: {:?}", r.body);
        assert_eq!(r.body["import"]["status"], "awaiting_upload");
        assert_eq!(r.body["upload"]["method"], "PUT");
        (
            r.body["import"]["id"].as_str().expect("an id").to_string(),
            r.body["upload"]["url"].as_str().expect("a URL").to_string(),
        )
    }

    /// Uploads a CSV file to a presigned upload URL, as a browser would.
    /// PUTs `bytes` to a presigned import URL as `text/csv`.
    pub async fn upload_bytes(&self, url: &str, bytes: Vec<u8>) {
        let put = self
            .http
            .put(url)
            .header("content-type", "text/csv")
            .body(bytes)
            .send()
            .await
            .expect("presigned PUT reaches the endpoint");
        assert!(put.status().is_success(), "upload failed: {}", put.status());
    }

    pub async fn upload_csv(&self, url: &str, csv: &str) {
        let put = self
            .http
            .put(url)
            .header("content-type", "text/csv")
            .body(csv.to_string())
            .send()
            .await
            .expect("presigned PUT reaches the endpoint");
        assert!(put.status().is_success(), "upload failed: {}", put.status());
    }

    /// The ids of every item of a list route, following cursors.
    pub async fn ids(&self, path: &str, token: &str) -> Vec<String> {
        self.list_all(path, token)
            .await
            .iter()
            .map(|c| c["id"].as_str().expect("an id").to_string())
            .collect()
    }

    /// Another tenant's owner gets 404 on every one of these requests and sees nothing in
    /// these lists.
    pub async fn assert_hidden_from_other_tenant(
        &self,
        routes: &[(&str, String, Option<Value>)],
        lists: &[&str],
    ) {
        let foreign = self.token("other-tenant", "intruder", "owner");
        for (method, path, body) in routes {
            let r = self.call(method, path, &foreign, body.clone()).await;
            assert_eq!(
                r.status, 404,
                "another tenant: {method} {path}: {:?}",
                r.body
            );
        }
        for list in lists {
            let r = self.call("GET", list, &foreign, None).await;
            assert_eq!(r.body["items"], json!([]), "another tenant sees {list}");
        }
    }
}
