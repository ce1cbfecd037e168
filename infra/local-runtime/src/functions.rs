//! The shipped handlers, each built with the environment the template gives its function.

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use contacts_api::ContactsApi;
use crm_shared::{AwsClients, Config, CrmError, Deps};
use import_processor::ImportProcessor;
use imports_api::ImportsApi;
use lambda_http::{Body, Request, Response};
use openapi_api::OpenApiHandler;
use std::collections::BTreeMap;
use step_executor::StepExecutor;
use tenant_api::TenantApi;
use workflows_api::WorkflowsApi;

pub struct Functions {
    pub contacts: ContactsApi,
    pub clients: clients_api::ClientsApi,
    pub deals: deals_api::DealsApi,
    pub leads: leads_api::LeadsApi,
    pub activities: activities_api::ActivitiesApi,
    pub imports: ImportsApi,
    pub workflows: WorkflowsApi,
    pub tenant: TenantApi,
    pub custom_fields: custom_fields_api::CustomFieldsApi,
    pub openapi: OpenApiHandler,
    pub import_processor: ImportProcessor,
    pub step_executor: StepExecutor,
    pub job_worker: job_worker::JobWorker,
    pub attachment_processor: attachment_processor::AttachmentProcessor,
    pub messages: messages_api::MessagesApi,
    pub mail_events: mail_events::MailEvents,
    pub inbound_mail: inbound_mail::InboundMail,
    pub workflow_triggers: workflow_triggers::WorkflowTriggers,
}

/// Invokes an event handler as Lambda does: the payload JSON read as the handler's event type,
/// its answer written as JSON.
async fn invoke_json<E, H>(
    handler: &H,
    payload: serde_json::Value,
) -> Result<serde_json::Value, CrmError>
where
    E: serde::de::DeserializeOwned,
    H: api_kit::EventHandler<E>,
{
    let event: E = serde_json::from_value(payload)
        .map_err(|e| CrmError::Internal(format!("not the function's event: {e}")))?;
    let answer = handler.handle_event(event).await?;
    serde_json::to_value(answer).map_err(|e| CrmError::Internal(format!("unwritable answer: {e}")))
}

impl Functions {
    /// `environment(binary)` gives the resolved environment variables of the function whose
    /// cargo binary is `binary`.
    pub fn new(
        aws: &AwsClients,
        environment: impl Fn(&str) -> BTreeMap<String, String>,
    ) -> Result<Self, CrmError> {
        let deps = |binary: &str| -> Result<Deps, CrmError> {
            let env = environment(binary);
            Ok(Deps::new(
                Config::from_lookup(|k| env.get(k).cloned()),
                aws.clone(),
            ))
        };
        Ok(Self {
            contacts: ContactsApi::new(deps("contacts-api")?),
            clients: clients_api::ClientsApi::new(deps("clients-api")?),
            deals: deals_api::DealsApi::new(deps("deals-api")?),
            leads: leads_api::LeadsApi::new(deps("leads-api")?),
            activities: activities_api::ActivitiesApi::new(deps("activities-api")?),
            imports: ImportsApi::new(deps("imports-api")?),
            workflows: WorkflowsApi::new(deps("workflows-api")?),
            tenant: TenantApi::new(deps("tenant-api")?),
            custom_fields: custom_fields_api::CustomFieldsApi::new(deps("custom-fields-api")?),
            openapi: OpenApiHandler::default(),
            import_processor: ImportProcessor::new(deps("import-processor")?)?,
            step_executor: StepExecutor::new(deps("step-executor")?),
            job_worker: job_worker::JobWorker::new(deps("job-worker")?),
            attachment_processor: attachment_processor::AttachmentProcessor::new(deps(
                "attachment-processor",
            )?)?,
            messages: messages_api::MessagesApi::new(deps("messages-api")?),
            mail_events: mail_events::MailEvents::new(deps("mail-events")?),
            inbound_mail: inbound_mail::InboundMail::new(deps("inbound-mail")?)?,
            workflow_triggers: workflow_triggers::WorkflowTriggers::new(deps("workflow-triggers")?),
        })
    }

    /// Runs the HTTP handler of the function built from cargo binary `binary`.
    pub async fn invoke_http(&self, binary: &str, req: Request) -> Option<Response<Body>> {
        use api_kit::limits::serve;
        Some(match binary {
            "contacts-api" => serve(&self.contacts, req).await,
            "clients-api" => serve(&self.clients, req).await,
            "deals-api" => serve(&self.deals, req).await,
            "leads-api" => serve(&self.leads, req).await,
            "activities-api" => serve(&self.activities, req).await,
            "imports-api" => serve(&self.imports, req).await,
            "workflows-api" => serve(&self.workflows, req).await,
            "tenant-api" => serve(&self.tenant, req).await,
            "custom-fields-api" => serve(&self.custom_fields, req).await,
            "openapi-api" => serve(&self.openapi, req).await,
            "messages-api" => serve(&self.messages, req).await,
            _ => return None,
        })
    }

    /// Runs the S3-triggered function built from cargo binary `binary`.
    pub async fn invoke_s3(&self, binary: &str, event: S3Event) -> Option<Result<(), CrmError>> {
        Some(match binary {
            "import-processor" => self.import_processor.handle(event).await.map(|_| ()),
            "attachment-processor" => self.attachment_processor.handle(event).await.map(|_| ()),
            "inbound-mail" => self.inbound_mail.handle(event).await.map(|_| ()),
            _ => return None,
        })
    }

    /// Runs the function built from cargo binary `binary` with a JSON event, as Lambda invokes
    /// it for a DynamoDB stream batch or a schedule's input; its JSON answer.
    pub async fn invoke_event(
        &self,
        binary: &str,
        payload: serde_json::Value,
    ) -> Option<Result<serde_json::Value, CrmError>> {
        use aws_lambda_events::event::dynamodb::Event;
        use step_executor::StepExecutorEvent;
        Some(match binary {
            "workflow-triggers" => invoke_json::<Event, _>(&self.workflow_triggers, payload).await,
            "step-executor" => {
                invoke_json::<StepExecutorEvent, _>(&self.step_executor, payload).await
            }
            _ => return None,
        })
    }

    /// Runs the SQS-triggered function built from cargo binary `binary`.
    pub async fn invoke_sqs(&self, binary: &str, event: SqsEvent) -> Option<SqsBatchResponse> {
        Some(match binary {
            "step-executor" => self.step_executor.handle(event).await,
            "job-worker" => self.job_worker.handle(event).await,
            "mail-events" => self.mail_events.handle(event).await,
            "import-processor" => self.import_processor.handle_chunks(event).await,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14 item 7: wiring a function builds no SDK client (a client's HTTP connector and
    /// TLS roots cost milliseconds of cold start); each is built by the first request that uses
    /// it.
    #[test]
    fn building_every_function_builds_no_sdk_client() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-central-1"))
            .build();
        let aws = AwsClients::from_sdk_config(&sdk);
        let environment = |_: &str| -> BTreeMap<String, String> {
            [
                ("TABLE_NAME", "crm"),
                ("IMPORTS_BUCKET", "imports"),
                (
                    "STEP_QUEUE_URL",
                    "https://sqs.eu-central-1.amazonaws.com/1/steps",
                ),
                ("STEP_QUEUE_ARN", "arn:aws:sqs:eu-central-1:1:steps"),
                ("SCHEDULE_GROUP", "crm"),
                ("SCHEDULER_ROLE_ARN", "arn:aws:iam::1:role/scheduler"),
                ("SES_SENDER", "crm@example.com"),
                (
                    "JOB_QUEUE_URL",
                    "https://sqs.eu-central-1.amazonaws.com/1/jobs",
                ),
                ("ATTACHMENTS_BUCKET", "attachments"),
                (
                    "IMPORT_QUEUE_URL",
                    "https://sqs.eu-central-1.amazonaws.com/1/imports",
                ),
                ("SES_CONFIGURATION_SET", "crm"),
                ("UNSUBSCRIBE_SECRET", "0123456789abcdef0123456789abcdef"),
                ("PUBLIC_API_URL", "https://api.example.com"),
                ("INBOX_BUCKET", "inbox"),
                ("INBOUND_DOMAIN", "in.example.com"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        };
        let _functions = Functions::new(&aws, environment).expect("every function builds");
        let built = [
            ("dynamodb", aws.dynamodb.is_built()),
            ("s3", aws.s3.is_built()),
            ("sqs", aws.sqs.is_built()),
            ("sesv2", aws.sesv2.is_built()),
            ("scheduler", aws.scheduler.is_built()),
        ];
        assert!(built.iter().all(|(_, b)| !b), "{built:?}");
    }
}
