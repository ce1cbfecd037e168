//! A handle on an AWS SDK client that is built the first time it is used. The adapters (the
//! DynamoDB store, the queues, the buckets, the mailer, the scheduler) hold handles, so a
//! function that wires them at its cold start builds no client — and loads no TLS roots —
//! before a request needs one; a function never builds a client it does not use.

use std::sync::{Arc, LazyLock};

/// A value built the first time it is read.
pub type Lazy<T> = LazyLock<T, Box<dyn FnOnce() -> T + Send>>;

/// `Lazy::new` for a closure.
pub fn lazy<T>(build: impl FnOnce() -> T + Send + 'static) -> Lazy<T> {
    Lazy::new(Box::new(build))
}

/// A client, built on first use (deref: `client.query()`); clones share the one client.
pub struct SdkClient<T: 'static>(Arc<Lazy<T>>);

impl<T> SdkClient<T> {
    pub fn lazy(build: impl FnOnce() -> T + Send + 'static) -> Self {
        Self(Arc::new(lazy(build)))
    }

    /// Whether the client has been built (for tests of what a cold start builds).
    pub fn is_built(&self) -> bool {
        LazyLock::get(&self.0).is_some()
    }
}

impl<T> Clone for SdkClient<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// A client built already (tests, benchmarks, the local runtime's own clients).
impl<T: Send + 'static> From<T> for SdkClient<T> {
    fn from(client: T) -> Self {
        let built = Self::lazy(move || client);
        LazyLock::force(&built.0);
        built
    }
}

impl<T> std::ops::Deref for SdkClient<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for SdkClient<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_built() {
            "SdkClient(built)"
        } else {
            "SdkClient(not built)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn built_once_on_first_use_and_shared_by_clones() {
        static BUILDS: AtomicUsize = AtomicUsize::new(0);
        let client = SdkClient::lazy(|| {
            BUILDS.fetch_add(1, Ordering::SeqCst);
            String::from("client")
        });
        let clone = client.clone();
        assert!(!client.is_built());
        assert_eq!(BUILDS.load(Ordering::SeqCst), 0);
        assert_eq!(clone.len(), 6);
        assert!(client.is_built());
        assert_eq!(client.as_str(), "client");
        assert_eq!(BUILDS.load(Ordering::SeqCst), 1);
        assert!(SdkClient::from(1_u8).is_built());
    }
}
