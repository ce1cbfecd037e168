//! `crm export contacts|clients|deals --format csv|xlsx`: start the export job, wait for it,
//! download its file.

use crate::Context;
use crate::error::Failure;
use crate::model::Export;
use crate::poll::Poller;
use crate::progress::spinner;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct ExportArgs {
    pub entity: String,
    /// `csv` or `xlsx`.
    pub format: String,
    pub columns: Vec<String>,
    pub filters: Vec<(String, String)>,
    pub output: Option<PathBuf>,
}

/// Body of `POST /exports`.
#[derive(Serialize)]
struct NewExport<'a> {
    entity: &'a str,
    format: &'a str,
    /// Without: every column the caller may see.
    #[serde(skip_serializing_if = "Option::is_none")]
    columns: Option<&'a [String]>,
    filters: BTreeMap<&'a str, &'a str>,
}

pub async fn run(ctx: &Context, args: &ExportArgs) -> Result<(), Failure> {
    let output = args.output.clone().unwrap_or_else(|| {
        let date = chrono::Local::now().format("%Y-%m-%d");
        PathBuf::from(format!("{}-{date}.{}", args.entity, args.format))
    });
    let started: Export = ctx
        .api
        .post(
            "/exports",
            &NewExport {
                entity: &args.entity,
                format: &args.format,
                columns: Some(args.columns.as_slice()).filter(|c| !c.is_empty()),
                filters: args
                    .filters
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect(),
            },
        )
        .await?;
    let id = started.id;
    if !ctx.terminal {
        println!("Export {id}: {}", started.status);
    }
    let bar = spinner(ctx.terminal, format!("exporting {} ({id})", args.entity));
    let mut poller = Poller::new(&ctx.api, ctx.poll);
    let export = loop {
        let export: Export = poller.get(&format!("/exports/{id}")).await?;
        if export.status != "queued" {
            break export;
        }
        poller.wait().await;
    };
    bar.finish_and_clear();
    match (export.status.as_str(), &export.download) {
        ("completed", Some(download)) => {
            let bytes = ctx.api.download(&download.url, &output).await?;
            println!(
                "Wrote {}: {} {} ({} bytes)",
                output.display(),
                export.rows,
                args.entity,
                bytes
            );
            Ok(())
        }
        ("completed", None) => Err(Failure::Protocol(format!(
            "the export {id} completed without a download"
        ))),
        _ => Err(Failure::ExportFailed {
            id,
            reason: export
                .failure_reason
                .unwrap_or_else(|| format!("it ended as {}", export.status)),
        }),
    }
}

/// A `--filter key=value` argument.
pub fn parse_filter(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!(
            "\"{arg}\" is not key=value (a filter of the list route, e.g. status=lead)"
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn filters_are_key_value_pairs() {
        assert_eq!(
            super::parse_filter("status=lead"),
            Ok(("status".into(), "lead".into()))
        );
        assert_eq!(super::parse_filter("q=a=b"), Ok(("q".into(), "a=b".into())));
        assert!(super::parse_filter("status").is_err());
        assert!(super::parse_filter("=x").is_err());
    }
}
