//! Benchmark (S6.2): a client with 50 contacts and N activities (default 20,000) on them and on
//! the client, of 10 owners in 2 teams, and what a page of a timeline costs: DynamoDB items
//! read ÷ rows returned for an admin's, a manager's and a member's client timeline (first and
//! a later page), filtered by type and by period, and a contact's timeline. Goal: the cost of
//! the page, not of the client (a page reads its rows, plus rows the caller may not see).
//!
//! Run: `make bench` (`BENCHES=timeline`, `BENCH_ACTIVITIES=2000` for a quicker run).
//! Activities are loaded with `activities::stored_items`, the items the API writes.

use crm_shared::activities::timeline::{self, Subject};
use crm_shared::activities::{
    Activity, ActivityFields, ActivityType, Direction, Origin, stored_items,
};
use crm_shared::catalog::Catalog;
use crm_shared::contacts::{self, Contact, ContactFields, NewContact};
use crm_shared::records::Stamp;
use crm_shared::store::Table;
use crm_shared::store::dynamo::DynamoItemStore;
use crm_shared::visibility::Visibility;
use crm_shared::{Caller, Role};
use std::collections::BTreeMap;
use uuid::Uuid;

mod dynamo;
use dynamo::{ReadMeter, write_batch};

const TENANT: &str = "bench";
const CONTACTS: usize = 50;
const OWNERS: usize = 10;
const PAGE: i32 = 25;

#[tokio::main]
async fn main() {
    let n = dynamo::size("BENCH_ACTIVITIES", 20_000);
    let (aws, table_name, endpoint) = dynamo::fresh_table("timeline").await;
    let teams: Vec<Uuid> = (0..2).map(|_| Uuid::now_v7()).collect();
    let client = Uuid::now_v7();
    let admin = Caller::new(TENANT, "admin", Role::Admin);
    let started = std::time::Instant::now();
    let mut items = Vec::new();
    // The client record itself (a timeline checks the caller sees it).
    let client_input: crm_shared::clients::ClientFields =
        serde_json::from_value(serde_json::json!({"name": "Initech", "visibility": "team"}))
            .unwrap();
    let mut client_record = <crm_shared::clients::ClientKind as crm_shared::records::Kind>::create(
        client_input,
        &Stamp::new(&admin),
    )
    .expect("client");
    client_record.id = client;
    client_record.fields.team = Some(teams[0]);
    client_record.fields.owner = Some("u00".into());
    items.extend(
        crm_shared::records::write::stored_items::<crm_shared::clients::ClientKind>(
            TENANT,
            &client_record,
        )
        .expect("client items")
        .0,
    );
    let mut contact_ids = Vec::new();
    for i in 0..CONTACTS {
        let input = NewContact {
            first_name: Some(format!("Contact{i:02}")),
            ..NewContact::default()
        };
        let fields = ContactFields::validate(input).expect("contact");
        let mut c = Contact::new(fields, &Stamp::new(&admin), None);
        c.fields.owner = Some(format!("u{:02}", i % OWNERS));
        c.fields.team = Some(teams[i % OWNERS % 2]);
        c.client_ids = vec![client];
        contact_ids.push(c.id);
        items.extend(contacts::stored_items(TENANT, &c).expect("contact items"));
    }
    let now = crm_shared::now();
    let mut writes = 0;
    for i in 0..n {
        // Owners rotate every 4 activities, so each owner has every type.
        let owner = (i / 4) % OWNERS;
        let kind = [
            ActivityType::Note,
            ActivityType::Call,
            ActivityType::Email,
            ActivityType::Meeting,
        ][i % 4];
        let mut fields = ActivityFields {
            activity_type: Some(kind),
            occurred_at: Some(now - chrono::Duration::minutes((n - i) as i64 * 30)),
            subject: Some(format!("Activity {i}")),
            owner: Some(format!("u{owner:02}")),
            team: Some(teams[owner % 2]),
            visibility: if i % 3 == 0 {
                Visibility::Private
            } else {
                Visibility::Team
            },
            ..ActivityFields::default()
        };
        match kind {
            ActivityType::Note => fields.text = Some("A note".into()),
            ActivityType::Call => fields.direction = Some(Direction::Outbound),
            ActivityType::Email => {
                fields.direction = Some(Direction::Inbound);
                fields.from = Some("someone@example.com".into());
            }
            _ => fields.starts_at = fields.occurred_at,
        }
        if i % 10 == 0 {
            fields.client_id = Some(client);
        } else {
            fields.contact_ids = Some(vec![contact_ids[i % CONTACTS]]);
        }
        let a = Activity {
            id: Uuid::now_v7(),
            fields,
            timeline_client_ids: vec![client],
            done_at: None,
            origin: Origin::User,
            shared_with: Vec::new(),
            created_at: now,
            created_by: "admin".into(),
            updated_at: now,
            updated_by: "admin".into(),
            version: 1,
            custom_fields: BTreeMap::new(),
            custom_terms: BTreeMap::new(),
            deleted_at: None,
            deleted_by: None,
        };
        let (stored, w) = stored_items(TENANT, &a).expect("items");
        writes += w;
        items.extend(stored);
    }
    let total_items = items.len();
    let batches: Vec<Vec<_>> = items.chunks(25).map(<[_]>::to_vec).collect();
    for group in batches.chunks(16) {
        let w = group
            .iter()
            .cloned()
            .map(|batch| write_batch(&aws.dynamodb, &table_name, batch));
        futures::future::join_all(w).await;
    }
    eprintln!(
        "loaded {n} activities and {CONTACTS} contacts as {total_items} items in {:.0?}",
        started.elapsed()
    );

    let meter = ReadMeter::default();
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws.dynamodb
            .config()
            .to_builder()
            .interceptor(meter.clone())
            .build(),
    );
    let catalog = Catalog::new(Table::new(DynamoItemStore::new(dynamodb, table_name)));
    let activities = catalog.activities();
    let manager = Caller {
        teams: vec![teams[0]],
        ..Caller::new(TENANT, "boss", Role::Manager)
    };
    let member = Caller {
        teams: vec![teams[0]],
        ..Caller::new(TENANT, "u00", Role::Member)
    };
    println!(
        "\ntimeline benchmark: a client with {CONTACTS} contacts and {n} activities ({total_items} items), endpoint {endpoint}, pages of {PAGE}"
    );
    println!(
        "write cost: a new activity {:.2} writes (with its audit entry)",
        writes as f64 / n as f64 + 1.0
    );
    println!(
        "{:<52} {:>6} {:>7} {:>8} {:>9}",
        "read", "rows", "read", "ratio", "requests"
    );
    let params = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let period_from = (now - chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    for (name, caller) in [
        ("admin", &admin),
        ("manager", &manager),
        ("member", &member),
    ] {
        let cases: Vec<(String, Subject, BTreeMap<String, String>)> = vec![
            (
                "client timeline".into(),
                Subject::Client(client),
                params(&[]),
            ),
            (
                "client timeline, type=call".into(),
                Subject::Client(client),
                params(&[("type", "call")]),
            ),
            (
                format!("client timeline, occurred_from={period_from}"),
                Subject::Client(client),
                params(&[("occurred_from", &period_from)]),
            ),
            (
                "contact timeline".into(),
                Subject::Contact(contact_ids[1]),
                params(&[]),
            ),
        ];
        for (label, subject, p) in cases {
            let mut cursor: Option<String> = None;
            for page_no in 1..=2 {
                meter.take();
                let (page, _) = timeline::timeline(
                    &activities,
                    caller,
                    subject,
                    p.clone(),
                    PAGE,
                    cursor.as_deref(),
                )
                .await
                .expect("timeline");
                let (requests, read) = meter.take();
                println!(
                    "{:<52} {:>6} {:>7} {:>8.2} {:>9}",
                    format!("{name}: {label}, page {page_no}"),
                    page.items.len(),
                    read,
                    read as f64 / page.items.len().max(1) as f64,
                    requests
                );
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
        }
    }
}
