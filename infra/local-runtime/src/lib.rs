//! # The local runtime: everything AWS does around the handlers, emulated in one place
//!
//! moto (the local AWS endpoint) stores resources but never invokes a Lambda, never fires a
//! schedule and has no API Gateway in front of functions. This crate fills exactly those gaps so
//! the shipped handlers run unchanged on a laptop or in CI:
//!
//! - `provision`: creates the table, bucket, queues, schedule group and SES identity from
//!   `template.yaml` (so local and cloud cannot drift);
//! - `gateway` + `authorizer`: the HTTP API with its JWT authorizer, routes from the template;
//! - `s3_notifications`: S3 ObjectCreated → `S3Event` → import processor;
//! - `scheduler`: due one-time schedules → their SQS target, then deleted;
//! - SQS → step executor as `SqsEvent` batches, honouring `batchItemFailures`.
//!
//! Production code never depends on this crate.

pub mod authorizer;
pub mod functions;
pub mod gateway;
pub mod provision;
pub mod s3_notifications;
pub mod scheduler;
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
}

pub struct LocalRuntime {
    pub template: Template,
    pub provisioned: provision::Provisioned,
    pub aws: AwsClients,
    pub functions: Arc<Functions>,
    pub authorizer: DevAuthorizer,
    pub endpoint_url: String,
}

/// SDK clients for the local endpoint: explicit dummy credentials and region, so the default
/// chain never probes the instance metadata service.
pub async fn local_clients(endpoint_url: &str, region: &str) -> AwsClients {
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
    let mut aws = AwsClients::from_sdk_config(&sdk);
    aws.s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    aws
}

impl LocalRuntime {
    /// Provisions the stack from the template and builds every function's handler.
    pub async fn start(options: Options) -> Result<Arc<Self>, Error> {
        let template = Template::load(&options.template)?;
        let aws = local_clients(&options.endpoint_url, &options.region).await;
        let provisioned = provision::provision(
            &template,
            &aws,
            &options.prefix,
            &options.region,
            &options.parameter_overrides,
        )
        .await?;
        let binaries: HashMap<String, String> = template
            .http_routes()
            .into_iter()
            .map(|r| (r.binary, r.function))
            .chain(
                template
                    .s3_triggers()
                    .into_iter()
                    .map(|t| (t.binary, t.function)),
            )
            .chain(
                template
                    .sqs_triggers()
                    .into_iter()
                    .map(|t| (t.binary, t.function)),
            )
            .collect();
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
        Ok(Arc::new(Self {
            template,
            provisioned,
            aws,
            functions: Arc::new(functions),
            authorizer: DevAuthorizer::default(),
            endpoint_url: options.endpoint_url,
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
        let function = self
            .template
            .http_routes()
            .into_iter()
            .find(|r| r.binary == binary)
            .map(|r| r.function)
            .ok_or_else(|| format!("no function {binary} in the template"))?;
        let env = self
            .template
            .function_environment(&function, &self.provisioned.resolved)?;
        Ok(crm_shared::Deps::new(
            crm_shared::Config::from_lookup(|k| env.get(k).cloned())?,
            self.aws.clone(),
        ))
    }

    /// [`Self::serve`] with a gateway extended by `extend` (more routes and handlers).
    pub async fn serve_gateway(
        self: &Arc<Self>,
        addr: SocketAddr,
        extend: impl FnOnce(gateway::Gateway) -> gateway::Gateway,
    ) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), Error> {
        let gateway = Arc::new(extend(gateway::Gateway::new(
            self.template.http_routes(),
            self.authorizer.clone(),
            self.functions.clone(),
        )));
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

    // ----- S3 → import processor -------------------------------------------------------------

    /// Takes the pending S3 notifications off the emulation queue, as the `S3Event`s Lambda
    /// would be invoked with.
    pub async fn receive_s3_events(&self) -> Result<Vec<S3Delivery>, Error> {
        let out = self
            .aws
            .sqs
            .receive_message()
            .queue_url(&self.provisioned.s3_events_queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .send()
            .await?;
        let mut events = Vec::new();
        for message in out.messages.unwrap_or_default() {
            let receipt = message.receipt_handle.clone().unwrap_or_default();
            let attempt = message
                .attributes
                .as_ref()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                })
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            match s3_notifications::normalise_moto_notification(
                message.body.as_deref().unwrap_or(""),
            ) {
                Ok(Some(event)) => events.push(S3Delivery {
                    event,
                    receipt,
                    attempt,
                }),
                Ok(None) => self.ack_s3_event(&receipt).await?,
                Err(e) => {
                    tracing::error!(error = %e, "dropping an S3 notification that is not an S3 event");
                    self.ack_s3_event(&receipt).await?;
                }
            }
        }
        Ok(events)
    }

    pub async fn ack_s3_event(&self, receipt: &str) -> Result<(), Error> {
        self.aws
            .sqs
            .delete_message()
            .queue_url(&self.provisioned.s3_events_queue_url)
            .receipt_handle(receipt)
            .send()
            .await?;
        Ok(())
    }

    /// Invokes the import processor with one event, as the S3 trigger would.
    pub async fn invoke_import_processor(
        &self,
        event: S3Event,
    ) -> Result<Vec<crm_shared::imports::ProcessOutcome>, Error> {
        Ok(self.functions.import_processor.handle(event).await?)
    }

    /// Delivers every pending S3 notification, with Lambda's asynchronous-invocation rules: a
    /// failed event is retried (it comes back after the queue's visibility timeout) up to the
    /// function's `EventInvokeConfig.MaximumRetryAttempts`, then goes to its on-failure
    /// destination. Returns how many events were processed.
    pub async fn deliver_s3_events(&self) -> Result<usize, Error> {
        let mut delivered = 0;
        for delivery in self.receive_s3_events().await? {
            let payload = serde_json::to_value(&delivery.event)?;
            match self.invoke_import_processor(delivery.event).await {
                Ok(_) => {
                    self.ack_s3_event(&delivery.receipt).await?;
                    delivered += 1;
                }
                Err(e) => {
                    let (max_retries, destination) = self.import_processor_invoke_config()?;
                    tracing::error!(error = %e, attempt = delivery.attempt, "import processor failed");
                    if delivery.attempt > max_retries {
                        if let Some(arn) = destination {
                            self.send_on_failure_record(
                                &arn,
                                payload,
                                &e.to_string(),
                                delivery.attempt,
                            )
                            .await?;
                        }
                        self.ack_s3_event(&delivery.receipt).await?;
                    }
                }
            }
        }
        Ok(delivered)
    }

    /// `MaximumRetryAttempts` (default 2) and the on-failure destination ARN of the S3-triggered
    /// function, from the template.
    fn import_processor_invoke_config(&self) -> Result<(u32, Option<String>), Error> {
        let function = self
            .template
            .s3_triggers()
            .into_iter()
            .next()
            .ok_or("no S3-triggered function")?
            .function;
        let props = self
            .template
            .resources_of_type("AWS::Serverless::Function")
            .into_iter()
            .find(|(id, _)| *id == function)
            .map(|(_, props)| props)
            .unwrap_or_default();
        let config = &props["EventInvokeConfig"];
        let retries = config["MaximumRetryAttempts"].as_u64().unwrap_or(2) as u32;
        let destination = match config["DestinationConfig"]["OnFailure"].get("Destination") {
            Some(v) => Some(self.provisioned.resolved.resolve(v)?),
            None => None,
        };
        Ok((retries, destination))
    }

    async fn send_on_failure_record(
        &self,
        queue_arn: &str,
        payload: serde_json::Value,
        error: &str,
        attempts: u32,
    ) -> Result<(), Error> {
        let queue_name = scheduler::queue_name_of_arn(queue_arn)
            .ok_or("on-failure destination is not an SQS queue")?;
        let queue_url = self
            .aws
            .sqs
            .get_queue_url()
            .queue_name(queue_name)
            .send()
            .await?
            .queue_url
            .unwrap_or_default();
        // The shape of Lambda's invocation record for an on-failure destination.
        let record = json!({
            "version": "1.0",
            "timestamp": chrono::Utc::now().to_rfc3339(),
            "requestContext": {
                "requestId": uuid::Uuid::now_v7().to_string(),
                "functionArn": "arn:aws:lambda:local:123456789012:function:import-processor",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": payload,
            "responseContext": { "statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled" },
            "responsePayload": { "errorMessage": error },
        });
        self.aws
            .sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(record.to_string())
            .send()
            .await?;
        Ok(())
    }

    // ----- Scheduler → SQS -------------------------------------------------------------------

    /// Fires every one-time schedule of the step schedule group that is due at `now`: its input
    /// goes to its SQS target, then the schedule is deleted. Tests pass a later `now` to fire
    /// schedules early. Returns the names fired.
    pub async fn fire_due_schedules(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<String>, Error> {
        let group = self.resolved_ref("StepScheduleGroup")?.to_string();
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .aws
                .scheduler
                .list_schedules()
                .group_name(&group)
                .set_next_token(token)
                .send()
                .await?;
            names.extend(page.schedules.into_iter().filter_map(|s| s.name));
            token = page.next_token;
            if token.is_none() {
                break;
            }
        }
        let mut fired = Vec::new();
        for name in names {
            let schedule = self
                .aws
                .scheduler
                .get_schedule()
                .group_name(&group)
                .name(&name)
                .send()
                .await?;
            let due = schedule
                .schedule_expression
                .as_deref()
                .and_then(|e| {
                    scheduler::parse_at_expression(
                        e,
                        schedule.schedule_expression_timezone.as_deref(),
                    )
                })
                .is_some_and(|at| at <= now);
            let enabled = schedule.state != Some(aws_sdk_scheduler::types::ScheduleState::Disabled);
            let Some(target) = schedule.target.clone().filter(|_| due && enabled) else {
                continue;
            };
            let queue_name = scheduler::queue_name_of_arn(&target.arn)
                .ok_or("schedule target is not an SQS queue")?;
            let queue_url = self
                .aws
                .sqs
                .get_queue_url()
                .queue_name(queue_name)
                .send()
                .await?
                .queue_url
                .unwrap_or_default();
            self.aws
                .sqs
                .send_message()
                .queue_url(queue_url)
                .message_body(target.input.clone().unwrap_or_default())
                .send()
                .await?;
            // A one-time schedule fires once: ActionAfterCompletion DELETE removes it; with NONE
            // it stays, done (disabled here, so the emulation does not fire it again).
            if schedule.action_after_completion
                == Some(aws_sdk_scheduler::types::ActionAfterCompletion::Delete)
            {
                self.aws
                    .scheduler
                    .delete_schedule()
                    .group_name(&group)
                    .name(&name)
                    .send()
                    .await?;
            } else {
                self.aws
                    .scheduler
                    .update_schedule()
                    .group_name(&group)
                    .name(&name)
                    .set_schedule_expression(schedule.schedule_expression)
                    .set_schedule_expression_timezone(schedule.schedule_expression_timezone)
                    .set_flexible_time_window(schedule.flexible_time_window)
                    .target(target)
                    .state(aws_sdk_scheduler::types::ScheduleState::Disabled)
                    .send()
                    .await?;
            }
            fired.push(name);
        }
        Ok(fired)
    }

    // ----- SQS → step executor ---------------------------------------------------------------

    /// Receives one batch from the step queue as the `SqsEvent` Lambda would deliver.
    pub async fn receive_step_batch(&self) -> Result<Option<SqsEvent>, Error> {
        let queue_url = self.resolved_ref("StepQueue")?;
        let queue_arn = self.resolved_arn("StepQueue")?;
        let out = self
            .aws
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(None);
        }
        let records: Vec<_> = messages
            .into_iter()
            .map(|m| {
                let attributes: HashMap<String, String> = m
                    .attributes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_string(), v))
                    .collect();
                json!({
                    "messageId": m.message_id,
                    "receiptHandle": m.receipt_handle,
                    "body": m.body,
                    "md5OfBody": m.md5_of_body,
                    "attributes": attributes,
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue_arn,
                    "awsRegion": self.provisioned.region,
                })
            })
            .collect();
        Ok(Some(serde_json::from_value(json!({ "Records": records }))?))
    }

    /// Hands a batch to the step executor; deletes the messages it did not report as failed and
    /// makes the failed ones visible again at once (AWS waits for the visibility timeout). Once
    /// a message has been received maxReceiveCount times, the queue moves it to the DLQ.
    /// Returns the number of failed messages.
    pub async fn invoke_step_executor(&self, event: SqsEvent) -> Result<usize, Error> {
        let queue_url = self.resolved_ref("StepQueue")?.to_string();
        let receipts: Vec<(String, String)> = event
            .records
            .iter()
            .map(|r| {
                (
                    r.message_id.clone().unwrap_or_default(),
                    r.receipt_handle.clone().unwrap_or_default(),
                )
            })
            .collect();
        let response = self.functions.step_executor.handle(event).await;
        let failed: std::collections::HashSet<String> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        for (id, receipt) in receipts {
            if failed.contains(&id) {
                self.aws
                    .sqs
                    .change_message_visibility()
                    .queue_url(&queue_url)
                    .receipt_handle(receipt)
                    .visibility_timeout(0)
                    .send()
                    .await?;
            } else {
                self.aws
                    .sqs
                    .delete_message()
                    .queue_url(&queue_url)
                    .receipt_handle(receipt)
                    .send()
                    .await?;
            }
        }
        Ok(failed.len())
    }

    /// Delivers step batches until the queue is empty or only failing messages remain.
    pub async fn deliver_step_messages(&self) -> Result<usize, Error> {
        let mut delivered = 0;
        while let Some(batch) = self.receive_step_batch().await? {
            let size = batch.records.len();
            let failed = self.invoke_step_executor(batch).await?;
            delivered += size - failed;
            if failed == size {
                break;
            }
        }
        Ok(delivered)
    }

    /// The background loop of `make dev`: S3 events, due schedules and step messages.
    pub async fn run_event_loop(self: Arc<Self>, interval: std::time::Duration) {
        loop {
            if let Err(e) = self.deliver_s3_events().await {
                tracing::error!(error = %e, "S3 event delivery failed");
            }
            if let Err(e) = self.fire_due_schedules(chrono::Utc::now()).await {
                tracing::error!(error = %e, "firing schedules failed");
            }
            if let Err(e) = self.deliver_step_messages().await {
                tracing::error!(error = %e, "step delivery failed");
            }
            tokio::time::sleep(interval).await;
        }
    }
}
