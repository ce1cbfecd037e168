//! Benchmark (S1.3, S1.4): one tenant with N contacts (default 100,000), and what a page of a
//! prefix search and of filtered lists costs: DynamoDB items read ÷ items returned, and the
//! requests per page. Reads are counted by an SDK interceptor on the DynamoDB client (each
//! Query's `ScannedCount`, each GetItem), not by the code under test.
//!
//! Run: `make bench` (`BENCH_CONTACTS=10000 make bench` for a quicker run, `BENCH_ONLY=member`
//! for the scenarios named so). It talks to the
//! DynamoDB endpoint in `BENCH_DYNAMODB_URL` (`make bench` starts dynalite, a LevelDB-backed
//! DynamoDB implementation, because moto scans the whole table on every Query and loads a
//! 100,000-contact tenant in hours), else to `AWS_ENDPOINT_URL`.
//! Contacts are loaded with `contacts::stored_items`, the same items the API writes, into a
//! table created from the template's definition.

use chrono::{Duration, Utc};
use crm_shared::catalog::Catalog;
use crm_shared::contacts::ContactKind;
use crm_shared::custom_fields::store::FieldStore;
use crm_shared::records::{Kind, RecordQuery};
use crm_shared::store::Table;
use crm_shared::store::dynamo::DynamoItemStore;
use crm_shared::{Caller, Role};
use std::collections::BTreeMap;
use uuid::Uuid;

mod dynamo;
mod population;
use dynamo::ReadMeter;
use population::{custom_fields, load};

const TENANT: &str = "bench";
const PAGE: i32 = 50;

struct Scenario {
    name: &'static str,
    caller: Caller,
    params: Vec<(&'static str, String)>,
}

#[tokio::main]
async fn main() {
    let n = dynamo::size("BENCH_CONTACTS", 100_000);
    let (aws, table_name, endpoint) = dynamo::fresh_table("bench").await;
    let teams: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();

    let started = std::time::Instant::now();
    let defs = custom_fields();
    let store = FieldStore::new(Table::new(DynamoItemStore::new(
        aws.dynamodb.clone(),
        table_name.clone(),
    )));
    for def in &defs {
        store
            .insert_definition(TENANT, def)
            .await
            .expect("definition");
    }
    let (items, index_copies) = load(&aws.dynamodb, &table_name, n, &teams, &defs).await;
    eprintln!(
        "loaded {n} contacts as {items} items in {:.0?}",
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
    let contacts = Catalog::new(Table::new(DynamoItemStore::new(client, table_name))).contacts();
    let admin = Caller::new(TENANT, "admin", Role::Admin);
    let member = Caller {
        teams: vec![teams[3]],
        ..Caller::new(TENANT, "u03", Role::Member)
    };
    let manager = Caller {
        teams: vec![teams[2]],
        ..Caller::new(TENANT, "boss", Role::Manager)
    };
    let since = (Utc::now() - Duration::days(90))
        .format("%Y-%m-%d")
        .to_string();
    let s = |v: &str| v.to_string();
    let scenarios = vec![
        Scenario {
            name: "admin: prefix search q=mül",
            caller: admin.clone(),
            params: vec![("q", s("mül"))],
        },
        Scenario {
            name: "admin: prefix search q=MUEL",
            caller: admin.clone(),
            params: vec![("q", s("MUEL"))],
        },
        Scenario {
            name: "admin: prefix search q=ada mül (two words)",
            caller: admin.clone(),
            params: vec![("q", s("ada mül"))],
        },
        Scenario {
            name: "admin: filter tag=tag-07, sort=name",
            caller: admin.clone(),
            params: vec![("tag", s("tag-07")), ("sort", s("name"))],
        },
        Scenario {
            name: "admin: filter status=customer, sort=-updated_at",
            caller: admin.clone(),
            params: vec![("status", s("customer")), ("sort", s("-updated_at"))],
        },
        Scenario {
            name: "admin: all, newest first",
            caller: admin.clone(),
            params: vec![],
        },
        Scenario {
            name: "admin: follow-up list (not contacted since 90 d)",
            caller: admin.clone(),
            params: vec![
                ("not_contacted_since", since.clone()),
                ("sort", s("last_contacted_at")),
            ],
        },
        Scenario {
            name: "admin: tag=tag-07 AND status=customer",
            caller: admin.clone(),
            params: vec![("tag", s("tag-07")), ("status", s("customer"))],
        },
        Scenario {
            name: "admin: tag=tag-07 AND lead_source=referral",
            caller: admin.clone(),
            params: vec![("tag", s("tag-07")), ("lead_source", s("referral"))],
        },
        Scenario {
            name: "admin: owner=u07 AND status=customer",
            caller: admin.clone(),
            params: vec![("owner", s("u07")), ("status", s("customer"))],
        },
        Scenario {
            name: "member: visible contacts, sort=name",
            caller: member.clone(),
            params: vec![("sort", s("name"))],
        },
        Scenario {
            name: "member: prefix search q=sch",
            caller: member.clone(),
            params: vec![("q", s("sch"))],
        },
        Scenario {
            name: "manager: team contacts with tag=tag-03",
            caller: manager.clone(),
            params: vec![("tag", s("tag-03"))],
        },
        Scenario {
            name: "admin: select cf.tier=gold",
            caller: admin.clone(),
            params: vec![("cf.tier", s("gold"))],
        },
        Scenario {
            name: "admin: select cf.tier[in]=gold,diamond",
            caller: admin.clone(),
            params: vec![("cf.tier[in]", s("gold,diamond"))],
        },
        Scenario {
            name: "admin: range cf.score[gte]=900",
            caller: admin.clone(),
            params: vec![("cf.score[gte]", s("900"))],
        },
        Scenario {
            name: "admin: range 100 <= cf.score < 150",
            caller: admin.clone(),
            params: vec![("cf.score[gte]", s("100")), ("cf.score[lt]", s("150"))],
        },
        Scenario {
            name: "admin: sort=-cf.score",
            caller: admin.clone(),
            params: vec![("sort", s("-cf.score"))],
        },
        Scenario {
            name: "admin: cf.tier=gold AND status=customer",
            caller: admin.clone(),
            params: vec![("cf.tier", s("gold")), ("status", s("customer"))],
        },
        Scenario {
            name: "admin: cf.tier=gold AND cf.score[gte]=500",
            caller: admin.clone(),
            params: vec![("cf.tier", s("gold")), ("cf.score[gte]", s("500"))],
        },
        Scenario {
            name: "member: cf.tier=gold (visibility on the entry)",
            caller: member.clone(),
            params: vec![("cf.tier", s("gold"))],
        },
    ];

    println!(
        "\ncontacts index benchmark: {n} contacts in one tenant ({items} items), endpoint {endpoint}, page size {PAGE}, 3 pages each"
    );
    println!(
        "write cost of a new contact (without its audit entry): {:.2} items, {:.2} index copies, {:.2} write units in all",
        items as f64 / n as f64,
        index_copies as f64 / n as f64,
        (items + index_copies) as f64 / n as f64
    );
    println!(
        "{:<52} {:>5} {:>9} {:>8} {:>7} {:>9}",
        "query", "page", "returned", "read", "ratio", "requests"
    );
    // `BENCH_ONLY=member` runs the scenarios whose name contains it.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    for sc in scenarios.iter().filter(|sc| sc.name.contains(&only)) {
        let params: BTreeMap<String, String> = sc
            .params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let query = RecordQuery::parse(ContactKind::schema(), &params).expect("valid query");
        let mut cursor: Option<String> = None;
        let (mut total_read, mut total_returned) = (0, 0);
        for page_no in 1..=3 {
            meter.take();
            let (page, _stats) = contacts
                .list_with_stats(&sc.caller, &query, PAGE, cursor.as_deref())
                .await
                .expect("list");
            let (requests, read) = meter.take();
            let returned = page.items.len();
            total_read += read;
            total_returned += returned;
            let ratio = if returned == 0 {
                f64::NAN
            } else {
                read as f64 / returned as f64
            };
            println!(
                "{:<52} {:>5} {:>9} {:>8} {:>7.2} {:>9}",
                sc.name, page_no, returned, read, ratio, requests
            );
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        if total_returned > 0 {
            println!(
                "{:<52} {:>5} {:>9} {:>8} {:>7.2}",
                "",
                "all",
                total_returned,
                total_read,
                total_read as f64 / total_returned as f64
            );
        }
    }
}
