//! Leads (S8.2–S8.4): the lead source catalogue's saving and migration ([`sources`]), public
//! web forms with their rate limit ([`web_forms`]), the one contact creation of every lead
//! path with lead events and notifications ([`events`], [`notifications`], [`mail`]), and the
//! assignment rules ([`assignment`]).

pub mod assignment;
pub mod events;
pub mod mail;
pub mod notifications;
pub mod sources;
pub mod web_forms;

pub use events::Leads;
