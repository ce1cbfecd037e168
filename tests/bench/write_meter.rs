//! What the workflow benchmark counts of the table: every write per partition key and
//! wall-clock second — the base table's `PK` and each index partition key the written item
//! carries (`GSI1PK`…`GSI9PK`), since DynamoDB throttles each index partition as it does a base
//! one (about 1,000 writes a second) — and the time of every call, behind the storage port's
//! `ItemStore` (a decorator of the DynamoDB store; nothing of it in production code).

use crm_shared::CrmError;
use crm_shared::store::dynamo::DynamoItemStore;
use crm_shared::store::{
    Condition, INDEXES, Item, ItemStore, Key, Query, QueryPage, TransactError, WriteError, WriteOp,
};
use futures::future::BoxFuture;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub fn unix_second() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The hottest partition of a phase: its attribute, key, most writes in a second, writes per run.
pub type Hottest = Option<(&'static str, String, u32, f64)>;

/// Writes per (wall-clock second, partition key attribute, its value).
pub type WriteCounts = HashMap<(i64, &'static str, String), u32>;

/// Counts writes per partition key and second.
#[derive(Debug, Clone, Default)]
pub struct WriteMeter(Arc<Mutex<WriteCounts>>);

/// A partition key attribute of the table: `PK` or one of the indexes' `GSInPK`.
const PARTITION_ATTRIBUTES: [&str; 10] = [
    "PK", "GSI1PK", "GSI2PK", "GSI3PK", "GSI4PK", "GSI5PK", "GSI6PK", "GSI7PK", "GSI8PK", "GSI9PK",
];

fn text(item: &Item, attribute: &str) -> Option<String> {
    item.get(attribute).and_then(|v| v.as_s().ok()).cloned()
}

/// The partitions a write touches: always its base partition (a write whose condition fails
/// costs a write unit too); the index partitions of the item written only when it was written.
struct Touch {
    base: String,
    indexes: Vec<(&'static str, String)>,
}

impl Touch {
    fn of_item(item: &Item) -> Self {
        debug_assert_eq!(INDEXES.len() + 1, PARTITION_ATTRIBUTES.len());
        Self {
            base: text(item, "PK").unwrap_or_default(),
            indexes: PARTITION_ATTRIBUTES[1..]
                .iter()
                .filter_map(|a| text(item, a).map(|v| (*a, v)))
                .collect(),
        }
    }

    fn of_key(key: &Key) -> Self {
        Self {
            base: key.pk.clone(),
            indexes: Vec::new(),
        }
    }

    fn of_op(op: &WriteOp) -> Option<Self> {
        match op {
            WriteOp::Put { item, .. } => Some(Self::of_item(item)),
            WriteOp::Delete { key, .. } => Some(Self::of_key(key)),
            // An update writes its item, and the index keys it sets.
            WriteOp::Add { key, set, .. } => Some(Self {
                base: key.pk.clone(),
                ..Self::of_item(set)
            }),
            // A condition check reads; it writes nothing.
            WriteOp::Check { .. } => None,
        }
    }
}

impl WriteMeter {
    fn record(&self, touches: &[Touch], written: bool) {
        let second = unix_second();
        let mut counts = self.0.lock().unwrap();
        for t in touches {
            *counts.entry((second, "PK", t.base.clone())).or_default() += 1;
            if written {
                for (attribute, value) in &t.indexes {
                    *counts
                        .entry((second, attribute, value.clone()))
                        .or_default() += 1;
                }
            }
        }
    }

    pub fn take(&self) -> WriteCounts {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// How long each kind of call took (DynamoDB operations, effects), in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Timings(Arc<Mutex<HashMap<&'static str, Vec<f64>>>>);

impl Timings {
    pub fn add(&self, what: &'static str, started: Instant) {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        self.0.lock().unwrap().entry(what).or_default().push(ms);
    }

    pub fn take(&self) -> HashMap<&'static str, Vec<f64>> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Calls per run and their time, busiest first.
pub fn report_timings(phase: &str, timings: HashMap<&'static str, Vec<f64>>, per: f64) {
    let mut rows: Vec<(&'static str, Vec<f64>)> = timings.into_iter().collect();
    rows.sort_by(|a, b| b.1.iter().sum::<f64>().total_cmp(&a.1.iter().sum::<f64>()));
    println!("  {phase}: calls per run, and their time (ms):");
    for (what, mut ms) in rows {
        ms.sort_by(f64::total_cmp);
        println!(
            "    {what:<26} {:>6.2} per run   median {:>7.1}   p95 {:>7.1}   total {:>7.1} s",
            ms.len() as f64 / per,
            percentile(&ms, 50.0),
            percentile(&ms, 95.0),
            ms.iter().sum::<f64>() / 1000.0
        );
    }
}

/// The table's DynamoDB store, counting every write per partition key and second, and timing
/// every call.
#[derive(Debug)]
pub struct CountingStore {
    pub inner: DynamoItemStore,
    pub meter: WriteMeter,
    pub timings: Timings,
}

impl ItemStore for CountingStore {
    fn get(&self, key: Key, consistent: bool) -> BoxFuture<'_, Result<Option<Item>, CrmError>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.inner.get(key, consistent).await;
            self.timings.add("DynamoDB GetItem", started);
            result
        })
    }

    fn batch_get(
        &self,
        keys: Vec<Key>,
        projection: Option<Vec<String>>,
    ) -> BoxFuture<'_, Result<Vec<Item>, CrmError>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.inner.batch_get(keys, projection).await;
            self.timings.add("DynamoDB BatchGetItem", started);
            result
        })
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<QueryPage, CrmError>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.inner.query(query).await;
            self.timings.add("DynamoDB Query", started);
            result
        })
    }

    fn put(
        &self,
        item: Item,
        condition: Option<Condition>,
    ) -> BoxFuture<'_, Result<(), WriteError>> {
        Box::pin(async move {
            let touch = [Touch::of_item(&item)];
            let started = Instant::now();
            let result = self.inner.put(item, condition).await;
            self.timings.add("DynamoDB PutItem", started);
            self.meter.record(&touch, result.is_ok());
            result
        })
    }

    fn delete(
        &self,
        key: Key,
        condition: Option<Condition>,
    ) -> BoxFuture<'_, Result<(), WriteError>> {
        Box::pin(async move {
            let touch = [Touch::of_key(&key)];
            let started = Instant::now();
            let result = self.inner.delete(key, condition).await;
            self.timings.add("DynamoDB DeleteItem", started);
            self.meter.record(&touch, result.is_ok());
            result
        })
    }

    fn transact(&self, writes: Vec<WriteOp>) -> BoxFuture<'_, Result<(), TransactError>> {
        Box::pin(async move {
            let touches: Vec<Touch> = writes.iter().filter_map(Touch::of_op).collect();
            let started = Instant::now();
            let result = self.inner.transact(writes).await;
            self.timings.add("DynamoDB TransactWrite", started);
            self.meter.record(&touches, result.is_ok());
            result
        })
    }

    fn write_many(
        &self,
        puts: Vec<Item>,
        deletes: Vec<Key>,
    ) -> BoxFuture<'_, Result<(), CrmError>> {
        Box::pin(async move {
            let touches: Vec<Touch> = puts
                .iter()
                .map(Touch::of_item)
                .chain(deletes.iter().map(Touch::of_key))
                .collect();
            let started = Instant::now();
            let result = self.inner.write_many(puts, deletes).await;
            self.timings.add("DynamoDB BatchWriteItem", started);
            self.meter.record(&touches, result.is_ok());
            result
        })
    }
}

/// Prints the partition keys with the most writes in one second.
pub fn report_partitions(phase: &str, counts: WriteCounts, per: f64) -> Hottest {
    let mut per_key: HashMap<(&'static str, String), (u32, u32)> = HashMap::new();
    let mut per_second: HashMap<i64, u32> = HashMap::new();
    for ((second, attribute, value), n) in counts {
        let e = per_key.entry((attribute, value)).or_default();
        e.0 = e.0.max(n);
        e.1 += n;
        *per_second.entry(second).or_default() += n;
    }
    let total: u32 = per_second.values().sum();
    let mut keys: Vec<_> = per_key.into_iter().collect();
    keys.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!(
        "\n{phase}: {total} partition writes to {} partitions (busiest second: {} writes to all)",
        keys.len(),
        per_second.values().max().copied().unwrap_or(0)
    );
    println!(
        "  {:<7} {:<58} {:>9} {:>7} {:>10}",
        "key", "partition", "max/s", "total", "per run"
    );
    for ((attribute, value), (max, sum)) in keys.iter().take(8) {
        println!(
            "  {attribute:<7} {:<58} {max:>9} {sum:>7} {:>10.3}",
            shorten(value),
            f64::from(*sum) / per
        );
    }
    // Where DynamoDB would throttle first at any speed: the most writes per run.
    if let Some(((attribute, value), (_, sum))) = keys.iter().max_by_key(|k| k.1.1) {
        let per_run = f64::from(*sum) / per;
        println!(
            "  most writes per run: {attribute} {} ({per_run:.3}): its partition reaches 1,000 writes/s at {:.0} runs/s",
            shorten(value),
            1000.0 / per_run
        );
    }
    let mut by_attribute: BTreeMap<&str, u32> = BTreeMap::new();
    for ((attribute, _), (_, sum)) in &keys {
        *by_attribute.entry(attribute).or_default() += sum;
    }
    println!(
        "  partition writes per run: {}",
        by_attribute
            .iter()
            .map(|(a, sum)| format!("{a} {:.1}", f64::from(*sum) / per))
            .collect::<Vec<_>>()
            .join(", ")
    );
    keys.first().map(|((attribute, value), (max, sum))| {
        (*attribute, value.clone(), *max, f64::from(*sum) / per)
    })
}

/// Ids in partition keys shortened to their tail, so the table stays narrow.
pub fn shorten(value: &str) -> String {
    value
        .split('#')
        .map(|part| {
            if part.len() == 36 && part.chars().filter(|c| *c == '-').count() == 4 {
                format!("…{}", &part[28..])
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("#")
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
