//! Wiring: the configuration and AWS clients a function builds once per cold start, and the
//! adapters of the core's ports made from them (the table, the uploads bucket, the workflow
//! effects). Only functions use this; the core takes the ports.

use crate::{Config, CrmError};
use std::sync::Arc;

pub mod sdk_env;

pub use crate::sdk_client::{Lazy, SdkClient, lazy};

/// The SDK clients, each built on first use from one shared `SdkConfig` (a field derefs to its
/// client: `aws.dynamodb.query()`). Cheap to clone (one `Arc`); clones share the built clients.
#[derive(Clone, Debug)]
pub struct AwsClients(Arc<Clients>);

#[derive(Debug)]
pub struct Clients {
    pub dynamodb: SdkClient<aws_sdk_dynamodb::Client>,
    pub s3: SdkClient<aws_sdk_s3::Client>,
    pub sqs: SdkClient<aws_sdk_sqs::Client>,
    pub sesv2: SdkClient<aws_sdk_sesv2::Client>,
    pub scheduler: SdkClient<aws_sdk_scheduler::Client>,
}

impl std::ops::Deref for AwsClients {
    type Target = Clients;
    fn deref(&self) -> &Clients {
        &self.0
    }
}

impl From<Clients> for AwsClients {
    fn from(clients: Clients) -> Self {
        Self(Arc::new(clients))
    }
}

impl Clients {
    /// Every client, none built yet, each with its retries and timeouts (`aws_policy`).
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        Self::with_retry_quota(sdk, None)
    }

    /// As [`Clients::from_sdk_config`]; `quota` names a retry quota of these clients' own. The
    /// SDK's retry quota is a token bucket per process and service, which on AWS every Lambda
    /// instance has to itself; several stacks in one process (the tests) each name their own.
    pub fn with_retry_quota(sdk: &aws_config::SdkConfig, quota: Option<&str>) -> Self {
        /// A client from its `aws_policy` builder, with the retry quota `quota` names.
        macro_rules! client {
            ($sdk_crate:ident, $policy:path, $service:literal) => {{
                let (sdk, partition) = (sdk.clone(), partition($service, quota));
                SdkClient::lazy(move || {
                    let mut b = $policy(&sdk);
                    if let Some(p) = partition {
                        b = b.retry_partition(p);
                    }
                    $sdk_crate::Client::from_conf(b.build())
                })
            }};
        }
        let (d, s) = (
            (sdk.clone(), quota.map(str::to_string)),
            (sdk.clone(), quota.map(str::to_string)),
        );
        Self {
            dynamodb: SdkClient::lazy(move || {
                aws_sdk_dynamodb::Client::from_conf(dynamodb_config(&d.0, d.1.as_deref()).build())
            }),
            s3: SdkClient::lazy(move || {
                aws_sdk_s3::Client::from_conf(s3_config(&s.0, s.1.as_deref()).build())
            }),
            sqs: client!(aws_sdk_sqs, crate::aws_policy::sqs, "sqs"),
            sesv2: client!(aws_sdk_sesv2, crate::aws_policy::sesv2, "sesv2"),
            scheduler: client!(aws_sdk_scheduler, crate::aws_policy::scheduler, "scheduler"),
        }
    }
}

/// A retry quota of its own for `service` when `quota` names one.
fn partition(
    service: &str,
    quota: Option<&str>,
) -> Option<aws_sdk_dynamodb::config::retry::RetryPartition> {
    quota.map(|q| aws_sdk_dynamodb::config::retry::RetryPartition::new(format!("{service}-{q}")))
}

/// The DynamoDB client's configuration: retries and timeouts (`aws_policy`), X-Ray subsegments
/// per call (`telemetry::xray`), and the retry quota `quota` names.
pub fn dynamodb_config(
    sdk: &aws_config::SdkConfig,
    quota: Option<&str>,
) -> aws_sdk_dynamodb::config::Builder {
    let mut b =
        crate::aws_policy::dynamodb(sdk).interceptor(crate::telemetry::xray::DynamoDbSubsegments);
    if let Some(p) = partition("dynamodb", quota) {
        b = b.retry_partition(p);
    }
    b
}

/// The S3 client's configuration: retries and timeouts (`aws_policy`), path-style addressing
/// when `S3_FORCE_PATH_STYLE=true` (it works with AWS and with every S3-compatible endpoint), and
/// the retry quota `quota` names.
pub fn s3_config(sdk: &aws_config::SdkConfig, quota: Option<&str>) -> aws_sdk_s3::config::Builder {
    let force_path_style = std::env::var("S3_FORCE_PATH_STYLE").is_ok_and(|v| v == "true");
    let mut b = crate::aws_policy::s3(sdk).force_path_style(force_path_style);
    if let Some(p) = partition("s3", quota) {
        b = b.retry_partition(p);
    }
    b
}

impl AwsClients {
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        Clients::from_sdk_config(sdk).into()
    }

    /// The Lambda cold-start path (see [`sdk_env`]).
    pub async fn from_env() -> Self {
        Self::from_sdk_config(&sdk_env::sdk_config().await)
    }
}

/// Configuration plus clients. Cheap to clone (one `Arc`).
#[derive(Clone, Debug)]
pub struct Deps(Arc<DepsInner>);

#[derive(Debug)]
pub struct DepsInner {
    pub config: Config,
    pub aws: AwsClients,
    /// A table in place of the configured DynamoDB one ([`Deps::with_table`]).
    table: Option<crate::store::Table>,
}

impl std::ops::Deref for Deps {
    type Target = DepsInner;
    fn deref(&self) -> &DepsInner {
        &self.0
    }
}

impl Deps {
    pub fn new(config: Config, aws: AwsClients) -> Self {
        Self(Arc::new(DepsInner {
            config,
            aws,
            table: None,
        }))
    }

    /// Dependencies whose table is `table` (e.g. [`crate::store::Table::in_memory`]: a
    /// handler's own cost measured without DynamoDB or an emulator in the path); the AWS clients
    /// serve everything else.
    pub fn with_table(config: Config, aws: AwsClients, table: crate::store::Table) -> Self {
        Self(Arc::new(DepsInner {
            config,
            aws,
            table: Some(table),
        }))
    }

    /// The Lambda cold-start path: configuration from the environment, clients built on first
    /// use.
    pub async fn from_env() -> Result<Self, CrmError> {
        Ok(Self::new(Config::from_env(), AwsClients::from_env().await))
    }

    /// The table, through the storage port.
    pub fn table(&self) -> crate::store::Table {
        if let Some(table) = &self.table {
            return table.clone();
        }
        crate::store::Table::new(crate::store::dynamo::DynamoItemStore::new(
            self.aws.dynamodb.clone(),
            self.config.table_name().to_string(),
        ))
    }

    /// Jobs, sent on the job queue when the function has one.
    pub fn jobs(&self) -> crate::jobs::Jobs {
        let queue = self.config.job_queue_url.clone().map(|queue_url| {
            std::sync::Arc::new(crate::store::queue::SqsQueue {
                sqs: self.aws.sqs.clone(),
                queue_url,
            }) as std::sync::Arc<dyn crate::store::queue::MessageQueue>
        });
        crate::jobs::Jobs::new(self.table(), queue)
    }

    /// Where export files go: the imports bucket's `exports/` prefix.
    pub fn export_files(&self) -> crate::exports::S3ExportFiles {
        crate::exports::S3ExportFiles {
            client: self.aws.s3.clone(),
            bucket: self.config.imports_bucket().to_string(),
        }
    }

    /// The queue an import's chunks run from (functions configured with `IMPORT_QUEUE_URL`).
    pub fn import_queue(&self) -> Option<crate::store::queue::SqsQueue> {
        self.config
            .import_queue_url
            .clone()
            .map(|queue_url| crate::store::queue::SqsQueue {
                sqs: self.aws.sqs.clone(),
                queue_url,
            })
    }

    /// The deal attachments bucket (functions configured with `ATTACHMENTS_BUCKET`).
    pub fn attachment_files(&self) -> Option<crate::deals::attachments::S3AttachmentFiles> {
        self.config.attachments_bucket.clone().map(|bucket| {
            crate::deals::attachments::S3AttachmentFiles {
                client: self.aws.s3.clone(),
                bucket,
            }
        })
    }

    /// The inbox bucket's objects (functions configured with `INBOX_BUCKET`): stored inbound
    /// mail, which a contact's erasure deletes.
    pub fn inbox_objects(&self) -> Option<crate::inbox::S3MailObjects> {
        Some(crate::inbox::S3MailObjects {
            client: self.aws.s3.clone(),
            bucket: self.config.inbox_bucket.clone()?,
        })
    }

    /// Inbound mail (functions configured with `INBOX_BUCKET` and `INBOUND_DOMAIN`).
    pub fn inbox(&self) -> Option<crate::inbox::Inbox> {
        let bucket = self.config.inbox_bucket.clone()?;
        let domain = self.config.inbound_domain.as_deref()?;
        let files = crate::inbox::S3MailObjects {
            client: self.aws.s3.clone(),
            bucket,
        };
        let inbox = crate::inbox::Inbox::new(
            self.catalog(),
            std::sync::Arc::new(files),
            crate::inbox::MailDomain::for_inbound_domain(domain),
        );
        Some(inbox.with_leads(self.leads()))
    }

    /// Every kind's use cases over the table.
    pub fn catalog(&self) -> crate::catalog::Catalog {
        crate::catalog::Catalog::new(self.table())
    }

    /// Lead creation with its notifications, mailing through SES from the stack's sender.
    pub fn leads(&self) -> crate::leads::Leads {
        let mailer = crate::leads::mail::SesMailer {
            sesv2: self.aws.sesv2.clone(),
            sender: self.config.ses_sender().to_string(),
        };
        crate::leads::Leads::new(self.catalog(), Some(Arc::new(mailer)))
    }

    /// The imports bucket.
    pub fn uploads(&self) -> crate::imports::S3Uploads {
        crate::imports::S3Uploads {
            client: self.aws.s3.clone(),
            bucket: self.config.imports_bucket().to_string(),
        }
    }

    /// The side effects of workflow steps: SQS, EventBridge Scheduler, SES.
    pub fn step_effects(&self) -> crate::workflows::AwsEffects {
        crate::workflows::AwsEffects {
            sqs: self.aws.sqs.clone(),
            scheduler: self.aws.scheduler.clone(),
            mailer: self.mailer(),
            mail: self.mail_settings(),
            step_queue_url: self.config.step_queue_url().to_string(),
            step_queue_arn: self.config.step_queue_arn().to_string(),
            scheduler_role_arn: self.config.scheduler_role_arn().to_string(),
            schedule_group: self.config.schedule_group().to_string(),
        }
    }

    /// SES v2 from the stack's sender, in its configuration set.
    pub fn mailer(&self) -> crate::email::SesMailer {
        crate::email::SesMailer {
            sesv2: self.aws.sesv2.clone(),
            sender: self.config.ses_sender().to_string(),
            configuration_set: self.config.ses_configuration_set.clone(),
        }
    }

    /// The sender, the unsubscribe signer (when the function has the secret) and the API URL.
    pub fn mail_settings(&self) -> crate::email::MailSettings {
        crate::email::MailSettings {
            sender: self.config.ses_sender().to_string(),
            unsubscribe: self
                .config
                .unsubscribe_secret
                .as_deref()
                .and_then(crate::email::unsubscribe::TokenSigner::new),
            public_url: self.config.public_api_url.clone(),
        }
    }
}
