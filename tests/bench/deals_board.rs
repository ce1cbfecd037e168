//! Benchmark (S4.3): a pipeline of 6 stages holding N open deals (default 10,000) of 50
//! owners in 5 teams, and what the board costs: DynamoDB items read ÷ cards returned for an
//! admin's, a manager's and a member's board (first page of 20 per stage) and a stage's next
//! page, and the writes of one stage move. Goal: a board costs at most stages × (aggregate
//! cells + page) items plus the deals shared with the caller, whatever N.
//!
//! Run: `make bench` (`BENCH_DEALS=2000` for a quicker run). Deals are loaded with
//! `deals::stored_items` and their cells with `deals::board::cell_items`, the items the API
//! writes, into a table created from the template's definition (see `contacts_index.rs`).

use crm_shared::catalog::Catalog;
use crm_shared::deals::board::{self, cell_items};
use crm_shared::deals::{Deal, NewPipeline, move_writes, stored_items};
use crm_shared::records::RecordQuery;
use crm_shared::store::Table;
use crm_shared::store::dynamo::DynamoItemStore;
use crm_shared::values::decimal::Exact;
use crm_shared::values::money::Money;
use crm_shared::visibility::{Principal, Visibility};
use crm_shared::{Caller, Role};
use std::collections::BTreeMap;
use uuid::Uuid;

mod dynamo;
use dynamo::{ReadMeter, write_batch};

const TENANT: &str = "bench";
const CARDS: i32 = 20;
const OWNERS: usize = 50;

#[tokio::main]
async fn main() {
    let n = dynamo::size("BENCH_DEALS", 10_000);
    let (aws, table_name, endpoint) = dynamo::fresh_table("deals").await;
    let plain = Catalog::new(Table::new(DynamoItemStore::new(
        aws.dynamodb.clone(),
        table_name.clone(),
    )));
    let admin = Caller::new(TENANT, "admin", Role::Admin);
    let input: NewPipeline = serde_json::from_value(serde_json::json!({
    "name": "Sales", "stages": [
        {"name": "Lead", "probability": "10"},
        {"name": "Qualified", "probability": "25"},
        {"name": "Proposal", "probability": "50"},
        {"name": "Negotiation", "probability": "75"},
        {"name": "Won", "kind": "won"},
        {"name": "Lost", "kind": "lost"}
    ]}))
    .unwrap();
    let pipeline = plain
        .pipelines()
        .create(&admin, input)
        .await
        .expect("pipeline");
    // The settings item as PATCH /settings leaves it (dynalite has no transactions).
    let settings = crm_shared::settings::TenantSettings {
        exchange_rates: BTreeMap::from([("USD".to_string(), "0.92".to_string())]),
        version: 1,
        ..Default::default()
    };
    let keys = crm_shared::store::key(crm_shared::settings::settings_pk(TENANT), "SETTINGS");
    let item = crm_shared::store::to_item(&settings, keys).unwrap();
    plain.table().put(item).await.expect("settings");
    let teams: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();

    // N open deals over the four open stages; every 50th shared with the member.
    let started = std::time::Instant::now();
    let now = crm_shared::now();
    let mut deals = Vec::with_capacity(n);
    let mut items = Vec::new();
    let mut create_writes = 0;
    for i in 0..n {
        let owner = i % OWNERS;
        let currency = if i % 3 == 0 { "USD" } else { "EUR" };
        let deal = Deal {
            id: Uuid::now_v7(),
            title: format!("Deal {i:05}"),
            pipeline_id: pipeline.id,
            stage_id: pipeline.stages[i % 4].id,
            stage_entered_at: now,
            value: Some(Money {
                amount: Exact::parse(&format!("{}.{:02}", 1000 + i * 7 % 90_000, i % 100)).unwrap(),
                currency: currency.into(),
            }),
            probability: (i % 10 == 0).then(|| Exact::from(40)),
            owner: Some(format!("u{owner:02}")),
            team: Some(teams[owner % teams.len()]),
            visibility: if i % 5 == 0 {
                Visibility::Private
            } else {
                Visibility::Team
            },
            shared_with: if i % 50 == 7 {
                vec![Principal::User("u03".into())]
            } else {
                Vec::new()
            },
            created_at: now,
            created_by: "admin".into(),
            updated_at: now,
            updated_by: "admin".into(),
            version: 1,
            ..Deal::default()
        };
        let (stored, writes) = stored_items(TENANT, &deal).expect("items");
        create_writes += writes;
        items.extend(stored);
        deals.push(deal);
    }
    items.extend(cell_items(TENANT, &deals));
    let total_items = items.len();
    let batches: Vec<Vec<_>> = items.chunks(25).map(<[_]>::to_vec).collect();
    for group in batches.chunks(16) {
        let writes = group
            .iter()
            .cloned()
            .map(|batch| write_batch(&aws.dynamodb, &table_name, batch));
        futures::future::join_all(writes).await;
    }
    eprintln!(
        "loaded {n} deals as {total_items} items in {:.0?}",
        started.elapsed()
    );

    let meter = ReadMeter::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws.dynamodb
            .config()
            .to_builder()
            .interceptor(meter.clone())
            .build(),
    );
    let catalog = Catalog::new(Table::new(DynamoItemStore::new(client, table_name)));
    let (deals_api, pipelines) = (catalog.deals(), catalog.pipelines());
    let member = Caller {
        teams: vec![teams[3]],
        ..Caller::new(TENANT, "u03", Role::Member)
    };
    let manager = Caller {
        teams: vec![teams[2]],
        ..Caller::new(TENANT, "boss", Role::Manager)
    };
    let stages = pipeline.stages.len();
    println!(
        "\ndeals board benchmark: {n} open deals in one pipeline of {stages} stages ({total_items} items), endpoint {endpoint}, {CARDS} cards per stage"
    );
    println!(
        "write cost: a new deal {:.2} writes (with its audit entry and board cell), a stage move {} writes",
        create_writes as f64 / n as f64,
        move_writes(TENANT, &deals[0], pipeline.stages[1].id, "admin").expect("move")
    );
    println!(
        "{:<44} {:>6} {:>6} {:>7} {:>9} {:>7} {:>9}",
        "read", "cards", "cells", "read", "ratio", "shared", "requests"
    );
    for (name, caller) in [
        ("admin", &admin),
        ("manager", &manager),
        ("member", &member),
    ] {
        let (_, cells_read) = board::visible_sums(&deals_api, caller, pipeline.id)
            .await
            .expect("sums");
        let shared = deals
            .iter()
            .filter(|d| {
                d.shared_with
                    .iter()
                    .any(|p| *p == Principal::User(caller.user_id.clone()))
            })
            .count();
        meter.take();
        let p = pipelines.get(caller, pipeline.id).await.expect("pipeline");
        let b = board::board(&deals_api, caller, &p, CARDS)
            .await
            .expect("board");
        let (requests, read) = meter.take();
        let cards: usize = b.stages.iter().map(|s| s.cards.len()).sum();
        println!(
            "{:<44} {:>6} {:>6} {:>7} {:>9.2} {:>7} {:>9}",
            format!("{name}: board"),
            cards,
            cells_read,
            read,
            read as f64 / cards as f64,
            shared,
            requests
        );
        let first = &b.stages[2];
        meter.take();
        let params = BTreeMap::from([("stage".to_string(), first.stage_id.to_string())]);
        let query = RecordQuery::parse(deals_api.schema(), &params).expect("query");
        let page = deals_api
            .list(caller, &query, CARDS, first.next_cursor.as_deref())
            .await
            .expect("next page");
        let (requests, read) = meter.take();
        println!(
            "{:<44} {:>6} {:>6} {:>7} {:>9.2} {:>7} {:>9}",
            format!("{name}: a stage's next page"),
            page.items.len(),
            "",
            read,
            read as f64 / page.items.len().max(1) as f64,
            "",
            requests
        );
    }
}
