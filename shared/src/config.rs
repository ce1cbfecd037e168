//! Names of the AWS resources a function talks to. In Lambda they come from the environment the
//! template sets; the local runtime resolves the same template entries to local resources.
//!
//! Every variable is optional here: a function needs only the ones its handlers use (the
//! README's "Cold start" section lists them per function), so a variable is required where it
//! is used — the accessors below — and not of every function. The handlers take what they use
//! in their constructors, so a function missing one still fails its init, naming the variable.

#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `TABLE_NAME`: the table (every function but `openapi-api`).
    pub table_name: Option<String>,
    /// `IMPORTS_BUCKET`: import uploads and export files.
    pub imports_bucket: Option<String>,
    /// `STEP_QUEUE_URL` / `STEP_QUEUE_ARN`: the workflow step queue.
    pub step_queue_url: Option<String>,
    pub step_queue_arn: Option<String>,
    /// `SCHEDULE_GROUP` / `SCHEDULER_ROLE_ARN`: workflow waits' schedules.
    pub schedule_group: Option<String>,
    pub scheduler_role_arn: Option<String>,
    /// `SES_SENDER`: the address mail is sent from.
    pub ses_sender: Option<String>,
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
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the config from any name → value lookup (the environment, or a resolved template).
    /// An empty value counts as absent.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        Self {
            table_name: get("TABLE_NAME"),
            imports_bucket: get("IMPORTS_BUCKET"),
            step_queue_url: get("STEP_QUEUE_URL"),
            step_queue_arn: get("STEP_QUEUE_ARN"),
            schedule_group: get("SCHEDULE_GROUP"),
            scheduler_role_arn: get("SCHEDULER_ROLE_ARN"),
            ses_sender: get("SES_SENDER"),
            job_queue_url: get("JOB_QUEUE_URL"),
            attachments_bucket: get("ATTACHMENTS_BUCKET"),
            import_queue_url: get("IMPORT_QUEUE_URL"),
            ses_configuration_set: get("SES_CONFIGURATION_SET"),
            unsubscribe_secret: get("UNSUBSCRIBE_SECRET"),
            public_api_url: get("PUBLIC_API_URL"),
            inbox_bucket: get("INBOX_BUCKET"),
            inbound_domain: get("INBOUND_DOMAIN"),
        }
    }

    pub fn table_name(&self) -> &str {
        required(&self.table_name, "TABLE_NAME")
    }

    pub fn imports_bucket(&self) -> &str {
        required(&self.imports_bucket, "IMPORTS_BUCKET")
    }

    pub fn step_queue_url(&self) -> &str {
        required(&self.step_queue_url, "STEP_QUEUE_URL")
    }

    pub fn step_queue_arn(&self) -> &str {
        required(&self.step_queue_arn, "STEP_QUEUE_ARN")
    }

    pub fn schedule_group(&self) -> &str {
        required(&self.schedule_group, "SCHEDULE_GROUP")
    }

    pub fn scheduler_role_arn(&self) -> &str {
        required(&self.scheduler_role_arn, "SCHEDULER_ROLE_ARN")
    }

    pub fn ses_sender(&self) -> &str {
        required(&self.ses_sender, "SES_SENDER")
    }
}

/// A variable the function uses. Absent, the function is deployed without what it needs: it
/// stops (at init, where the handlers take their resources) rather than run half-configured.
fn required<'a>(value: &'a Option<String>, name: &str) -> &'a str {
    value.as_deref().unwrap_or_else(|| {
        panic!("missing configuration {name}: this function uses it (set it in template.yaml)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_needs_only_the_variables_it_uses() {
        let config = Config::from_lookup(|name| (name == "TABLE_NAME").then(|| "crm".to_string()));
        assert_eq!(config.table_name(), "crm");
        assert_eq!(config.ses_sender, None);
        let missing = std::panic::catch_unwind(|| config.ses_sender().to_string());
        assert!(missing.is_err());
    }

    #[test]
    fn an_empty_variable_is_absent() {
        let config = Config::from_lookup(|_| Some(String::new()));
        assert_eq!(config.table_name, None);
        assert_eq!(config.job_queue_url, None);
    }
}
