//! Creates the local stack on the local AWS endpoint (moto) from `template.yaml`: the DynamoDB
//! table(s), SQS queues (DLQs first), S3 bucket(s) with their notifications, schedule group(s)
//! and the SES sender identity. Nothing here is hand-written per resource name: what the
//! template declares is what gets created, so local and cloud cannot drift.
//!
//! Physical names are `{prefix}-{LogicalId}` (buckets: `{prefix}-{logicalid}`, lower-cased), so
//! many isolated stacks share one moto server; explicit names in the template are ignored.
//! Provisioning is idempotent: running it again with the same prefix converges.

use crate::template::{FUNCTION_TYPE, HTTP_API_TYPE, Resolved, S3Trigger, Template, TemplateError};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use serde_yaml::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The SDK clients to provision with (the same struct the handlers use).
pub use crm_shared::AwsClients;

/// moto's default account.
pub const LOCAL_ACCOUNT_ID: &str = "123456789012";
/// The template parameter naming the SES sender identity.
pub const SES_SENDER_PARAMETER: &str = "SesSenderEmail";

pub const TABLE_TYPE: &str = "AWS::DynamoDB::Table";
pub const QUEUE_TYPE: &str = "AWS::SQS::Queue";
pub const BUCKET_TYPE: &str = "AWS::S3::Bucket";
pub const SCHEDULE_GROUP_TYPE: &str = "AWS::Scheduler::ScheduleGroup";
pub const ROLE_TYPE: &str = "AWS::IAM::Role";

#[derive(Debug, Clone)]
pub struct Provisioned {
    pub resolved: Resolved,
    /// URL of the emulation-only queue that receives the bucket's S3 notifications (moto can't
    /// invoke Lambda).
    pub s3_events_queue_url: String,
    pub region: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("{resource}: {operation} failed: {detail}")]
    Aws {
        resource: String,
        operation: &'static str,
        detail: String,
    },
    #[error("{resource}: {source}")]
    Template {
        resource: String,
        source: TemplateError,
    },
    #[error("{resource}: {message}")]
    Invalid { resource: String, message: String },
}

fn aws_error<'a, E: std::error::Error>(
    resource: &'a str,
    operation: &'static str,
) -> impl FnOnce(E) -> ProvisionError + 'a {
    move |e| ProvisionError::Aws {
        resource: resource.to_string(),
        operation,
        detail: DisplayErrorContext(&e).to_string(),
    }
}

fn template_error(resource: &str) -> impl FnOnce(TemplateError) -> ProvisionError + '_ {
    move |source| ProvisionError::Template {
        resource: resource.to_string(),
        source,
    }
}

fn invalid(resource: &str, message: impl Into<String>) -> ProvisionError {
    ProvisionError::Invalid {
        resource: resource.to_string(),
        message: message.into(),
    }
}

/// `{prefix}-{LogicalId}`.
pub fn physical_name(prefix: &str, logical_id: &str) -> String {
    format!("{prefix}-{logical_id}")
}

/// `{prefix}-{logicalid}` as a valid S3 bucket name: lower case, `[a-z0-9-]`, at most 63.
pub fn bucket_name(prefix: &str, logical_id: &str) -> String {
    let raw = format!("{prefix}-{logical_id}").to_lowercase();
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(63);
    let name = name
        .trim_matches(|c: char| c == '-' || c == '.')
        .to_string();
    if name.len() < 3 {
        format!("{name}-bucket")
    } else {
        name
    }
}

fn is_valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !name.starts_with(['-', '.'])
        && !name.ends_with(['-', '.'])
}

/// The emulation queue receiving every bucket notification.
pub fn s3_events_queue_name(prefix: &str) -> String {
    format!("{prefix}-s3-events")
}

pub async fn provision(
    template: &Template,
    clients: &AwsClients,
    prefix: &str,
    region: &str,
    parameter_overrides: &HashMap<String, String>,
) -> Result<Provisioned, ProvisionError> {
    let mut resolved = Resolved::default();
    for (name, value) in [
        ("AWS::Region", region.to_string()),
        ("AWS::AccountId", LOCAL_ACCOUNT_ID.to_string()),
        ("AWS::Partition", "aws".to_string()),
        ("AWS::URLSuffix", "amazonaws.com".to_string()),
        ("AWS::StackName", prefix.to_string()),
        (
            "AWS::StackId",
            format!("arn:aws:cloudformation:{region}:{LOCAL_ACCOUNT_ID}:stack/{prefix}/local"),
        ),
    ] {
        resolved.pseudo.insert(name.to_string(), value);
    }
    for name in template.parameter_names() {
        if let Some(value) = parameter_overrides
            .get(&name)
            .cloned()
            .or_else(|| template.parameter_default(&name))
        {
            resolved.refs.insert(name, value);
        }
    }
    for (name, value) in parameter_overrides {
        resolved
            .refs
            .entry(name.clone())
            .or_insert_with(|| value.clone());
    }

    // Resources nothing is created for: only what they resolve to.
    for (id, ty) in template.resource_types() {
        match ty.as_str() {
            HTTP_API_TYPE => {
                resolved.refs.insert(id.clone(), "local".into());
            }
            ROLE_TYPE => {
                let name = physical_name(prefix, &id);
                resolved.arns.insert(
                    id.clone(),
                    format!("arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/{name}"),
                );
                resolved.refs.insert(id, name);
            }
            FUNCTION_TYPE => {
                let name = physical_name(prefix, &id);
                resolved.arns.insert(
                    id.clone(),
                    format!("arn:aws:lambda:{region}:{LOCAL_ACCOUNT_ID}:function:{name}"),
                );
                resolved.refs.insert(id, name);
            }
            TABLE_TYPE | QUEUE_TYPE | BUCKET_TYPE | SCHEDULE_GROUP_TYPE => {}
            other => {
                tracing::debug!(resource = %id, r#type = other, "not emulated locally; only its name resolves");
                resolved.refs.insert(id.clone(), physical_name(prefix, &id));
            }
        }
    }

    for (id, props) in template.resources_of_type(TABLE_TYPE) {
        provision_table(clients, &mut resolved, prefix, &id, &props).await?;
    }
    provision_queues(template, clients, &mut resolved, prefix).await?;

    let s3_events_id = "S3EventsEmulationQueue";
    let (s3_events_queue_url, s3_events_queue_arn) = ensure_queue(
        clients,
        s3_events_id,
        &s3_events_queue_name(prefix),
        HashMap::new(),
    )
    .await?;

    let triggers = template.s3_triggers();
    let buckets = template.resources_of_type(BUCKET_TYPE);
    for trigger in &triggers {
        if !buckets.iter().any(|(id, _)| *id == trigger.bucket) {
            return Err(invalid(
                &trigger.function,
                format!(
                    "S3 event on {}, which is not an AWS::S3::Bucket of the template",
                    trigger.bucket
                ),
            ));
        }
    }
    for (id, props) in &buckets {
        // An explicit BucketName is honoured (it derives from the stack name = the prefix, so
        // each stack still gets its own bucket); otherwise `{prefix}-{logicalid}`.
        let name = match props.get("BucketName") {
            Some(v) => resolved.resolve(v).map_err(template_error(id))?,
            None => bucket_name(prefix, id),
        };
        if !is_valid_bucket_name(&name) {
            return Err(invalid(
                id,
                format!(
                    "{name:?} is not a valid bucket name (lower-case letters, digits, '-', 3-63 characters)"
                ),
            ));
        }
        create_bucket(clients, id, &name, region).await?;
        let bucket_triggers: Vec<&S3Trigger> =
            triggers.iter().filter(|t| t.bucket == *id).collect();
        if !bucket_triggers.is_empty() {
            notify_queue(clients, id, &name, &bucket_triggers, &s3_events_queue_arn).await?;
        }
        resolved
            .arns
            .insert(id.clone(), format!("arn:aws:s3:::{name}"));
        resolved.arns.insert(
            format!("{id}.DomainName"),
            format!("{name}.s3.amazonaws.com"),
        );
        resolved.arns.insert(
            format!("{id}.RegionalDomainName"),
            format!("{name}.s3.{region}.amazonaws.com"),
        );
        resolved.refs.insert(id.clone(), name);
    }

    for (id, _) in template.resources_of_type(SCHEDULE_GROUP_TYPE) {
        let name = physical_name(prefix, &id);
        let arn = ensure_schedule_group(clients, &id, &name).await?;
        resolved.arns.insert(id.clone(), arn);
        resolved.refs.insert(id, name);
    }

    if let Some(sender) = resolved
        .refs
        .get(SES_SENDER_PARAMETER)
        .filter(|s| !s.is_empty())
        .cloned()
    {
        let created = clients
            .sesv2
            .create_email_identity()
            .email_identity(&sender)
            .send()
            .await;
        if let Err(e) = created {
            let exists = e
                .as_service_error()
                .is_some_and(|s| s.is_already_exists_exception());
            if !exists {
                return Err(aws_error(SES_SENDER_PARAMETER, "CreateEmailIdentity")(e));
            }
        }
    }

    Ok(Provisioned {
        resolved,
        s3_events_queue_url,
        region: region.to_string(),
    })
}

// ----- DynamoDB ------------------------------------------------------------------------------

fn string_prop(
    resolved: &Resolved,
    id: &str,
    v: Option<&Value>,
    what: &str,
) -> Result<String, ProvisionError> {
    let v = v.ok_or_else(|| invalid(id, format!("{what} is missing")))?;
    resolved.resolve(v).map_err(template_error(id))
}

fn seq(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Sequence(s)) => s,
        _ => &[],
    }
}

fn key_schema(
    resolved: &Resolved,
    id: &str,
    v: Option<&Value>,
) -> Result<Vec<aws_sdk_dynamodb::types::KeySchemaElement>, ProvisionError> {
    use aws_sdk_dynamodb::types::{KeySchemaElement, KeyType};
    seq(v)
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(string_prop(
                    resolved,
                    id,
                    k.get("AttributeName"),
                    "KeySchema.AttributeName",
                )?)
                .key_type(KeyType::from(
                    string_prop(resolved, id, k.get("KeyType"), "KeySchema.KeyType")?.as_str(),
                ))
                .build()
                .map_err(|e| invalid(id, e.to_string()))
        })
        .collect()
}

fn projection(
    resolved: &Resolved,
    id: &str,
    v: Option<&Value>,
) -> Result<aws_sdk_dynamodb::types::Projection, ProvisionError> {
    use aws_sdk_dynamodb::types::{Projection, ProjectionType};
    let mut p = Projection::builder();
    if let Some(v) = v {
        if let Some(t) = v.get("ProjectionType") {
            p = p.projection_type(ProjectionType::from(
                resolved.resolve(t).map_err(template_error(id))?.as_str(),
            ));
        }
        for a in seq(v.get("NonKeyAttributes")) {
            p = p.non_key_attributes(resolved.resolve(a).map_err(template_error(id))?);
        }
    } else {
        p = p.projection_type(ProjectionType::All);
    }
    Ok(p.build())
}

fn throughput(
    resolved: &Resolved,
    id: &str,
    v: Option<&Value>,
) -> Result<aws_sdk_dynamodb::types::ProvisionedThroughput, ProvisionError> {
    let units = |key: &str| -> Result<i64, ProvisionError> {
        match v.and_then(|v| v.get(key)) {
            Some(u) => resolved
                .resolve(u)
                .map_err(template_error(id))?
                .parse()
                .map_err(|_| invalid(id, format!("{key} is not a number"))),
            None => Ok(5),
        }
    };
    aws_sdk_dynamodb::types::ProvisionedThroughput::builder()
        .read_capacity_units(units("ReadCapacityUnits")?)
        .write_capacity_units(units("WriteCapacityUnits")?)
        .build()
        .map_err(|e| invalid(id, e.to_string()))
}

async fn provision_table(
    clients: &AwsClients,
    resolved: &mut Resolved,
    prefix: &str,
    id: &str,
    props: &Value,
) -> Result<(), ProvisionError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, LocalSecondaryIndex,
        ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
        TimeToLiveSpecification, TimeToLiveStatus,
    };
    let ddb = &clients.dynamodb;
    let name = physical_name(prefix, id);

    let existing = match ddb.describe_table().table_name(&name).send().await {
        Ok(out) => out.table,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            None
        }
        Err(e) => return Err(aws_error(id, "DescribeTable")(e)),
    };
    if existing.is_none() {
        let billing = match props.get("BillingMode") {
            Some(b) => resolved.resolve(b).map_err(template_error(id))?,
            None => "PROVISIONED".into(),
        };
        let provisioned_billing = billing != "PAY_PER_REQUEST";
        let mut create = ddb
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::from(billing.as_str()))
            .set_key_schema(Some(key_schema(resolved, id, props.get("KeySchema"))?));
        for a in seq(props.get("AttributeDefinitions")) {
            create = create.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(string_prop(
                        resolved,
                        id,
                        a.get("AttributeName"),
                        "AttributeDefinitions.AttributeName",
                    )?)
                    .attribute_type(ScalarAttributeType::from(
                        string_prop(
                            resolved,
                            id,
                            a.get("AttributeType"),
                            "AttributeDefinitions.AttributeType",
                        )?
                        .as_str(),
                    ))
                    .build()
                    .map_err(|e| invalid(id, e.to_string()))?,
            );
        }
        if provisioned_billing {
            create = create.provisioned_throughput(throughput(
                resolved,
                id,
                props.get("ProvisionedThroughput"),
            )?);
        }
        for g in seq(props.get("GlobalSecondaryIndexes")) {
            let mut index = GlobalSecondaryIndex::builder()
                .index_name(string_prop(
                    resolved,
                    id,
                    g.get("IndexName"),
                    "GlobalSecondaryIndexes.IndexName",
                )?)
                .set_key_schema(Some(key_schema(resolved, id, g.get("KeySchema"))?))
                .projection(projection(resolved, id, g.get("Projection"))?);
            if provisioned_billing {
                index = index.provisioned_throughput(throughput(
                    resolved,
                    id,
                    g.get("ProvisionedThroughput"),
                )?);
            }
            create = create
                .global_secondary_indexes(index.build().map_err(|e| invalid(id, e.to_string()))?);
        }
        for l in seq(props.get("LocalSecondaryIndexes")) {
            let index = LocalSecondaryIndex::builder()
                .index_name(string_prop(
                    resolved,
                    id,
                    l.get("IndexName"),
                    "LocalSecondaryIndexes.IndexName",
                )?)
                .set_key_schema(Some(key_schema(resolved, id, l.get("KeySchema"))?))
                .projection(projection(resolved, id, l.get("Projection"))?)
                .build()
                .map_err(|e| invalid(id, e.to_string()))?;
            create = create.local_secondary_indexes(index);
        }
        if let Some(view) = props
            .get("StreamSpecification")
            .and_then(|s| s.get("StreamViewType"))
        {
            let view = resolved.resolve(view).map_err(template_error(id))?;
            create = create.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(view.as_str()))
                    .build()
                    .map_err(|e| invalid(id, e.to_string()))?,
            );
        }
        match create.send().await {
            Ok(_) => tracing::info!(table = %name, "created table"),
            // Created concurrently by another provisioner with the same prefix.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) => {}
            Err(e) => return Err(aws_error(id, "CreateTable")(e)),
        }
    }

    // moto creates tables ACTIVE; AWS-compatible endpoints may take a moment.
    let mut table = None;
    for _ in 0..50 {
        let t = ddb
            .describe_table()
            .table_name(&name)
            .send()
            .await
            .map_err(aws_error(id, "DescribeTable"))?
            .table;
        let active = t.as_ref().and_then(|t| t.table_status.clone()) == Some(TableStatus::Active);
        table = t;
        if active {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let table = table.ok_or_else(|| invalid(id, "DescribeTable returned no table"))?;

    if let Some(ttl) = props.get("TimeToLiveSpecification") {
        let attribute = string_prop(
            resolved,
            id,
            ttl.get("AttributeName"),
            "TimeToLiveSpecification.AttributeName",
        )?;
        let enabled = match ttl.get("Enabled") {
            Some(e) => resolved.resolve(e).map_err(template_error(id))? == "true",
            None => true,
        };
        let current = ddb
            .describe_time_to_live()
            .table_name(&name)
            .send()
            .await
            .map_err(aws_error(id, "DescribeTimeToLive"))?
            .time_to_live_description;
        let status = current.as_ref().and_then(|d| d.time_to_live_status.clone());
        let current_attribute = current.as_ref().and_then(|d| d.attribute_name.clone());
        let is_enabled = matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        );
        let up_to_date = is_enabled && current_attribute.as_deref() == Some(attribute.as_str());
        if (enabled && !up_to_date) || (!enabled && is_enabled) {
            ddb.update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(&attribute)
                        .enabled(enabled)
                        .build()
                        .map_err(|e| invalid(id, e.to_string()))?,
                )
                .send()
                .await
                .map_err(aws_error(id, "UpdateTimeToLive"))?;
        }
    }

    if let Some(arn) = table.table_arn {
        resolved.arns.insert(id.to_string(), arn);
    }
    if let Some(stream) = table.latest_stream_arn {
        resolved.arns.insert(format!("{id}.StreamArn"), stream);
    }
    resolved.refs.insert(id.to_string(), name);
    Ok(())
}

// ----- SQS -----------------------------------------------------------------------------------

/// Logical ids a value references through `!Ref`, `!GetAtt` or `${...}` in `!Sub`.
fn references(v: &Value, out: &mut HashSet<String>) {
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            match (tag.trim_start_matches('!'), &t.value) {
                ("Ref", Value::String(s)) => {
                    out.insert(s.clone());
                }
                ("GetAtt", Value::String(s)) => {
                    out.insert(s.split('.').next().unwrap_or(s).to_string());
                }
                ("GetAtt", Value::Sequence(parts)) => {
                    if let Some(s) = parts.first().and_then(Value::as_str) {
                        out.insert(s.to_string());
                    }
                }
                ("Sub", value) => {
                    let text = match value {
                        Value::String(s) => Some(s.as_str()),
                        Value::Sequence(parts) => parts.first().and_then(Value::as_str),
                        _ => None,
                    };
                    let mut rest = text.unwrap_or("");
                    while let Some(start) = rest.find("${") {
                        let after = &rest[start + 2..];
                        let Some(end) = after.find('}') else { break };
                        let name = &after[..end];
                        out.insert(name.split('.').next().unwrap_or(name).to_string());
                        rest = &after[end + 1..];
                    }
                    references(value, out);
                }
                (_, value) => references(value, out),
            }
        }
        Value::Mapping(m) => {
            for (k, v) in m {
                match k.as_str() {
                    Some("Ref") => {
                        if let Some(s) = v.as_str() {
                            out.insert(s.to_string());
                        }
                    }
                    Some("Fn::GetAtt") => match v {
                        Value::String(s) => {
                            out.insert(s.split('.').next().unwrap_or(s).to_string());
                        }
                        Value::Sequence(parts) => {
                            if let Some(s) = parts.first().and_then(Value::as_str) {
                                out.insert(s.to_string());
                            }
                        }
                        _ => {}
                    },
                    _ => references(v, out),
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|i| references(i, out)),
        _ => {}
    }
}

/// A template value as JSON, intrinsics resolved (for `RedrivePolicy` and friends).
fn to_json(resolved: &Resolved, v: &Value) -> Result<serde_json::Value, TemplateError> {
    Ok(match v {
        Value::Mapping(m)
            if m.len() != 1
                || !m
                    .keys()
                    .next()
                    .and_then(Value::as_str)
                    .is_some_and(|k| k == "Ref" || k.starts_with("Fn::")) =>
        {
            let mut object = serde_json::Map::new();
            for (k, v) in m {
                let k = k
                    .as_str()
                    .ok_or_else(|| TemplateError::Invalid(format!("non-string key {k:?}")))?;
                object.insert(k.to_string(), to_json(resolved, v)?);
            }
            serde_json::Value::Object(object)
        }
        Value::Sequence(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|i| to_json(resolved, i))
                .collect::<Result<_, _>>()?,
        ),
        Value::Number(n) => {
            serde_json::to_value(n).map_err(|e| TemplateError::Invalid(e.to_string()))?
        }
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Null => serde_json::Value::Null,
        other => serde_json::Value::String(resolved.resolve(other)?),
    })
}

/// The CreateQueue attributes of a queue's template properties.
fn queue_attributes(
    resolved: &Resolved,
    id: &str,
    props: &Value,
) -> Result<HashMap<aws_sdk_sqs::types::QueueAttributeName, String>, ProvisionError> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let mut attributes = HashMap::new();
    for (key, attribute) in [
        ("VisibilityTimeout", A::VisibilityTimeout),
        ("MessageRetentionPeriod", A::MessageRetentionPeriod),
        ("DelaySeconds", A::DelaySeconds),
        ("MaximumMessageSize", A::MaximumMessageSize),
        (
            "ReceiveMessageWaitTimeSeconds",
            A::ReceiveMessageWaitTimeSeconds,
        ),
        ("FifoQueue", A::FifoQueue),
        ("ContentBasedDeduplication", A::ContentBasedDeduplication),
        ("SqsManagedSseEnabled", A::SqsManagedSseEnabled),
    ] {
        if let Some(v) = props.get(key) {
            attributes.insert(attribute, resolved.resolve(v).map_err(template_error(id))?);
        }
    }
    for (key, attribute) in [
        ("RedrivePolicy", A::RedrivePolicy),
        ("RedriveAllowPolicy", A::RedriveAllowPolicy),
    ] {
        if let Some(v) = props.get(key) {
            let json = match to_json(resolved, v).map_err(template_error(id))? {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            attributes.insert(attribute, json);
        }
    }
    Ok(attributes)
}

async fn provision_queues(
    template: &Template,
    clients: &AwsClients,
    resolved: &mut Resolved,
    prefix: &str,
) -> Result<(), ProvisionError> {
    let queues = template.resources_of_type(QUEUE_TYPE);
    let ids: HashSet<String> = queues.iter().map(|(id, _)| id.clone()).collect();
    let mut pending: Vec<(String, Value, HashSet<String>)> = queues
        .into_iter()
        .map(|(id, props)| {
            let mut deps = HashSet::new();
            references(&props, &mut deps);
            deps.retain(|d| ids.contains(d) && *d != id);
            (id, props, deps)
        })
        .collect();
    let mut done: HashSet<String> = HashSet::new();
    while !pending.is_empty() {
        let Some(next) = pending
            .iter()
            .position(|(_, _, deps)| deps.is_subset(&done))
        else {
            let cycle: Vec<&str> = pending.iter().map(|(id, _, _)| id.as_str()).collect();
            return Err(invalid(
                cycle[0],
                format!(
                    "queues reference each other in a cycle: {}",
                    cycle.join(", ")
                ),
            ));
        };
        let (id, props, _) = pending.remove(next);
        let attributes = queue_attributes(resolved, &id, &props)?;
        let mut name = physical_name(prefix, &id);
        if attributes
            .get(&aws_sdk_sqs::types::QueueAttributeName::FifoQueue)
            .is_some_and(|v| v == "true")
        {
            name.push_str(".fifo");
        }
        let (url, arn) = ensure_queue(clients, &id, &name, attributes).await?;
        resolved.arns.insert(format!("{id}.QueueName"), name);
        resolved.arns.insert(format!("{id}.QueueUrl"), url.clone());
        resolved.arns.insert(id.clone(), arn);
        resolved.refs.insert(id.clone(), url);
        done.insert(id);
    }
    Ok(())
}

/// Creates the queue, or brings an existing one's attributes up to date. Returns (URL, ARN).
async fn ensure_queue(
    clients: &AwsClients,
    id: &str,
    name: &str,
    attributes: HashMap<aws_sdk_sqs::types::QueueAttributeName, String>,
) -> Result<(String, String), ProvisionError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let sqs = &clients.sqs;
    let created = sqs
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes.clone()))
        .send()
        .await;
    let url = match created {
        Ok(out) => out.queue_url,
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_queue_name_exists()
                    || s.code().is_some_and(|c| c.contains("QueueAlreadyExists"))
            }) =>
        {
            // Exists with other attributes (the template changed): converge.
            let url = sqs
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(aws_error(id, "GetQueueUrl"))?
                .queue_url;
            let url = url.ok_or_else(|| invalid(id, "GetQueueUrl returned no URL"))?;
            sqs.set_queue_attributes()
                .queue_url(&url)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(aws_error(id, "SetQueueAttributes"))?;
            Some(url)
        }
        Err(e) => return Err(aws_error(id, "CreateQueue")(e)),
    };
    let url = url.ok_or_else(|| invalid(id, "CreateQueue returned no URL"))?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(aws_error(id, "GetQueueAttributes"))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| invalid(id, "GetQueueAttributes returned no QueueArn"))?;
    Ok((url, arn))
}

// ----- S3 ------------------------------------------------------------------------------------

async fn create_bucket(
    clients: &AwsClients,
    id: &str,
    name: &str,
    region: &str,
) -> Result<(), ProvisionError> {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let mut create = clients.s3.create_bucket().bucket(name);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_bucket_already_owned_by_you()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error(id, "CreateBucket")(e)),
    }
}

/// The bucket notifies the emulation queue of the events the template's S3 triggers subscribe
/// to, with the same key filters (one queue configuration per trigger, id = the function).
async fn notify_queue(
    clients: &AwsClients,
    id: &str,
    bucket: &str,
    triggers: &[&S3Trigger],
    queue_arn: &str,
) -> Result<(), ProvisionError> {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };
    let mut configuration = NotificationConfiguration::builder();
    for trigger in triggers {
        let mut queue = QueueConfiguration::builder()
            .id(&trigger.function)
            .queue_arn(queue_arn);
        for event in &trigger.events {
            queue = queue.events(Event::from(event.as_str()));
        }
        let rules: Vec<FilterRule> = [
            (FilterRuleName::Prefix, &trigger.prefix),
            (FilterRuleName::Suffix, &trigger.suffix),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            value
                .as_ref()
                .map(|v| FilterRule::builder().name(name).value(v).build())
        })
        .collect();
        if !rules.is_empty() {
            queue = queue.filter(
                NotificationConfigurationFilter::builder()
                    .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                    .build(),
            );
        }
        configuration = configuration.queue_configurations(
            queue
                .build()
                .map_err(|e| invalid(&trigger.function, e.to_string()))?,
        );
    }
    clients
        .s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(configuration.build())
        .send()
        .await
        .map_err(aws_error(id, "PutBucketNotificationConfiguration"))?;
    Ok(())
}

// ----- EventBridge Scheduler -----------------------------------------------------------------

async fn ensure_schedule_group(
    clients: &AwsClients,
    id: &str,
    name: &str,
) -> Result<String, ProvisionError> {
    let scheduler = &clients.scheduler;
    match scheduler.create_schedule_group().name(name).send().await {
        Ok(out) => Ok(out.schedule_group_arn),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conflict_exception()) =>
        {
            scheduler
                .get_schedule_group()
                .name(name)
                .send()
                .await
                .map_err(aws_error(id, "GetScheduleGroup"))?
                .arn
                .ok_or_else(|| invalid(id, "GetScheduleGroup returned no ARN"))
        }
        Err(e) => Err(aws_error(id, "CreateScheduleGroup")(e)),
    }
}

/// The physical names provisioning uses, by logical id (for diagnostics and tests).
pub fn planned_names(template: &Template, prefix: &str) -> BTreeMap<String, String> {
    template
        .resource_types()
        .into_iter()
        .map(|(id, ty)| {
            let name = if ty == BUCKET_TYPE {
                bucket_name(prefix, &id)
            } else {
                physical_name(prefix, &id)
            };
            (id, name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(physical_name("t1", "CrmTable"), "t1-CrmTable");
        assert_eq!(bucket_name("t1", "ImportsBucket"), "t1-importsbucket");
        assert_eq!(
            bucket_name("My_Test", "ImportsBucket"),
            "my-test-importsbucket"
        );
        assert!(bucket_name(&"x".repeat(80), "B").len() <= 63);
    }

    #[test]
    fn queue_dependencies_and_redrive_policy() {
        let props: Value = serde_yaml::from_str(
            "VisibilityTimeout: 60\nRedrivePolicy:\n  deadLetterTargetArn: !GetAtt StepDeadLetterQueue.Arn\n  maxReceiveCount: 5\n",
        )
        .unwrap();
        let mut deps = HashSet::new();
        references(&props, &mut deps);
        assert_eq!(deps, HashSet::from(["StepDeadLetterQueue".to_string()]));
        let mut resolved = Resolved::default();
        resolved.arns.insert(
            "StepDeadLetterQueue".into(),
            "arn:aws:sqs:eu-central-1:123456789012:t1-StepDeadLetterQueue".into(),
        );
        let attributes = queue_attributes(&resolved, "StepQueue", &props).unwrap();
        use aws_sdk_sqs::types::QueueAttributeName as A;
        assert_eq!(attributes[&A::VisibilityTimeout], "60");
        let policy: serde_json::Value =
            serde_json::from_str(&attributes[&A::RedrivePolicy]).unwrap();
        assert_eq!(
            policy,
            serde_json::json!({"deadLetterTargetArn": "arn:aws:sqs:eu-central-1:123456789012:t1-StepDeadLetterQueue", "maxReceiveCount": 5})
        );
    }
}
