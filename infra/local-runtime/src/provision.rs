//! Creates the local stack on moto from `template.yaml`: the DynamoDB table (with its stream),
//! SQS queues, S3 bucket with its notification, schedule group and SES sender identity. What the template
//! declares is what gets created, so local and cloud cannot drift. Only the properties
//! `template.yaml` uses are read.
//!
//! Physical names are `{prefix}-{LogicalId}` so many isolated stacks share one moto server
//! (a bucket's `BucketName` is honoured: it derives from `AWS::StackName`, which is the prefix).
//! Provisioning is idempotent: running it again with the same prefix converges.

use crate::Error;
use crate::template::{FUNCTION_TYPE, HTTP_API_TYPE, Resolved, S3Trigger, Template};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use serde::Deserialize;
use serde_yaml::Value;
use std::collections::HashMap;

pub use crm_shared::AwsClients;

/// moto's default account.
const ACCOUNT_ID: &str = "123456789012";
/// The template parameter naming the SES sender identity.
const SES_SENDER_PARAMETER: &str = "SesSenderEmail";
/// The template parameter with the unsubscribe links' secret: no default in the template (a
/// deployment sets its own), so locally it is this unless overridden.
const UNSUBSCRIBE_SECRET_PARAMETER: &str = "UnsubscribeSecret";
const LOCAL_UNSUBSCRIBE_SECRET: &str = "local-development-unsubscribe-secret-not-for-production";

const TABLE_TYPE: &str = "AWS::DynamoDB::Table";
const QUEUE_TYPE: &str = "AWS::SQS::Queue";
const BUCKET_TYPE: &str = "AWS::S3::Bucket";
const SCHEDULE_GROUP_TYPE: &str = "AWS::Scheduler::ScheduleGroup";
const ROLE_TYPE: &str = "AWS::IAM::Role";

#[derive(Debug, Clone)]
pub struct Provisioned {
    pub resolved: Resolved,
    /// URL of the emulation-only queue that receives the bucket's S3 notifications (moto can't
    /// invoke Lambda).
    pub s3_events_queue_url: String,
    pub region: String,
}

/// Wraps an SDK error with the resource and operation it came from.
fn aws<E: std::error::Error>(id: &str, operation: &str) -> impl FnOnce(E) -> Error {
    let context = format!("{id}: {operation} failed");
    move |e| format!("{context}: {}", DisplayErrorContext(&e)).into()
}

fn physical_name(prefix: &str, logical_id: &str) -> String {
    format!("{prefix}-{logical_id}")
}

pub async fn provision(
    template: &Template,
    clients: &AwsClients,
    prefix: &str,
    region: &str,
    parameter_overrides: &HashMap<String, String>,
) -> Result<Provisioned, Error> {
    let mut r = Resolved::default();
    for (name, value) in [
        ("AWS::Region", region),
        ("AWS::AccountId", ACCOUNT_ID),
        ("AWS::Partition", "aws"),
        ("AWS::URLSuffix", "amazonaws.com"),
        ("AWS::StackName", prefix),
    ] {
        r.pseudo.insert(name.into(), value.into());
    }
    r.refs.extend(template.parameter_defaults());
    r.refs.extend(parameter_overrides.clone());
    r.refs
        .entry(UNSUBSCRIBE_SECRET_PARAMETER.into())
        .or_insert_with(|| LOCAL_UNSUBSCRIBE_SECRET.into());

    // Resources nothing is created for resolve to their name; the provisioned ones are
    // overwritten below.
    for (id, ty) in template.resource_types() {
        let name = physical_name(prefix, &id);
        match ty.as_str() {
            HTTP_API_TYPE => {
                r.refs.insert(id, "local".into());
                continue;
            }
            ROLE_TYPE => {
                r.arns
                    .insert(id.clone(), format!("arn:aws:iam::{ACCOUNT_ID}:role/{name}"));
            }
            FUNCTION_TYPE => {
                let arn = format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}");
                r.arns.insert(id.clone(), arn);
            }
            _ => {}
        }
        r.refs.insert(id, name);
    }

    for (id, props) in template.resources_of_type(TABLE_TYPE) {
        let name = physical_name(prefix, &id);
        if let Some(stream) = create_table(clients, &id, &name, props).await? {
            r.arns.insert(format!("{id}.StreamArn"), stream);
        }
        let arn = format!("arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}");
        r.arns.insert(id, arn);
    }

    // Dead-letter queues first: a RedrivePolicy names its target by ARN.
    let mut queues = template.resources_of_type(QUEUE_TYPE);
    queues.sort_by_key(|(_, props)| props.get("RedrivePolicy").is_some());
    for (id, props) in queues {
        let name = physical_name(prefix, &id);
        let attributes = queue_attributes(&r, &props).map_err(|e| format!("{id}: {e}"))?;
        let (url, arn) = create_queue(clients, &id, &name, attributes).await?;
        r.arns.insert(format!("{id}.QueueName"), name);
        r.arns.insert(format!("{id}.QueueUrl"), url.clone());
        r.arns.insert(id.clone(), arn);
        r.refs.insert(id, url);
    }
    let s3_events = format!("{prefix}-s3-events");
    let (s3_events_queue_url, s3_events_queue_arn) =
        create_queue(clients, &s3_events, &s3_events, HashMap::new()).await?;

    let triggers = template.s3_triggers();
    let buckets = template.resources_of_type(BUCKET_TYPE);
    if let Some(t) = triggers
        .iter()
        .find(|t| !buckets.iter().any(|(id, _)| *id == t.bucket))
    {
        return Err(format!(
            "{}: S3 event on {}, not a bucket of the template",
            t.function, t.bucket
        )
        .into());
    }
    for (id, props) in buckets {
        let name = match props.get("BucketName") {
            Some(v) => r.resolve(v).map_err(|e| format!("{id}: {e}"))?,
            None => physical_name(prefix, &id).to_lowercase(),
        };
        create_bucket(clients, &id, &name, region).await?;
        let bucket_triggers: Vec<&S3Trigger> = triggers.iter().filter(|t| t.bucket == id).collect();
        if !bucket_triggers.is_empty() {
            notify_queue(clients, &id, &name, &bucket_triggers, &s3_events_queue_arn).await?;
        }
        r.arns.insert(id.clone(), format!("arn:aws:s3:::{name}"));
        r.refs.insert(id, name);
    }

    for (id, _) in template.resources_of_type(SCHEDULE_GROUP_TYPE) {
        let name = physical_name(prefix, &id);
        let created = clients
            .scheduler
            .create_schedule_group()
            .name(&name)
            .send()
            .await;
        if let Err(e) = created {
            if !e
                .as_service_error()
                .is_some_and(|s| s.is_conflict_exception())
            {
                return Err(aws(&id, "CreateScheduleGroup")(e));
            }
        }
        let arn = format!("arn:aws:scheduler:{region}:{ACCOUNT_ID}:schedule-group/{name}");
        r.arns.insert(id.clone(), arn);
        r.refs.insert(id, name);
    }

    if let Some(sender) = r.refs.get(SES_SENDER_PARAMETER).filter(|s| !s.is_empty()) {
        let created = clients
            .sesv2
            .create_email_identity()
            .email_identity(sender)
            .send()
            .await;
        if let Err(e) = created {
            if !e
                .as_service_error()
                .is_some_and(|s| s.is_already_exists_exception())
            {
                return Err(aws(SES_SENDER_PARAMETER, "CreateEmailIdentity")(e));
            }
        }
    }

    Ok(Provisioned {
        resolved: r,
        s3_events_queue_url,
        region: region.to_string(),
    })
}

// ----- DynamoDB ------------------------------------------------------------------------------

/// The table properties `template.yaml` uses (plain strings, no intrinsics).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableProps {
    attribute_definitions: Vec<AttributeDefinition>,
    key_schema: Vec<Key>,
    #[serde(default)]
    global_secondary_indexes: Vec<Index>,
    time_to_live_specification: Option<Ttl>,
    stream_specification: Option<StreamSpec>,
}

/// CloudFormation's StreamSpecification: a view type means the stream is on.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamSpec {
    stream_view_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttributeDefinition {
    attribute_name: String,
    attribute_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Key {
    attribute_name: String,
    key_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Index {
    index_name: String,
    key_schema: Vec<Key>,
    projection: Projection,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Projection {
    projection_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ttl {
    attribute_name: String,
    enabled: bool,
}

fn key_schema(keys: &[Key]) -> Result<Vec<aws_sdk_dynamodb::types::KeySchemaElement>, Error> {
    use aws_sdk_dynamodb::types::{KeySchemaElement, KeyType};
    keys.iter()
        .map(|k| {
            let key = KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()?;
            Ok(key)
        })
        .collect()
}

/// Creates only the template's table (keys and indexes; no TTL, no stream), named `name`: for
/// benchmarks against a DynamoDB-only endpoint.
pub async fn create_table_only(
    template: &Template,
    aws: &AwsClients,
    name: &str,
) -> Result<(), Error> {
    for (id, props) in template.resources_of_type(TABLE_TYPE) {
        let mut props = props.clone();
        if let Value::Mapping(m) = &mut props {
            m.remove("TimeToLiveSpecification");
            m.remove("StreamSpecification");
        }
        create_table(aws, &id, name, props).await?;
    }
    Ok(())
}

/// Always on-demand billing (what the template declares), so no throughput settings. Returns
/// the ARN of the table's stream when the template gives it one.
async fn create_table(
    clients: &AwsClients,
    id: &str,
    name: &str,
    props: Value,
) -> Result<Option<String>, Error> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition as Attr, BillingMode, GlobalSecondaryIndex, Projection as P,
        ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
        TimeToLiveSpecification,
    };
    let props: TableProps = serde_yaml::from_value(props).map_err(|e| format!("{id}: {e}"))?;
    let ddb = &clients.dynamodb;
    let mut create = ddb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&props.key_schema)?));
    for a in &props.attribute_definitions {
        create = create.attribute_definitions(
            Attr::builder()
                .attribute_name(&a.attribute_name)
                .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                .build()?,
        );
    }
    for g in &props.global_secondary_indexes {
        let projection = ProjectionType::from(g.projection.projection_type.as_str());
        create = create.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&g.index_name)
                .set_key_schema(Some(key_schema(&g.key_schema)?))
                .projection(P::builder().projection_type(projection).build())
                .build()?,
        );
    }
    let stream = match &props.stream_specification {
        Some(spec) => Some(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(spec.stream_view_type.as_str()))
                .build()?,
        ),
        None => None,
    };
    match create.set_stream_specification(stream.clone()).send().await {
        Ok(_) => tracing::info!(table = %name, "created table"),
        // Exists already: provisioned before with the same prefix.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) => {}
        Err(e) => return Err(aws(id, "CreateTable")(e)),
    }
    let stream_arn = match stream {
        Some(spec) => Some(table_stream(clients, id, name, spec).await?),
        None => None,
    };
    // moto's UpdateTimeToLive is idempotent.
    if let Some(ttl) = props.time_to_live_specification {
        ddb.update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(ttl.attribute_name)
                    .enabled(ttl.enabled)
                    .build()?,
            )
            .send()
            .await
            .map_err(aws(id, "UpdateTimeToLive"))?;
    }
    Ok(stream_arn)
}

/// The ARN of the table's stream; a table made before without one (a local DynamoDB restarted
/// on its data keeps tables, not streams) gets it now.
async fn table_stream(
    clients: &AwsClients,
    id: &str,
    name: &str,
    spec: aws_sdk_dynamodb::types::StreamSpecification,
) -> Result<String, Error> {
    let ddb = &clients.dynamodb;
    let table = ddb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(aws(id, "DescribeTable"))?
        .table
        .ok_or_else(|| format!("{id}: DescribeTable returned no table"))?;
    let enabled = table
        .stream_specification
        .as_ref()
        .is_some_and(|s| s.stream_enabled);
    if let (true, Some(arn)) = (enabled, table.latest_stream_arn) {
        return Ok(arn);
    }
    ddb.update_table()
        .table_name(name)
        .stream_specification(spec)
        .send()
        .await
        .map_err(aws(id, "UpdateTable"))?
        .table_description
        .and_then(|t| t.latest_stream_arn)
        .ok_or_else(|| format!("{id}: UpdateTable enabled no stream").into())
}

// ----- SQS -----------------------------------------------------------------------------------

/// The CreateQueue attributes of the queue properties `template.yaml` uses.
fn queue_attributes(
    r: &Resolved,
    props: &Value,
) -> Result<HashMap<aws_sdk_sqs::types::QueueAttributeName, String>, Error> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let mut attributes = HashMap::new();
    for (key, attribute) in [
        ("VisibilityTimeout", A::VisibilityTimeout),
        ("MessageRetentionPeriod", A::MessageRetentionPeriod),
        ("SqsManagedSseEnabled", A::SqsManagedSseEnabled),
    ] {
        if let Some(v) = props.get(key) {
            attributes.insert(attribute, r.resolve(v)?);
        }
    }
    if let Some(redrive) = props.get("RedrivePolicy") {
        let target = redrive
            .get("deadLetterTargetArn")
            .ok_or("RedrivePolicy without deadLetterTargetArn")?;
        let policy = serde_json::json!({
            "deadLetterTargetArn": r.resolve(target)?,
            "maxReceiveCount": redrive.get("maxReceiveCount").and_then(Value::as_u64),
        });
        attributes.insert(A::RedrivePolicy, policy.to_string());
    }
    Ok(attributes)
}

/// Creates the queue (a no-op if it exists with the same attributes); returns (URL, ARN).
async fn create_queue(
    clients: &AwsClients,
    id: &str,
    name: &str,
    attributes: HashMap<aws_sdk_sqs::types::QueueAttributeName, String>,
) -> Result<(String, String), Error> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let sqs = &clients.sqs;
    let url = sqs
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(aws(id, "CreateQueue"))?
        .queue_url
        .ok_or_else(|| format!("{id}: CreateQueue returned no URL"))?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(aws(id, "GetQueueAttributes"))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| format!("{id}: GetQueueAttributes returned no QueueArn"))?;
    Ok((url, arn))
}

// ----- S3 ------------------------------------------------------------------------------------

async fn create_bucket(
    clients: &AwsClients,
    id: &str,
    name: &str,
    region: &str,
) -> Result<(), Error> {
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
        Err(e)
            if !e
                .as_service_error()
                .is_some_and(|s| s.is_bucket_already_owned_by_you()) =>
        {
            Err(aws(id, "CreateBucket")(e))
        }
        _ => Ok(()),
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
) -> Result<(), Error> {
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
            Some(
                FilterRule::builder()
                    .name(name)
                    .value(value.as_ref()?)
                    .build(),
            )
        })
        .collect();
        if !rules.is_empty() {
            queue = queue.filter(
                NotificationConfigurationFilter::builder()
                    .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                    .build(),
            );
        }
        configuration = configuration.queue_configurations(queue.build()?);
    }
    clients
        .s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(configuration.build())
        .send()
        .await
        .map_err(aws(id, "PutBucketNotificationConfiguration"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redrive_policy() {
        let props: Value = serde_yaml::from_str(
            "VisibilityTimeout: 60\nRedrivePolicy:\n  deadLetterTargetArn: !GetAtt StepDeadLetterQueue.Arn\n  maxReceiveCount: 5\n",
        )
        .unwrap();
        let mut resolved = Resolved::default();
        resolved.arns.insert(
            "StepDeadLetterQueue".into(),
            "arn:aws:sqs:eu-central-1:123456789012:t1-StepDeadLetterQueue".into(),
        );
        let attributes = queue_attributes(&resolved, &props).unwrap();
        use aws_sdk_sqs::types::QueueAttributeName as A;
        assert_eq!(attributes[&A::VisibilityTimeout], "60");
        let policy: serde_json::Value =
            serde_json::from_str(&attributes[&A::RedrivePolicy]).unwrap();
        assert_eq!(
            policy,
            serde_json::json!({"deadLetterTargetArn": "arn:aws:sqs:eu-central-1:123456789012:t1-StepDeadLetterQueue", "maxReceiveCount": 5})
        );
    }

    #[test]
    fn the_table_of_the_template_parses() {
        let template = Template::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
        )
        .unwrap();
        let tables = template.resources_of_type(TABLE_TYPE);
        let props: TableProps = serde_yaml::from_value(tables[0].1.clone()).unwrap();
        assert_eq!(props.key_schema.len(), 2);
        // The in-memory store serves the same indexes as the table the template defines.
        let names: Vec<&str> = props
            .global_secondary_indexes
            .iter()
            .map(|i| i.index_name.as_str())
            .collect();
        assert_eq!(names, crm_shared::store::INDEXES);
        assert!(props.time_to_live_specification.is_some_and(|t| t.enabled));
        // The contact observer's feed carries both images.
        assert_eq!(
            props.stream_specification.map(|s| s.stream_view_type),
            Some("NEW_AND_OLD_IMAGES".to_string())
        );
    }
}
