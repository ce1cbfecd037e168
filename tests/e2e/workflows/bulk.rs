//! Bulk work on a workflow through the job queue: enrolling a list filter's contacts (S7.1),
//! pausing, resuming and cancelling all runs (S7.5); and every workflow route probed from
//! another tenant and by each role (S1.4).

use super::workflow;
use crm_e2e_tests::{Reply, Stack, json};
use serde_json::Value;
use std::collections::BTreeSet;

/// How the job worker gets each job message.
#[derive(Clone, Copy, PartialEq)]
enum Deliveries {
    /// Twice at the same time, as two consumers might get a redelivered message.
    TwiceAtOnce,
    /// Twice, one after the other.
    TwiceInTurn,
}

/// Runs the job queue dry with a worker fixing `page` items per page and handing on after
/// `per_message`, every message delivered twice.
async fn run_jobs(stack: &Stack, page: usize, per_message: usize, deliveries: Deliveries) {
    let mut worker = job_worker::JobWorker::new(stack.runtime.deps("job-worker").unwrap());
    worker.bulk_page = page;
    worker.bulk_per_message = per_message;
    let mut messages = 0;
    while let Some(batch) = stack.runtime.receive_sqs_batch("JobQueue").await.unwrap() {
        let failures = match deliveries {
            Deliveries::TwiceAtOnce => {
                let (a, b) =
                    tokio::join!(worker.handle(batch.clone()), worker.handle(batch.clone()));
                a.batch_item_failures.len() + b.batch_item_failures.len()
            }
            Deliveries::TwiceInTurn => {
                let a = worker.handle(batch.clone()).await;
                let b = worker.handle(batch.clone()).await;
                a.batch_item_failures.len() + b.batch_item_failures.len()
            }
        };
        assert_eq!(failures, 0, "a job message failed");
        stack
            .runtime
            .ack_sqs_batch("JobQueue", &batch)
            .await
            .unwrap();
        messages += 1;
        assert!(messages < 200, "the jobs end");
    }
}

/// Asserts a `202` naming its job's status route: the job's id.
fn accepted(reply: &Reply) -> String {
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "queued");
    let id = reply.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        reply.header("location"),
        Some(format!("/jobs/{id}").as_str())
    );
    id
}

async fn job(stack: &Stack, token: &str, id: &str) -> Value {
    let r = stack.get(&format!("/jobs/{id}"), token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// `POST /workflows/{id}/enrollments` with this filter.
async fn bulk_enroll(stack: &Stack, token: &str, workflow_id: &str, filter: Value) -> Reply {
    stack
        .call(
            "POST",
            &format!("/workflows/{workflow_id}/enrollments"),
            token,
            Some(json!({ "filter": filter })),
        )
        .await
}

/// `POST /workflows/{id}/runs/{action}`.
async fn control_all(stack: &Stack, token: &str, workflow_id: &str, action: &str) -> Reply {
    stack
        .call(
            "POST",
            &format!("/workflows/{workflow_id}/runs/{action}"),
            token,
            None,
        )
        .await
}

/// Every run of the workflow (optionally in one status).
async fn runs(stack: &Stack, token: &str, workflow_id: &str, status: Option<&str>) -> Vec<Value> {
    let path = match status {
        Some(s) => format!("/workflows/{workflow_id}/runs?limit=200&status={s}"),
        None => format!("/workflows/{workflow_id}/runs?limit=200"),
    };
    stack.list_all(&path, token).await
}

fn contacts_of(runs: &[Value]) -> BTreeSet<String> {
    runs.iter()
        .map(|r| r["contact_id"].as_str().unwrap().to_string())
        .collect()
}

/// `n` contacts created by `token`, tagged `tags`: their ids and addresses.
async fn contacts(
    stack: &Stack,
    token: &str,
    name: &str,
    n: usize,
    extra: Value,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for i in 0..n {
        let email = format!("{name}{i}-{}@example.com", stack.prefix);
        let mut body = json!({"first_name": format!("{name}{i}"), "email": email});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        out.push((stack.create_contact(token, body).await, email));
    }
    out
}

/// 30 contacts, 20 of them tagged `vip`: a bulk enrollment of `tag=vip` enrolls the 20, each
/// once, though every job message is delivered twice at once and the job hands on between
/// pages; enrolling everyone afterwards adds the other 10 and counts the 20 as already
/// enrolled (S7.1).
#[tokio::test]
async fn s7_1_bulk_enrollment_enrolls_a_filtered_set_once() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let vips = contacts(&stack, &admin, "vip", 20, json!({"tags": ["vip"]})).await;
    let others = contacts(&stack, &admin, "other", 10, json!({})).await;
    let workflow_id = workflow(&stack, &admin, 10).await;

    let started = bulk_enroll(&stack, &admin, &workflow_id, json!({"tag": "vip"})).await;
    let job_id = accepted(&started);
    assert_eq!(started.body["kind"], "workflow_enrollment");
    assert_eq!(started.body["filter"], json!({"tag": "vip"}));
    run_jobs(&stack, 7, 10, Deliveries::TwiceAtOnce).await;

    let done = job(&stack, &admin, &job_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"], json!({"enrolled": 20}), "{done}");
    assert_eq!(done["done"], 20);
    let enrolled = runs(&stack, &admin, &workflow_id, None).await;
    assert_eq!(enrolled.len(), 20, "one run per contact");
    let vip_ids: BTreeSet<String> = vips.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(contacts_of(&enrolled), vip_ids);
    for run in &enrolled {
        assert_eq!(run["enrollment"], json!({"by": "bulk", "actor": "alice"}));
    }
    // One first step message per run: a repeated enrollment sends none.
    assert_eq!(stack.runtime.deliver_step_messages().await.unwrap(), 20);
    assert_eq!(
        runs(&stack, &admin, &workflow_id, Some("waiting"))
            .await
            .len(),
        20
    );

    // The job's message once more, after it finished: nothing changes.
    stack
        .runtime
        .aws
        .sqs
        .send_message()
        .queue_url(&stack.runtime.provisioned.resolved.refs["JobQueue"])
        .message_body(json!({"tenant_id": "acme", "job_id": job_id}).to_string())
        .send()
        .await
        .unwrap();
    run_jobs(&stack, 7, 10, Deliveries::TwiceInTurn).await;
    assert_eq!(job(&stack, &admin, &job_id).await, done);
    assert_eq!(runs(&stack, &admin, &workflow_id, None).await.len(), 20);

    // Everyone: the other 10 join, the 20 are counted as already enrolled.
    let all = accepted(&bulk_enroll(&stack, &admin, &workflow_id, json!({})).await);
    run_jobs(&stack, 7, 10, Deliveries::TwiceInTurn).await;
    let all = job(&stack, &admin, &all).await;
    assert_eq!(all["status"], "completed", "{all}");
    assert_eq!(
        all["counts"],
        json!({"enrolled": 10, "already_enrolled": 20}),
        "{all}"
    );
    let enrolled = runs(&stack, &admin, &workflow_id, None).await;
    assert_eq!(enrolled.len(), 30);
    let every: BTreeSet<String> = vips
        .iter()
        .chain(&others)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(contacts_of(&enrolled), every);
    assert_eq!(stack.runtime.deliver_step_messages().await.unwrap(), 10);
}

/// A member's bulk enrollment reads the contacts as their list would: the admin's private
/// contacts are not enrolled (S7.1).
#[tokio::test]
async fn s7_1_a_member_enrolls_only_the_contacts_they_may_see() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    stack
        .put_user(
            &admin,
            "bob",
            json!({"role": "member", "email": "bob@example.com"}),
        )
        .await;
    let bob = stack.token("acme", "bob", "member");
    let private = contacts(
        &stack,
        &admin,
        "private",
        3,
        json!({"visibility": "private"}),
    )
    .await;
    let own = contacts(&stack, &bob, "own", 2, json!({})).await;
    let workflow_id = workflow(&stack, &admin, 10).await;

    let job_id = accepted(&bulk_enroll(&stack, &bob, &workflow_id, json!({})).await);
    run_jobs(&stack, 100, 1000, Deliveries::TwiceInTurn).await;
    let done = job(&stack, &bob, &job_id).await;
    assert_eq!(done["counts"], json!({"enrolled": 2}), "{done}");
    let enrolled = runs(&stack, &admin, &workflow_id, None).await;
    let own_ids: BTreeSet<String> = own.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(contacts_of(&enrolled), own_ids);
    assert!(
        private
            .iter()
            .all(|(id, _)| !contacts_of(&enrolled).contains(id))
    );
    for run in &enrolled {
        assert_eq!(run["enrollment"]["actor"], "bob");
    }
    // The job is the requester's (and admins'): another member does not see it.
    let carol = stack.token("acme", "carol", "member");
    assert_eq!(
        stack.get(&format!("/jobs/{job_id}"), &carol).await.status,
        404
    );
}

/// A bad filter is named before any job starts; an inactive workflow enrolls nobody (S7.1).
#[tokio::test]
async fn s7_1_a_bad_filter_is_named_before_any_job_starts() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let workflow_id = workflow(&stack, &admin, 10).await;
    for (filter, field) in [
        (json!({"colour": "red"}), "filter.colour"),
        (json!({"tag": "vip", "sort": "name"}), "filter.sort"),
        (json!({"team": "sales"}), "filter.team"),
        (json!({"cf.nope[gt]": "1"}), "filter.cf.nope"),
    ] {
        let r = bulk_enroll(&stack, &admin, &workflow_id, filter.clone()).await;
        assert_eq!(r.status, 422, "{filter}: {:?}", r.body);
        let fields: Vec<&str> = r.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.iter().any(|f| f.starts_with(field)),
            "{filter}: {fields:?}"
        );
    }
    let not_strings = stack
        .call(
            "POST",
            &format!("/workflows/{workflow_id}/enrollments"),
            &admin,
            Some(json!({"filter": {"tag": 1}})),
        )
        .await;
    assert_eq!(not_strings.status, 400);

    let patched = stack
        .call(
            "PATCH",
            &format!("/workflows/{workflow_id}"),
            &admin,
            Some(json!({"status": "paused"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    let paused = bulk_enroll(&stack, &admin, &workflow_id, json!({})).await;
    assert_eq!(paused.status, 409, "{:?}", paused.body);
    assert_eq!(paused.problem_field().0, "status");
    assert!(
        stack
            .runtime
            .receive_sqs_batch("JobQueue")
            .await
            .unwrap()
            .is_none(),
        "no job"
    );
    assert!(runs(&stack, &admin, &workflow_id, None).await.is_empty());
}

/// The Welcome workflow (a 10-minute wait, then an email) with `n` contacts enrolled in bulk
/// and their waits scheduled: the workflow's id and the contacts' addresses.
async fn waiting_runs(stack: &Stack, admin: &str, n: usize) -> (String, Vec<String>) {
    let people = contacts(stack, admin, "ada", n, json!({})).await;
    let workflow_id = workflow(stack, admin, 10).await;
    accepted(&bulk_enroll(stack, admin, &workflow_id, json!({})).await);
    run_jobs(stack, 100, 1000, Deliveries::TwiceInTurn).await;
    assert_eq!(stack.runtime.deliver_step_messages().await.unwrap(), n);
    assert_eq!(
        runs(stack, admin, &workflow_id, Some("waiting"))
            .await
            .len(),
        n
    );
    (workflow_id, people.into_iter().map(|(_, e)| e).collect())
}

/// Fires every schedule as if 11 minutes had passed and delivers the step queue.
async fn eleven_minutes_later(stack: &Stack) -> usize {
    let fired = stack
        .runtime
        .fire_due_schedules(chrono::Utc::now() + chrono::Duration::minutes(11))
        .await
        .unwrap();
    stack.runtime.deliver_step_messages().await.unwrap();
    fired.len()
}

async fn emails_sent(stack: &Stack, to: &[String]) -> Vec<usize> {
    let mut counts = Vec::new();
    for address in to {
        counts.push(stack.sent_emails_to(address).await.len());
    }
    counts
}

/// Pause all: every waiting run is paused, and its wake-up firing changes nothing; resume all:
/// each goes on at its step and sends its email once; the jobs count them (S7.5).
#[tokio::test]
async fn s7_5_pause_all_then_resume_all() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (workflow_id, emails) = waiting_runs(&stack, &admin, 6).await;

    let pause = accepted(&control_all(&stack, &admin, &workflow_id, "pause").await);
    run_jobs(&stack, 4, 4, Deliveries::TwiceInTurn).await;
    let paused = job(&stack, &admin, &pause).await;
    assert_eq!(paused["kind"], "workflow_runs_control");
    assert_eq!(paused["action"], "pause");
    assert_eq!(paused["status"], "completed", "{paused}");
    assert_eq!(paused["counts"], json!({"paused": 6}), "{paused}");
    let before = runs(&stack, &admin, &workflow_id, Some("paused")).await;
    assert_eq!(before.len(), 6);

    // The waits end while paused: their messages change nothing.
    assert_eq!(eleven_minutes_later(&stack).await, 6);
    let after = runs(&stack, &admin, &workflow_id, Some("paused")).await;
    assert_eq!(
        after.iter().map(|r| &r["version"]).collect::<Vec<_>>(),
        before.iter().map(|r| &r["version"]).collect::<Vec<_>>()
    );
    assert_eq!(emails_sent(&stack, &emails).await, vec![0; 6]);

    // Pausing again finds nothing to pause.
    let again = accepted(&control_all(&stack, &admin, &workflow_id, "pause").await);
    run_jobs(&stack, 4, 4, Deliveries::TwiceInTurn).await;
    let again = job(&stack, &admin, &again).await;
    assert_eq!(again["status"], "completed");
    assert_eq!(again["done"], 0);

    let resume = accepted(&control_all(&stack, &admin, &workflow_id, "resume").await);
    run_jobs(&stack, 4, 4, Deliveries::TwiceAtOnce).await;
    let resumed = job(&stack, &admin, &resume).await;
    assert_eq!(resumed["counts"], json!({"resumed": 6}), "{resumed}");
    // Each wait keeps its end: waiting again, behind a new schedule.
    assert_eq!(
        runs(&stack, &admin, &workflow_id, Some("waiting"))
            .await
            .len(),
        6
    );
    assert_eq!(eleven_minutes_later(&stack).await, 6);
    assert_eq!(
        runs(&stack, &admin, &workflow_id, Some("completed"))
            .await
            .len(),
        6
    );
    assert_eq!(emails_sent(&stack, &emails).await, vec![1; 6]);
}

/// Cancel all: waiting and paused runs end as cancelled, a finished run is left as it is, and
/// no wait of theirs sends anything (S7.5).
#[tokio::test]
async fn s7_5_cancel_all() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let (workflow_id, emails) = waiting_runs(&stack, &admin, 4).await;
    let waiting = runs(&stack, &admin, &workflow_id, Some("waiting")).await;
    let one = waiting[0]["id"].as_str().unwrap();
    let paused = stack
        .call("POST", &format!("/workflow-runs/{one}/pause"), &admin, None)
        .await;
    assert_eq!(paused.status, 200);
    let two = waiting[1]["id"].as_str().unwrap();
    let cancelled = stack
        .call(
            "POST",
            &format!("/workflow-runs/{two}/cancel"),
            &admin,
            None,
        )
        .await;
    assert_eq!(cancelled.status, 200);

    let cancel = accepted(&control_all(&stack, &admin, &workflow_id, "cancel").await);
    run_jobs(&stack, 2, 2, Deliveries::TwiceAtOnce).await;
    let done = job(&stack, &admin, &cancel).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"], json!({"cancelled": 3}), "{done}");
    let all = runs(&stack, &admin, &workflow_id, None).await;
    assert!(all.iter().all(|r| r["status"] == "cancelled"), "{all:?}");
    assert!(
        all.iter().filter(|r| r["id"] != two).all(|r| r["history"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["detail"]
            == "by alice")
    );
    eleven_minutes_later(&stack).await;
    assert_eq!(emails_sent(&stack, &emails).await, vec![0; 4]);
}

/// The workflow, the run and the workflow's runs as the admin reads them.
async fn snapshot(stack: &Stack, admin: &str, wf: &str, run: &str) -> (Value, Value, Vec<Value>) {
    (
        stack.get(&format!("/workflows/{wf}"), admin).await.body,
        stack
            .get(&format!("/workflow-runs/{run}"), admin)
            .await
            .body,
        runs(stack, admin, wf, None).await,
    )
}

/// Every workflow route (`workflows-api`'s `route`), as another tenant's admin: 404 (an
/// empty list of workflows), and nothing changes (S1.4).
#[tokio::test]
async fn s1_4_every_workflow_route_is_hidden_from_another_tenant() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let contact_id = super::contact(
        &stack,
        &admin,
        &format!("grace-{}@example.com", stack.prefix),
    )
    .await;
    let workflow_id = workflow(&stack, &admin, 10).await;
    let run = super::start_run(&stack, &admin, &workflow_id, &contact_id).await;
    assert_eq!(run.status, 201);
    let run_id = run.body["id"].as_str().unwrap().to_string();
    let before = snapshot(&stack, &admin, &workflow_id, &run_id).await;

    let other = stack.token("other", "olga", "admin");
    let w = &workflow_id;
    let probes: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/workflows/{w}"), None),
        (
            "PATCH",
            format!("/workflows/{w}"),
            Some(json!({"name": "Mine"})),
        ),
        (
            "POST",
            format!("/workflows/{w}/runs"),
            Some(json!({"contact_id": contact_id})),
        ),
        ("GET", format!("/workflows/{w}/runs"), None),
        ("GET", format!("/workflow-runs/{run_id}"), None),
        ("POST", format!("/workflow-runs/{run_id}/pause"), None),
        ("POST", format!("/workflow-runs/{run_id}/resume"), None),
        ("POST", format!("/workflow-runs/{run_id}/cancel"), None),
        ("GET", format!("/contacts/{contact_id}/runs"), None),
        (
            "POST",
            format!("/workflows/{w}/enrollments"),
            Some(json!({"filter": {}})),
        ),
        ("POST", format!("/workflows/{w}/runs/pause"), None),
        ("POST", format!("/workflows/{w}/runs/resume"), None),
        ("POST", format!("/workflows/{w}/runs/cancel"), None),
    ];
    for (method, path, body) in &probes {
        let r = stack.call(method, path, &other, body.clone()).await;
        assert_eq!(
            r.status, 404,
            "another tenant: {method} {path}: {:?}",
            r.body
        );
    }
    let list = stack.get("/workflows", &other).await;
    assert_eq!((list.status, list.body.clone()), (200, json!([])));
    // Its own workflow is its own: acme's list does not show it.
    let theirs = workflow(&stack, &other, 10).await;
    let acme_list = stack.get("/workflows", &admin).await.body;
    let ids: Vec<&str> = acme_list
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![workflow_id.as_str()]);
    assert_ne!(theirs, workflow_id);

    assert!(
        stack
            .runtime
            .receive_sqs_batch("JobQueue")
            .await
            .unwrap()
            .is_none(),
        "no job started"
    );
    let after = snapshot(&stack, &admin, &workflow_id, &run_id).await;
    assert_eq!(before, after, "nothing changed");
}

/// A route, its body, and what a portal user, a member and a viewer get.
type RoleRow = (&'static str, String, Option<Value>, u16, u16, u16);

/// Each workflow route as a portal user (nothing exists: 404) and as a member (reads, starts
/// and controls single runs and enrolls in bulk; does not define workflows or control all
/// their runs: 403), as `access::Policy` says for workflows and workflow runs (S1.4, S7.5).
#[tokio::test]
async fn s1_4_workflow_routes_for_portal_users_and_members() {
    let stack = Stack::start().await;
    let admin = stack.token("acme", "alice", "admin");
    let member = stack.token("acme", "mo", "member");
    let viewer = stack.token("acme", "vic", "viewer");
    let portal = stack.token("acme", "pat", "portal");
    // The member's own contact: one they see.
    let contact_id = super::contact(
        &stack,
        &member,
        &format!("grace-{}@example.com", stack.prefix),
    )
    .await;
    let workflow_id = workflow(&stack, &admin, 10).await;
    let run = super::start_run(&stack, &admin, &workflow_id, &contact_id).await;
    let run_id = run.body["id"].as_str().unwrap().to_string();
    let w = &workflow_id;
    let new_workflow = json!({"name": "W", "steps": [{"type": "wait", "minutes": 1}]});
    let routes: Vec<RoleRow> = vec![
        (
            "POST",
            "/workflows".into(),
            Some(new_workflow),
            403,
            403,
            403,
        ),
        ("GET", "/workflows".into(), None, 404, 200, 200),
        ("GET", format!("/workflows/{w}"), None, 404, 200, 200),
        (
            "PATCH",
            format!("/workflows/{w}"),
            Some(json!({"name": "X"})),
            404,
            403,
            403,
        ),
        ("GET", format!("/workflows/{w}/runs"), None, 404, 200, 200),
        (
            "GET",
            format!("/workflow-runs/{run_id}"),
            None,
            404,
            200,
            200,
        ),
        (
            "GET",
            format!("/contacts/{contact_id}/runs"),
            None,
            404,
            200,
            200,
        ),
        (
            "POST",
            format!("/workflows/{w}/runs/pause"),
            None,
            404,
            403,
            403,
        ),
        (
            "POST",
            format!("/workflows/{w}/runs/resume"),
            None,
            404,
            403,
            403,
        ),
        (
            "POST",
            format!("/workflows/{w}/runs/cancel"),
            None,
            404,
            403,
            403,
        ),
        (
            "POST",
            format!("/workflows/{w}/enrollments"),
            Some(json!({"filter": {}})),
            404,
            202,
            403,
        ),
        (
            "POST",
            format!("/workflow-runs/{run_id}/pause"),
            None,
            404,
            200,
            403,
        ),
        (
            "POST",
            format!("/workflow-runs/{run_id}/resume"),
            None,
            404,
            200,
            403,
        ),
        (
            "POST",
            format!("/workflows/{w}/runs"),
            Some(json!({"contact_id": contact_id})),
            404,
            409,
            403,
        ),
        (
            "POST",
            format!("/workflow-runs/{run_id}/cancel"),
            None,
            404,
            200,
            403,
        ),
    ];
    for (method, path, body, as_portal, as_member, as_viewer) in &routes {
        for (who, token, expected) in [
            ("portal", &portal, as_portal),
            ("viewer", &viewer, as_viewer),
            ("member", &member, as_member),
        ] {
            let r = stack.call(method, path, token, body.clone()).await;
            assert_eq!(r.status, *expected, "{who}: {method} {path}: {:?}", r.body);
        }
    }
}
