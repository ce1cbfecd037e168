//! The contract every [`super::ItemStore`] keeps, as one suite run against each adapter: the
//! memory store in unit tests, DynamoDB (the local endpoint) in the end-to-end tests. Whatever
//! domain code relies on is stated here once; an adapter that differs fails here first.
//!
//! Every key the suite writes starts with `ns`, so it can share a table with other tests.

use super::item::{Item, Key, key, n, s, text};
use super::port::{Condition, KeyRange, Query, Table, TransactError, WriteError, WriteOp};
use aws_sdk_dynamodb::types::AttributeValue;

fn item(ns: &str, pk: &str, sk: &str, extra: &[(&str, &str)]) -> Item {
    let mut i = key(format!("{ns}{pk}"), sk);
    for (k, v) in extra {
        i.insert(k.to_string(), s(*v));
    }
    i
}

fn sks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| text(i, "SK").unwrap_or_default().to_string())
        .collect()
}

/// Runs every check; panics with the first broken promise.
pub async fn run(table: &Table, ns: &str) {
    reads_and_conditional_writes(table, ns).await;
    queries_page_in_key_order(table, ns).await;
    indexes_are_sparse_and_ordered_by_their_sort_key(table, ns).await;
    batch_reads_return_what_exists(table, ns).await;
    transactions_are_all_or_nothing(table, ns).await;
    counters_add_exact_decimals_in_a_transaction(table, ns).await;
}

async fn reads_and_conditional_writes(table: &Table, ns: &str) {
    let pk = format!("{ns}A");
    assert_eq!(table.get(&pk, "x").await.unwrap(), None);
    let mut first = item(ns, "A", "x", &[("name", "one")]);
    first.insert("version".into(), n(1));
    table
        .put_if(first.clone(), Condition::NotExists)
        .await
        .expect("a new item");
    assert!(matches!(
        table.put_if(first.clone(), Condition::NotExists).await,
        Err(WriteError::ConditionFailed)
    ));
    assert_eq!(table.get(&pk, "x").await.unwrap(), Some(first.clone()));
    let mut second = first.clone();
    second.insert("version".into(), n(2));
    assert!(matches!(
        table.put_if(second.clone(), Condition::version(7)).await,
        Err(WriteError::ConditionFailed)
    ));
    table
        .put_if(second.clone(), Condition::version(1))
        .await
        .expect("the expected version");
    // Numbers compare by value; `IN` and `OR` combine.
    let lease = Condition::Or(vec![
        Condition::NotExists,
        Condition::And(vec![
            Condition::eq("name", s("one")),
            Condition::Lt("version".into(), n(10)),
        ]),
    ]);
    table
        .put_if(second.clone(), lease)
        .await
        .expect("version 2 < 10");
    table
        .put_if(
            second.clone(),
            Condition::In("name".into(), vec![s("zero"), s("one")]),
        )
        .await
        .expect("one of the names");
    assert!(matches!(
        table
            .delete_if(Key::new(&pk, "x"), Some(Condition::eq("name", s("two"))))
            .await,
        Err(WriteError::ConditionFailed)
    ));
    table
        .delete_if(Key::new(&pk, "x"), Some(Condition::Exists))
        .await
        .expect("delete");
    assert_eq!(table.get(&pk, "x").await.unwrap(), None);
    table.put(item(ns, "A", "y", &[])).await.unwrap();
    table
        .delete_many(vec![Key::new(&pk, "y"), Key::new(&pk, "absent")])
        .await
        .unwrap();
    assert_eq!(table.get(&pk, "y").await.unwrap(), None);
}

async fn queries_page_in_key_order(table: &Table, ns: &str) {
    let pk = format!("{ns}Q");
    for sk in ["a#1", "a#2", "b#1", "b#2", "c#1"] {
        table
            .put(item(ns, "Q", sk, &[("payload", "p"), ("other", "o")]))
            .await
            .unwrap();
    }
    let all = table.query_all(Query::partition(&pk)).await.unwrap();
    assert_eq!(sks(&all), ["a#1", "a#2", "b#1", "b#2", "c#1"]);
    let desc = table
        .query_all(Query::partition(&pk).newest_first(true))
        .await
        .unwrap();
    assert_eq!(sks(&desc), ["c#1", "b#2", "b#1", "a#2", "a#1"]);
    let prefix = table
        .query_all(Query::partition(&pk).prefix("b#"))
        .await
        .unwrap();
    assert_eq!(sks(&prefix), ["b#1", "b#2"]);
    let between = table
        .query_all(Query::partition(&pk).range(KeyRange::Between("a#2".into(), "b#1".into())))
        .await
        .unwrap();
    assert_eq!(sks(&between), ["a#2", "b#1"]);
    // A range whose start sorts after its end holds nothing (not an error).
    let reversed = table
        .query_all(Query::partition(&pk).range(KeyRange::Between("b#1".into(), "a#2".into())))
        .await
        .unwrap();
    assert!(reversed.is_empty());
    // Pages of two, each continuing where the last stopped, add up to the partition.
    let mut pages = Vec::new();
    let mut start = None;
    loop {
        let page = table
            .query(Query::partition(&pk).limit(2).start(start))
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        assert!(page.scanned >= page.items.len());
        pages.extend(page.items);
        match page.last_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    assert_eq!(sks(&pages), sks(&all));
    // A descending page continues downwards.
    let first = table
        .query(Query::partition(&pk).newest_first(true).limit(2))
        .await
        .unwrap();
    let next = table
        .query(
            Query::partition(&pk)
                .newest_first(true)
                .limit(2)
                .start(first.last_key.clone()),
        )
        .await
        .unwrap();
    assert_eq!(sks(&next.items), ["b#1", "a#2"]);
    // A projection returns only the attributes asked for.
    let projected = table
        .query(Query::partition(&pk).prefix("c#").project(&["payload"]))
        .await
        .unwrap();
    assert_eq!(projected.items.len(), 1);
    assert_eq!(
        projected.items[0].keys().collect::<Vec<_>>(),
        vec!["payload"]
    );
}

async fn indexes_are_sparse_and_ordered_by_their_sort_key(table: &Table, ns: &str) {
    let ix = format!("{ns}IX");
    for (pk, order) in [("I1", "3"), ("I2", "1"), ("I3", "2")] {
        table
            .put(item(ns, pk, "R", &[("GSI3PK", &ix), ("GSI3SK", order)]))
            .await
            .unwrap();
    }
    // Without its sort key attribute an item is not in the index.
    table
        .put(item(ns, "I4", "R", &[("GSI3PK", &ix)]))
        .await
        .unwrap();
    let found = table.query_all(Query::index("GSI3", &ix)).await.unwrap();
    let pks: Vec<&str> = found.iter().map(|i| text(i, "PK").unwrap()).collect();
    assert_eq!(
        pks,
        [format!("{ns}I2"), format!("{ns}I3"), format!("{ns}I1")]
    );
    let mut paged = Vec::new();
    let mut start = None;
    loop {
        let page = table
            .query(
                Query::index("GSI3", &ix)
                    .newest_first(true)
                    .limit(1)
                    .start(start),
            )
            .await
            .unwrap();
        paged.extend(page.items);
        match page.last_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    let orders: Vec<&str> = paged.iter().map(|i| text(i, "GSI3SK").unwrap()).collect();
    assert_eq!(orders, ["3", "2", "1"]);
}

async fn batch_reads_return_what_exists(table: &Table, ns: &str) {
    let pk = format!("{ns}B");
    for i in 0..120 {
        table
            .put(item(ns, "B", &format!("{i:03}"), &[("a", "x"), ("b", "y")]))
            .await
            .unwrap();
    }
    let keys: Vec<Key> = (0..130).map(|i| Key::new(&pk, format!("{i:03}"))).collect();
    let found = table.batch_get(keys, Some(&["SK", "a"])).await.unwrap();
    assert_eq!(found.len(), 120, "more than one request's worth of keys");
    assert!(found.iter().all(|i| i.len() == 2 && i.contains_key("a")));
}

async fn transactions_are_all_or_nothing(table: &Table, ns: &str) {
    let pk = format!("{ns}T");
    table.put(item(ns, "T", "taken", &[])).await.unwrap();
    let writes = vec![
        WriteOp::put_new(item(ns, "T", "one", &[])),
        WriteOp::put_new(item(ns, "T", "taken", &[])),
        WriteOp::put(item(ns, "T", "two", &[])),
    ];
    match table.transact(writes).await {
        Err(e @ TransactError::Cancelled(_)) => {
            assert!(e.failed_at(1) && !e.failed_at(0) && !e.failed_at(2));
        }
        other => panic!("expected a cancellation, got {other:?}"),
    }
    assert_eq!(
        table.get(&pk, "one").await.unwrap(),
        None,
        "nothing written"
    );
    table
        .transact(vec![
            WriteOp::put_new(item(ns, "T", "one", &[])),
            WriteOp::delete_if(Key::new(&pk, "taken"), Condition::Exists),
            WriteOp::Check {
                key: Key::new(&pk, "absent"),
                condition: Condition::NotExists,
            },
        ])
        .await
        .expect("all conditions hold");
    assert!(table.get(&pk, "one").await.unwrap().is_some());
    assert_eq!(table.get(&pk, "taken").await.unwrap(), None);
    // Two writes on one item are refused whole.
    let twice = table
        .transact(vec![
            WriteOp::put(item(ns, "T", "dup", &[])),
            WriteOp::delete(Key::new(&pk, "dup")),
        ])
        .await;
    assert!(matches!(twice, Err(TransactError::Other(_))), "{twice:?}");
}

async fn counters_add_exact_decimals_in_a_transaction(table: &Table, ns: &str) {
    let pk = format!("{ns}C");
    let d = |s: &str| s.parse::<rust_decimal::Decimal>().unwrap();
    let add = |n: &str, a: &str| WriteOp::Add {
        key: Key::new(&pk, "cell"),
        add: vec![("n".into(), d(n)), ("a_EUR".into(), d(a))],
        set: Item::from([("entity".to_string(), s("cell"))]),
    };
    table.transact(vec![add("1", "0.10")]).await.unwrap();
    table.transact(vec![add("1", "0.20")]).await.unwrap();
    table
        .transact(vec![
            add("-1", "-0.05"),
            WriteOp::put(item(ns, "C", "other", &[])),
        ])
        .await
        .unwrap();
    let cell = table
        .get(&pk, "cell")
        .await
        .unwrap()
        .expect("created by the first add");
    let number = |k: &str| match cell.get(k) {
        Some(AttributeValue::N(v)) => d(v),
        other => panic!("{k}: {other:?}"),
    };
    assert_eq!((number("n"), number("a_EUR")), (d("1"), d("0.25")));
    assert_eq!(cell.get("entity"), Some(&s("cell")));
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_store_keeps_the_contract() {
        super::run(&super::Table::in_memory(), "T#contract#").await;
    }
}
