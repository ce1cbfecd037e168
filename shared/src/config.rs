//! Names of the AWS resources a function talks to. In Lambda they come from the environment the
//! template sets; the local runtime resolves the same template entries to local resources.

use crate::CrmError;

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub imports_bucket: String,
    pub step_queue_url: String,
    pub step_queue_arn: String,
    pub schedule_group: String,
    pub scheduler_role_arn: String,
    pub ses_sender: String,
    /// The job queue (functions that start or run jobs).
    pub job_queue_url: Option<String>,
    /// The deal attachments bucket (functions that handle attachments).
    pub attachments_bucket: Option<String>,
    /// The queue an import's chunks run from (the import processor).
    pub import_queue_url: Option<String>,
    /// The SES configuration set outbound mail is sent in (its events feed `mail-events`).
    pub ses_configuration_set: Option<String>,
    /// The secret unsubscribe tokens are signed with (functions that send bulk mail or serve
    /// the unsubscribe link; at least 32 bytes).
    pub unsubscribe_secret: Option<String>,
    /// The HTTP API's public URL (`https://…`), for links in mail.
    pub public_api_url: Option<String>,
    /// The bucket SES stores inbound mail in (the inbound mail function).
    pub inbox_bucket: Option<String>,
    /// Inbound mail arrives at `in.<inbound_domain>` (S6.4).
    pub inbound_domain: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, CrmError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the config from any name → value lookup (the environment, or a resolved template).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, CrmError> {
        let get = |name: &str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| CrmError::Internal(format!("missing configuration {name}")))
        };
        Ok(Self {
            table_name: get("TABLE_NAME")?,
            imports_bucket: get("IMPORTS_BUCKET")?,
            step_queue_url: get("STEP_QUEUE_URL")?,
            step_queue_arn: get("STEP_QUEUE_ARN")?,
            schedule_group: get("SCHEDULE_GROUP")?,
            scheduler_role_arn: get("SCHEDULER_ROLE_ARN")?,
            ses_sender: get("SES_SENDER")?,
            job_queue_url: lookup("JOB_QUEUE_URL").filter(|v| !v.is_empty()),
            attachments_bucket: lookup("ATTACHMENTS_BUCKET").filter(|v| !v.is_empty()),
            import_queue_url: lookup("IMPORT_QUEUE_URL").filter(|v| !v.is_empty()),
            ses_configuration_set: lookup("SES_CONFIGURATION_SET").filter(|v| !v.is_empty()),
            unsubscribe_secret: lookup("UNSUBSCRIBE_SECRET").filter(|v| !v.is_empty()),
            public_api_url: lookup("PUBLIC_API_URL").filter(|v| !v.is_empty()),
            inbox_bucket: lookup("INBOX_BUCKET").filter(|v| !v.is_empty()),
            inbound_domain: lookup("INBOUND_DOMAIN").filter(|v| !v.is_empty()),
        })
    }
}
