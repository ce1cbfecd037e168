//! `crm`: bulk imports and exports of the CRM from a terminal (issue 11, S5.1–S5.5). A thin
//! client of the HTTP API: every step is a request a browser could make too.

mod api;
mod error;
mod export;
mod import;
mod list;
mod model;
mod poll;
mod progress;
mod table;

use clap::{Parser, Subcommand, ValueEnum};
use error::Failure;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "crm",
    version,
    about = "Imports and exports of the CRM from a terminal",
    after_help = "Exit codes: 0 done (rows may have failed: see the errors file), 1 the import or \
                  export failed, 2 usage, 3 the API refused the token, 4 the API is not \
                  reachable, 5 the API refused the request."
)]
struct Cli {
    /// The API's base URL (`make dev`: http://127.0.0.1:3000).
    #[arg(
        long,
        env = "CRM_API_URL",
        default_value = "http://127.0.0.1:3000",
        global = true
    )]
    api_url: String,
    /// A bearer token (`make token TENANT=… USER=… ROLE=…` prints one for `make dev`).
    #[arg(long, env = "CRM_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Milliseconds between two looks at a running import or export.
    #[arg(long, default_value_t = 500, hide = true, global = true)]
    poll_interval_ms: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import a file (.csv, .tsv, .txt, .xlsx, .xlsm, .xls, .ods): shows what was detected and
    /// the mapping, then the progress, the summary, and writes FILE's failed rows to
    /// <stem>.errors.csv beside it.
    Import {
        /// What the rows are.
        entity: ImportEntity,
        /// The file to import.
        file: PathBuf,
        /// An import template (id or name) whose mapping and mode to use.
        #[arg(long)]
        template: Option<String>,
        /// A JSON mapping: {"columns":[{"column":"E-Mail","target":"email"}],"date_order":"dmy"}.
        #[arg(long, value_name = "MAPPING.json")]
        mapping: Option<PathBuf>,
        /// What rows whose email belongs to a record do (default create: they are skipped).
        #[arg(long, value_enum)]
        mode: Option<Mode>,
        /// The sheet of a workbook (default: the first that holds data).
        #[arg(long)]
        sheet: Option<String>,
        /// Contacts: link each to the client named by its company cell (`existing`), creating
        /// a client for a name none has (`create-missing`).
        #[arg(long, value_enum)]
        link_clients: Option<LinkClients>,
    },
    /// Export records to a file.
    Export {
        /// What to export.
        entity: ExportEntity,
        #[arg(long, value_enum, default_value = "xlsx")]
        format: Format,
        /// The columns, in order (default: every column you may see).
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        /// A filter of the list route, as its query parameter (repeatable): status=lead.
        #[arg(long = "filter", value_name = "KEY=VALUE", value_parser = export::parse_filter)]
        filters: Vec<(String, String)>,
        /// Where to write the file (default: <entity>-<date>.<format>).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// List the latest imports.
    Imports {
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=200))]
        limit: u16,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ImportEntity {
    Contacts,
    Clients,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportEntity {
    Contacts,
    Clients,
    Deals,
}

#[derive(Clone, Copy, ValueEnum)]
enum LinkClients {
    Existing,
    CreateMissing,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Create,
    Update,
    Upsert,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Csv,
    Xlsx,
}

/// Its name as the API spells it (the value-enum's own name).
fn name(value: impl ValueEnum) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// What every command needs: the API, how often to poll, whether stdout is a terminal.
pub struct Context {
    pub api: api::Api,
    pub poll: Duration,
    pub terminal: bool,
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let token = cli.token.filter(|t| !t.trim().is_empty()).ok_or_else(|| {
        Failure::Usage(
            "no token: pass --token or set CRM_TOKEN (`make token TENANT=… USER=… ROLE=…` \
             prints one for `make dev`)"
                .into(),
        )
    })?;
    let ctx = Context {
        api: api::Api::new(&cli.api_url, token.trim())?,
        poll: Duration::from_millis(cli.poll_interval_ms.max(10)),
        terminal: std::io::stdout().is_terminal(),
    };
    match cli.command {
        Command::Import {
            entity,
            file,
            template,
            mapping,
            mode,
            sheet,
            link_clients,
        } => {
            let args = import::ImportArgs {
                entity: name(entity),
                file,
                template,
                mapping,
                mode: mode.map(name),
                sheet,
                // The API spells it `create_missing`.
                link_clients: link_clients.map(|l| name(l).replace('-', "_")),
            };
            import::run(&ctx, &args).await
        }
        Command::Export {
            entity,
            format,
            columns,
            filters,
            output,
        } => {
            let args = export::ExportArgs {
                entity: name(entity),
                format: name(format),
                columns,
                filters,
                output,
            };
            export::run(&ctx, &args).await
        }
        Command::Imports { limit } => list::run(&ctx, limit).await,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
