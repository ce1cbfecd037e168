//! An import's source read from a byte offset, a window (an S3 byte range) at a time, as whole
//! CSV records with their lines in the uploaded file.

use super::planning::Plan;
use super::processing::Checkpoint;
use super::text::{decode_cell, encoding_of};
use super::{ReadFailure, Uploads};

/// A record's cells as text: UTF-8 validated at once when it is (the usual case), else cell
/// by cell (see [`decode_cell`]).
fn record_text(
    record: &csv::ByteRecord,
    encoding: &'static encoding_rs::Encoding,
) -> csv::StringRecord {
    if encoding == encoding_rs::UTF_8 {
        if let Ok(text) = csv::StringRecord::from_byte_record(record.clone()) {
            return text;
        }
    }
    decoded(record.iter(), record.len(), encoding)
}

fn decoded<'c>(
    cells: impl Iterator<Item = &'c [u8]>,
    count: usize,
    encoding: &'static encoding_rs::Encoding,
) -> csv::StringRecord {
    let mut text = csv::StringRecord::with_capacity(64, count);
    for cell in cells {
        text.push_field(&decode_cell(cell, encoding));
    }
    text
}

/// Largest record (all its cells): a longer one fails the import.
pub const MAX_RECORD_BYTES: u64 = 1024 * 1024;

pub(super) fn csv_reader(delimiter: u8, bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes)
}

/// One record of the source: its line in the file, its cells, and where the next one starts.
pub struct SourceRecord {
    pub line: u64,
    /// The cells in one buffer (two allocations a record, not one a cell).
    pub cells: csv::StringRecord,
    pub end: u64,
    pub next_line: u64,
}

/// Reads the source's records from a byte offset, a window at a time.
pub struct SourceReader<'a> {
    uploads: &'a dyn Uploads,
    plan: &'a Plan,
    encoding: &'static encoding_rs::Encoding,
    window_bytes: u64,
    /// Where the records not yet returned start, and the line there.
    offset: u64,
    line: u64,
    buffered: std::collections::VecDeque<SourceRecord>,
}

impl<'a> SourceReader<'a> {
    pub fn new(
        uploads: &'a dyn Uploads,
        plan: &'a Plan,
        checkpoint: &Checkpoint,
        window: u64,
    ) -> Self {
        Self {
            uploads,
            plan,
            encoding: encoding_of(&plan.encoding),
            window_bytes: window,
            offset: checkpoint.offset,
            line: checkpoint.line,
            buffered: Default::default(),
        }
    }

    /// The next record, or `None` at the end of the file.
    pub async fn next(&mut self) -> Result<Option<SourceRecord>, ReadFailure> {
        if self.buffered.is_empty() {
            self.fill().await?;
        }
        Ok(self.buffered.pop_front())
    }

    /// Reads the window at `offset` into complete records (the last one of a window that does
    /// not reach the end of the file may be cut off: it is read again with the next window).
    async fn fill(&mut self) -> Result<(), ReadFailure> {
        let mut window = self.window_bytes;
        loop {
            if self.offset >= self.plan.size {
                return Ok(());
            }
            let len = window.min(self.plan.size - self.offset);
            let bytes = self
                .uploads
                .read_range(&self.plan.source_key, self.offset, len)
                .await?;
            let reaches_end = self.offset + bytes.len() as u64 >= self.plan.size;
            let mut reader = csv_reader(self.plan.delimiter, &bytes);
            let mut record = csv::ByteRecord::new();
            let (mut next_offset, mut next_line) = (self.offset, self.line);
            loop {
                match reader.read_byte_record(&mut record) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        return Err(ReadFailure(format!(
                            "the file is not valid CSV near line {next_line}: {e}"
                        )));
                    }
                }
                let end = reader.position().byte();
                if end >= bytes.len() as u64 && !reaches_end {
                    break; // possibly cut off
                }
                let line = self.line + record.position().map_or(1, |p| p.line()) - 1;
                let (line, cells) = if self.plan.line_column && !record.is_empty() {
                    // A converted file: its first column is the line in the uploaded one.
                    let first = std::str::from_utf8(&record[0]).ok();
                    let line = first.and_then(|f| f.parse().ok()).unwrap_or(line);
                    (
                        line,
                        decoded(record.iter().skip(1), record.len(), self.encoding),
                    )
                } else {
                    (line, record_text(&record, self.encoding))
                };
                next_offset = self.offset + end;
                next_line = self.line + reader.position().line() - 1;
                self.buffered.push_back(SourceRecord {
                    line,
                    cells,
                    end: next_offset,
                    next_line,
                });
            }
            if !self.buffered.is_empty() || reaches_end {
                if reaches_end {
                    if let Some(last) = self.buffered.back_mut() {
                        last.end = self.plan.size;
                    }
                }
                self.offset = if reaches_end {
                    self.plan.size
                } else {
                    next_offset
                };
                self.line = next_line;
                return Ok(());
            }
            // Not one whole record in the window: a longer window, up to the record limit.
            if window >= MAX_RECORD_BYTES.max(self.window_bytes) {
                return Err(ReadFailure(format!(
                    "the record at line {} is longer than {} KiB",
                    self.line,
                    MAX_RECORD_BYTES / 1024
                )));
            }
            window = (window * 2).min(MAX_RECORD_BYTES.max(self.window_bytes));
        }
    }
}
