//! The `crm` binary against the real local stack: each test provisions its own stack (on the
//! moto endpoint of `AWS_ENDPOINT_URL`), serves the gateway, and runs the runtime's background
//! loop (`make dev`'s: S3 events and queue messages to the import processor and the job
//! worker), so the CLI process sees an import move as a user would. The tests wait on the
//! process (or on tmux's `wait-for` channel), never on a clock.

use crm_e2e_tests::Stack;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// How long one `crm` run may take before the test fails (a hang must not block CI).
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// A stack with its background loop running, an admin's token and a directory for files.
struct Env {
    stack: Stack,
    token: String,
    dir: PathBuf,
    event_loop: tokio::task::JoinHandle<()>,
}

impl Env {
    async fn start(name: &str) -> Self {
        let stack = Stack::start().await;
        let token = stack.token("acme", "alice", "admin");
        let event_loop = tokio::spawn(
            stack
                .runtime
                .clone()
                .run_event_loop(Duration::from_millis(50)),
        );
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("crm-cli")
            .join(format!("{name}-{}", stack.prefix));
        std::fs::create_dir_all(&dir).expect("a directory for the test's files");
        Self {
            stack,
            token,
            dir,
            event_loop,
        }
    }

    /// `crm ARGS` with this stack's URL and the admin's token in the environment.
    fn crm(&self, args: &[&str]) -> Command {
        self.crm_as(&self.stack.base_url, &self.token, args)
    }

    fn crm_as(&self, api_url: &str, token: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_crm"));
        cmd.args(args)
            .args(["--poll-interval-ms", "100"])
            .env("CRM_API_URL", api_url)
            .env("CRM_TOKEN", token)
            .current_dir(&self.dir);
        cmd
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.event_loop.abort();
    }
}

/// Runs a command to its end (killed and failed after [`RUN_LIMIT`]); the loop and the gateway
/// keep running on the test's runtime meanwhile.
async fn run(cmd: Command) -> Output {
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    tokio::time::timeout(RUN_LIMIT, cmd.output())
        .await
        .expect("the command ends in time")
        .expect("the command runs")
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn ran(cmd: Command) -> Ran {
    let out = run(cmd).await;
    let ran = Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!(
        "--- exit {:?}\n--- stdout\n{}--- stderr\n{}",
        ran.code, ran.stdout, ran.stderr
    );
    ran
}

/// A file of `rows` contacts; every 60th row's email is broken. The file and the broken rows'
/// emails.
fn contacts_file(rows: usize, tag: &str) -> (String, Vec<String>) {
    let mut csv = String::from("First name,Last name,E-Mail,Company\n");
    let mut bad = Vec::new();
    for i in 0..rows {
        let email = if i % 60 == 59 {
            let email = format!("not-an-email-{tag}-{i}");
            bad.push(email.clone());
            email
        } else {
            format!("{tag}{i}@example.com")
        };
        csv.push_str(&format!("Ada{i},Lovelace{i},{email},Engines {i} Ltd\n"));
    }
    (csv, bad)
}

/// The lines of `text` that hold every one of `parts`.
fn lines_with<'a>(text: &'a str, parts: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .collect()
}

/// S5.1–S5.5 without a terminal: 300 rows (5 broken) → the detected format, the suggested
/// mapping, plain progress lines, the exact summary, the errors file beside the input holding
/// exactly the broken rows with their reasons, and the contacts in the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_without_a_terminal_prints_plain_lines_and_writes_the_errors_file() {
    let env = Env::start("plain").await;
    let (csv, bad) = contacts_file(300, "plain");
    assert_eq!(bad.len(), 5);
    let input = env.path("leads.csv");
    std::fs::write(&input, &csv).unwrap();

    let out = ran(env.crm(&["import", "contacts", input.to_str().unwrap()])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let stdout = &out.stdout;
    assert!(
        stdout.contains("Detected: csv, encoding utf-8, delimiter \",\", header row 1"),
        "{stdout}"
    );
    assert!(stdout.contains("Suggested mapping:"), "{stdout}");
    for (column, target) in [
        ("First name", "first_name"),
        ("Last name", "last_name"),
        ("E-Mail", "email"),
        ("Company", "company"),
    ] {
        assert_eq!(
            lines_with(
                stdout,
                &[column, target, "the header is a name of this field"]
            )
            .len(),
            1,
            "{column} → {target}: {stdout}"
        );
    }
    assert!(
        !lines_with(stdout, &["progress: 300/300 rows", "done in"]).is_empty(),
        "a final progress line: {stdout}"
    );
    assert!(!stdout.contains('\u{1b}'), "no terminal escapes in a log");
    let summary: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Import ") || !l.contains(" completed in "))
        .collect();
    assert_eq!(
        &summary[1..6],
        [
            "  rows     300",
            "  created  295",
            "  updated  0",
            "  skipped  0",
            "  failed   5"
        ],
        "{stdout}"
    );

    let errors_path = env.path("leads.errors.csv");
    assert!(
        stdout.contains(&format!("Errors file: {} (5 rows", errors_path.display())),
        "{stdout}"
    );
    let mut reader =
        csv::Reader::from_path(&errors_path).expect("the errors file beside the input");
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "First name",
            "Last name",
            "E-Mail",
            "Company",
            "Import errors"
        ]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let emails: Vec<&str> = records.iter().map(|r| &r[2]).collect();
    assert_eq!(emails, bad, "exactly the broken rows, in file order");
    for record in &records {
        assert_eq!(
            &record[4], "E-Mail: must be an email address like name@example.com (format)",
            "the reason names the column and the rule: {record:?}"
        );
    }

    let contacts = env.stack.list_all("/contacts?limit=200", &env.token).await;
    let stored: BTreeSet<String> = contacts
        .iter()
        .map(|c| c["email"].as_str().unwrap_or_default().to_string())
        .collect();
    let expected: BTreeSet<String> = (0..300)
        .filter(|i| i % 60 != 59)
        .map(|i| format!("plain{i}@example.com"))
        .collect();
    assert_eq!(stored, expected, "every good row is a contact");
}

/// A private tmux server: killed when dropped, whatever the test's outcome.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket]);
        cmd
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
    }
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// S5.5 as a person sees it: `crm import` in a 120×40 tmux pane draws a bar; when it has
/// ended (it signals a tmux channel the test waits on), the pane shows the full bar with every
/// row done and the summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_in_a_terminal_draws_a_bar_that_ends_full() {
    let version = Command::new("tmux").arg("-V").output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "this test needs tmux (CI installs it: .ci/run): {version:?}"
    );
    let env = Env::start("tmux").await;
    let (csv, bad) = contacts_file(240, "tty");
    let input = env.path("people.csv");
    std::fs::write(&input, &csv).unwrap();
    let conf = env.path("tmux.conf");
    // The pane stays (with its text) after the command ends, until the server is killed.
    std::fs::write(
        &conf,
        "set -g remain-on-exit on\nset -g history-limit 5000\n",
    )
    .unwrap();

    let tmux = Tmux {
        socket: format!("crm-cli-{}", env.stack.prefix),
    };
    let channel = format!("crm-done-{}", env.stack.prefix);
    let script = format!(
        "export CRM_API_URL={url} CRM_TOKEN={token}; {crm} import contacts {input} \
         --poll-interval-ms 100; echo \"[crm exited $?]\"; tmux -L {socket} wait-for -S {channel}",
        url = sh_quote(&env.stack.base_url),
        token = sh_quote(&env.token),
        crm = sh_quote(env!("CARGO_BIN_EXE_crm")),
        input = sh_quote(input.to_str().unwrap()),
        socket = sh_quote(&tmux.socket),
        channel = sh_quote(&channel),
    );
    let started = run({
        let mut cmd = tmux.command();
        cmd.args(["-f", conf.to_str().unwrap()])
            .args(["new-session", "-d", "-s", "crm", "-x", "120", "-y", "40"])
            .arg(&script);
        cmd
    })
    .await;
    assert!(started.status.success(), "tmux new-session: {started:?}");
    // Blocks until the command has signalled its end (a signal sent first is kept).
    let waited = run({
        let mut cmd = tmux.command();
        cmd.args(["wait-for", &channel]);
        cmd
    })
    .await;
    assert!(waited.status.success(), "tmux wait-for: {waited:?}");
    let captured = run({
        let mut cmd = tmux.command();
        cmd.args(["capture-pane", "-p", "-t", "crm", "-S", "-"]);
        cmd
    })
    .await;
    let pane = String::from_utf8_lossy(&captured.stdout).into_owned();
    eprintln!("--- pane\n{pane}");

    assert!(pane.contains("[crm exited 0]"), "{pane}");
    let good = 240 - bad.len();
    let bars = lines_with(&pane, &["240/240 rows", "done in", "["]);
    assert_eq!(bars.len(), 1, "one final bar line: {pane}");
    assert!(
        bars[0].contains(&format!("[{}]", "=".repeat(32))),
        "the bar is full: {}",
        bars[0]
    );
    assert!(
        !pane.contains("progress: "),
        "a terminal gets the bar, not plain lines: {pane}"
    );
    for line in [
        "  rows     240".to_string(),
        format!("  created  {good}"),
        format!("  failed   {}", bad.len()),
    ] {
        assert!(pane.lines().any(|l| l == line), "{line:?} in {pane}");
    }
    assert!(pane.contains("Errors file: "), "{pane}");
}

/// Refusals read clearly and exit nonzero: a wrong token, an API that is not there, a file
/// the server refuses whole (binary), a file type it does not take, a mapping that does not
/// fit, a missing input file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_say_what_is_wrong_and_exit_nonzero() {
    let env = Env::start("refusals").await;
    let csv = env.path("ok.csv");
    std::fs::write(&csv, "First name,E-Mail\nAda,ada@example.com\n").unwrap();
    let csv_arg = csv.to_str().unwrap();

    let out = ran(env.crm_as(
        &env.stack.base_url,
        "not-a-token",
        &["import", "contacts", csv_arg],
    ))
    .await;
    assert_eq!(out.code, Some(3));
    assert!(
        out.stderr
            .starts_with("error: the API refused the token (401 Unauthorized)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--token or CRM_TOKEN"));

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{closed}");
    let out = ran(env.crm_as(&url, &env.token, &["imports"])).await;
    assert_eq!(out.code, Some(4));
    assert!(
        out.stderr
            .starts_with(&format!("error: cannot reach the API at {url}: ")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.to_lowercase().contains("connection refused"),
        "{}",
        out.stderr
    );

    let binary = env.path("photo.csv");
    std::fs::write(&binary, b"name,email\n\0\x01\x02\x03\xff\xfe\0\0binary").unwrap();
    let out = ran(env.crm(&["import", "contacts", binary.to_str().unwrap()])).await;
    assert_eq!(out.code, Some(1));
    assert!(
        lines_with(
            &out.stderr,
            &[
                "error: the import ",
                " failed: the file is not text (it holds NUL bytes); save it as CSV"
            ]
        )
        .len()
            == 1,
        "{}",
        out.stderr
    );

    let pdf = env.path("notes.pdf");
    std::fs::write(&pdf, "%PDF-1.7").unwrap();
    let out = ran(env.crm(&["import", "contacts", pdf.to_str().unwrap()])).await;
    assert_eq!(out.code, Some(5));
    assert!(
        out.stderr
            .starts_with("error: the API refused the request (422 Unprocessable Entity)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "  - file_name: a .csv, .tsv, .txt, .xlsx, .xlsm, .xls or .ods file (file_type)"
        ),
        "{}",
        out.stderr
    );

    let mapping = env.path("mapping.json");
    std::fs::write(
        &mapping,
        r#"{"columns":[{"column":"Mail address","target":"email"}]}"#,
    )
    .unwrap();
    let out = ran(env.crm(&[
        "import",
        "contacts",
        csv_arg,
        "--mapping",
        mapping.to_str().unwrap(),
    ]))
    .await;
    assert_eq!(out.code, Some(5));
    assert!(
        out.stderr
            .starts_with("error: the API refused the request (422 Unprocessable Entity)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("\n  - mapping."), "{}", out.stderr);
    let newest = env.stack.get("/imports?limit=1", &env.token).await;
    assert_eq!(
        newest.body["items"][0]["status"], "cancelled",
        "not left waiting: {:?}",
        newest.body
    );
    assert!(
        out.stdout.contains("cancelled: its start was refused."),
        "{}",
        out.stdout
    );

    let out = ran(env.crm(&["import", "contacts", "missing.csv"])).await;
    assert_eq!(out.code, Some(2));
    assert_eq!(out.stderr, "error: missing.csv: no such file to import\n");
}

/// S5.4 and S5.5 after an import: `crm export contacts --format xlsx` writes a workbook of the
/// imported rows, `--columns` and `--filter` reach the export, and `crm imports` lists the
/// import.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_holds_the_imported_rows_and_the_import_is_listed() {
    let env = Env::start("export").await;
    let (csv, bad) = contacts_file(60, "exp");
    let input = env.path("batch.csv");
    std::fs::write(&input, &csv).unwrap();
    let out = ran(env.crm(&["import", "contacts", input.to_str().unwrap()])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let id = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Import ")?.split(':').next())
        .expect("the import's id")
        .to_string();

    let xlsx = env.path("contacts.xlsx");
    let out = ran(env.crm(&[
        "export",
        "contacts",
        "--format",
        "xlsx",
        "--output",
        xlsx.to_str().unwrap(),
    ]))
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.starts_with("Export "), "{}", out.stdout);
    assert!(
        out.stdout
            .contains(&format!("Wrote {}: 59 contacts", xlsx.display())),
        "{}",
        out.stdout
    );
    use calamine::Reader;
    let mut workbook = calamine::open_workbook_auto(&xlsx).expect("a readable .xlsx");
    let sheet = workbook.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    let email = rows[0]
        .iter()
        .position(|h| h == "email")
        .expect("an email column");
    let first = rows[0].iter().position(|h| h == "first_name").unwrap();
    let exported: BTreeSet<(String, String)> = rows[1..]
        .iter()
        .map(|r| (r[first].clone(), r[email].clone()))
        .collect();
    let imported: BTreeSet<(String, String)> = (0..59)
        .map(|i| (format!("Ada{i}"), format!("exp{i}@example.com")))
        .collect();
    assert_eq!(exported, imported);

    let narrow = env.path("narrow.csv");
    let out = ran(env.crm(&[
        "export",
        "contacts",
        "--format",
        "csv",
        "--columns",
        "email,first_name",
        "--filter",
        "q=Ada7",
        "-o",
        narrow.to_str().unwrap(),
    ]))
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let text = std::fs::read_to_string(&narrow).unwrap();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["email,first_name", "exp7@example.com,Ada7"],
        "the columns asked for, the rows the filter keeps"
    );

    let out = ran(env.crm(&["imports", "--limit", "5"])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let header = out.stdout.lines().next().unwrap_or_default();
    assert!(
        header.contains("ID") && header.contains("STATUS") && header.contains("FILE"),
        "{}",
        out.stdout
    );
    let listed = lines_with(
        &out.stdout,
        &[&id, "contacts", "completed", "60/60", "batch.csv"],
    );
    assert_eq!(listed.len(), 1, "{}", out.stdout);
    assert!(
        listed[0].contains(&format!("59/0/{}", bad.len())),
        "{}",
        listed[0]
    );
}

/// S5.2 with a template: `--template` goes with the creation, so the import starts when its
/// file is read; the preview shows the template's mapping and its mode (upsert) applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_starts_the_import_with_its_mapping_and_mode() {
    let env = Env::start("template").await;
    let template = env
        .stack
        .call(
            "POST",
            "/import-templates",
            &env.token,
            Some(serde_json::json!({
                "name": "Fair",
                "mode": "upsert",
                "mapping": {"columns": [
                    {"column": "Vorname", "target": "first_name"},
                    {"column": "Mail", "target": "email"},
                ]},
            })),
        )
        .await;
    assert_eq!(template.status, 201, "{:?}", template.body);
    let known = env
        .stack
        .create_contact(
            &env.token,
            serde_json::json!({"first_name": "Old", "email": "known@example.com"}),
        )
        .await;
    let input = env.path("fair.csv");
    std::fs::write(
        &input,
        "Vorname,Mail,Notiz\nNew,known@example.com,x\nEve,eve@example.com,y\n",
    )
    .unwrap();
    let out = ran(env.crm(&[
        "import",
        "contacts",
        input.to_str().unwrap(),
        "--template",
        "Fair",
    ]))
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let stdout = &out.stdout;
    assert!(
        stdout.contains("Mapping of the template \"Fair\":"),
        "{stdout}"
    );
    for parts in [
        ["Vorname", "first_name", "as mapped"],
        ["Mail", "email", "as mapped"],
        ["Notiz", "-", "not mapped: ignored"],
    ] {
        assert_eq!(lines_with(stdout, &parts).len(), 1, "{parts:?}: {stdout}");
    }
    assert!(
        stdout.contains(
            "Started when its file was read, with the template \"Fair\".\nMode: upsert\n"
        ),
        "{stdout}"
    );
    for line in [
        "  rows     2",
        "  created  1",
        "  updated  1",
        "  failed   0",
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line:?}: {stdout}");
    }
    assert!(!stdout.contains("Errors file"), "{stdout}");
    let contact = env
        .stack
        .get(&format!("/contacts/{known}"), &env.token)
        .await;
    assert_eq!(contact.body["first_name"], "New");
}

/// S5.1 for clients: `crm import clients` sends `"entity": "clients"`; the rows become clients
/// (a row without a name fails and lands in the errors file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_import_creates_clients() {
    let env = Env::start("clients").await;
    let input = env.path("companies.csv");
    std::fs::write(
        &input,
        "Company name,Domain\nACME GmbH,acme.example\nGlobex Ltd,globex.example\n,nameless.example\n",
    )
    .unwrap();
    let out = ran(env.crm(&["import", "clients", input.to_str().unwrap()])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        lines_with(&out.stdout, &["Company name", "name"]).len(),
        1,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(" completed in ") && out.stdout.contains("(clients, mode create):"),
        "{}",
        out.stdout
    );
    for line in ["  rows     3", "  created  2", "  failed   1"] {
        assert!(
            out.stdout.lines().any(|l| l == line),
            "{line:?}: {}",
            out.stdout
        );
    }
    let errors = std::fs::read_to_string(env.path("companies.errors.csv")).unwrap();
    assert_eq!(errors.lines().count(), 2, "{errors}");
    assert!(
        errors
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(",nameless.example,"),
        "{errors}"
    );
    let names: BTreeSet<String> = env
        .stack
        .list_all("/clients", &env.token)
        .await
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["ACME GmbH".to_string(), "Globex Ltd".to_string()])
    );
}

/// S5.2: `--link-clients create-missing` relates contacts to clients by their company cell:
/// an existing client is linked, a missing one created once for all its contacts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_link_to_clients_by_company() {
    let env = Env::start("links").await;
    let acme = env
        .stack
        .create_client(&env.token, serde_json::json!({"name": "ACME GmbH"}))
        .await;
    let input = env.path("people.csv");
    std::fs::write(
        &input,
        "Email,Company\na@example.com,acme gmbh\nb@example.com,Globex Ltd\nc@example.com,Globex Ltd\n",
    )
    .unwrap();
    let out = ran(env.crm(&[
        "import",
        "contacts",
        input.to_str().unwrap(),
        "--link-clients",
        "create-missing",
    ]))
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let clients = env.stack.list_all("/clients", &env.token).await;
    let names: BTreeSet<String> = clients
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["ACME GmbH".to_string(), "Globex Ltd".to_string()])
    );
    let linked = |client: String| {
        let env = &env;
        async move {
            env.stack
                .ids(&format!("/contacts?client={client}"), &env.token)
                .await
                .len()
        }
    };
    let globex = clients.iter().find(|c| c["name"] == "Globex Ltd").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(linked(acme).await, 1);
    assert_eq!(linked(globex).await, 2);
}
