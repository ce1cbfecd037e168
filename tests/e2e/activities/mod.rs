//! Activities and timelines (S6.1–S6.3) and what they touch (S8.5), end to end through the
//! gateway and the shipped handlers.

mod imported_notes;
mod subject_rights;
mod timelines;
mod touches;
mod types;
mod visibility;
