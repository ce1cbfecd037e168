//! HTTP writes under DynamoDB faults: throttling the SDK's retries absorb is invisible (one
//! record); throttling that outlasts them answers 503 with Retry-After, and 500s a 500, with
//! nothing half-written (every item of the table read back); the client's retry with the same
//! Idempotency-Key then gives exactly one record; an attempt that times out while its
//! transaction still lands is retried by the SDK without a second record, and a transaction
//! AWS still runs past the SDK's retries is sent again with its token until it lands, once.

use super::{Faults, added, email_claims, items};
use crm_e2e_tests::{Reply, Stack, json};
use serde_json::Value;

/// `POST {path}` with an Idempotency-Key.
async fn post_with_key(stack: &Stack, token: &str, path: &str, key: &str, body: &Value) -> Reply {
    let req = stack
        .request("POST", path, Some(token))
        .header("idempotency-key", key)
        .json(body);
    stack.send(req).await
}

/// A contact's and a deal's collection, create body and patch body (a pipeline made for the
/// deal).
async fn kinds(stack: &Stack, tag: &str) -> Vec<(&'static str, Value, Value)> {
    let pipeline = crate::deals::sales_pipeline(stack).await;
    vec![
        (
            "/contacts",
            json!({"first_name": "Ada", "email": format!("ada-{tag}@example.com")}),
            json!({"tags": ["vip"]}),
        ),
        (
            "/deals",
            json!({"title": format!("Relaunch {tag}"), "pipeline_id": pipeline["id"]}),
            json!({"title": format!("Relaunch {tag} (2)")}),
        ),
    ]
}

/// Throttling on the record's transaction, 3 times (the SDK makes 4 attempts): create, patch
/// and delete of a contact and a deal each succeed once, with one audit entry per change.
#[tokio::test]
async fn i14_5_throttling_the_sdk_absorbs_leaves_one_record_per_write() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let faults = Faults::new(&stack);
    let throttle = || json!({"operations": ["TransactWriteItems"], "throttle": 3});
    for (path, body, patch) in kinds(&stack, "absorbed").await {
        faults.dynamodb(throttle()).await;
        let created = stack.call("POST", path, &admin, Some(body)).await;
        assert_eq!(created.status, 201, "{path}: {:?}", created.body);
        let id = created.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            stack.ids(path, &admin).await,
            std::slice::from_ref(&id),
            "{path}: one record"
        );

        faults.dynamodb(throttle()).await;
        let record = format!("{path}/{id}");
        let patched = stack
            .call_if_match("PATCH", &record, &admin, "\"1\"", Some(patch))
            .await;
        assert_eq!(patched.status, 200, "{record}: {:?}", patched.body);
        assert_eq!(patched.body["version"], 2);

        let history = stack.get(&format!("{record}/history"), &admin).await;
        let entries = history.body["items"].as_array().unwrap().len();
        assert_eq!(
            entries, 2,
            "{record}: one audit entry a change: {:?}",
            history.body
        );

        faults.dynamodb(throttle()).await;
        let deleted = stack.call("DELETE", &record, &admin, None).await;
        assert_eq!(deleted.status, 204, "{record}: {:?}", deleted.body);
        assert!(
            stack.ids(path, &admin).await.is_empty(),
            "{path}: in the trash"
        );
    }
    let fired = faults.fired("dynamodb", None).await;
    assert_eq!(
        fired["throttle"], 18,
        "3 absorbed per write, 6 writes: {fired}"
    );
    faults.clear(&[]).await;
}

/// Throttling that outlasts the SDK's 4 attempts answers 503 with Retry-After; 500s on every
/// attempt answer 500. Either way the table holds exactly what it held before (no record, no
/// email claim, no index entry, no audit entry, no idempotency record), and the client's retry
/// with the same Idempotency-Key creates one record, which a third call replays.
#[tokio::test]
async fn i14_5_persistent_faults_write_nothing_and_the_keyed_retry_creates_one_record() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let faults = Faults::new(&stack);
    for (kind, status) in [("throttle", 503), ("server_error", 500)] {
        for (path, body, _) in kinds(&stack, kind).await {
            let key = format!("{kind}-{}", path.trim_start_matches('/'));
            let before = items(&stack).await;
            let mut rule = json!({"operations": ["TransactWriteItems"]});
            rule[kind] = json!(4);
            faults.dynamodb(rule).await;
            let refused = post_with_key(&stack, &admin, path, &key, &body).await;
            assert_eq!(refused.status, status, "{kind} {path}: {:?}", refused.body);
            if status == 503 {
                assert_eq!(refused.header("retry-after"), Some("1"), "{path}");
            }
            assert_eq!(
                added(&before, &items(&stack).await),
                Vec::<(String, String)>::new(),
                "{kind} {path}: nothing half-written"
            );
            assert_eq!(
                items(&stack).await,
                before,
                "{kind} {path}: nothing changed"
            );

            let created = post_with_key(&stack, &admin, path, &key, &body).await;
            assert_eq!(created.status, 201, "{kind} {path}: {:?}", created.body);
            let replay = post_with_key(&stack, &admin, path, &key, &body).await;
            assert_eq!(replay.status, 201);
            assert_eq!(replay.header("idempotent-replayed"), Some("true"));
            assert_eq!(replay.body["id"], created.body["id"]);
            let records: Vec<String> = stack
                .ids(path, &admin)
                .await
                .into_iter()
                .filter(|id| created.body["id"] == id.as_str())
                .collect();
            assert_eq!(records.len(), 1, "{kind} {path}");
        }
    }
    assert_eq!(
        stack.ids("/contacts", &admin).await.len(),
        2,
        "one a fault kind"
    );
    assert_eq!(stack.ids("/deals", &admin).await.len(), 2);
    let fired = faults.fired("dynamodb", None).await;
    assert_eq!(
        (&fired["throttle"], &fired["server_error"]),
        (&json!(8), &json!(8))
    );
    faults.clear(&[]).await;
}

/// A patch and a delete that fail for good change nothing (version, fields, history, the
/// trash); retried, each applies once.
#[tokio::test]
async fn i14_5_a_failed_patch_or_delete_changes_nothing_and_its_retry_applies_once() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let faults = Faults::new(&stack);
    let id = stack
        .create_contact(
            &admin,
            json!({"first_name": "Ada", "email": "ada@example.com"}),
        )
        .await;
    let path = format!("/contacts/{id}");
    let before = items(&stack).await;
    faults
        .dynamodb(json!({"operations": ["TransactWriteItems"], "server_error": 4}))
        .await;
    let patch = json!({"email": "ada@lovelace.example", "tags": ["vip"]});
    let refused = stack
        .call_if_match("PATCH", &path, &admin, "\"1\"", Some(patch.clone()))
        .await;
    assert_eq!(refused.status, 500, "{:?}", refused.body);
    assert_eq!(
        items(&stack).await,
        before,
        "no claim of the new email, no tag entry"
    );
    faults
        .dynamodb(json!({"operations": ["TransactWriteItems"], "throttle": 4}))
        .await;
    let refused = stack.call("DELETE", &path, &admin, None).await;
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    assert_eq!(items(&stack).await, before);
    let contact = stack.get(&path, &admin).await.body;
    assert_eq!(
        (&contact["version"], &contact["email"]),
        (&json!(1), &json!("ada@example.com"))
    );

    let patched = stack
        .call_if_match("PATCH", &path, &admin, "\"1\"", Some(patch))
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["version"], 2);
    let history = stack.get(&format!("{path}/history"), &admin).await;
    let entries = history.body["items"].as_array().map(Vec::len);
    assert_eq!(entries, Some(2), "created, patched: {:?}", history.body);
    assert_eq!(stack.call("DELETE", &path, &admin, None).await.status, 204);
    assert_eq!(stack.get(&path, &admin).await.status, 404, "in the trash");
    // The old address is free again, the new one held by the contact in the trash.
    let reuse = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"email": "ada@example.com"})),
        )
        .await;
    assert_eq!(reuse.status, 201, "{:?}", reuse.body);
    faults.clear(&[]).await;
}

/// The first attempt of the record's transaction is held past the SDK's 3 s attempt timeout;
/// the SDK retries it with the same ClientRequestToken while the first still lands: 201 and
/// one record, its email claimed once.
#[tokio::test]
async fn i14_5_a_timed_out_attempt_that_lands_is_not_applied_twice() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let faults = Faults::new(&stack);
    faults
        .dynamodb(json!({"operations": ["TransactWriteItems"], "delay": 1, "delay_ms": 4000}))
        .await;
    let started = std::time::Instant::now();
    let created = post_with_key(
        &stack,
        &admin,
        "/contacts",
        "slow-1",
        &json!({"first_name": "Ada", "email": "slow@example.com"}),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(3),
        "an attempt timed out"
    );
    // The held first attempt arrives after the retry: it must not land a second time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while faults.fired("dynamodb", None).await["delay"] != 1 && std::time::Instant::now() < deadline
    {
        tokio::task::yield_now().await;
    }
    assert_eq!(stack.ids("/contacts", &admin).await.len(), 1);
    assert_eq!(email_claims(&stack).await, 1);
    let history = stack
        .get(
            &format!("/contacts/{}/history", created.body["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(
        history.body["items"].as_array().unwrap().len(),
        1,
        "one audit entry"
    );
    faults.clear(&[]).await;
}

/// AWS answers TransactionInProgressException (an earlier send of the record's transaction
/// still runs) to all 4 of the SDK's attempts and 2 more: the store sends the transaction
/// again with the same ClientRequestToken after a wait, so the create lands once (201), where
/// giving up would have answered 500 while the first send might still land.
#[tokio::test]
async fn i14_5_a_transaction_still_in_progress_is_sent_again_with_its_token_and_lands_once() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let faults = Faults::new(&stack);
    faults
        .dynamodb(json!({"operations": ["TransactWriteItems"], "in_progress": 6}))
        .await;
    let created = stack
        .call(
            "POST",
            "/contacts",
            &admin,
            Some(json!({"first_name": "Ada", "email": "busy@example.com"})),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(faults.fired("dynamodb", None).await["in_progress"], 6);
    assert_eq!(stack.ids("/contacts", &admin).await.len(), 1);
    assert_eq!(email_claims(&stack).await, 1);
    faults.clear(&[]).await;
}
