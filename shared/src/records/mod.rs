//! The record engine: what every kind of record (contacts, clients, deals, …) is built on.
//!
//! A kind declares its [`Schema`] (names, facets, sorts, search, deletion), how its records
//! are made from requests and what is indexed ([`Kind`]); [`Records`] gives it the rest:
//!
//! - record bookkeeping: ids, created / updated by and at, version and If-Match, the trash
//!   and restore, or deletion with a tombstone ([`service`]);
//! - the one visibility check (owner, team, shares, portal) and the policy, on every read,
//!   list, write and history ([`crate::access`]);
//! - the audit trail, written in the record's transaction ([`write`]);
//! - custom field values: validated by the one validator, references checked, shown as the
//!   caller may see them ([`custom`]);
//! - index entries: facets, search tokens, name pairs, custom field terms, each qualified by
//!   owner, team and category ([`entries`], [`keys`]);
//! - lists: the planner ([`plan`]) and its reader ([`reader`]) with a read budget and cursors
//!   bound to the tenant, the query and the caller ([`query`]).
//!
//! Storage is the port [`crate::store::Table`]; the rules run on the in-memory store in unit
//! tests and on DynamoDB in Lambda.

pub mod bulk;
pub mod custom;
pub mod entries;
pub mod keys;
pub mod kind;
pub mod plan;
pub mod query;
pub mod reader;
pub mod service;
pub mod store;
pub mod write;

pub use custom::{ReferenceCheck, WrittenValues};
pub use kind::{
    Bookkeeping, Claim, Deletion, Facet, Kind, RangeFilter, Record, Schema, SearchText, SortOrder,
    Stamp,
};
pub use query::RecordQuery;
pub use reader::{ReadStats, read_budget};
pub use service::{Context, Records, next_version};
pub use store::{RecordStore, Tombstone};
pub use write::WriteFailure;
