//! Who is asking and what they may do: the [`Caller`] (from a verified token and the tenant's
//! directory), the one [`policy`] that answers "may this caller do this action on this
//! subject", and the [`visibility`] rules that decide which records they see.

pub mod caller;
pub mod policy;
pub mod visibility;

pub use caller::{Caller, Role};
pub use policy::{Action, Policy, Subject};
