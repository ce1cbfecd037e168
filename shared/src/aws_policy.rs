//! The retry and timeout policy of each AWS SDK client, stated here rather than left to the
//! SDK's defaults (3 attempts, backoff from 1 s up to 20 s, no timeouts but connect 3.1 s),
//! and applied where the clients are built (`deps::AwsClients::from_sdk_config`).
//!
//! Every client uses the SDK's standard retry mode: throttling errors, transient errors (HTTP
//! 500, 502, 503, 504, connection failures and attempt timeouts) are retried with exponential
//! backoff and full jitter (a random wait below `initial_backoff × 2^retry`, capped at
//! `max_backoff`), within the client's retry quota (a token bucket: a retry costs 5 tokens, a
//! retried timeout 10, of 500; a success gives one back), so a failing dependency is not
//! hammered by every instance at once. Adaptive mode (client-side rate limiting) is not used:
//! its rate learning needs long-lived clients, and Lambda instances are short-lived and many.
//!
//! The numbers, and why:
//! - **DynamoDB**: 4 attempts, 50 ms up to 1 s. Its throttling clears within milliseconds to
//!   seconds (partition splits, on-demand scaling), so short, several retries absorb it; a
//!   request's latency is single-digit ms, so an attempt still unanswered after 3 s is stuck
//!   and is abandoned and retried (connect 1 s). 10 s for the whole operation: an API request
//!   makes a few calls one after another and must answer within API Gateway's 30 s. Retries
//!   are safe: reads are idempotent, conditional writes are checked by their callers, and
//!   TransactWriteItems keeps one ClientRequestToken across the SDK's attempts (a retry of a
//!   transaction that landed succeeds without applying it twice; one still under way answers
//!   TransactionInProgressException, which the SDK retries as throttling, and the store sends
//!   it again with the same token after 0.5, 1 and 2 s if the SDK's retries run out first, as
//!   AWS advises). What throttling remains
//!   after the 4 attempts answers 503 with Retry-After (`store::dynamo`); bulk writes
//!   (BatchWriteItem) add their own backoff for UnprocessedItems and throttling on top.
//! - **SQS**: 3 attempts, 100 ms up to 2 s, connect 1 s, attempt 5 s, operation 12 s. Sends
//!   are small; a duplicate from a retried send whose first attempt landed is harmless (every
//!   consumer is idempotent and SQS is at-least-once anyway).
//! - **SES v2**: 3 attempts, 200 ms up to 2 s, connect 1 s, attempt 5 s, operation 12 s.
//!   Throttling (the sending rate) is retried. A send is not idempotent: a retry after an
//!   attempt whose answer was lost can send the mail twice; a generous attempt timeout keeps
//!   that rare, and the step executor's effect records keep a step to one send otherwise.
//! - **EventBridge Scheduler**: 3 attempts, 200 ms up to 2 s, connect 1 s, attempt 5 s,
//!   operation 12 s. CreateSchedule is idempotent by name (a retry that finds the schedule
//!   gets ConflictException, which the caller takes as done).
//! - **S3**: 3 attempts, 200 ms up to 5 s, connect 2 s, attempt 15 s (an 8 MiB export part or
//!   a 4 MiB import range at a few MB/s), operation 25 s: within an API function's 30 s, and
//!   far within the import processor's and job worker's minutes. Object writes are whole or
//!   not at all, so retries are safe.

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use std::time::Duration;

/// One client's retry and timeout policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Establishing a connection (TCP and TLS).
    pub connect: Duration,
    /// One attempt, from sending the request to the parsed response.
    pub attempt: Duration,
    /// The whole operation: every attempt and the waits between them.
    pub operation: Duration,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub const DYNAMODB: Policy = Policy {
    max_attempts: 4,
    initial_backoff: ms(50),
    max_backoff: ms(1_000),
    connect: ms(1_000),
    attempt: ms(3_000),
    operation: ms(10_000),
};

pub const SQS: Policy = Policy {
    max_attempts: 3,
    initial_backoff: ms(100),
    max_backoff: ms(2_000),
    connect: ms(1_000),
    attempt: ms(5_000),
    operation: ms(12_000),
};

pub const SES: Policy = Policy {
    max_attempts: 3,
    initial_backoff: ms(200),
    max_backoff: ms(2_000),
    connect: ms(1_000),
    attempt: ms(5_000),
    operation: ms(12_000),
};

pub const SCHEDULER: Policy = SES;

pub const S3: Policy = Policy {
    max_attempts: 3,
    initial_backoff: ms(200),
    max_backoff: ms(5_000),
    connect: ms(2_000),
    attempt: ms(15_000),
    operation: ms(25_000),
};

impl Policy {
    pub fn retry(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }

    pub fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }

    /// The longest an operation can take: its timeout (attempts and backoff stop there).
    pub fn worst_case(&self) -> Duration {
        let backoff: Duration = (0..self.max_attempts.saturating_sub(1))
            .map(|retry| (self.initial_backoff * 2u32.pow(retry)).min(self.max_backoff))
            .sum();
        (self.attempt * self.max_attempts + backoff).min(self.operation)
    }
}

/// The DynamoDB client's configuration under [`DYNAMODB`].
pub fn dynamodb(sdk: &SdkConfig) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::from(sdk)
        .retry_config(DYNAMODB.retry())
        .timeout_config(DYNAMODB.timeouts())
}

/// The S3 client's configuration under [`S3`].
pub fn s3(sdk: &SdkConfig) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::from(sdk)
        .retry_config(S3.retry())
        .timeout_config(S3.timeouts())
}

/// The SQS client's configuration under [`SQS`].
pub fn sqs(sdk: &SdkConfig) -> aws_sdk_sqs::config::Builder {
    aws_sdk_sqs::config::Builder::from(sdk)
        .retry_config(SQS.retry())
        .timeout_config(SQS.timeouts())
}

/// The SES v2 client's configuration under [`SES`].
pub fn sesv2(sdk: &SdkConfig) -> aws_sdk_sesv2::config::Builder {
    aws_sdk_sesv2::config::Builder::from(sdk)
        .retry_config(SES.retry())
        .timeout_config(SES.timeouts())
}

/// The EventBridge Scheduler client's configuration under [`SCHEDULER`].
pub fn scheduler(sdk: &SdkConfig) -> aws_sdk_scheduler::config::Builder {
    aws_sdk_scheduler::config::Builder::from(sdk)
        .retry_config(SCHEDULER.retry())
        .timeout_config(SCHEDULER.timeouts())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// API functions have 30 s (API Gateway's limit too): one stuck call of any client must
    /// leave room for the request's other calls and its answer.
    #[test]
    fn every_operation_fits_well_inside_an_api_function() {
        for (name, p) in [
            ("dynamodb", DYNAMODB),
            ("sqs", SQS),
            ("ses", SES),
            ("scheduler", SCHEDULER),
            ("s3", S3),
        ] {
            assert!(p.worst_case() <= p.operation, "{name}");
            assert!(p.operation <= Duration::from_secs(25), "{name}");
            assert!(p.attempt < p.operation && p.connect < p.attempt, "{name}");
            assert!(p.max_attempts >= 3, "{name}: throttling needs retries");
        }
        // A DynamoDB call's retries are short: two stuck calls still answer in time.
        assert!(DYNAMODB.operation * 2 < Duration::from_secs(30));
    }

    #[test]
    fn the_clients_carry_the_policy() {
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let ddb = dynamodb(&sdk).build();
        assert_eq!(ddb.retry_config(), Some(&DYNAMODB.retry()));
        assert_eq!(ddb.timeout_config(), Some(&DYNAMODB.timeouts()));
        let s3 = s3(&sdk).build();
        assert_eq!(s3.retry_config().map(|r| r.max_attempts()), Some(3));
        assert_eq!(
            s3.timeout_config().and_then(|t| t.operation_timeout()),
            Some(S3.operation)
        );
        assert_eq!(sqs(&sdk).build().retry_config(), Some(&SQS.retry()), "sqs");
        assert_eq!(sesv2(&sdk).build().retry_config(), Some(&SES.retry()));
        assert_eq!(
            scheduler(&sdk).build().timeout_config(),
            Some(&SCHEDULER.timeouts())
        );
    }
}
