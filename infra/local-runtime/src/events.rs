//! The event sources AWS runs around the handlers, emulated: S3 notifications delivered to
//! the import processor, due one-time schedules fired into their SQS target, and step messages
//! delivered to the step executor as `SqsEvent` batches.

use super::*;

impl LocalRuntime {
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
