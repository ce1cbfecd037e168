//! Handler CPU per request (issue 14 item 6), without the emulator in the path: the shipped
//! contacts handler (`contacts_api::ContactsApi`, its `HttpHandler::handle` as Lambda calls it)
//! over the in-memory table, with the Lambda requests the local gateway builds for the
//! template's routes and the authorizer's claims. One thread (a current-thread runtime), one
//! request at a time; CPU time from the thread's schedstat (nanoseconds on CPU).
//!
//! Figures per route: CPU µs per request, and how much of it the in-memory store took (a
//! timing decorator around it), so "handler" is the code's own cost: parsing, authentication
//! from the claims and the tenant's user record, the use case, the item codec, the JSON answer.
//! The in-memory store's queries scan, so list and search are upper bounds of the code's cost.
//!
//! `make bench-handlers` (an optimised build: the bench profile in target/release). BENCH_HANDLER_SEED
//! (2,000) contacts are created first (the create figures are that phase), then
//! BENCH_HANDLER_READS (2,000) gets, lists (50 a page) and searches (20 a page).

use crm_local::gateway::{lambda_request, match_path};
use crm_local::template::{HttpRoute, Template};
use crm_shared::CrmError;
use crm_shared::store::{
    Condition, Item, ItemStore, Key, Query, QueryPage, Table, TransactError, WriteError, WriteOp,
    memory::MemoryItemStore,
};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// CPU time of the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat")
        .expect("/proc/thread-self/schedstat (Linux)");
    stat.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("schedstat's first field")
}

/// The in-memory store, timing its own CPU (every call completes within its first poll).
#[derive(Debug, Default)]
struct TimedStore {
    inner: MemoryItemStore,
    ns: Arc<AtomicU64>,
}

impl TimedStore {
    fn timed<'a, T: Send + 'a>(
        &'a self,
        call: impl FnOnce(&'a MemoryItemStore) -> BoxFuture<'a, T> + Send + 'a,
    ) -> BoxFuture<'a, T> {
        Box::pin(async move {
            let start = thread_cpu_ns();
            let out = call(&self.inner).await;
            self.ns
                .fetch_add(thread_cpu_ns() - start, Ordering::Relaxed);
            out
        })
    }
}

impl ItemStore for TimedStore {
    fn get(&self, key: Key, consistent: bool) -> BoxFuture<'_, Result<Option<Item>, CrmError>> {
        self.timed(move |s| s.get(key, consistent))
    }
    fn batch_get(
        &self,
        keys: Vec<Key>,
        projection: Option<Vec<String>>,
    ) -> BoxFuture<'_, Result<Vec<Item>, CrmError>> {
        self.timed(move |s| s.batch_get(keys, projection))
    }
    fn query(&self, query: Query) -> BoxFuture<'_, Result<QueryPage, CrmError>> {
        self.timed(move |s| s.query(query))
    }
    fn put(
        &self,
        item: Item,
        condition: Option<Condition>,
    ) -> BoxFuture<'_, Result<(), WriteError>> {
        self.timed(move |s| s.put(item, condition))
    }
    fn delete(
        &self,
        key: Key,
        condition: Option<Condition>,
    ) -> BoxFuture<'_, Result<(), WriteError>> {
        self.timed(move |s| s.delete(key, condition))
    }
    fn transact(&self, writes: Vec<WriteOp>) -> BoxFuture<'_, Result<(), TransactError>> {
        self.timed(move |s| s.transact(writes))
    }
    fn write_many(
        &self,
        puts: Vec<Item>,
        deletes: Vec<Key>,
    ) -> BoxFuture<'_, Result<(), CrmError>> {
        self.timed(move |s| s.write_many(puts, deletes))
    }
}

/// The contacts handler as the gateway calls it: routes from the template, claims of a token.
struct Bench {
    handler: contacts_api::ContactsApi,
    routes: Vec<HttpRoute>,
    claims: HashMap<String, String>,
    store_ns: Arc<AtomicU64>,
}

impl Bench {
    async fn call(
        &self,
        method: &str,
        uri: &str,
        body: Option<String>,
        idempotency_key: Option<String>,
    ) -> (u16, String) {
        let path = uri.split('?').next().unwrap_or(uri);
        let (route, params) = self
            .routes
            .iter()
            .filter(|r| r.method == method)
            .find_map(|r| match_path(&r.path, path).map(|p| (r, p)))
            .unwrap_or_else(|| panic!("no route {method} {path}"));
        let mut builder = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "127.0.0.1")
            .header("user-agent", "handler-cpu-bench");
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        if let Some(key) = idempotency_key {
            builder = builder.header("idempotency-key", key);
        }
        let (parts, ()) = builder.body(()).expect("request").into_parts();
        let body = body.unwrap_or_default();
        let request = lambda_request(
            route,
            &parts,
            body.as_bytes(),
            params,
            Some(self.claims.clone()),
        )
        .expect("a payload-v2.0 request");
        let response = api_kit::HttpHandler::handle(&self.handler, request).await;
        let status = response.status().as_u16();
        let text = match response.body() {
            lambda_http::Body::Text(t) => t.clone(),
            lambda_http::Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        (status, text)
    }
}

struct Figure {
    route: &'static str,
    requests: usize,
    cpu_ns: u64,
    store_ns: u64,
}

/// CPU of this thread and of the store since it started.
struct Meter {
    cpu: u64,
    store: u64,
}

impl Meter {
    fn start(bench: &Bench) -> Self {
        Self {
            store: bench.store_ns.load(Ordering::Relaxed),
            cpu: thread_cpu_ns(),
        }
    }

    fn stop(self, bench: &Bench, route: &'static str, requests: usize) -> Figure {
        Figure {
            route,
            requests,
            cpu_ns: thread_cpu_ns() - self.cpu,
            store_ns: bench.store_ns.load(Ordering::Relaxed) - self.store,
        }
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let seed = env_usize("BENCH_HANDLER_SEED", 2000);
    let reads = env_usize("BENCH_HANDLER_READS", 2000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let template = Template::load(&root.join("template.yaml")).expect("template.yaml");
        let routes: Vec<HttpRoute> = template
            .http_routes()
            .into_iter()
            .filter(|r| r.binary == "contacts-api")
            .collect();
        // Clients of an endpoint nothing listens on: the measured routes never call AWS, and
        // a call that did would fail (and the bench with it) rather than leave the machine.
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url("http://127.0.0.1:9")
            .region(aws_config::Region::new("eu-central-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "bench"))
            .load()
            .await;
        let env: HashMap<&str, &str> = HashMap::from([
            ("TABLE_NAME", "bench"),
            ("IMPORTS_BUCKET", "bench-imports"),
            ("STEP_QUEUE_URL", "http://127.0.0.1:9/queue/steps"),
            ("STEP_QUEUE_ARN", "arn:aws:sqs:eu-central-1:123456789012:steps"),
            ("SCHEDULE_GROUP", "bench"),
            ("SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/scheduler"),
            ("SES_SENDER", "crm@example.com"),
        ]);
        let config = crm_shared::Config::from_lookup(|k| env.get(k).map(|v| v.to_string()));
        let store = TimedStore::default();
        let store_ns = store.ns.clone();
        let deps = crm_shared::Deps::with_table(
            config,
            crm_shared::AwsClients::from_sdk_config(&sdk),
            Table::new(store),
        );
        let authorizer = crm_local::authorizer::DevAuthorizer::default();
        let token = authorizer.mint("bench", "alice", "admin", 3600);
        let claims = authorizer.verify(Some(&format!("Bearer {token}"))).expect("claims");
        let bench = Bench {
            handler: contacts_api::ContactsApi::new(deps),
            routes,
            claims,
            store_ns,
        };

        const SURNAMES: [&str; 8] = ["Lovelace", "Hopper", "Turing", "Noether", "Curie", "Meitner", "Franklin", "Germain"];
        let mut ids = Vec::with_capacity(seed);
        let meter = Meter::start(&bench);
        for i in 0..seed {
            let body = serde_json::json!({
                "first_name": format!("Bench{i}"),
                "last_name": SURNAMES[i % SURNAMES.len()],
                "email": format!("bench-{i}@example.com"),
            })
            .to_string();
            let (status, body) = bench
                .call("POST", "/contacts", Some(body), Some(format!("bench-{i}")))
                .await;
            assert_eq!(status, 201, "{body}");
            let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            ids.push(v["id"].as_str().expect("id").to_string());
        }
        let create = meter.stop(&bench, "create (POST /contacts, Idempotency-Key)", seed);

        let meter = Meter::start(&bench);
        for i in 0..reads {
            let uri = format!("/contacts/{}", ids[(i * 7919) % ids.len()]);
            let (status, body) = bench.call("GET", &uri, None, None).await;
            assert_eq!(status, 200, "{body}");
        }
        let get = meter.stop(&bench, "get (GET /contacts/{id})", reads);

        let meter = Meter::start(&bench);
        for _ in 0..reads {
            let (status, body) = bench.call("GET", "/contacts?limit=50", None, None).await;
            assert_eq!(status, 200, "{body}");
        }
        let list = meter.stop(&bench, "list (GET /contacts?limit=50)", reads);

        let meter = Meter::start(&bench);
        for i in 0..reads {
            let q = SURNAMES[i % SURNAMES.len()][..3].to_lowercase();
            let (status, body) = bench
                .call("GET", &format!("/contacts?q={q}&limit=20"), None, None)
                .await;
            assert_eq!(status, 200, "{body}");
        }
        let search = meter.stop(&bench, "search (GET /contacts?q=…&limit=20)", reads);

        println!("handler CPU per request: contacts-api over the in-memory table, {seed} contacts, one thread");
        println!("| route | requests | CPU µs/request | of which in-memory store | handler without the store |");
        println!("|---|---:|---:|---:|---:|");
        for f in [create, get, list, search] {
            let per = |ns: u64| ns as f64 / f.requests as f64 / 1000.0;
            println!(
                "| {} | {} | {:.1} | {:.1} | {:.1} |",
                f.route,
                f.requests,
                per(f.cpu_ns),
                per(f.store_ns),
                per(f.cpu_ns.saturating_sub(f.store_ns)),
            );
        }
    });
}
