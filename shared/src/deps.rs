//! Wiring: the configuration and AWS clients a function builds once per cold start, and the
//! adapters of the core's ports made from them (the table, the uploads bucket, the workflow
//! effects). Only functions use this; the core takes the ports.

use crate::{Config, CrmError};
use std::sync::Arc;

pub mod sdk_env;

/// A client built the first time it is used (a function builds only the clients it uses).
pub type Lazy<T> = std::sync::LazyLock<T, Box<dyn FnOnce() -> T + Send>>;

/// `Lazy::new` for a closure.
pub fn lazy<T>(build: impl FnOnce() -> T + Send + 'static) -> Lazy<T> {
    Lazy::new(Box::new(build))
}

/// The SDK clients, each built on first use from one shared `SdkConfig` (a field derefs to its
/// client: `aws.dynamodb.query()`). Cheap to clone (one `Arc`); clones share the built clients.
#[derive(Clone, Debug)]
pub struct AwsClients(Arc<Clients>);

#[derive(Debug)]
pub struct Clients {
    pub dynamodb: Lazy<aws_sdk_dynamodb::Client>,
    pub s3: Lazy<aws_sdk_s3::Client>,
    pub sqs: Lazy<aws_sdk_sqs::Client>,
    pub sesv2: Lazy<aws_sdk_sesv2::Client>,
    pub scheduler: Lazy<aws_sdk_scheduler::Client>,
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
    /// Every client, none built yet.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        // Path-style addressing works with AWS and with every S3-compatible endpoint.
        let force_path_style = std::env::var("S3_FORCE_PATH_STYLE").is_ok_and(|v| v == "true");
        let (d, s, q, e, c) = (
            sdk.clone(),
            sdk.clone(),
            sdk.clone(),
            sdk.clone(),
            sdk.clone(),
        );
        Self {
            dynamodb: lazy(move || crate::telemetry::xray::traced_dynamodb(&d)),
            s3: lazy(move || {
                aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&s)
                        .force_path_style(force_path_style)
                        .build(),
                )
            }),
            sqs: lazy(move || aws_sdk_sqs::Client::new(&q)),
            sesv2: lazy(move || aws_sdk_sesv2::Client::new(&e)),
            scheduler: lazy(move || aws_sdk_scheduler::Client::new(&c)),
        }
    }
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
}

impl std::ops::Deref for Deps {
    type Target = DepsInner;
    fn deref(&self) -> &DepsInner {
        &self.0
    }
}

impl Deps {
    pub fn new(config: Config, aws: AwsClients) -> Self {
        Self(Arc::new(DepsInner { config, aws }))
    }

    /// The Lambda cold-start path: configuration from the environment, clients built on first
    /// use.
    pub async fn from_env() -> Result<Self, CrmError> {
        Ok(Self::new(Config::from_env(), AwsClients::from_env().await))
    }

    /// The table, through the storage port.
    pub fn table(&self) -> crate::store::Table {
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
