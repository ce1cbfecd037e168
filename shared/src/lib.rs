//! The CRM's domain core. Handlers (in `functions/`) parse a request or event, call into this
//! crate and map the result; nothing here knows about Lambda, API Gateway or the local runtime.

pub mod access;
pub mod activities;
pub mod audit;
pub mod aws_policy;
pub mod catalog;
pub mod clients;
pub mod config;
pub mod contacts;
pub mod custom_fields;
pub mod deals;
pub mod deps;
pub mod directory;
pub mod email;
pub mod errors;
pub mod exports;
pub mod idempotency;
pub mod imports;
pub mod inbox;
pub mod jobs;
pub mod lead_sources;
pub mod leads;
pub mod links;
pub mod outreach;
pub mod privacy;
pub mod quotas;
pub mod records;
pub mod sdk_client;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod values;
pub mod workflows;

pub use access::{Caller, Role, caller, visibility};
pub use config::Config;
pub use deps::{AwsClients, Deps};
pub use errors::{CrmError, FieldError};
/// Cursors and pages of lists (kept under its old name for the handlers).
pub use store::cursor as pagination;
pub use values::{Timestamp, new_id, now};
