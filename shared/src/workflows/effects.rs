//! The side effects of workflow steps, behind one small interface: queue a step, schedule a
//! wake-up, send an email (built by `crate::email`).

use super::StepMessage;
use crate::email::{MailSettings, Mailer, OutboundMail, SesMailer};
use crate::errors::sdk_error;
use crate::{CrmError, Timestamp};

#[allow(async_fn_in_trait)]
pub trait StepEffects {
    /// Puts a step on the step queue now.
    async fn enqueue_step(&self, message: &StepMessage) -> Result<(), CrmError>;
    /// Creates a one-time schedule that puts `message` on the step queue at `at`. Creating the
    /// same schedule twice is not an error.
    async fn schedule_step(&self, message: &StepMessage, at: Timestamp)
    -> Result<String, CrmError>;
    /// Sends a built message (`crate::email::send::prepare`); returns the provider's message id.
    async fn send_email(&self, mail: &OutboundMail) -> Result<String, CrmError>;
    /// The sender, the unsubscribe secret and the public URL mails are built with.
    fn mail_settings(&self) -> &MailSettings;
}

/// SQS, EventBridge Scheduler and SES.
pub struct AwsEffects {
    pub sqs: crate::sdk_client::SdkClient<aws_sdk_sqs::Client>,
    pub scheduler: crate::sdk_client::SdkClient<aws_sdk_scheduler::Client>,
    pub mailer: SesMailer,
    pub mail: MailSettings,
    pub step_queue_url: String,
    pub step_queue_arn: String,
    pub scheduler_role_arn: String,
    pub schedule_group: String,
}

/// Schedule names are unique per run and step, so a retried wait creates no second schedule.
pub fn schedule_name(message: &StepMessage) -> String {
    format!("run-{}-{}", message.run_id, message.seq)
}

/// EventBridge Scheduler's one-time expression: `at(yyyy-mm-ddThh:mm:ss)` (UTC, see timezone).
pub fn at_expression(at: Timestamp) -> String {
    format!("at({})", at.format("%Y-%m-%dT%H:%M:%S"))
}

impl StepEffects for AwsEffects {
    async fn enqueue_step(&self, message: &StepMessage) -> Result<(), CrmError> {
        let body = serde_json::to_string(message).map_err(CrmError::internal)?;
        self.sqs
            .send_message()
            .queue_url(&self.step_queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| sdk_error("SendMessage step", e))?;
        Ok(())
    }

    async fn schedule_step(
        &self,
        message: &StepMessage,
        at: Timestamp,
    ) -> Result<String, CrmError> {
        use aws_sdk_scheduler::types::{
            ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
        };
        let name = schedule_name(message);
        let target = Target::builder()
            .arn(&self.step_queue_arn)
            .role_arn(&self.scheduler_role_arn)
            .input(serde_json::to_string(message).map_err(CrmError::internal)?)
            .build()
            .map_err(CrmError::internal)?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(CrmError::internal)?;
        let result = self
            .scheduler
            .create_schedule()
            .name(&name)
            .group_name(&self.schedule_group)
            .schedule_expression(at_expression(at))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .target(target)
            .action_after_completion(ActionAfterCompletion::Delete)
            .send()
            .await;
        match result {
            Ok(_) => Ok(name),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conflict_exception()) =>
            {
                Ok(name)
            }
            Err(e) => Err(sdk_error("CreateSchedule", e)),
        }
    }

    async fn send_email(&self, mail: &OutboundMail) -> Result<String, CrmError> {
        self.mailer.send_raw(mail).await
    }

    fn mail_settings(&self) -> &MailSettings {
        &self.mail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_expressions_are_second_precise_utc() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-29T04:05:06.789Z")
            .unwrap()
            .to_utc();
        assert_eq!(at_expression(t), "at(2026-11-29T04:05:06)");
    }
}
