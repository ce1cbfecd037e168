//! The event sources AWS runs around the handlers, emulated: S3 notifications delivered to the
//! function whose trigger names the bucket (and key filter), due one-time schedules fired into
//! their SQS target, and every queue with an SQS trigger delivered to its function as
//! `SqsEvent` batches, honouring `batchItemFailures`.

use super::*;
use template::{S3Trigger, SqsTrigger};

impl LocalRuntime {
    // ----- S3 → the bucket's function --------------------------------------------------------

    /// Takes the pending S3 notifications off the emulation queue, as the `S3Event`s Lambda
    /// would be invoked with, each with the function its bucket's trigger names.
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
            let parsed = s3_notifications::normalise_moto_notification(
                message.body.as_deref().unwrap_or(""),
            );
            match parsed {
                Ok(Some(event)) => match self.s3_trigger_of(&event) {
                    Some(trigger) => events.push(S3Delivery {
                        event,
                        receipt,
                        attempt,
                        function: trigger.binary,
                    }),
                    None => {
                        tracing::error!("dropping an S3 notification no trigger subscribes to");
                        self.ack_s3_event(&receipt).await?;
                    }
                },
                Ok(None) => self.ack_s3_event(&receipt).await?,
                Err(e) => {
                    tracing::error!(error = %e, "dropping an S3 notification that is not an S3 event");
                    self.ack_s3_event(&receipt).await?;
                }
            }
        }
        Ok(events)
    }

    /// The template's trigger for the event's bucket and key (S3 allows one per event type and
    /// overlapping key filter).
    fn s3_trigger_of(&self, event: &S3Event) -> Option<S3Trigger> {
        let record = event.records.first()?;
        let bucket = record.s3.bucket.name.as_deref()?;
        let key = record.s3.object.key.as_deref().unwrap_or("");
        let key = percent_encoding::percent_decode_str(&key.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        self.template.s3_triggers().into_iter().find(|t| {
            self.provisioned
                .resolved
                .refs
                .get(&t.bucket)
                .map(String::as_str)
                == Some(bucket)
                && t.prefix.as_deref().is_none_or(|p| key.starts_with(p))
                && t.suffix.as_deref().is_none_or(|s| key.ends_with(s))
        })
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

    /// Invokes the function of cargo binary `binary` with one S3 event.
    pub async fn invoke_s3_function(&self, binary: &str, event: S3Event) -> Result<(), Error> {
        match self.functions.invoke_s3(binary, event).await {
            Some(result) => Ok(result?),
            None => Err(format!("{binary} is not an S3-triggered function").into()),
        }
    }

    /// Delivers every pending S3 notification, with Lambda's asynchronous-invocation rules: a
    /// failed event is retried (it comes back after the queue's visibility timeout) up to the
    /// function's `EventInvokeConfig.MaximumRetryAttempts`, then goes to its on-failure
    /// destination. Returns how many events were processed.
    pub async fn deliver_s3_events(&self) -> Result<usize, Error> {
        let mut delivered = 0;
        for delivery in self.receive_s3_events().await? {
            let payload = serde_json::to_value(&delivery.event)?;
            match self
                .invoke_s3_function(&delivery.function, delivery.event)
                .await
            {
                Ok(()) => {
                    self.ack_s3_event(&delivery.receipt).await?;
                    delivered += 1;
                }
                Err(e) => {
                    let (max_retries, destination) = self.invoke_config(&delivery.function)?;
                    tracing::error!(error = %e, function = delivery.function, attempt = delivery.attempt, "S3-triggered function failed");
                    if delivery.attempt > max_retries {
                        if let Some(arn) = destination {
                            self.send_on_failure_record(
                                &delivery.function,
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

    /// `MaximumRetryAttempts` (default 2) and the on-failure destination ARN of the function
    /// built from cargo binary `binary`, from the template.
    fn invoke_config(&self, binary: &str) -> Result<(u32, Option<String>), Error> {
        let function = self
            .template
            .s3_triggers()
            .into_iter()
            .find(|t| t.binary == binary)
            .ok_or_else(|| format!("{binary} has no S3 trigger"))?
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
        binary: &str,
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
                "functionArn": format!("arn:aws:lambda:local:123456789012:function:{binary}"),
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

    // ----- SQS → the queue's function --------------------------------------------------------

    /// The template's SQS trigger on queue `queue` (logical id).
    fn sqs_trigger(&self, queue: &str) -> Result<SqsTrigger, Error> {
        self.template
            .sqs_triggers()
            .into_iter()
            .find(|t| t.queue == queue)
            .ok_or_else(|| format!("no function is triggered by {queue}").into())
    }

    /// Receives one batch from queue `queue` (logical id) as the `SqsEvent` Lambda would deliver
    /// to its function (at most the trigger's `BatchSize`, and at most 10).
    pub async fn receive_sqs_batch(&self, queue: &str) -> Result<Option<SqsEvent>, Error> {
        let trigger = self.sqs_trigger(queue)?;
        let queue_url = self.resolved_ref(queue)?;
        let queue_arn = self.resolved_arn(queue)?;
        let out = self
            .aws
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(trigger.batch_size.clamp(1, 10))
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

    /// Hands a batch of queue `queue` to its function; deletes the messages it did not report
    /// as failed and makes the failed ones visible again at once (AWS waits for the visibility
    /// timeout). Without `ReportBatchItemFailures`, any failure fails the whole batch. Once a
    /// message has been received maxReceiveCount times, the queue moves it to the DLQ. Returns
    /// the number of failed messages.
    pub async fn invoke_sqs_function(&self, queue: &str, event: SqsEvent) -> Result<usize, Error> {
        let trigger = self.sqs_trigger(queue)?;
        let queue_url = self.resolved_ref(queue)?.to_string();
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
        let response = self
            .functions
            .invoke_sqs(&trigger.binary, event)
            .await
            .ok_or_else(|| format!("{} is not an SQS-triggered function", trigger.binary))?;
        let mut failed: std::collections::HashSet<String> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        if !failed.is_empty() && !trigger.report_batch_item_failures {
            failed = receipts.iter().map(|(id, _)| id.clone()).collect();
        }
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

    /// Deletes the messages of a batch received from queue `queue` (for tests that invoke a
    /// function themselves, for example twice).
    pub async fn ack_sqs_batch(&self, queue: &str, event: &SqsEvent) -> Result<(), Error> {
        let queue_url = self.resolved_ref(queue)?.to_string();
        for record in &event.records {
            self.aws
                .sqs
                .delete_message()
                .queue_url(&queue_url)
                .set_receipt_handle(record.receipt_handle.clone())
                .send()
                .await?;
        }
        Ok(())
    }

    /// Delivers batches of queue `queue` until it is empty or only failing messages remain.
    pub async fn deliver_sqs_messages(&self, queue: &str) -> Result<usize, Error> {
        let mut delivered = 0;
        while let Some(batch) = self.receive_sqs_batch(queue).await? {
            let size = batch.records.len();
            let failed = self.invoke_sqs_function(queue, batch).await?;
            delivered += size - failed;
            if failed == size {
                break;
            }
        }
        Ok(delivered)
    }

    /// One batch of the workflow step queue.
    pub async fn receive_step_batch(&self) -> Result<Option<SqsEvent>, Error> {
        self.receive_sqs_batch("StepQueue").await
    }

    /// Hands a batch of the step queue to the step executor.
    pub async fn invoke_step_executor(&self, event: SqsEvent) -> Result<usize, Error> {
        self.invoke_sqs_function("StepQueue", event).await
    }

    /// Delivers the step queue until it is empty or only failing messages remain.
    pub async fn deliver_step_messages(&self) -> Result<usize, Error> {
        self.deliver_sqs_messages("StepQueue").await
    }

    /// The background loop of `make dev`: S3 events, due schedules and every triggered queue;
    /// beside it, on their own tasks (a long queue delivery such as an import's chunks must
    /// not hold them up, as it does not on AWS), the table's stream and the rate schedules.
    pub async fn run_event_loop(self: Arc<Self>, interval: std::time::Duration) {
        let queues: Vec<String> = self
            .template
            .sqs_triggers()
            .into_iter()
            .map(|t| t.queue)
            .collect();
        let streams = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = streams.deliver_stream_records().await {
                    tracing::error!(error = %e, "stream delivery failed");
                }
                tokio::time::sleep(interval).await;
            }
        });
        let rates = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = rates.fire_rate_schedules(chrono::Utc::now()).await {
                    tracing::error!(error = %e, "firing rate schedules failed");
                }
                tokio::time::sleep(interval).await;
            }
        });
        loop {
            if let Err(e) = self.deliver_s3_events().await {
                tracing::error!(error = %e, "S3 event delivery failed");
            }
            if let Err(e) = self.fire_due_schedules(chrono::Utc::now()).await {
                tracing::error!(error = %e, "firing schedules failed");
            }
            for queue in &queues {
                if let Err(e) = self.deliver_sqs_messages(queue).await {
                    tracing::error!(error = %e, queue, "SQS delivery failed");
                }
            }
            tokio::time::sleep(interval).await;
        }
    }
}
