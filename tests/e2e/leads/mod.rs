//! Outreach and leads (S8.1–S8.4): outreach records per type with their fields and rules,
//! listed per contact and per owner under the visibility rules; the lead source catalogue and
//! its migration; the public web form with UTM values, the honeypot and the rate limit;
//! round-robin assignment; notifications listed and marked read, and an import's one summary.

mod forms;
mod notifications;
mod outreach;
mod sources;
