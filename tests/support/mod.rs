//! The end-to-end tests' support: the stack ([`stack::Stack`]) with its typed helpers, the
//! test-only record kind ([`widget`]), and the suites every record kind passes ([`suites`]).

pub mod stack;
pub mod suites;
pub mod widget;

pub use serde_json::json;
pub use stack::{Reply, Stack, errors, pair};
