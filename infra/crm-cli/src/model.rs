//! The API's resources as the CLI reads them (see `shared/src/imports/mod.rs` and
//! `shared/src/exports.rs`). Lenient on purpose: fields the CLI does not show are ignored and
//! new ones do not break it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An import (`GET /imports/{id}`).
#[derive(Debug, Clone, Deserialize)]
pub struct Import {
    pub id: String,
    pub file_name: String,
    /// `contacts` or `clients` (absent from servers that import contacts only).
    #[serde(default)]
    pub entity: Option<String>,
    pub status: String,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub created_at: String,
    /// Data rows done so far (all of them once completed).
    #[serde(default)]
    pub rows: u64,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub updated: u64,
    #[serde(default)]
    pub skipped: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub progress: Option<Progress>,
    #[serde(default)]
    pub mapping: Option<Mapping>,
    #[serde(default)]
    pub errors_file: Option<ErrorsFile>,
    #[serde(default)]
    pub detected: Option<FileFormat>,
    #[serde(default)]
    pub failure_reason: Option<String>,
}

impl Import {
    /// The import has stopped moving: nothing more will change on its own.
    pub fn has_ended(&self) -> bool {
        matches!(
            self.status.as_str(),
            "completed" | "failed" | "cancelled" | "undoing" | "undone"
        )
    }

    pub fn entity(&self) -> &str {
        self.entity.as_deref().unwrap_or("contacts")
    }
}

/// How far an import is, in bytes of its file.
#[derive(Debug, Clone, Deserialize)]
pub struct Progress {
    #[serde(default)]
    pub bytes_done: u64,
    #[serde(default)]
    pub bytes_total: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ErrorsFile {
    pub rows: u64,
}

/// What was detected of an uploaded file.
#[derive(Debug, Clone, Deserialize)]
pub struct FileFormat {
    pub format: String,
    #[serde(default)]
    pub encoding: Option<String>,
    #[serde(default)]
    pub delimiter: Option<String>,
    #[serde(default)]
    pub sheet: Option<String>,
}

/// A column mapping (the `Mapping` schema): the file's columns to fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub columns: Vec<ColumnMapping>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_order: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    pub column: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
}

/// `POST /imports` answers the import and where to upload its file.
#[derive(Debug, Deserialize)]
pub struct ImportCreated {
    pub import: Import,
    pub upload: UploadTarget,
}

#[derive(Debug, Deserialize)]
pub struct UploadTarget {
    pub url: String,
    pub method: String,
    /// Sent exactly as given: they are part of the signature.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// `GET /imports/{id}/preview`.
#[derive(Debug, Deserialize)]
pub struct Preview {
    #[serde(default)]
    pub detected: Option<FileFormat>,
    #[serde(default)]
    pub header_row: u64,
    #[serde(default)]
    pub columns: Vec<Suggestion>,
    #[serde(default)]
    pub rows: Vec<PreviewRow>,
}

#[derive(Debug, Deserialize)]
pub struct Suggestion {
    pub column: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Deserialize)]
pub struct PreviewRow {
    pub row: u64,
    #[serde(default)]
    pub cells: Vec<PreviewCell>,
}

#[derive(Debug, Deserialize)]
pub struct PreviewCell {
    pub column: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub error: Option<RowError>,
}

#[derive(Debug, Deserialize)]
pub struct RowError {
    #[serde(default)]
    pub rule: String,
    #[serde(default)]
    pub message: String,
}

/// `GET /imports/{id}/errors`.
#[derive(Debug, Deserialize)]
pub struct ErrorsDownload {
    pub url: String,
    #[serde(default)]
    pub rows: u64,
}

/// An export (`GET /exports/{id}`).
#[derive(Debug, Deserialize)]
pub struct Export {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub rows: u64,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub download: Option<Download>,
}

#[derive(Debug, Deserialize)]
pub struct Download {
    pub url: String,
}

/// A page of a list route.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}
