//! End-to-end tests: real HTTP requests and real event shapes through the shipped handlers and
//! the local gateway, against the local AWS endpoint (`make test`). One binary; each module is
//! a behaviour of the CRM, named by its spec items.

mod activities;
mod browser_cors;
mod clients;
mod contacts;
mod custom_fields;
mod deals;
mod exports;
mod faults;
mod http_semantics;
mod import_clients;
mod import_runs;
mod imports;
mod inbox;
mod kinds;
mod leads;
mod messages;
mod operations;
mod owasp;
mod platform;
mod search;
mod settings;
mod template;
mod visibility;
mod workflows;
