//! A file as rows of text cells, whatever it was (CSV text or a spreadsheet's sheet).

/// The header row and the data rows, each with its line in the file (the header's is 1 in a
/// CSV file; a sheet's rows keep their row numbers).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<(u64, Vec<String>)>,
}
