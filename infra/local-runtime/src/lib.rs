//! # The local runtime: everything AWS does around the handlers, emulated in one place
//!
//! moto (the local AWS endpoint) stores resources but never invokes a Lambda, never fires a
//! schedule and has no API Gateway in front of functions. This crate fills exactly those gaps so
//! the shipped handlers run unchanged on a laptop or in CI:
//!
//! - `provision`: creates the table, bucket, queues, schedule group and SES identity from
//!   `template.yaml` (so local and cloud cannot drift);
//! - `gateway` + `authorizer`: the HTTP API with its JWT authorizer, routes from the template;
//! - `cors`: the HTTP API's `CorsConfiguration` (parameters resolved), applied by the gateway;
//! - `s3_notifications`: S3 ObjectCreated → `S3Event` → the function whose trigger names the
//!   bucket and key;
//! - `scheduler`: due one-time schedules → their SQS target, then deleted;
//! - every queue with an SQS trigger → its function as `SqsEvent` batches, honouring
//!   `batchItemFailures` (`events`: the three event sources);
//! - `streams`: the table's DynamoDB stream → the function of each `DynamoDB` event, as Lambda's
//!   event source mapping does (filters, batches, `batchItemFailures`, retries, on-failure
//!   destination); the local DynamoDB emulates the stream itself (infra/dynamodb/streams.js);
//! - `rate_schedules`: the template's `rate(...)` schedules invoke their function every period.
//!
//! Production code never depends on this crate.

pub mod authorizer;
pub mod cors;
pub mod event_filter;
mod events;
pub mod functions;
pub mod gateway;
pub mod provision;
pub mod rate_schedules;
pub mod s3_notifications;
pub mod scheduler;
pub mod streams;
pub mod template;

use authorizer::DevAuthorizer;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::SqsEvent;
use crm_shared::AwsClients;
use functions::Functions;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use template::Template;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub struct Options {
    pub template: PathBuf,
    /// Prefix of every local resource name; tests give each test its own.
    pub prefix: String,
    pub endpoint_url: String,
    pub region: String,
    pub parameter_overrides: HashMap<String, String>,
}

impl Options {
    /// The repository's `template.yaml` and the endpoint from `AWS_ENDPOINT_URL`.
    pub fn from_env(prefix: &str) -> Result<Self, Error> {
        let endpoint_url = std::env::var("AWS_ENDPOINT_URL")
            .map_err(|_| "AWS_ENDPOINT_URL is not set: start the local stack with `make dev` or run tests with `make test`")?;
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        Ok(Self {
            template: root.join("template.yaml"),
            prefix: prefix.to_string(),
            endpoint_url,
            region: std::env::var("AWS_REGION").unwrap_or_else(|_| "eu-central-1".into()),
            parameter_overrides: HashMap::new(),
        })
    }
}

/// One S3 notification taken off the emulation queue.
pub struct S3Delivery {
    pub event: S3Event,
    /// Acknowledges (deletes) the notification.
    pub receipt: String,
    /// 1 on the first delivery.
    pub attempt: u32,
    /// Cargo binary of the function the bucket's trigger names.
    pub function: String,
}

pub struct LocalRuntime {
    pub template: Template,
    pub provisioned: provision::Provisioned,
    pub aws: AwsClients,
    pub functions: Arc<Functions>,
    pub authorizer: DevAuthorizer,
    pub endpoint_url: String,
    /// Emulation: where each stream trigger reads its table's stream.
    stream_feeds: streams::StreamFeeds,
    /// Emulation: when each rate schedule last fired.
    rate_clock: rate_schedules::RateClock,
}

/// `(binary, function)` of every function the template triggers (routes, S3, SQS, streams and
/// rate schedules).
fn triggered_functions(template: &Template) -> Vec<(String, String)> {
    let routes = template
        .http_routes()
        .into_iter()
        .map(|r| (r.binary, r.function));
    let s3 = template
        .s3_triggers()
        .into_iter()
        .map(|t| (t.binary, t.function));
    let sqs = template
        .sqs_triggers()
        .into_iter()
        .map(|t| (t.binary, t.function));
    let streams = template
        .dynamodb_triggers()
        .into_iter()
        .map(|t| (t.binary, t.function));
    let rates = template
        .rate_schedules()
        .into_iter()
        .map(|t| (t.binary, t.function));
    routes
        .chain(s3)
        .chain(sqs)
        .chain(streams)
        .chain(rates)
        .collect()
}

/// SDK clients for the local endpoint: explicit dummy credentials and region, so the default
/// chain never probes the instance metadata service.
pub async fn local_clients(endpoint_url: &str, region: &str) -> AwsClients {
    local_clients_with_retry_quota(endpoint_url, region, None).await
}

/// As [`local_clients`], with a retry quota of their own named `quota`. The SDK's retry quota (a
/// token bucket per service, `aws_policy`) is process-wide; on AWS each Lambda instance has its
/// own, but here every stack of a test run shares one process, so a test that injects many
/// faults would spend the quota of the others' retries.
pub async fn local_clients_with_retry_quota(
    endpoint_url: &str,
    region: &str,
    quota: Option<&str>,
) -> AwsClients {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint_url)
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "crm-local",
        ))
        .load()
        .await;
    let mut aws = crm_shared::deps::Clients::with_retry_quota(&sdk, quota);
    // `make dev` sends DynamoDB straight to the local DynamoDB (one hop less than through
    // moto, which forwards it there); the tests go through moto for its fault injection.
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        let (sdk, quota) = (sdk.clone(), quota.map(str::to_string));
        aws.dynamodb = crm_shared::deps::SdkClient::lazy(move || {
            aws_sdk_dynamodb::Client::from_conf(
                crm_shared::deps::dynamodb_config(&sdk, quota.as_deref())
                    .endpoint_url(url)
                    .build(),
            )
        });
    }
    let quota = quota.map(str::to_string);
    aws.s3 = crm_shared::deps::SdkClient::lazy(move || {
        aws_sdk_s3::Client::from_conf(
            crm_shared::deps::s3_config(&sdk, quota.as_deref())
                .force_path_style(true)
                .build(),
        )
    });
    aws.into()
}

impl LocalRuntime {
    /// Provisions the stack from the template and builds every function's handler.
    pub async fn start(options: Options) -> Result<Arc<Self>, Error> {
        let template = Template::load(&options.template)?;
        let aws = local_clients_with_retry_quota(
            &options.endpoint_url,
            &options.region,
            Some(&options.prefix),
        )
        .await;
        let provisioned = provision::provision(
            &template,
            &aws,
            &options.prefix,
            &options.region,
            &options.parameter_overrides,
        )
        .await?;
        let binaries: HashMap<String, String> =
            triggered_functions(&template).into_iter().collect();
        let functions = Functions::new(&aws, |binary| {
            binaries
                .get(binary)
                .and_then(|function| {
                    template
                        .function_environment(function, &provisioned.resolved)
                        .ok()
                })
                .unwrap_or_default()
        })?;
        let stream_feeds =
            streams::StreamFeeds::start(&template, &provisioned, &options.endpoint_url).await?;
        Ok(Arc::new(Self {
            template,
            provisioned,
            aws,
            functions: Arc::new(functions),
            authorizer: DevAuthorizer::default(),
            endpoint_url: options.endpoint_url,
            stream_feeds,
            rate_clock: rate_schedules::RateClock::new(chrono::Utc::now()),
        }))
    }

    /// Serves the HTTP API on `addr` (port 0: any free port); returns the bound address.
    pub async fn serve(
        self: &Arc<Self>,
        addr: SocketAddr,
    ) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), Error> {
        self.serve_gateway(addr, |g| g).await
    }

    /// The configuration and clients a function of the template is built with (for a function
    /// the tests serve besides the template's, with [`Self::serve_gateway`]).
    pub fn deps(&self, binary: &str) -> Result<crm_shared::Deps, Error> {
        let function = triggered_functions(&self.template)
            .into_iter()
            .find(|(b, _)| b == binary)
            .map(|(_, function)| function)
            .ok_or_else(|| format!("no function {binary} in the template"))?;
        let env = self
            .template
            .function_environment(&function, &self.provisioned.resolved)?;
        Ok(crm_shared::Deps::new(
            crm_shared::Config::from_lookup(|k| env.get(k).cloned()),
            self.aws.clone(),
        ))
    }

    /// [`Self::serve`] with a gateway extended by `extend` (more routes and handlers).
    pub async fn serve_gateway(
        self: &Arc<Self>,
        addr: SocketAddr,
        extend: impl FnOnce(gateway::Gateway) -> gateway::Gateway,
    ) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), Error> {
        let cors = cors::Cors::from_template(&self.template, &self.provisioned.resolved)?;
        let gateway = Arc::new(extend(
            gateway::Gateway::new(
                self.template.http_routes(),
                self.authorizer.clone(),
                self.functions.clone(),
            )
            .with_cors(cors),
        ));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let handle = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, gateway.router()).await {
                tracing::error!(error = %e, "local gateway stopped");
            }
        });
        Ok((bound, handle))
    }

    pub fn token(&self, tenant: &str, user: &str, role: &str) -> String {
        self.authorizer.mint(tenant, user, role, 3600)
    }

    fn resolved_ref(&self, logical_id: &str) -> Result<&str, Error> {
        self.provisioned
            .resolved
            .refs
            .get(logical_id)
            .map(String::as_str)
            .ok_or_else(|| format!("{logical_id} is not provisioned").into())
    }

    fn resolved_arn(&self, logical_id: &str) -> Result<&str, Error> {
        self.provisioned
            .resolved
            .arns
            .get(logical_id)
            .map(String::as_str)
            .ok_or_else(|| format!("{logical_id} has no ARN").into())
    }
}
