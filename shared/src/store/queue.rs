//! The message queues the core sends work on (the job queue, the import chunk queue): SQS in
//! Lambda, a vector in unit tests. Messages are JSON; the receiving function parses them.

use crate::CrmError;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Mutex;

pub trait MessageQueue: Send + Sync {
    /// Sends one message body.
    fn send_body(&self, body: String) -> BoxFuture<'_, Result<(), CrmError>>;
}

/// Sends `message` as JSON.
pub async fn send_json<T: Serialize>(
    queue: &dyn MessageQueue,
    message: &T,
) -> Result<(), CrmError> {
    let body = serde_json::to_string(message)
        .map_err(|e| CrmError::Internal(format!("queue message: {e}")))?;
    queue.send_body(body).await
}

/// A queue on SQS.
pub struct SqsQueue {
    pub sqs: crate::sdk_client::SdkClient<aws_sdk_sqs::Client>,
    pub queue_url: String,
}

impl MessageQueue for SqsQueue {
    fn send_body(&self, body: String) -> BoxFuture<'_, Result<(), CrmError>> {
        Box::pin(async move {
            self.sqs
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(body)
                .send()
                .await
                .map_err(|e| {
                    CrmError::Internal(format!(
                        "SendMessage to {}: {}",
                        self.queue_url,
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    ))
                })?;
            Ok(())
        })
    }
}

/// Messages kept in memory (unit tests).
#[derive(Default)]
pub struct MemoryQueue(pub Mutex<Vec<String>>);

impl MemoryQueue {
    /// The last message sent, taken off the queue.
    pub fn pop<T: DeserializeOwned>(&self) -> Option<T> {
        let body = self.0.lock().expect("queue lock").pop()?;
        Some(serde_json::from_str(&body).expect("a message sent as JSON"))
    }

    pub fn len(&self) -> usize {
        self.0.lock().expect("queue lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl MessageQueue for MemoryQueue {
    fn send_body(&self, body: String) -> BoxFuture<'_, Result<(), CrmError>> {
        self.0.lock().expect("queue lock").push(body);
        Box::pin(async { Ok(()) })
    }
}
