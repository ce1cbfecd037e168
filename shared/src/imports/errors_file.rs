//! An ended import's errors file (S5.5): its reported rows as they were, with their reasons.

use super::planning::Plan;
use super::{RowError, Uploads, import_pk};
use crate::CrmError;
use serde::Deserialize;
use uuid::Uuid;

/// Where an import's errors file is kept (outside `imports/`, so no S3 event fires).
pub fn errors_key(tenant: &str, id: Uuid) -> String {
    format!("errors/{tenant}/{id}/errors.csv")
}

/// The column of the errors file that holds each row's reasons.
pub const ERRORS_COLUMN: &str = "Import errors";

/// Writes the errors file of an ended import from its reported rows (in row order, cells as
/// they were, the reasons last); the same file whenever it is written again.
pub(super) async fn write_errors_file(
    table: &crate::store::Table,
    uploads: &dyn Uploads,
    tenant: &str,
    id: Uuid,
    plan: &Plan,
) -> Result<super::ErrorsFile, CrmError> {
    #[derive(Deserialize)]
    struct Reported {
        cells: Vec<String>,
        errors: Vec<RowError>,
    }
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let mut header = plan.headers.clone();
    header.push(ERRORS_COLUMN.into());
    writer.write_record(&header).map_err(CrmError::internal)?;
    let mut rows = 0;
    let mut start = None;
    loop {
        let page = table
            .query(
                crate::store::Query::partition(import_pk(tenant, id))
                    .prefix("ROW#")
                    .limit(500)
                    .start(start),
            )
            .await?;
        for item in page.items {
            let reported: Reported = crate::store::from_item(item)?;
            let reasons: Vec<String> = reported
                .errors
                .iter()
                .map(|e| match &e.column {
                    Some(column) => format!("{column}: {} ({})", e.message, e.rule),
                    None => format!("{} ({})", e.message, e.rule),
                })
                .collect();
            let mut record = reported.cells;
            record.resize(plan.headers.len(), String::new());
            record.push(reasons.join("; "));
            writer.write_record(&record).map_err(CrmError::internal)?;
            rows += 1;
        }
        match page.last_key {
            Some(last) => start = Some(last),
            None => break,
        }
    }
    let csv = writer.into_inner().map_err(CrmError::internal)?;
    uploads
        .write(&errors_key(tenant, id), csv, "text/csv; charset=utf-8")
        .await?;
    Ok(super::ErrorsFile { rows })
}
