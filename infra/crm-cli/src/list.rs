//! `crm imports`: the tenant's imports, newest first, as a table.

use crate::Context;
use crate::error::Failure;
use crate::model::{Import, Page};
use crate::progress::Figures;
use crate::table;
use std::time::Duration;

pub async fn run(ctx: &Context, limit: u16) -> Result<(), Failure> {
    let page: Page<Import> = ctx.api.get(&format!("/imports?limit={limit}")).await?;
    if page.items.is_empty() {
        println!("No imports yet.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = page.items.iter().map(row).collect();
    print!(
        "{}",
        table::render(
            &[
                "ID",
                "CREATED AT",
                "ENTITY",
                "STATUS",
                "ROWS",
                "CREATED/UPDATED/FAILED",
                "FILE"
            ],
            &rows
        )
    );
    if page.next_cursor.is_some() {
        println!("(more: raise --limit, at most 200)");
    }
    Ok(())
}

fn row(import: &Import) -> Vec<String> {
    let rows = match import.status.as_str() {
        "awaiting_upload" | "uploaded" => "-".to_string(),
        _ => Figures::of(import, Duration::ZERO)
            .rows_text()
            .trim_end_matches(" rows")
            .to_string(),
    };
    vec![
        import.id.clone(),
        created_at(&import.created_at),
        import.entity().to_string(),
        import.status.clone(),
        rows,
        format!("{}/{}/{}", import.created, import.updated, import.failed),
        import.file_name.clone(),
    ]
}

/// `2026-12-01T04:38:22.123Z` as `2026-12-01 04:38Z`.
fn created_at(timestamp: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(timestamp)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%MZ")
                .to_string()
        })
        .unwrap_or_else(|_| timestamp.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_shorten_to_the_minute() {
        assert_eq!(
            super::created_at("2026-12-01T04:38:22.123Z"),
            "2026-12-01 04:38Z"
        );
        assert_eq!(super::created_at("soon"), "soon");
    }
}
