//! Clients (S2.1–S2.4): CRUD through the gateway and clients-api, validation, tenancy, the
//! parent / subsidiary hierarchy with cycles refused, contacts linked with roles (S1.5), and
//! the client's history (S6.5).

mod contact_links;
mod hierarchy;
mod history;
mod master_data;
