//! The rules of deals and pipelines on the in-memory store (S4.1, S4.2): stages and their
//! kinds, the status following the stage, the stage history written once per move, money.

use super::*;
use crate::deals::{self, Deal, DealPatch, DealStatus, Deals, NewDeal, Pipeline, StageKind};
use serde_json::json;

fn member() -> Caller {
    Caller::new("acme", "mia", Role::Member)
}

async fn setup() -> (Catalog, Pipeline) {
    let catalog = Catalog::new(Table::in_memory());
    let pipeline = sales_pipeline(&catalog).await;
    (catalog, pipeline)
}

fn new_deal(pipeline: &Pipeline, extra: serde_json::Value) -> NewDeal {
    let mut body = json!({"title": "Website relaunch", "pipeline_id": pipeline.id});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(body).unwrap()
}

fn patch(body: serde_json::Value) -> DealPatch {
    serde_json::from_value(body).unwrap()
}

fn rules(err: CrmError) -> Vec<String> {
    match err {
        CrmError::Validation(errors) => errors
            .into_iter()
            .map(|e| format!("{} {}", e.field, e.rule))
            .collect(),
        other => panic!("not a validation error: {other:?}"),
    }
}

async fn create(deals: &Deals, pipeline: &Pipeline, extra: serde_json::Value) -> Deal {
    deals
        .create(&admin(), new_deal(pipeline, extra), None)
        .await
        .unwrap()
}

/// A deal's stage moves, oldest first: (from, to).
async fn moves(deals: &Deals, id: uuid::Uuid) -> Vec<(Option<uuid::Uuid>, uuid::Uuid)> {
    let history = deals::stage_history(deals, &admin(), id).await.unwrap();
    history
        .iter()
        .map(|h| (h.from_stage_id, h.to_stage_id))
        .collect()
}

fn stage(p: &Pipeline, kind: StageKind) -> uuid::Uuid {
    p.stage_of_kind(kind).unwrap().id
}

#[tokio::test]
async fn s4_2_a_new_deal_starts_in_the_first_stage_with_one_history_entry() {
    let (catalog, p) = setup().await;
    let deals = catalog.deals();
    let deal = create(&deals, &p, json!({})).await;
    assert_eq!(deal.stage_id, p.stages[0].id);
    assert_eq!(deal.status, DealStatus::Open);
    assert_eq!(deal.owner.as_deref(), Some("alice"));
    let history = deals::stage_history(&deals, &admin(), deal.id)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].from_stage_id, None);
    assert_eq!(history[0].to_stage_id, p.stages[0].id);
}

#[tokio::test]
async fn s4_2_moving_into_a_won_or_lost_stage_sets_the_status_and_the_reverse() {
    let (catalog, p) = setup().await;
    let deals = catalog.deals();
    let deal = create(&deals, &p, json!({})).await;
    let won = deals
        .patch(
            &admin(),
            deal.id,
            patch(json!({"stage_id": stage(&p, StageKind::Won)})),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(won.status, DealStatus::Won);
    assert!(won.closed_at.is_some());
    // A status asked for moves the deal to its pipeline's stage of that kind.
    let lost = deals
        .patch(
            &admin(),
            deal.id,
            patch(json!({"status": "lost", "lost_reason": "price"})),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(lost.stage_id, stage(&p, StageKind::Lost));
    assert_eq!(lost.lost_reason.as_deref(), Some("price"));
    // Reopening names the open stage it goes back to.
    let err = deals
        .patch(
            &admin(),
            deal.id,
            patch(json!({"status": "open"})),
            None,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(rules(err), ["stage_id required"]);
    let reopened = deals
        .patch(
            &admin(),
            deal.id,
            patch(json!({"stage_id": p.stages[1].id})),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(reopened.status, DealStatus::Open);
    assert_eq!(reopened.closed_at, None);
    // A status that contradicts the stage named with it is refused.
    let err = deals
        .patch(
            &admin(),
            deal.id,
            patch(json!({"stage_id": p.stages[0].id, "status": "won"})),
            None,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(rules(err), ["status stage_kind"]);
    assert_eq!(
        moves(&deals, deal.id).await,
        [
            (None, p.stages[0].id),
            (Some(p.stages[0].id), stage(&p, StageKind::Won)),
            (Some(stage(&p, StageKind::Won)), stage(&p, StageKind::Lost)),
            (Some(stage(&p, StageKind::Lost)), p.stages[1].id),
        ]
    );
    let history = deals::stage_history(&deals, &admin(), deal.id)
        .await
        .unwrap();
    assert!(
        history[1..]
            .iter()
            .all(|h| h.seconds_in_previous_stage.is_some())
    );
}

#[tokio::test]
async fn s4_2_the_same_move_twice_writes_one_history_entry() {
    let (catalog, p) = setup().await;
    let deals = catalog.deals();
    let deal = create(&deals, &p, json!({})).await;
    let to = json!({"stage_id": p.stages[1].id});
    let first = deals
        .patch(&admin(), deal.id, patch(to.clone()), None, None)
        .await
        .unwrap();
    let again = deals
        .patch(&admin(), deal.id, patch(to), None, None)
        .await
        .unwrap();
    assert_eq!(first.version, again.version);
    let history = deals::stage_history(&deals, &admin(), deal.id)
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
}

#[tokio::test]
async fn s4_2_a_deal_value_is_exact_money_and_a_json_number_is_refused() {
    let (catalog, p) = setup().await;
    let deals = catalog.deals();
    let deal = create(
        &deals,
        &p,
        json!({"value": {"amount": "1234.5", "currency": "eur"}, "probability": "37.5"}),
    )
    .await;
    let value = deal.value.clone().unwrap();
    assert_eq!(
        (value.amount.to_string(), value.currency.as_str()),
        ("1234.50".into(), "EUR")
    );
    let bad = |v: serde_json::Value| new_deal(&p, json!({"value": v}));
    let cases = [
        (
            json!({"amount": 1234.5, "currency": "EUR"}),
            "value.amount type",
        ),
        (
            json!({"amount": "1.234", "currency": "EUR"}),
            "value.amount scale",
        ),
        (
            json!({"amount": "-1", "currency": "EUR"}),
            "value.amount min",
        ),
        (
            json!({"amount": "1", "currency": "XXY"}),
            "value.currency iso_4217",
        ),
        (json!({"amount": "1"}), "value.currency required"),
    ];
    for (value, rule) in cases {
        let err = deals
            .create(&admin(), bad(value.clone()), None)
            .await
            .unwrap_err();
        assert_eq!(rules(err), [rule], "{value}");
    }
    let err = deals
        .create(
            &admin(),
            new_deal(&p, json!({"probability": "100.5"})),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(rules(err), ["probability range"]);
}

#[tokio::test]
async fn s4_2_a_deal_stands_in_a_stage_of_a_live_pipeline_with_visible_contacts() {
    let (catalog, p) = setup().await;
    let deals = catalog.deals();
    let (_, other) = setup().await;
    let err = deals
        .create(
            &admin(),
            new_deal(&p, json!({"stage_id": other.stages[0].id})),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(rules(err), ["stage_id exists"]);
    let err = deals
        .create(&admin(), new_deal(&other, json!({})), None)
        .await
        .unwrap_err();
    assert_eq!(rules(err), ["pipeline_id exists"]);
    let ghost = crate::values::new_id();
    let err = deals
        .create(
            &admin(),
            new_deal(&p, json!({"contact_ids": [ghost], "client_id": ghost})),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(rules(err), ["contact_ids[0] exists", "client_id exists"]);
    let archive = serde_json::from_value(json!({"archived": true})).unwrap();
    catalog
        .pipelines()
        .patch(&admin(), p.id, archive, None)
        .await
        .unwrap();
    let err = deals
        .create(&admin(), new_deal(&p, json!({})), None)
        .await
        .unwrap_err();
    assert_eq!(rules(err), ["pipeline_id archived"]);
}

#[tokio::test]
async fn s4_1_owners_and_admins_change_pipelines_others_read_them() {
    let (catalog, p) = setup().await;
    let pipelines = catalog.pipelines();
    let rename = serde_json::from_value(json!({"name": "Renamed"})).unwrap();
    let err = pipelines
        .patch(&member(), p.id, rename, None)
        .await
        .unwrap_err();
    assert!(matches!(err, CrmError::Forbidden(_)), "{err:?}");
    assert_eq!(pipelines.list(&member(), false).await.unwrap().len(), 1);
    let portal = Caller::new("acme", "pat", Role::Portal);
    let err = pipelines.get(&portal, p.id).await.unwrap_err();
    assert!(matches!(err, CrmError::NotFound));
    let stale = serde_json::from_value(json!({"name": "Again"})).unwrap();
    let err = pipelines
        .patch(&admin(), p.id, stale, Some(7))
        .await
        .unwrap_err();
    assert!(matches!(err, CrmError::PreconditionFailed));
}

fn removals<'a>(
    deals: &'a Deals,
    pipelines: &'a crate::deals::Pipelines,
    jobs: &'a crate::jobs::Jobs,
) -> crate::deals::stage_removal::StageRemovals<'a> {
    crate::deals::stage_removal::StageRemovals {
        deals,
        pipelines,
        jobs,
    }
}

fn memory_jobs(
    catalog: &Catalog,
) -> (
    crate::jobs::Jobs,
    std::sync::Arc<crate::store::queue::MemoryQueue>,
) {
    let queue = std::sync::Arc::new(crate::store::queue::MemoryQueue::default());
    let jobs = crate::jobs::Jobs::new(catalog.table().clone(), Some(queue.clone()));
    (jobs, queue)
}

#[tokio::test]
async fn s4_1_deleting_a_stage_moves_a_budget_of_deals_and_a_job_the_rest_each_once() {
    use crate::deals::stage_removal::{MOVE_BUDGET, delete_stage, run_stage_removal};
    use crate::jobs::JobStatus;
    let (catalog, p) = setup().await;
    let (deals, pipelines) = (catalog.deals(), catalog.pipelines());
    let (jobs, queue) = memory_jobs(&catalog);
    let with = removals(&deals, &pipelines, &jobs);
    let mut ids = Vec::new();
    for _ in 0..MOVE_BUDGET + 5 {
        ids.push(
            create(&deals, &p, json!({"stage_id": p.stages[1].id}))
                .await
                .id,
        );
    }
    let (from, to) = (p.stages[1].id, p.stages[0].id);
    // The won, lost and last open stages stay; the target is another stage of the pipeline.
    let won = stage(&p, StageKind::Won);
    let err = delete_stage(&with, &admin(), p.id, won, to)
        .await
        .unwrap_err();
    assert_eq!(rules(err), ["stage_id won_and_lost"]);
    let err = delete_stage(&with, &admin(), p.id, from, from)
        .await
        .unwrap_err();
    assert_eq!(rules(err), ["move_to exists"]);
    let err = delete_stage(&with, &member(), p.id, from, to)
        .await
        .unwrap_err();
    assert!(matches!(err, CrmError::Forbidden(_)));

    let first = delete_stage(&with, &admin(), p.id, from, to).await.unwrap();
    assert_eq!((first.moved, first.continues), (MOVE_BUDGET, true));
    let job = first.job.expect("a job moves the rest");
    assert_eq!(
        (job.status, job.done),
        (JobStatus::Queued, MOVE_BUDGET as u64)
    );
    assert_eq!(queue.len(), 1);
    // Meanwhile no deal enters the stage, and asking again answers the same job.
    let err = deals
        .create(&admin(), new_deal(&p, json!({"stage_id": from})), None)
        .await
        .unwrap_err();
    assert_eq!(rules(err), ["stage_id stage_deleted"]);
    let again = delete_stage(&with, &admin(), p.id, from, to).await.unwrap();
    assert_eq!((again.moved, again.continues), (0, true));
    assert_eq!(again.job.map(|j| j.id), Some(job.id));
    assert_eq!(queue.len(), 1, "one job, one message");

    // The job moves 2 deals per message and hands on until the stage is empty; every message
    // is delivered twice, as SQS may.
    let mut messages = 0;
    while let Some(message) = queue.pop::<crate::jobs::JobMessage>() {
        for _ in 0..2 {
            let job = jobs.get("acme", message.job_id).await.unwrap().unwrap();
            if job.status == JobStatus::Queued {
                run_stage_removal(&with, &message, &job, 2).await.unwrap();
            }
        }
        messages += 1;
    }
    assert!(messages >= 3, "2 deals per message: the job handed on");
    let job = jobs.get("acme", job.id).await.unwrap().unwrap();
    assert_eq!(
        (job.status, job.done),
        (JobStatus::Completed, ids.len() as u64)
    );
    assert!(
        pipelines
            .get(&admin(), p.id)
            .await
            .unwrap()
            .stage(from)
            .is_none()
    );
    for id in [ids[0], ids[MOVE_BUDGET + 4]] {
        assert_eq!(moves(&deals, id).await, [(None, from), (Some(from), to)]);
    }
    // Only its requester, owners and admins see the job.
    assert!(jobs.get_for(&admin(), job.id).await.is_ok());
    assert!(matches!(
        jobs.get_for(&member(), job.id).await,
        Err(CrmError::NotFound)
    ));
    // Once gone, the stage is not found.
    let err = delete_stage(&with, &admin(), p.id, from, to)
        .await
        .unwrap_err();
    assert!(matches!(err, CrmError::NotFound));
}

#[tokio::test]
async fn s4_1_a_stage_removal_job_acts_with_the_requesters_rights_as_they_are_now() {
    use crate::deals::stage_removal::{MOVE_BUDGET, delete_stage, run_stage_removal};
    use crate::jobs::JobStatus;
    let (catalog, p) = setup().await;
    let (deals, pipelines) = (catalog.deals(), catalog.pipelines());
    let (jobs, queue) = memory_jobs(&catalog);
    let with = removals(&deals, &pipelines, &jobs);
    for _ in 0..=MOVE_BUDGET {
        create(&deals, &p, json!({"stage_id": p.stages[1].id})).await;
    }
    let (from, to) = (p.stages[1].id, p.stages[0].id);
    let job = delete_stage(&with, &admin(), p.id, from, to)
        .await
        .unwrap()
        .job
        .unwrap();
    // Another admin makes Alice a member: her job stops with a reason and moves nothing more.
    let dir = crate::directory::Directory::new(catalog.table().clone());
    let input = serde_json::from_value(json!({"role": "member"})).unwrap();
    let other_admin = Caller::new("acme", "olaf", Role::Admin);
    crate::directory::put_user(&dir, &other_admin, "alice", input, None)
        .await
        .unwrap();
    let message = queue.pop::<crate::jobs::JobMessage>().unwrap();
    let queued = jobs.get("acme", job.id).await.unwrap().unwrap();
    run_stage_removal(&with, &message, &queued, 10)
        .await
        .unwrap();
    let ended = jobs.get("acme", job.id).await.unwrap().unwrap();
    assert_eq!(
        (ended.status, ended.failure_reason.as_deref(), ended.done),
        (
            JobStatus::Failed,
            Some("the requester may no longer change pipelines"),
            MOVE_BUDGET as u64
        )
    );
    assert!(queue.is_empty(), "not sent on");
}

#[tokio::test]
async fn s4_2_a_lost_reason_comes_from_the_tenants_catalogue_once_it_has_one() {
    let (catalog, p) = setup().await;
    let (deals, pipelines) = (catalog.deals(), catalog.pipelines());
    let deal = create(&deals, &p, json!({})).await;
    let catalogue = |v: serde_json::Value| serde_json::from_value(v).unwrap();
    let err = pipelines
        .put_lost_reasons(&member(), catalogue(json!({"reasons": []})), None)
        .await
        .unwrap_err();
    assert!(matches!(err, CrmError::Forbidden(_)));
    let twice = json!({"reasons": [{"key": "price", "label": "Price"}, {"key": "price", "label": "Again"}, {"key": "Bad Key", "label": ""}]});
    let err = pipelines
        .put_lost_reasons(&admin(), catalogue(twice), None)
        .await
        .unwrap_err();
    assert_eq!(
        rules(err),
        [
            "reasons[1].key unique",
            "reasons[2].key format",
            "reasons[2].label required"
        ]
    );
    let ok = json!({"reasons": [{"key": "price", "label": "Too expensive"}, {"key": "timing", "label": "Bad timing"}]});
    let saved = pipelines
        .put_lost_reasons(&admin(), catalogue(ok), None)
        .await
        .unwrap();
    assert_eq!(saved.version, 1);
    let lose = |reason: &str| {
        patch(json!({"status": "lost", "lost_reason": reason, "lost_note": "went elsewhere"}))
    };
    let err = deals
        .patch(&admin(), deal.id, lose("weather"), None, None)
        .await
        .unwrap_err();
    assert_eq!(rules(err), ["lost_reason one_of"]);
    let lost = deals
        .patch(&admin(), deal.id, lose("timing"), None, None)
        .await
        .unwrap();
    assert_eq!(
        (lost.lost_reason.as_deref(), lost.lost_note.as_deref()),
        (Some("timing"), Some("went elsewhere"))
    );
}

#[tokio::test]
async fn s4_1_a_deal_restored_after_its_stage_was_deleted_goes_to_the_first_open_stage() {
    use crate::deals::stage_removal::delete_stage;
    let (catalog, p) = setup().await;
    let (deals, pipelines) = (catalog.deals(), catalog.pipelines());
    let (jobs, _) = memory_jobs(&catalog);
    let with = removals(&deals, &pipelines, &jobs);
    let (lead, proposal) = (p.stages[0].id, p.stages[1].id);
    let deal = create(&deals, &p, json!({"stage_id": proposal})).await;
    deals.delete(&admin(), deal.id, None).await.unwrap();
    let removal = delete_stage(&with, &admin(), p.id, proposal, lead)
        .await
        .unwrap();
    assert_eq!((removal.moved, removal.continues), (0, false));
    let restored = deals.restore(&admin(), deal.id).await.unwrap();
    assert_eq!(restored.stage_id, lead);
    assert_eq!(
        moves(&deals, deal.id).await,
        [(None, proposal), (Some(proposal), lead)]
    );
}
