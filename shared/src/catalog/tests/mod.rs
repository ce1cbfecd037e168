//! The rules of the kinds, on the in-memory store (no AWS endpoint): contacts, clients and
//! custom field values through the use cases the catalogue wires, as the functions get them.

use super::*;
use crate::Role;
use crate::store::Table;

mod clients;
mod contacts;
mod custom_fields;
mod deal_board;
mod deals;

fn admin() -> Caller {
    Caller::new("acme", "alice", Role::Admin)
}
