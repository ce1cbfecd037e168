//! Emulation of Lambda's event source mappings on DynamoDB streams (the template's `DynamoDB`
//! events), which moto does not run. Each trigger reads its table's stream with the DynamoDB
//! Streams API (the local DynamoDB emulates the streams, infra/dynamodb/streams.js; with
//! LOCAL_DYNAMODB=moto, moto serves its own) from its `StartingPosition` as of the runtime's
//! start, and hands the records, in stream order, to its function as the `aws_lambda_events`
//! DynamoDB `Event` JSON Lambda would send (`eventSourceARN` = the stream):
//!
//! - records no `FilterCriteria` pattern matches are dropped ([`crate::event_filter`]);
//! - at most `BatchSize` matching records per invocation (no batching window: a batch goes as
//!   soon as the stream has nothing more);
//! - with `ReportBatchItemFailures`, the earliest `batchItemFailures` entry is where the stream
//!   resumes: the records before it are done, it and those after it are retried (an identifier
//!   not in the batch fails the whole batch, as on AWS); a function error fails the whole batch
//!   and, with `BisectBatchOnFunctionError`, the retry takes half of it;
//! - after `MaximumRetryAttempts` retries at the same record, the failed records' batch info goes
//!   to the `OnFailure` destination queue in Lambda's shape and the stream moves on. Retries run
//!   at once (AWS backs off); without a limit, a failure ends the round and the next one retries.
//!
//! Only the stream's open shard is read (the local streams have one shard).

use super::*;
use crate::event_filter::{EventPattern, matches_any};
use crate::template::DynamoDbTrigger;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use base64::Engine as _;
use serde_json::Value;
use std::collections::VecDeque;

/// Records one GetRecords asks for.
const PAGE: i32 = 1000;

/// Where each stream trigger of the template reads, kept between deliveries.
pub struct StreamFeeds {
    client: aws_sdk_dynamodbstreams::Client,
    feeds: tokio::sync::Mutex<Vec<Feed>>,
}

struct Feed {
    trigger: DynamoDbTrigger,
    patterns: Vec<EventPattern>,
    stream_arn: String,
    shard_id: String,
    /// The next GetRecords; `None` once a closed shard is read to its end.
    iterator: Option<String>,
    /// Records read and not yet handled, in stream order, as the function receives them.
    pending: VecDeque<Value>,
    /// The sequence number the last invocations failed at, and how many times in a row.
    retrying: Option<(String, u32)>,
    /// After a function error with `BisectBatchOnFunctionError`: the size of the next batch.
    bisected: Option<usize>,
}

/// What [`LocalRuntime::deliver_streams`] did.
#[derive(Debug, Default)]
pub struct StreamReport {
    /// The records functions processed, as they received them, in delivery order.
    pub delivered: Vec<Value>,
    /// Records no filter of their trigger matched: dropped, as Lambda drops them.
    pub filtered_out: usize,
    /// Records given up on after `MaximumRetryAttempts` (their batch info went to the
    /// on-failure destination).
    pub discarded: usize,
}

/// The DynamoDB Streams client of the local endpoint: `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`, else
/// `AWS_ENDPOINT_URL_DYNAMODB` (the local DynamoDB serves its streams), else `endpoint_url`.
async fn streams_client(endpoint_url: &str, region: &str) -> aws_sdk_dynamodbstreams::Client {
    let endpoint = [
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
        "AWS_ENDPOINT_URL_DYNAMODB",
    ]
    .into_iter()
    .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    .unwrap_or_else(|| endpoint_url.to_string());
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "crm-local",
        ))
        .load()
        .await;
    aws_sdk_dynamodbstreams::Client::new(&sdk)
}

impl StreamFeeds {
    /// One feed per `DynamoDB` event of the template, positioned at its `StartingPosition` now.
    pub(crate) async fn start(
        template: &Template,
        provisioned: &provision::Provisioned,
        endpoint_url: &str,
    ) -> Result<Self, Error> {
        let client = streams_client(endpoint_url, &provisioned.region).await;
        let mut feeds = Vec::new();
        for trigger in template.dynamodb_triggers() {
            let context = |e: &dyn std::fmt::Display| format!("{}: {e}", trigger.function);
            let stream_arn = provisioned
                .resolved
                .resolve(&trigger.stream)
                .map_err(|e| context(&e))?;
            let patterns = trigger
                .filter_patterns
                .iter()
                .map(|p| EventPattern::parse(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| context(&e))?;
            let shard_id = open_shard(&client, &stream_arn).await?;
            let position = match trigger.starting_position.as_str() {
                "TRIM_HORIZON" => ShardIteratorType::TrimHorizon,
                _ => ShardIteratorType::Latest,
            };
            let iterator = client
                .get_shard_iterator()
                .stream_arn(&stream_arn)
                .shard_id(&shard_id)
                .shard_iterator_type(position)
                .send()
                .await
                .map_err(|e| context(&aws_sdk_dynamodb::error::DisplayErrorContext(e)))?
                .shard_iterator;
            feeds.push(Feed {
                trigger,
                patterns,
                stream_arn,
                shard_id,
                iterator,
                pending: VecDeque::new(),
                retrying: None,
                bisected: None,
            });
        }
        Ok(Self {
            client,
            feeds: tokio::sync::Mutex::new(feeds),
        })
    }

    /// Moves `feed.pending` on by one page of the stream; false when the stream had nothing new.
    async fn read_page(&self, feed: &mut Feed) -> Result<bool, Error> {
        let Some(iterator) = feed.iterator.clone() else {
            return Ok(false);
        };
        let page = match self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(PAGE)
            .send()
            .await
        {
            Ok(page) => page,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_trimmed_data_access_exception()) =>
            {
                // Fell behind the stream's retention: what was trimmed is lost, as on AWS.
                tracing::warn!(
                    stream = feed.stream_arn,
                    "stream records trimmed before delivery; resuming at the oldest"
                );
                feed.iterator = self
                    .client
                    .get_shard_iterator()
                    .stream_arn(&feed.stream_arn)
                    .shard_id(&feed.shard_id)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await?
                    .shard_iterator;
                return Ok(true);
            }
            Err(e) => {
                return Err(aws_sdk_dynamodb::error::DisplayErrorContext(e)
                    .to_string()
                    .into());
            }
        };
        feed.iterator = page.next_shard_iterator;
        let records = page.records.unwrap_or_default();
        let read = !records.is_empty();
        feed.pending
            .extend(records.iter().map(|r| lambda_record(r, &feed.stream_arn)));
        Ok(read)
    }

    /// The next batch of at most `limit` matching records (empty: the stream is drained).
    async fn next_batch(
        &self,
        feed: &mut Feed,
        limit: usize,
        report: &mut StreamReport,
    ) -> Result<Vec<Value>, Error> {
        let mut batch = Vec::new();
        while batch.len() < limit {
            let Some(record) = feed.pending.pop_front() else {
                if self.read_page(feed).await? {
                    continue;
                }
                break;
            };
            if matches_any(&feed.patterns, &record) {
                batch.push(record);
            } else {
                report.filtered_out += 1;
            }
        }
        Ok(batch)
    }
}

/// The first shard that is still open (the last one listed when all are closed).
async fn open_shard(
    client: &aws_sdk_dynamodbstreams::Client,
    stream_arn: &str,
) -> Result<String, Error> {
    let described = client
        .describe_stream()
        .stream_arn(stream_arn)
        .send()
        .await
        .map_err(|e| {
            format!(
                "{stream_arn}: DescribeStream failed: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        })?;
    let shards = described
        .stream_description
        .and_then(|d| d.shards)
        .unwrap_or_default();
    shards
        .iter()
        .find(|s| {
            s.sequence_number_range
                .as_ref()
                .is_none_or(|r| r.ending_sequence_number.is_none())
        })
        .or(shards.last())
        .and_then(|s| s.shard_id.clone())
        .ok_or_else(|| format!("{stream_arn} has no shard").into())
}

/// A stream record as Lambda puts it in a DynamoDB `Event` (`eventSourceARN`: the stream).
fn lambda_record(record: &Record, stream_arn: &str) -> Value {
    let mut change = serde_json::Map::new();
    if let Some(r) = &record.dynamodb {
        if let Some(t) = &r.approximate_creation_date_time {
            change.insert("ApproximateCreationDateTime".into(), json!(t.secs()));
        }
        for (name, image) in [
            ("Keys", &r.keys),
            ("NewImage", &r.new_image),
            ("OldImage", &r.old_image),
        ] {
            if let Some(image) = image {
                change.insert(name.into(), item_json(image));
            }
        }
        change.insert("SequenceNumber".into(), json!(r.sequence_number));
        change.insert("SizeBytes".into(), json!(r.size_bytes.unwrap_or(0)));
        if let Some(v) = &r.stream_view_type {
            change.insert("StreamViewType".into(), json!(v.as_str()));
        }
    }
    let mut out = json!({
        "eventID": record.event_id,
        "eventName": record.event_name.as_ref().map(|n| n.as_str()),
        "eventVersion": record.event_version,
        "eventSource": record.event_source,
        "awsRegion": record.aws_region,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    });
    if let Some(identity) = &record.user_identity {
        out["userIdentity"] = json!({
            "type": identity.r#type,
            "principalId": identity.principal_id,
        });
    }
    out
}

fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), attribute_json(v)))
            .collect(),
    )
}

/// An attribute value in DynamoDB JSON (`{"S": "x"}`), binary as base64, as Lambda sends it.
fn attribute_json(v: &AttributeValue) -> Value {
    let b64 = |b: &aws_sdk_dynamodbstreams::primitives::Blob| {
        base64::engine::general_purpose::STANDARD.encode(b.as_ref())
    };
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(b) => json!({ "NULL": b }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::Bs(v) => json!({ "BS": v.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(attribute_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": item_json(m) }),
        _ => json!({ "NULL": true }),
    }
}

fn sequence_number(record: &Value) -> &str {
    record["dynamodb"]["SequenceNumber"].as_str().unwrap_or("")
}

/// Where in `batch` the stream resumes after the function answered `response` with
/// `ReportBatchItemFailures`: `None` when no record failed, else the earliest failed record (an
/// identifier that names no record of the batch fails it all, as on AWS).
fn resume_index(response: &Value, batch: &[Value]) -> Option<usize> {
    let failures = response["batchItemFailures"].as_array()?;
    if failures.is_empty() {
        return None;
    }
    let index = failures
        .iter()
        .map(|f| {
            let id = f["itemIdentifier"].as_str().unwrap_or("");
            batch.iter().position(|r| sequence_number(r) == id)
        })
        .try_fold(usize::MAX, |min, i| i.map(|i| min.min(i)))
        .unwrap_or(0);
    Some(index)
}

/// How an invocation ended: every record done, or the position in the batch where the stream
/// resumes (and whether the function itself failed).
enum Outcome {
    Done,
    FailedAt { index: usize, function_error: bool },
}

impl LocalRuntime {
    /// Delivers every new record of every stream trigger's stream to its function (see the
    /// module's doc); returns how many records the functions processed.
    pub async fn deliver_stream_records(&self) -> Result<usize, Error> {
        Ok(self.deliver_streams().await?.delivered.len())
    }

    /// [`Self::deliver_stream_records`], telling what happened to each record.
    pub async fn deliver_streams(&self) -> Result<StreamReport, Error> {
        let mut report = StreamReport::default();
        let mut feeds = self.stream_feeds.feeds.lock().await;
        for feed in feeds.iter_mut() {
            self.drain_feed(feed, &mut report).await?;
        }
        Ok(report)
    }

    async fn drain_feed(&self, feed: &mut Feed, report: &mut StreamReport) -> Result<(), Error> {
        loop {
            let limit = feed.bisected.unwrap_or(feed.trigger.batch_size).max(1);
            let batch = self.stream_feeds.next_batch(feed, limit, report).await?;
            if batch.is_empty() {
                return Ok(());
            }
            let Outcome::FailedAt {
                index,
                function_error,
            } = self.invoke_stream_function(&feed.trigger, &batch).await?
            else {
                report.delivered.extend(batch);
                feed.retrying = None;
                feed.bisected = None;
                continue;
            };
            let mut batch = batch;
            let failed = batch.split_off(index);
            report.delivered.extend(batch);
            let at = sequence_number(&failed[0]).to_string();
            let attempts = match &feed.retrying {
                Some((seq, n)) if *seq == at => n + 1,
                _ => 1,
            };
            let retries = attempts - 1;
            if feed
                .trigger
                .maximum_retry_attempts
                .is_some_and(|max| retries >= max)
            {
                tracing::error!(
                    function = feed.trigger.binary,
                    sequence_number = at,
                    records = failed.len(),
                    "stream records failed after their retries; skipped"
                );
                self.send_stream_failure(feed, &failed, attempts, function_error)
                    .await?;
                report.discarded += failed.len();
                feed.retrying = None;
                feed.bisected = None;
                continue;
            }
            tracing::warn!(
                function = feed.trigger.binary,
                sequence_number = at,
                attempts,
                "stream batch failed; retrying from the failed record"
            );
            feed.retrying = Some((at, attempts));
            if function_error && feed.trigger.bisect_batch_on_function_error {
                feed.bisected = Some(failed.len().div_ceil(2));
            }
            for record in failed.into_iter().rev() {
                feed.pending.push_front(record);
            }
            if feed.trigger.maximum_retry_attempts.is_none() {
                return Ok(()); // retried without end: the next round tries again
            }
        }
    }

    /// Invokes the trigger's function with `batch` as Lambda would (the `Event` JSON in, the
    /// function's JSON answer out).
    async fn invoke_stream_function(
        &self,
        trigger: &DynamoDbTrigger,
        batch: &[Value],
    ) -> Result<Outcome, Error> {
        let event = json!({ "Records": batch });
        let answer = self
            .functions
            .invoke_event(&trigger.binary, event)
            .await
            .ok_or_else(|| format!("{} is not a stream-triggered function", trigger.binary))?;
        let response = match answer {
            Ok(response) => response,
            Err(error) => {
                tracing::error!(function = trigger.binary, %error, "stream-triggered function failed");
                return Ok(Outcome::FailedAt {
                    index: 0,
                    function_error: true,
                });
            }
        };
        if !trigger.report_batch_item_failures {
            return Ok(Outcome::Done);
        }
        Ok(match resume_index(&response, batch) {
            None => Outcome::Done,
            Some(index) => Outcome::FailedAt {
                index,
                function_error: false,
            },
        })
    }

    /// Lambda's on-failure record for a stream batch given up on: where the records are, not
    /// the records.
    async fn send_stream_failure(
        &self,
        feed: &Feed,
        failed: &[Value],
        attempts: u32,
        function_error: bool,
    ) -> Result<(), Error> {
        let Some(destination) = &feed.trigger.on_failure else {
            return Ok(());
        };
        let queue_arn = self.provisioned.resolved.resolve(destination)?;
        let arrival = |r: &Value| {
            r["dynamodb"]["ApproximateCreationDateTime"]
                .as_i64()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        };
        let (first, last) = (&failed[0], &failed[failed.len() - 1]);
        let mut response = json!({ "statusCode": 200, "executedVersion": "$LATEST" });
        if function_error {
            response["functionError"] = json!("Unhandled");
        }
        let record = json!({
            "requestContext": {
                "requestId": uuid::Uuid::now_v7().to_string(),
                "functionArn": self.provisioned.resolved.arns.get(&feed.trigger.function),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "DDBStreamBatchInfo": {
                "shardId": feed.shard_id,
                "startSequenceNumber": sequence_number(first),
                "endSequenceNumber": sequence_number(last),
                "approximateArrivalOfFirstRecord": arrival(first),
                "approximateArrivalOfLastRecord": arrival(last),
                "batchSize": failed.len(),
                "streamArn": feed.stream_arn,
            },
        });
        let queue_name = scheduler::queue_name_of_arn(&queue_arn)
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
        self.aws
            .sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(record.to_string())
            .send()
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Vec<Value> {
        ["101", "102", "103"]
            .map(|n| json!({"dynamodb": {"SequenceNumber": n}}))
            .into()
    }

    fn failures(ids: &[Value]) -> Value {
        json!({"batchItemFailures": ids.iter().map(|id| json!({"itemIdentifier": id})).collect::<Vec<_>>()})
    }

    #[test]
    fn the_stream_resumes_at_the_earliest_failed_record() {
        let batch = batch();
        assert_eq!(
            resume_index(&json!({"batchItemFailures": []}), &batch),
            None
        );
        assert_eq!(resume_index(&json!({}), &batch), None);
        assert_eq!(resume_index(&failures(&[json!("102")]), &batch), Some(1));
        assert_eq!(
            resume_index(&failures(&[json!("103"), json!("102")]), &batch),
            Some(1)
        );
        // Not a record of the batch (or no identifier): the whole batch failed.
        assert_eq!(resume_index(&failures(&[json!("999")]), &batch), Some(0));
        assert_eq!(resume_index(&failures(&[json!(null)]), &batch), Some(0));
        assert_eq!(
            resume_index(&failures(&[json!("103"), json!("")]), &batch),
            Some(0)
        );
    }

    #[test]
    fn records_read_from_the_stream_are_lambdas_records() {
        use aws_sdk_dynamodbstreams::types::{OperationType, StreamRecord, StreamViewType};
        let key = HashMap::from([("PK".to_string(), AttributeValue::S("T#a#CONTACT#1".into()))]);
        let mut new = key.clone();
        new.insert("n".into(), AttributeValue::N("1.5".into()));
        new.insert("b".into(), AttributeValue::B(vec![0, 1, 2].into()));
        new.insert(
            "m".into(),
            AttributeValue::M(HashMap::from([(
                "l".to_string(),
                AttributeValue::L(vec![AttributeValue::Bool(true), AttributeValue::Null(true)]),
            )])),
        );
        new.insert("ss".into(), AttributeValue::Ss(vec!["x".into()]));
        let record = Record::builder()
            .event_id("e1")
            .event_name(OperationType::Insert)
            .event_version("1.1")
            .event_source("aws:dynamodb")
            .aws_region("eu-central-1")
            .dynamodb(
                StreamRecord::builder()
                    .approximate_creation_date_time(aws_smithy_types_datetime(1_764_582_596))
                    .set_keys(Some(key))
                    .set_new_image(Some(new))
                    .sequence_number("100000000000000000007")
                    .size_bytes(42)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build(),
            )
            .build();
        let json = lambda_record(&record, "arn:stream");
        assert_eq!(json["eventSourceARN"], "arn:stream");
        assert_eq!(json["dynamodb"]["NewImage"]["b"], json!({"B": "AAEC"}));
        assert_eq!(
            json["dynamodb"]["NewImage"]["m"],
            json!({"M": {"l": {"L": [{"BOOL": true}, {"NULL": true}]}}})
        );
        let parsed: aws_lambda_events::event::dynamodb::EventRecord =
            serde_json::from_value(json).expect("Lambda's DynamoDB record");
        assert_eq!(parsed.event_name, "INSERT");
        assert_eq!(
            parsed.change.approximate_creation_date_time.timestamp(),
            1_764_582_596
        );
        assert_eq!(parsed.change.size_bytes, 42);
        assert_eq!(parsed.change.new_image.len(), 5);
        assert!(parsed.change.old_image.is_empty());
    }

    fn aws_smithy_types_datetime(secs: i64) -> aws_sdk_dynamodbstreams::primitives::DateTime {
        aws_sdk_dynamodbstreams::primitives::DateTime::from_secs(secs)
    }
}
