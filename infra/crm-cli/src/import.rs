//! `crm import contacts|clients FILE`: create the import, upload the file to its presigned URL,
//! wait until the file is read, show what was detected and the mapping, start it, follow it
//! with a progress bar, print the summary and fetch the errors file next to the input.

use crate::Context;
use crate::error::Failure;
use crate::model::{Import, ImportCreated, Mapping, Preview};
use crate::poll::Poller;
use crate::progress::{ImportProgress, duration_text, spinner};
use crate::table;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the file may take to be read after its upload (a large workbook is converted
/// first) before the CLI stops waiting.
const PLANNING_TIMEOUT: Duration = Duration::from_secs(10 * 60);

pub struct ImportArgs {
    /// `contacts` or `clients`.
    pub entity: String,
    pub file: PathBuf,
    pub template: Option<String>,
    pub mapping: Option<PathBuf>,
    /// `create`, `update` or `upsert`.
    pub mode: Option<String>,
    pub sheet: Option<String>,
    /// `existing` or `create_missing`.
    pub link_clients: Option<String>,
}

/// Body of `POST /imports`: without `start`, the import waits as `uploaded` for its start.
#[derive(Serialize)]
struct NewImport<'a> {
    file_name: &'a str,
    /// Sent for clients only, so contact imports work with servers that import contacts only.
    #[serde(skip_serializing_if = "Option::is_none")]
    entity: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sheet: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    link_clients: Option<&'a str>,
}

/// Body of `POST /imports/{id}/start`.
#[derive(Serialize)]
struct StartImport<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    mapping: Option<&'a Mapping>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<&'a str>,
}

pub async fn run(ctx: &Context, args: &ImportArgs) -> Result<(), Failure> {
    let size = input_size(&args.file)?;
    let mapping = args.mapping.as_deref().map(read_mapping).transpose()?;
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Failure::Usage(format!("{}: not a file", args.file.display())))?;
    // A template named at creation starts the import as soon as its file is read, with the
    // template's mapping (the preview then shows it "as mapped"). With a mapping file the
    // template goes with the start instead, where the mapping file wins over its mapping.
    let template_at_creation = args.template.as_deref().filter(|_| mapping.is_none());
    let created: ImportCreated = ctx
        .api
        .post(
            "/imports",
            &NewImport {
                file_name: &file_name,
                entity: Some(args.entity.as_str()).filter(|e| *e == "clients"),
                mode: args.mode.as_deref(),
                sheet: args.sheet.as_deref(),
                template: template_at_creation,
                link_clients: args.link_clients.as_deref(),
            },
        )
        .await?;
    let id = created.import.id.clone();
    println!(
        "Import {id}: uploading {} ({})",
        args.file.display(),
        size_text(size)
    );
    // A spinner on a terminal while the file goes up and is read (a workbook is converted).
    let waiting = spinner(ctx.terminal, "uploading".into());
    ctx.api.upload(&created.upload, &args.file, size).await?;
    waiting.set_message("reading the file");
    let mut poller = Poller::new(&ctx.api, ctx.poll);
    let import = wait_until_read(&mut poller, &id).await;
    waiting.finish_and_clear();
    let import = import?;
    let preview: Preview = poller.get(&format!("/imports/{id}/preview")).await?;
    // Started already (a template): the preview shows the mapping in use.
    let title = match (&import.mapping, &template_at_creation) {
        (Some(_), Some(template)) => format!("Mapping of the template \"{template}\":"),
        (Some(_), None) => "Mapping:".to_string(),
        (None, _) => "Suggested mapping:".to_string(),
    };
    print_preview(&preview, import.detected.as_ref(), &title);

    if import.status == "uploaded" {
        let start = StartImport {
            mapping: mapping.as_ref(),
            mode: args.mode.as_deref(),
            template: args.template.as_deref().filter(|_| mapping.is_some()),
        };
        let started: Import = match ctx.api.post(&format!("/imports/{id}/start"), &start).await {
            Ok(started) => started,
            Err(refused @ Failure::Refused { .. }) => {
                // Not left waiting as `uploaded`: a run with a fixed mapping is a new import.
                let cancel = format!("/imports/{id}/cancel");
                if let Ok::<Import, _>(cancelled) =
                    ctx.api.post(&cancel, &serde_json::json!({})).await
                {
                    println!("Import {id} {}: its start was refused.", cancelled.status);
                }
                return Err(refused);
            }
            Err(other) => return Err(other),
        };
        let source = match (&args.mapping, &args.template) {
            (Some(path), _) => Some(format!("from {}", path.display())),
            (None, Some(template)) => Some(format!("of the template \"{template}\"")),
            (None, None) => None,
        };
        match (source, &started.mapping) {
            (Some(source), Some(used)) => print_mapping(&format!("Mapping {source}"), used),
            _ => println!("Started with the suggested mapping."),
        }
        println!("Mode: {}", started.mode.as_deref().unwrap_or("create"));
    } else {
        println!(
            "Started when its file was read, with the template \"{}\".",
            args.template.as_deref().unwrap_or("?")
        );
        println!("Mode: {}", import.mode.as_deref().unwrap_or("create"));
    }

    let (import, took) = follow(&mut poller, &id, ctx.terminal).await?;
    print_summary(&import, took);
    if import.errors_file.as_ref().is_some_and(|f| f.rows > 0) {
        let path = errors_path(&args.file);
        let download: crate::model::ErrorsDownload =
            ctx.api.get(&format!("/imports/{id}/errors")).await?;
        ctx.api.download(&download.url, &path).await?;
        println!(
            "Errors file: {} ({} row{}, each with its reasons in the last column)",
            path.display(),
            download.rows,
            if download.rows == 1 { "" } else { "s" }
        );
    }
    match import.status.as_str() {
        "failed" => Err(ended(&import, "the file was refused")),
        "cancelled" => Err(ended(
            &import,
            "it was stopped before its end; the rows written so far stay",
        )),
        _ => Ok(()),
    }
}

fn ended(import: &Import, otherwise: &str) -> Failure {
    Failure::ImportEnded {
        id: import.id.clone(),
        status: import.status.clone(),
        reason: import
            .failure_reason
            .clone()
            .unwrap_or_else(|| otherwise.to_string()),
    }
}

/// The input's size; a missing file or a directory is a usage error.
fn input_size(file: &Path) -> Result<u64, Failure> {
    match std::fs::metadata(file) {
        Ok(meta) if meta.is_file() => Ok(meta.len()),
        Ok(_) => Err(Failure::Usage(format!(
            "{}: not a file to import",
            file.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Failure::Usage(format!(
            "{}: no such file to import",
            file.display()
        ))),
        Err(e) => Err(Failure::io(file, e)),
    }
}

/// A mapping file: JSON of the `Mapping` schema.
fn read_mapping(path: &Path) -> Result<Mapping, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Failure::Usage(format!("{}: no such mapping file", path.display()))
        }
        _ => Failure::io(path, e),
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Failure::Usage(format!(
            "{}: not a mapping ({e}); expected JSON like \
             {{\"columns\":[{{\"column\":\"E-Mail\",\"target\":\"email\"}}],\"date_order\":\"dmy\"}}",
            path.display()
        ))
    })
}

/// Where the errors file goes: beside the input, `<stem>.errors.csv`.
pub fn errors_path(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import".into());
    input.with_file_name(format!("{stem}.errors.csv"))
}

/// Polls until the file has been read: `uploaded` (waiting for its start), already started
/// (a template), or `failed` (refused whole).
async fn wait_until_read(poller: &mut Poller<'_>, id: &str) -> Result<Import, Failure> {
    let since = Instant::now();
    loop {
        let import: Import = poller.get(&format!("/imports/{id}")).await?;
        match import.status.as_str() {
            "awaiting_upload" if since.elapsed() > PLANNING_TIMEOUT => {
                return Err(Failure::ImportEnded {
                    id: id.to_string(),
                    status: "was not read".into(),
                    reason: format!(
                        "the file was uploaded but not read within {}; \
                         look at it later with `crm imports`",
                        duration_text(PLANNING_TIMEOUT)
                    ),
                });
            }
            "awaiting_upload" => poller.wait().await,
            "failed" => return Err(ended(&import, "the file was refused")),
            _ => return Ok(import),
        }
    }
}

/// Polls until the import ends, drawing its progress: the import and how long it was followed.
async fn follow(
    poller: &mut Poller<'_>,
    id: &str,
    terminal: bool,
) -> Result<(Import, Duration), Failure> {
    let mut progress = ImportProgress::new(terminal);
    loop {
        let import: Import = poller.get(&format!("/imports/{id}")).await?;
        progress.update(&import);
        if import.has_ended() {
            return Ok((import, progress.elapsed()));
        }
        poller.wait().await;
    }
}

fn print_preview(preview: &Preview, detected: Option<&crate::model::FileFormat>, title: &str) {
    if let Some(format) = preview.detected.as_ref().or(detected) {
        let mut parts = vec![format.format.clone()];
        if let Some(encoding) = &format.encoding {
            parts.push(format!("encoding {encoding}"));
        }
        if let Some(delimiter) = &format.delimiter {
            let shown = match delimiter.as_str() {
                "\t" => "tab".to_string(),
                d => format!("\"{d}\""),
            };
            parts.push(format!("delimiter {shown}"));
        }
        if let Some(sheet) = &format.sheet {
            parts.push(format!("sheet \"{sheet}\""));
        }
        parts.push(format!("header row {}", preview.header_row));
        println!("Detected: {}", parts.join(", "));
    }
    println!("{title}");
    let rows: Vec<Vec<String>> = preview
        .columns
        .iter()
        .map(|c| {
            vec![
                c.column.clone(),
                c.target.clone().unwrap_or_else(|| "-".into()),
                c.reason.clone(),
            ]
        })
        .collect();
    print!("{}", table::render(&["COLUMN", "TARGET", "WHY"], &rows));
    let problems: Vec<String> = preview
        .rows
        .iter()
        .flat_map(|row| {
            row.cells.iter().filter_map(move |cell| {
                cell.error.as_ref().map(|e| {
                    format!(
                        "row {}, {} \"{}\": {} ({})",
                        row.row, cell.column, cell.value, e.message, e.rule
                    )
                })
            })
        })
        .collect();
    if !problems.is_empty() {
        println!(
            "In the first {} rows, {} cells break a rule (those rows will fail):",
            preview.rows.len(),
            problems.len()
        );
        for problem in problems.iter().take(5) {
            println!("  {problem}");
        }
        if problems.len() > 5 {
            println!("  … and {} more", problems.len() - 5);
        }
    }
}

fn print_mapping(title: &str, mapping: &Mapping) {
    println!("{title}:");
    let rows: Vec<Vec<String>> = mapping
        .columns
        .iter()
        .map(|c| vec![c.column.clone(), c.target.clone()])
        .collect();
    print!("{}", table::render(&["COLUMN", "TARGET"], &rows));
    if let Some(order) = &mapping.date_order {
        println!("  dates: {order}");
    }
}

fn print_summary(import: &Import, took: Duration) {
    println!(
        "Import {} {} in {} ({}, mode {}):",
        import.id,
        import.status,
        duration_text(took),
        import.entity(),
        import.mode.as_deref().unwrap_or("create")
    );
    for (name, value) in [
        ("rows", import.rows),
        ("created", import.created),
        ("updated", import.updated),
        ("skipped", import.skipped),
        ("failed", import.failed),
    ] {
        println!("  {name:<8} {value}");
    }
    if let Some(reason) = &import.failure_reason {
        println!("  reason   {reason}");
    }
}

fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64;
    let mut unit = "";
    for u in UNITS {
        value /= 1024.0;
        unit = u;
        if value < 1024.0 {
            break;
        }
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_errors_file_goes_beside_the_input() {
        assert_eq!(
            errors_path(Path::new("/data/leads.2024.csv")),
            PathBuf::from("/data/leads.2024.errors.csv")
        );
        assert_eq!(
            errors_path(Path::new("leads.xlsx")),
            PathBuf::from("leads.errors.csv")
        );
    }

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(size_text(512), "512 bytes");
        assert_eq!(size_text(15_360), "15.0 KiB");
        assert_eq!(size_text(5 * 1024 * 1024), "5.0 MiB");
    }

    #[test]
    fn a_mapping_file_with_a_typo_is_refused_before_any_request() {
        let dir = std::env::temp_dir().join(format!("crm-cli-mapping-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mapping.json");
        std::fs::write(&path, r#"{"colums": []}"#).unwrap();
        let failure = read_mapping(&path).unwrap_err();
        assert_eq!(failure.exit_code(), 2);
        assert!(
            failure.to_string().contains("unknown field `colums`"),
            "{failure}"
        );
        std::fs::write(
            &path,
            r#"{"columns": [{"column": "E-Mail", "target": "email"}], "date_order": "dmy"}"#,
        )
        .unwrap();
        let mapping = read_mapping(&path).unwrap();
        assert_eq!(mapping.columns[0].target, "email");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
