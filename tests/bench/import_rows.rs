//! Import benchmark (S5.3), `make bench-import`: on a generated 1,000,000-row contacts CSV
//! (about 100 MB, written to `.local/`):
//!
//! 1. CPU of reading: a bare `csv` parse of the file against the import's reader (byte-range
//!    windows, cell decoding) and mapper (columns → contact input), side by side in one run,
//!    then with the validators every API write runs (single-threaded rows/s);
//! 2. the chunk worker on the local stack: the file uploaded, planned, and `BENCH_IMPORT_CHUNKS`
//!    chunks (default 5 × 2,000 rows) run by the import processor as Lambda runs them: rows/s,
//!    and the peak heap the chunks added (a counting allocator), plus the process's peak RSS;
//! 3. what an imported contact costs: items, index copies and write units.
//!
//! Needs `AWS_ENDPOINT_URL` (the Makefile starts the local stack). Figures, not pass/fail.

use crm_e2e_tests::Stack;
use crm_shared::contacts::{ContactFields, ContactKind};
use crm_shared::imports::planning::Plan;
use crm_shared::imports::processing::Checkpoint;
use crm_shared::imports::source::SourceReader;
use crm_shared::imports::{ColumnMap, ImportEntity, ReadFailure, Uploads};
use futures::future::BoxFuture;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

/// Counts, while tracking, the heap bytes allocated since tracking began (less those freed)
/// and their peak. Off while a pass is timed: the counting costs a fair share of an
/// allocation, and the timed figures are the code's, not the instrument's.
struct Counting;
static TRACKING: AtomicBool = AtomicBool::new(false);
static IN_USE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && TRACKING.load(Ordering::Relaxed) {
            let size = layout.size() as isize;
            let now = IN_USE.fetch_add(size, Ordering::Relaxed) + size;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        if TRACKING.load(Ordering::Relaxed) {
            IN_USE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
    }
}

/// Starts counting from zero, or stops; the peak heap growth since the start.
fn track(on: bool) -> f64 {
    if on {
        IN_USE.store(0, Ordering::Relaxed);
        PEAK.store(0, Ordering::Relaxed);
    }
    TRACKING.store(on, Ordering::Relaxed);
    mib(PEAK.load(Ordering::Relaxed).max(0) as usize)
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

const HEADER: &str = "First name,Last name,Email,Company,Phone,City,Tags,Status\n";

/// The same rows `infra/bench/import_dev.py` writes.
fn generate(path: &std::path::Path, rows: usize) -> u64 {
    let statuses = ["lead", "prospect", "customer", "inactive"];
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("bench file"));
    out.write_all(HEADER.as_bytes()).unwrap();
    for i in 0..rows {
        writeln!(
            out,
            "Name{i},Family{},person{i}@example.com,Company {},+4930{},City {},\"tag-{}, tag-{}\",{}",
            i % 997,
            i % 5000,
            1_000_000 + i,
            i % 300,
            i % 7,
            i % 11,
            statuses[i % 4]
        )
        .unwrap();
    }
    out.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

/// The file on disk behind the import's reader (what S3 ranges are in Lambda).
struct FileUploads(std::path::PathBuf);

impl Uploads for FileUploads {
    fn presign_put<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: Duration,
    ) -> BoxFuture<'a, Result<String, crm_shared::CrmError>> {
        unimplemented!()
    }
    fn read<'a>(&'a self, _: &'a str, _: i64) -> BoxFuture<'a, Result<Vec<u8>, ReadFailure>> {
        unimplemented!()
    }
    fn holds(&self, _: &str) -> bool {
        true
    }
    fn size<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<u64, ReadFailure>> {
        Box::pin(async move { Ok(std::fs::metadata(&self.0).unwrap().len()) })
    }
    fn read_range<'a>(
        &'a self,
        _: &'a str,
        start: u64,
        len: u64,
    ) -> BoxFuture<'a, Result<Vec<u8>, ReadFailure>> {
        Box::pin(async move {
            let mut f = std::fs::File::open(&self.0).unwrap();
            f.seek(SeekFrom::Start(start)).unwrap();
            let mut buf = Vec::with_capacity(len as usize);
            f.take(len).read_to_end(&mut buf).unwrap();
            Ok(buf)
        })
    }
    fn presign_get<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: Duration,
    ) -> BoxFuture<'a, Result<String, crm_shared::CrmError>> {
        unimplemented!()
    }
    fn write<'a>(
        &'a self,
        _: &'a str,
        _: Vec<u8>,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), crm_shared::CrmError>> {
        unimplemented!()
    }
}

/// Reads every row with the import's reader; `validate` also runs the contact validators.
async fn read_all(uploads: &FileUploads, plan: &Plan, validate: bool) -> (usize, usize) {
    let columns = ColumnMap::from_headers(ImportEntity::Contacts, &plan.headers, &[]).unwrap();
    let start = Checkpoint {
        chunk: 0,
        offset: HEADER.len() as u64,
        line: 2,
        handed_on: true,
        at: crm_shared::values::now(),
    };
    let mut reader = SourceReader::new(uploads, plan, &start, 4 * 1024 * 1024);
    let (mut rows, mut valid) = (0, 0);
    while let Some(record) = reader.next().await.unwrap() {
        let Some(row) = columns.row(record.line, record.cells) else {
            continue;
        };
        rows += 1;
        if validate && row.problems.is_empty() && ContactFields::validate(row.contact).is_ok() {
            valid += 1;
        }
    }
    (rows, valid)
}

#[tokio::main]
async fn main() {
    let rows: usize = std::env::var("BENCH_IMPORT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let chunks: usize = std::env::var("BENCH_IMPORT_CHUNKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    // The workspace's `.local/` (cargo runs a bench in its crate's directory).
    let local = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local");
    std::fs::create_dir_all(&local).unwrap();
    let path = local.join(format!("bench-import-{rows}.csv"));
    let size = generate(&path, rows);
    println!(
        "\nimport benchmark: {rows} rows, {:.1} MB",
        size as f64 / 1e6
    );

    // 1. Reading, side by side.
    let started = Instant::now();
    let mut bare = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(BufReader::new(std::fs::File::open(&path).unwrap()));
    let mut record = csv::ByteRecord::new();
    let mut bare_rows = 0;
    while bare.read_byte_record(&mut record).unwrap() {
        bare_rows += 1;
    }
    let bare_time = started.elapsed();
    // The same with every field checked as UTF-8 text (what a reader of text cells does).
    let started = Instant::now();
    let mut text = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(BufReader::new(std::fs::File::open(&path).unwrap()));
    let mut string_record = csv::StringRecord::new();
    let mut text_rows = 0;
    while text.read_record(&mut string_record).unwrap() {
        text_rows += 1;
    }
    let text_time = started.elapsed();
    assert_eq!(text_rows, rows);
    let uploads = FileUploads(path.clone());
    let plan = Plan {
        source_key: "bench".into(),
        size,
        encoding: "utf-8".into(),
        delimiter: b',',
        headers: BufReader::new(std::fs::File::open(&path).unwrap())
            .lines()
            .next()
            .unwrap()
            .unwrap()
            .split(',')
            .map(str::to_string)
            .collect(),
        line_column: false,
    };
    let started = Instant::now();
    let (mapped, _) = read_all(&uploads, &plan, false).await;
    let mapped_time = started.elapsed();
    let started = Instant::now();
    let (_, valid) = read_all(&uploads, &plan, true).await;
    let validated_time = started.elapsed();
    assert_eq!((bare_rows, mapped, valid), (rows, rows, rows));
    let per_s = |t: Duration| rows as f64 / t.as_secs_f64();
    println!(
        "bare csv parse (ByteRecord)           {:>8.2} s {:>10.0} rows/s",
        bare_time.as_secs_f64(),
        per_s(bare_time)
    );
    println!(
        "bare csv parse (StringRecord, UTF-8)  {:>8.2} s {:>10.0} rows/s",
        text_time.as_secs_f64(),
        per_s(text_time)
    );
    println!(
        "import reader + mapper                {:>8.2} s {:>10.0} rows/s   {:.1}x the ByteRecord parse, {:.1}x the StringRecord parse (goal <= 3x)",
        mapped_time.as_secs_f64(),
        per_s(mapped_time),
        mapped_time.as_secs_f64() / bare_time.as_secs_f64(),
        mapped_time.as_secs_f64() / text_time.as_secs_f64()
    );
    println!(
        "reader + mapper + validators          {:>8.2} s {:>10.0} rows/s   one core (goal >= 100,000)",
        validated_time.as_secs_f64(),
        per_s(validated_time)
    );
    // The heap, counted in a pass of its own.
    track(true);
    read_all(&uploads, &plan, true).await;
    println!(
        "peak heap added while reading and validating: {:.1} MiB (the file is read in 4 MiB windows)",
        track(false)
    );

    // Reading alone (for profiling the reader, mapper and validators): no local stack needed.
    if std::env::var_os("BENCH_IMPORT_READ_ONLY").is_some() {
        return;
    }

    // 2. The chunk worker on the local stack.
    let stack = Stack::start().await;
    let admin = stack.token("bench", "importer", "admin");
    let processor = &stack.runtime.functions.import_processor;
    let (id, url) = stack.start_import(&admin, "contacts.csv").await;
    stack
        .upload_bytes(&url, std::fs::read(&path).unwrap())
        .await;
    let mut events = stack.runtime.receive_s3_events().await.unwrap();
    let crm_local::S3Delivery { event, receipt, .. } = events.remove(0);
    processor.handle(event).await.unwrap();
    stack.runtime.ack_s3_event(&receipt).await.unwrap();
    track(true);
    let started = Instant::now();
    for _ in 0..chunks {
        let batch = stack
            .runtime
            .receive_sqs_batch("ImportQueue")
            .await
            .unwrap()
            .expect("a chunk");
        assert!(
            processor
                .handle_chunks(batch.clone())
                .await
                .batch_item_failures
                .is_empty()
        );
        stack
            .runtime
            .ack_sqs_batch("ImportQueue", &batch)
            .await
            .unwrap();
    }
    let chunk_time = started.elapsed();
    let import = stack.get(&format!("/imports/{id}"), &admin).await.body;
    let done = import["rows"].as_u64().unwrap();
    println!(
        "chunk worker on the local stack: {chunks} chunks, {done} rows in {:.1} s = {:.0} rows/s; \
         peak heap added by the chunks {:.1} MiB; process peak RSS {:.1} MiB (the whole local stack in one process)",
        chunk_time.as_secs_f64(),
        done as f64 / chunk_time.as_secs_f64(),
        track(false),
        peak_rss_mib()
    );

    // 3. What an imported contact costs.
    let contacts = stack.list_all("/contacts?limit=200", &admin).await;
    let catalog = stack.runtime.deps("import-processor").unwrap().catalog();
    let (mut items, mut copies, mut units) = (0usize, 0usize, 0usize);
    let sample: Vec<_> = contacts.iter().take(200).collect();
    for c in &sample {
        let id: uuid::Uuid = c["id"].as_str().unwrap().parse().unwrap();
        let contact = catalog
            .contacts()
            .store
            .get("bench", id)
            .await
            .unwrap()
            .unwrap();
        let audit = crm_shared::audit::AuditEntry::new(
            crm_shared::audit::AuditAction::Created,
            vec![],
            "importer",
            1,
        );
        let parts =
            crm_shared::records::write::bulk_create::<ContactKind>("bench", &contact, &audit)
                .unwrap()
                .unwrap();
        let all: Vec<_> = parts
            .claims
            .iter()
            .map(|(i, ..)| i)
            .chain(parts.dependents.iter())
            .chain(std::iter::once(&parts.record))
            .collect();
        for item in all {
            let kb = item_size(item).div_ceil(1024);
            let gsis = item
                .keys()
                .filter(|k| k.starts_with("GSI") && k.ends_with("PK"))
                .count();
            items += 1;
            copies += gsis;
            units += kb * (1 + gsis);
        }
    }
    let n = sample.len().max(1) as f64;
    println!(
        "an imported contact (mean of {}): {:.1} items, {:.1} index copies, {:.1} write units \
         (plain batched puts; as one transaction each, twice that)",
        sample.len(),
        items as f64 / n,
        copies as f64 / n,
        units as f64 / n
    );
}

/// DynamoDB's size of an item: attribute names plus values (strings and binaries their
/// bytes, numbers about one byte per two digits, containers 3 bytes plus their elements).
fn item_size(item: &crm_shared::store::Item) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue as V;
    fn value(v: &V) -> usize {
        match v {
            V::S(s) => s.len(),
            V::N(n) => n.len().div_ceil(2) + 1,
            V::B(b) => b.as_ref().len(),
            V::Bool(_) | V::Null(_) => 1,
            V::L(l) => 3 + l.iter().map(|v| value(v) + 1).sum::<usize>(),
            V::M(m) => 3 + m.iter().map(|(k, v)| k.len() + value(v) + 1).sum::<usize>(),
            V::Ss(s) => s.iter().map(String::len).sum(),
            V::Ns(n) => n.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
            _ => 0,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}
