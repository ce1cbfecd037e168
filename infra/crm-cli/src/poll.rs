//! Polling a resource until it moves on: a fixed interval, and a few transient failures (the
//! API restarting, a 502 or 429) retried before giving up.

use crate::api::Api;
use crate::error::Failure;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Transient failures in a row before a poll gives up.
const MAX_MISSES: u32 = 5;

pub struct Poller<'a> {
    api: &'a Api,
    interval: Duration,
    misses: u32,
}

impl<'a> Poller<'a> {
    pub fn new(api: &'a Api, interval: Duration) -> Self {
        Self {
            api,
            interval,
            misses: 0,
        }
    }

    /// `GET path`, retried after a transient failure (at most [`MAX_MISSES`] in a row).
    pub async fn get<T: DeserializeOwned>(&mut self, path: &str) -> Result<T, Failure> {
        loop {
            match self.api.get(path).await {
                Ok(value) => {
                    self.misses = 0;
                    return Ok(value);
                }
                Err(e) if e.is_transient() && self.misses < MAX_MISSES => {
                    self.misses += 1;
                    tokio::time::sleep(self.interval.max(Duration::from_secs(1))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits one interval before the next look.
    pub async fn wait(&self) {
        tokio::time::sleep(self.interval).await;
    }
}
