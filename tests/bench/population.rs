//! The benchmark's tenant: contacts with names, owners, teams, tags, sources and two custom
//! fields spread as in a real tenant, written with the items the API writes.

use super::TENANT;
use super::dynamo::write_batch;
use chrono::{Duration, Utc};
use crm_shared::contacts::{Contact, ContactFields, NewContact, stored_items};
use crm_shared::custom_fields::entries::terms_of;
use crm_shared::custom_fields::{Exact, FieldDefinition, FieldValue, NewFieldDefinition};
use crm_shared::records::Stamp;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A small deterministic generator (xorshift), so every run loads the same tenant.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const FIRST: &[&str] = &[
    "Ada",
    "Alan",
    "Grace",
    "Jürgen",
    "Zoë",
    "José",
    "Łukasz",
    "Søren",
    "Anna",
    "Maria",
    "Peter",
    "Thomas",
    "Sabine",
    "Claudia",
    "Michael",
    "Stefan",
    "Andrea",
    "Julia",
    "Katrin",
    "Lena",
    "Paul",
    "Jonas",
    "Felix",
    "Emma",
    "Mia",
    "Noah",
    "Elias",
    "Luis",
    "Sophie",
    "Hannah",
    "Björn",
    "Åsa",
    "Chloé",
    "Renée",
    "François",
    "Ines",
    "Omar",
    "Yuki",
    "Chen",
    "Priya",
];
const LAST: &[&str] = &[
    "Müller",
    "Mueller",
    "Muller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Schmitz",
    "Krause",
    "Meier",
    "Lehmann",
    "Schmid",
    "Schulze",
    "Maier",
    "Köhler",
    "Herrmann",
    "König",
    "Walter",
    "García",
    "López",
    "Martínez",
    "Nowak",
    "Kowalski",
    "Andersen",
    "Nielsen",
    "Lovelace",
    "Hopper",
    "Turing",
    "Dupont",
    "Lefèvre",
    "Rossi",
    "Russo",
    "Silva",
    "Santos",
    "Tanaka",
    "Suzuki",
    "Kim",
    "Park",
];
const SOURCES: &[&str] = &[
    "web-form",
    "referral",
    "event",
    "ads",
    "partner",
    "cold-call",
];

fn generate(i: usize, rng: &mut Rng, teams: &[Uuid], defs: &[FieldDefinition]) -> Contact {
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    let owner = rng.below(20);
    let tags: Vec<String> = (0..rng.below(3))
        .map(|_| format!("tag-{:02}", rng.below(20)))
        .collect();
    let status = [
        "lead", "lead", "prospect", "customer", "lead", "prospect", "customer", "inactive",
    ][rng.below(8)];
    let contacted =
        (rng.below(10) < 6).then(|| Utc::now() - Duration::hours(rng.below(24 * 365) as i64));
    let input = NewContact {
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        email: Some(
            format!(
                "{}.{}{}@example{}.com",
                first.to_lowercase(),
                i,
                rng.below(100),
                i % 50
            )
            .replace(|c: char| !c.is_ascii(), "x"),
        ),
        company: Some(format!("Company {}", rng.below(300))),
        tags: Some(tags),
        owner: Some(format!("u{owner:02}")),
        team: Some(teams[owner % teams.len()]),
        visibility: Some(if rng.below(5) == 0 {
            crm_shared::visibility::Visibility::Private
        } else {
            Default::default()
        }),
        lead_source: Some(rng.pick(SOURCES).to_string()),
        lifecycle_status: serde_json::from_value(serde_json::json!(status)).ok(),
        last_contacted_at: contacted,
        ..Default::default()
    };
    let fields = ContactFields::validate(input).expect("generated contacts are valid");
    let stamp = Stamp {
        id: Uuid::now_v7(),
        actor: format!("u{owner:02}"),
        at: crm_shared::now(),
    };
    let mut contact = Contact::new(fields, &stamp, None);
    // Custom fields (S3.5): a tier for 90 % of contacts, a score (0.00–999.99) for 80 %.
    let mut values = BTreeMap::new();
    if rng.below(10) < 9 {
        values.insert(
            "tier".to_string(),
            FieldValue::Select(TIERS[rng.below(TIERS.len())].to_string()),
        );
    }
    if rng.below(10) < 8 {
        let cents = rng.below(100_000) as i64;
        values.insert(
            "score".to_string(),
            FieldValue::Decimal(Exact(rust_decimal::Decimal::new(cents, 2))),
        );
    }
    contact.custom_terms = terms_of(defs, &values);
    contact.custom_fields = values;
    contact
}

const TIERS: &[&str] = &["bronze", "silver", "gold", "platinum", "diamond"];

/// The custom fields of the benchmark tenant.
pub fn custom_fields() -> Vec<FieldDefinition> {
    let tier = serde_json::json!({
        "key": "tier", "entity": "contact", "label": "Tier",
        "type": {"kind": "select", "options": TIERS.iter().map(|t| serde_json::json!({"id": t, "label": t})).collect::<Vec<_>>()},
    });
    let score = serde_json::json!({
        "key": "score", "entity": "contact", "label": "Score",
        "type": {"kind": "decimal", "scale": 2, "min": "0", "max": "1000"},
    });
    let mut defs: Vec<FieldDefinition> = Vec::new();
    for raw in [tier, score] {
        let input: NewFieldDefinition = serde_json::from_value(raw).expect("definition");
        defs.push(input.validate(&defs, &[]).expect("valid definition"));
    }
    defs
}

pub async fn load(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    n: usize,
    teams: &[Uuid],
    defs: &[FieldDefinition],
) -> (usize, usize) {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut items = Vec::new();
    let mut written = 0;
    let mut index_copies = 0usize;
    let mut batches = Vec::new();
    for i in 0..n {
        let stored = stored_items(TENANT, &generate(i, &mut rng, teams, defs)).expect("items");
        // Every index an item is in is one more write (DynamoDB writes the index copy too).
        index_copies += stored
            .iter()
            .map(|item| {
                item.keys()
                    .filter(|k| k.starts_with("GSI") && k.ends_with("PK"))
                    .count()
            })
            .sum::<usize>();
        items.extend(stored);
        while items.len() >= 25 {
            batches.push(items.drain(..25).collect::<Vec<_>>());
        }
        if batches.len() >= 16 || i + 1 == n {
            if i + 1 == n && !items.is_empty() {
                batches.push(std::mem::take(&mut items));
            }
            let writes = batches
                .drain(..)
                .map(|batch| write_batch(client, table, batch));
            written += futures::future::join_all(writes)
                .await
                .into_iter()
                .sum::<usize>();
        }
        if (i + 1) % 10_000 == 0 {
            eprintln!("  loaded {} contacts ({written} items)", i + 1);
        }
    }
    (written, index_copies)
}
