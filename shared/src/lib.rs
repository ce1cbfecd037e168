//! The CRM's domain core. Handlers (in `functions/`) parse a request or event, call into this
//! crate and map the result; nothing here knows about Lambda, API Gateway or the local runtime.

pub mod audit;
pub mod caller;
pub mod clients;
pub mod config;
pub mod contacts;
pub mod custom_fields;
pub mod deps;
pub mod directory;
pub mod error;
pub mod idempotency;
pub mod imports;
pub mod links;
pub mod pagination;
pub mod patch;
pub mod privacy;
pub mod search_keys;
pub mod settings;
pub mod table;
pub mod visibility;
pub mod workflows;

pub use caller::{Caller, Role};
pub use config::Config;
pub use deps::{AwsClients, Deps};
pub use error::{CrmError, FieldError};

/// New record ids are UUIDv7: time-ordered, so "newest first" is a key order.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// All timestamps are UTC; serialised as RFC 3339 with a `Z`.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

pub fn now() -> Timestamp {
    // Millisecond precision keeps stored and returned values byte-identical.
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}
