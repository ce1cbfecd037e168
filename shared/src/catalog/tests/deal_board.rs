//! The board's aggregates (S4.3) against the deals themselves: for random sequences of
//! creates, moves, amount, currency and probability changes, stage probability changes,
//! deletes, restores, reassignments and shares, the cells each caller adds up equal the sums
//! recomputed from the deals that caller may see, for an admin, a manager and two members.

use super::*;
use crate::deals::board::{self, Sums};
use crate::deals::{Deal, Pipeline};
use crate::directory;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
enum Op {
    Create {
        stage: usize,
        value: Option<(u32, usize)>,
        probability: Option<u8>,
        owner: usize,
        team: bool,
        private: bool,
        close: Option<u8>,
    },
    Move {
        deal: usize,
        stage: usize,
    },
    Value {
        deal: usize,
        value: Option<(u32, usize)>,
    },
    Probability {
        deal: usize,
        probability: Option<u8>,
    },
    StageProbability {
        stage: usize,
        probability: u8,
    },
    Delete {
        deal: usize,
    },
    Restore {
        deal: usize,
    },
    Assign {
        deal: usize,
        owner: usize,
        team: bool,
        private: bool,
    },
    Share {
        deal: usize,
        with: usize,
    },
}

const OWNERS: [&str; 4] = ["alice", "mia", "max", "mona"];
const CURRENCIES: [&str; 3] = ["EUR", "USD", "JPY"];

fn value_json(value: Option<(u32, usize)>) -> Value {
    match value {
        // Cents for EUR and USD; whole yen.
        Some((units, c)) if CURRENCIES[c] == "JPY" => {
            json!({"amount": units.to_string(), "currency": "JPY"})
        }
        Some((units, c)) => json!({
            "amount": format!("{}.{:02}", units / 100, units % 100),
            "currency": CURRENCIES[c]
        }),
        None => Value::Null,
    }
}

fn op() -> impl Strategy<Value = Op> {
    let value = proptest::option::of((0u32..2_000_000, 0usize..3));
    let probability = proptest::option::of(0u8..=100);
    prop_oneof![
        3 => (0usize..4, value.clone(), probability.clone(), 0usize..4, any::<bool>(), any::<bool>(), proptest::option::of(0u8..3))
            .prop_map(|(stage, value, probability, owner, team, private, close)| Op::Create {
                stage, value, probability, owner, team, private, close
            }),
        2 => (0usize..8, 0usize..4).prop_map(|(deal, stage)| Op::Move { deal, stage }),
        1 => (0usize..8, value).prop_map(|(deal, value)| Op::Value { deal, value }),
        1 => (0usize..8, probability).prop_map(|(deal, probability)| Op::Probability { deal, probability }),
        1 => (0usize..2, 0u8..=100).prop_map(|(stage, probability)| Op::StageProbability { stage, probability }),
        1 => (0usize..8).prop_map(|deal| Op::Delete { deal }),
        1 => (0usize..8).prop_map(|deal| Op::Restore { deal }),
        1 => (0usize..8, 0usize..4, any::<bool>(), any::<bool>())
            .prop_map(|(deal, owner, team, private)| Op::Assign { deal, owner, team, private }),
        1 => (0usize..8, 0usize..3).prop_map(|(deal, with)| Op::Share { deal, with }),
    ]
}

/// Per currency, the non-zero sums.
type Amounts = Vec<(String, Decimal)>;

/// Sums without the zeros a cell keeps after its deals left.
fn cleaned<K: Ord>(sums: BTreeMap<K, Sums>) -> BTreeMap<K, (i64, Amounts, Amounts)> {
    let nonzero = |m: &BTreeMap<String, Decimal>| -> Amounts {
        m.iter()
            .filter(|(_, v)| !v.is_zero())
            .map(|(k, v)| (k.clone(), v.normalize()))
            .collect()
    };
    sums.into_iter()
        .map(|(stage, s)| {
            (
                stage,
                (
                    s.count,
                    nonzero(&s.all),
                    nonzero(&s.weighted(Decimal::from(37))),
                ),
            )
        })
        .filter(|(_, (n, a, w))| *n != 0 || !a.is_empty() || !w.is_empty())
        .collect()
}

struct World {
    catalog: Catalog,
    pipeline: Pipeline,
    callers: Vec<Caller>,
    team: Uuid,
}

async fn world() -> World {
    let (catalog, dir, team) = tenant_with_sales_team().await;
    let mut callers = vec![admin()];
    for (user, role, teams) in [
        ("mia", "member", vec![team]),
        ("max", "member", vec![]),
        ("mona", "manager", vec![team]),
    ] {
        let input = serde_json::from_value(json!({"role": role, "teams": teams})).unwrap();
        directory::put_user(&dir, &admin(), user, input, None)
            .await
            .unwrap();
        let role = if role == "manager" {
            Role::Manager
        } else {
            Role::Member
        };
        callers.push(Caller {
            teams,
            ..Caller::new("acme", user, role)
        });
    }
    let pipeline = sales_pipeline(&catalog).await;
    World {
        catalog,
        pipeline,
        callers,
        team,
    }
}

async fn run(ops: Vec<Op>, rates: (u32, u32)) {
    let w = world().await;
    let deals = w.catalog.deals();
    let mut ids: Vec<Uuid> = Vec::new();
    let stage = |i: usize| w.pipeline.stages[i].id;
    let patch = |body: Value| serde_json::from_value(body).unwrap();
    for op in ops {
        let pick = |i: usize| (!ids.is_empty()).then(|| ids[i % ids.len()]);
        let team_of = |on: bool| if on { json!(w.team) } else { Value::Null };
        let vis = |private: bool| if private { "private" } else { "team" };
        // Each change may be refused (a deal in the trash, a restore of a live deal): the
        // property is about what the writes that happen leave behind.
        let _ = match op {
            Op::Create {
                stage: s,
                value,
                probability,
                owner,
                team,
                private,
                close,
            } => {
                let mut body = json!({
                    "title": "Deal", "pipeline_id": w.pipeline.id, "stage_id": stage(s),
                    "owner": OWNERS[owner], "visibility": vis(private)
                });
                if team {
                    body["team"] = json!(w.team);
                }
                if value.is_some() {
                    body["value"] = value_json(value);
                }
                if let Some(p) = probability {
                    body["probability"] = json!(p.to_string());
                }
                if let Some(m) = close {
                    body["expected_close"] = json!(format!("2027-0{}-10", m + 1));
                    body["lost_reason"] = json!(["price", "timing", "fit"][usize::from(m)]);
                }
                let created = deals
                    .create(&admin(), serde_json::from_value(body).unwrap(), None)
                    .await;
                created.map(|d| ids.push(d.id))
            }
            Op::Move { deal, stage: s } => match pick(deal) {
                Some(id) => deals
                    .patch(
                        &admin(),
                        id,
                        patch(json!({"stage_id": stage(s)})),
                        None,
                        None,
                    )
                    .await
                    .map(drop),
                None => Ok(()),
            },
            Op::Value { deal, value } => match pick(deal) {
                Some(id) => deals
                    .patch(
                        &admin(),
                        id,
                        patch(json!({"value": value_json(value)})),
                        None,
                        None,
                    )
                    .await
                    .map(drop),
                None => Ok(()),
            },
            Op::Probability { deal, probability } => match pick(deal) {
                Some(id) => {
                    let p = probability.map_or(Value::Null, |p| json!(p.to_string()));
                    deals
                        .patch(&admin(), id, patch(json!({"probability": p})), None, None)
                        .await
                        .map(drop)
                }
                None => Ok(()),
            },
            Op::StageProbability {
                stage: s,
                probability,
            } => {
                let current = w
                    .catalog
                    .pipelines()
                    .get(&admin(), w.pipeline.id)
                    .await
                    .unwrap();
                let mut stages: Vec<Value> = current
                    .stages
                    .iter()
                    .map(|st| json!({"id": st.id, "name": st.name}))
                    .collect();
                stages[s]["probability"] = json!(probability.to_string());
                let body = serde_json::from_value(json!({"stages": stages})).unwrap();
                w.catalog
                    .pipelines()
                    .patch(&admin(), w.pipeline.id, body, None)
                    .await
                    .map(drop)
            }
            Op::Delete { deal } => match pick(deal) {
                Some(id) => deals.delete(&admin(), id, None).await,
                None => Ok(()),
            },
            Op::Restore { deal } => match pick(deal) {
                Some(id) => deals.restore(&admin(), id).await.map(drop),
                None => Ok(()),
            },
            Op::Assign {
                deal,
                owner,
                team,
                private,
            } => match pick(deal) {
                Some(id) => {
                    let body = json!({"owner": OWNERS[owner], "team": team_of(team), "visibility": vis(private)});
                    deals
                        .patch(&admin(), id, patch(body), None, None)
                        .await
                        .map(drop)
                }
                None => Ok(()),
            },
            Op::Share { deal, with } => match pick(deal) {
                Some(id) => {
                    let principal = match with {
                        0 => crate::access::visibility::Principal::User("mia".into()),
                        1 => crate::access::visibility::Principal::User("max".into()),
                        _ => crate::access::visibility::Principal::Team(w.team),
                    };
                    deals.share(&admin(), id, principal).await.map(drop)
                }
                None => Ok(()),
            },
        };
    }
    let mut all: Vec<Deal> = Vec::new();
    for id in &ids {
        all.extend(deals.store.get("acme", *id).await.unwrap());
    }
    for caller in &w.callers {
        let (cells, _) = board::visible_sums(&deals, caller, w.pipeline.id)
            .await
            .unwrap();
        let seen = all
            .iter()
            .filter(|d| d.deleted_at.is_none() && caller.sees(&crate::records::Record::access(*d)));
        assert_eq!(
            cleaned(cells),
            cleaned(board::recompute(seen)),
            "{} ({:?})",
            caller.user_id,
            caller.role
        );
        // The forecast's month cells (expected close while open, the close month after).
        for grid in [board::Grid::Stages, board::Grid::Months] {
            let cells = board::visible_grid(&deals, caller, grid, w.pipeline.id)
                .await
                .unwrap();
            let seen = all
                .iter()
                .filter(|d| caller.sees(&crate::records::Record::access(*d)));
            assert_eq!(
                cleaned(cells),
                cleaned(board::recompute_grid(grid, seen)),
                "{grid:?} of {}",
                caller.user_id
            );
        }
    }

    // The board in the base currency, with exchange rates set now: each stage's total is its
    // exact per-currency sums converted once and rounded once.
    let (usd, jpy) = (
        format!("{}.{:04}", rates.0 / 10_000, rates.0 % 10_000),
        format!("0.{:06}", rates.1),
    );
    let patch =
        serde_json::from_value(json!({"exchange_rates": {"USD": usd, "JPY": jpy}})).unwrap();
    let settings = crate::settings::SettingsStore::new(w.catalog.table().clone());
    let saved = crate::settings::patch(&settings, &admin(), patch, None)
        .await
        .unwrap();
    let pipeline = w
        .catalog
        .pipelines()
        .get(&admin(), w.pipeline.id)
        .await
        .unwrap();
    let shown = board::board(&deals, &admin(), &pipeline, 5).await.unwrap();
    let live = all.iter().filter(|d| d.deleted_at.is_none());
    let expected = board::recompute(live);
    for stage in &shown.stages {
        let sums = expected.get(&stage.stage_id).cloned().unwrap_or_default();
        let convert = |m: &BTreeMap<String, Decimal>| {
            crate::values::money::total_in_base(
                m.iter().map(|(c, v)| (c.as_str(), *v)),
                "EUR",
                &saved.exchange_rates,
            )
            .unwrap()
            .to_string()
        };
        let probability = pipeline.stage(stage.stage_id).unwrap().probability.0;
        assert_eq!(stage.count, sums.count);
        assert_eq!(stage.total.amount, convert(&sums.all));
        assert_eq!(
            stage.weighted_total.amount,
            convert(&sums.weighted(probability))
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn s4_3_the_board_cells_equal_the_sums_of_the_deals_each_caller_sees(
        ops in proptest::collection::vec(op(), 1..24),
        rates in (1u32..200_000, 1u32..20_000),
    ) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(ops, rates));
    }
}
