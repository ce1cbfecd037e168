//! A stage removal beyond the request's budget continues as a job on the job queue (S4.1):
//! its own status, every deal moved once with one stage history entry, the count exact, under
//! redelivered messages.

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
