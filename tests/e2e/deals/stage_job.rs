//! A stage removal beyond the request's budget continues as a job on the job queue (S4.1):
//! its own status, every deal moved once with one stage history entry, the count exact, under
//! redelivered messages. Rotting lists (S4.2, S4.3) over deals stored with old stage times.

use super::{sales_pipeline, stage};
use crm_e2e_tests::{Stack, json};
use crm_shared::deals::cells::cell_items;
use crm_shared::deals::{Deal, stored_items};
use uuid::Uuid;

/// 505 deals in stage `stage_id`, stored as the API stores them (records, index entries, first
/// stage history entries, board cells), without 505 requests.
async fn load_deals(stack: &Stack, pipeline_id: Uuid, stage_id: Uuid, n: usize) -> Vec<Uuid> {
    let now = crm_shared::values::now();
    let deals: Vec<Deal> = (0..n)
        .map(|i| Deal {
            id: Uuid::now_v7(),
            title: format!("Deal {i:03}"),
            pipeline_id,
            stage_id,
            stage_entered_at: now,
            owner: Some("alice".into()),
            created_at: now,
            created_by: "alice".into(),
            updated_at: now,
            updated_by: "alice".into(),
            version: 1,
            ..Deal::default()
        })
        .collect();
    let mut items = Vec::new();
    for deal in &deals {
        items.extend(stored_items("acme", deal).expect("items").0);
    }
    items.extend(cell_items("acme", &deals));
    stack.put_items(items).await;
    deals.iter().map(|d| d.id).collect()
}

#[tokio::test]
async fn s4_1_a_stage_removal_beyond_the_budget_continues_as_a_job_moving_each_deal_once() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let pipeline = sales_pipeline(&stack).await;
    let pipeline_id: Uuid = pipeline["id"].as_str().unwrap().parse().unwrap();
    let (lead, proposal) = (stage(&pipeline, 0), stage(&pipeline, 1));
    let ids = load_deals(&stack, pipeline_id, proposal.parse().unwrap(), 505).await;

    let path = format!("/pipelines/{pipeline_id}/stages/{proposal}?move_to={lead}");
    let r = stack.call("DELETE", &path, &admin, None).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(
        (r.body["moved"].as_u64(), r.body["continues"].as_bool()),
        (Some(500), Some(true))
    );
    let job_path = format!("/jobs/{}", r.body["job"]["id"].as_str().unwrap());
    assert_eq!(r.header("location"), Some(job_path.as_str()));
    let job = stack.get(&job_path, &admin).await;
    assert_eq!(
        (
            &job.body["kind"],
            &job.body["status"],
            job.body["done"].as_u64()
        ),
        (&json!("stage_removal"), &json!("queued"), Some(500))
    );
    // Its requester, owners and admins see the job; a member and another tenant do not.
    let mia = stack.token("acme", "mia", "member");
    assert_eq!(stack.status("GET", &job_path, &mia, None).await, 404);
    let olga = stack.token("other-tenant", "olga", "owner");
    assert_eq!(stack.status("GET", &job_path, &olga, None).await, 404);
    // Asked again while the job runs: the same job, nothing moved by the request.
    let again = stack.call("DELETE", &path, &admin, None).await;
    assert_eq!((again.status, again.body["moved"].as_u64()), (202, Some(0)));
    assert_eq!(again.body["job"]["id"], r.body["job"]["id"]);

    // The job worker moves 2 deals per message and hands on; each message is delivered twice.
    let mut worker = job_worker::JobWorker::new(stack.runtime.deps("job-worker").unwrap());
    worker.moves_per_message = 2;
    let mut batches = 0;
    while let Some(batch) = stack.runtime.receive_sqs_batch("JobQueue").await.unwrap() {
        for _ in 0..2 {
            let response = worker.handle(batch.clone()).await;
            assert!(response.batch_item_failures.is_empty());
        }
        stack
            .runtime
            .ack_sqs_batch("JobQueue", &batch)
            .await
            .unwrap();
        batches += 1;
        assert!(batches < 20, "the job ends");
    }
    assert!(batches >= 2, "the job handed on: {batches} batches");
    let job = stack.get(&job_path, &admin).await;
    assert_eq!(
        (&job.body["status"], job.body["done"].as_u64()),
        (&json!("completed"), Some(505))
    );
    let pipeline = stack
        .get(&format!("/pipelines/{pipeline_id}"), &admin)
        .await;
    assert_eq!(pipeline.body["stages"].as_array().unwrap().len(), 3);
    let in_lead = stack
        .ids(&format!("/deals?stage={lead}&limit=200"), &admin)
        .await;
    assert_eq!(in_lead.len(), 505);
    for id in [ids[0], ids[250], ids[504]] {
        let history = stack
            .get(&format!("/deals/{id}/stage-history"), &admin)
            .await;
        let moves: Vec<_> = history
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h["from_stage_id"].clone(), h["to_stage_id"].clone()))
            .collect();
        assert_eq!(
            moves,
            [
                (json!(null), json!(proposal)),
                (json!(proposal), json!(lead))
            ]
        );
    }
    let board = stack
        .get(&format!("/pipelines/{pipeline_id}/board"), &admin)
        .await;
    assert_eq!(board.body["stages"][0]["count"], 505, "{:?}", board.body);
}

/// Rotting (S4.2, S4.3): open deals idle for at least their stage's rotting period are listed
/// stage by stage, most idle first, as the caller may see them; a move makes a deal fresh.
#[tokio::test]
async fn s4_3_rotting_deals_are_listed_per_stage_period_and_a_move_makes_them_fresh() {
    use crm_shared::access::visibility::Visibility;
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let pipeline = sales_pipeline(&stack).await;
    let pipeline_id: Uuid = pipeline["id"].as_str().unwrap().parse().unwrap();
    let (lead, proposal) = (stage(&pipeline, 0), stage(&pipeline, 1));
    // Proposal rots after 14 days; Lead never does.
    let now = crm_shared::values::now();
    let deal = |title: &str, stage: &str, days: i64, owner: &str, visibility: Visibility| Deal {
        id: Uuid::now_v7(),
        title: title.into(),
        pipeline_id,
        stage_id: stage.parse().unwrap(),
        stage_entered_at: now - chrono::Duration::days(days),
        owner: Some(owner.into()),
        visibility,
        created_at: now,
        created_by: owner.into(),
        updated_at: now,
        updated_by: owner.into(),
        version: 1,
        ..Deal::default()
    };
    let deals = vec![
        deal("Old", &proposal, 30, "mia", Visibility::Team),
        deal("Older", &proposal, 40, "mia", Visibility::Team),
        deal("Fresh", &proposal, 3, "mia", Visibility::Team),
        deal("Hidden", &proposal, 50, "bob", Visibility::Private),
        deal("Old lead", &lead, 90, "mia", Visibility::Team),
    ];
    let mut items = Vec::new();
    for d in &deals {
        items.extend(stored_items("acme", d).expect("items").0);
    }
    items.extend(cell_items("acme", &deals));
    stack.put_items(items).await;

    let titles = |items: Vec<serde_json::Value>| -> Vec<String> {
        items
            .iter()
            .map(|d| d["title"].as_str().unwrap().to_string())
            .collect()
    };
    // Walked one by one: most idle first, nothing repeated or missed.
    let all = stack.list_all("/deals?rotting=true&limit=1", &admin).await;
    assert_eq!(titles(all), ["Hidden", "Older", "Old"]);
    let mia = stack.token("acme", "mia", "member");
    let seen = stack
        .list_all(&format!("/deals?rotting=true&pipeline={pipeline_id}"), &mia)
        .await;
    assert_eq!(titles(seen), ["Older", "Old"]);
    let none = stack
        .list_all(&format!("/deals?rotting=true&stage={lead}"), &admin)
        .await;
    assert!(none.is_empty(), "Lead has no rotting period");
    let r = stack.call("GET", "/deals?rotting=yes", &admin, None).await;
    assert_eq!(r.status, 422);
    let r = stack
        .call("GET", "/deals?rotting=true&sort=title", &admin, None)
        .await;
    assert_eq!(r.status, 422);

    // The board flags the same cards.
    let board = stack
        .get(&format!("/pipelines/{pipeline_id}/board"), &admin)
        .await;
    let mut flagged: Vec<String> = board.body["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["cards"].as_array().unwrap().clone())
        .filter(|c| c["rotting"] == true)
        .map(|c| c["title"].as_str().unwrap().to_string())
        .collect();
    flagged.sort();
    assert_eq!(flagged, ["Hidden", "Old", "Older"]);

    // Moved away and back: fresh again.
    let old = deals[0].id;
    for to in [&lead, &proposal] {
        let r = stack
            .call(
                "POST",
                &format!("/deals/{old}/move"),
                &admin,
                Some(json!({"stage_id": to})),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let all = stack.list_all("/deals?rotting=true", &admin).await;
    assert_eq!(titles(all), ["Hidden", "Older"]);
}
