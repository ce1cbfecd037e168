//! Table access: the one storage port ([`Table`] over an [`ItemStore`]), its DynamoDB and
//! in-memory adapters, the item codec, and list cursors. Domain code reads and writes through
//! [`Table`] only; which adapter is behind it is decided where functions are wired.

pub mod cursor;
pub mod dynamo;
pub mod item;
pub mod memory;
pub mod objects;
pub mod openapi;
pub mod port;
pub mod queue;

#[cfg(any(test, feature = "testkit"))]
pub mod contract;

pub use item::{Item, Key, from_item, key, n, s, to_item};
pub use port::{
    Condition, INDEXES, ItemStore, KeyRange, MAX_TRANSACTION_WRITES, Query, QueryPage, Table,
    TransactError, WriteError, WriteOp,
};
