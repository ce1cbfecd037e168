//! `workflows-api`: define and edit workflows, enroll contacts, follow and control runs (S7).

use api_kit::{Problem, idempotent, if_match, json_body, json_response, path_id};
use crm_shared::jobs::{Job, Jobs};
use crm_shared::store::cursor::Page;
use crm_shared::store::openapi::LinkOperationIds;
use crm_shared::workflows::{
    self, AwsEffects, BulkEnrollment, Control, NewWorkflow, RunStatus, StartRun, Workflow,
    WorkflowPatch, WorkflowRun, bulk,
};
use crm_shared::{Caller, CrmError, Deps};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub struct WorkflowsApi {
    deps: Deps,
    table: crm_shared::store::Table,
    effects: AwsEffects,
    jobs: Jobs,
}

impl WorkflowsApi {
    pub fn new(deps: Deps) -> Self {
        Self {
            table: deps.table(),
            effects: deps.step_effects(),
            jobs: deps.jobs(),
            deps,
        }
    }
}

impl api_kit::Routes for WorkflowsApi {
    async fn route(
        &self,
        route: &str,
        caller: &Caller,
        req: &Request,
    ) -> Result<Response<Body>, CrmError> {
        match route {
            "POST /workflows" => Ok(idempotent(&self.deps, caller, req, || {
                create_workflow(self, caller, req)
            })
            .await),
            "GET /workflows" => list_workflows(self, caller).await,
            "GET /workflows/{id}" => get_workflow(self, caller, req).await,
            "PATCH /workflows/{id}" => patch_workflow(self, caller, req).await,
            "POST /workflows/{id}/runs" => {
                Ok(idempotent(&self.deps, caller, req, || start_run(self, caller, req)).await)
            }
            "GET /workflows/{id}/runs" => list_runs(self, caller, req).await,
            "POST /workflows/{id}/enrollments" => {
                Ok(idempotent(&self.deps, caller, req, || bulk_enroll(self, caller, req)).await)
            }
            "POST /workflows/{id}/runs/pause" => {
                Ok(idempotent(&self.deps, caller, req, || pause_runs(self, caller, req)).await)
            }
            "POST /workflows/{id}/runs/resume" => {
                Ok(idempotent(&self.deps, caller, req, || resume_runs(self, caller, req)).await)
            }
            "POST /workflows/{id}/runs/cancel" => {
                Ok(idempotent(&self.deps, caller, req, || cancel_runs(self, caller, req)).await)
            }
            "GET /workflow-runs/{id}" => get_run(self, caller, req).await,
            "POST /workflow-runs/{id}/pause" => pause_run(self, caller, req).await,
            "POST /workflow-runs/{id}/resume" => resume_run(self, caller, req).await,
            "POST /workflow-runs/{id}/cancel" => cancel_run(self, caller, req).await,
            "GET /contacts/{id}/runs" => contact_runs(self, caller, req).await,
            _ => Ok(api_kit::unknown_route()),
        }
    }

    fn deps(&self) -> &Deps {
        &self.deps
    }
}

/// Define a workflow: status, trigger, goal, re-enrollment policy and steps (S7.1, S7.2).
#[utoipa::path(post, path = "/workflows", tag = "workflows", request_body = NewWorkflow,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, description = "Created", body = Workflow,
                links(("GetWorkflow" = (operation_id = "get_workflow", parameters(("id" = "$response.body#/id")))),
                  ("PatchWorkflow" = (operation_id = "patch_workflow", parameters(("id" = "$response.body#/id")))),
                  ("ListRuns" = (operation_id = "list_runs", parameters(("id" = "$response.body#/id")))),
                  ("StartRun" = (operation_id = "start_run", parameters(("id" = "$response.body#/id")))))),
              (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Role may not manage workflows", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A step, the trigger or the goal breaks a rule (named)", body = Problem, content_type = "application/problem+json")))]
async fn create_workflow(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let input: NewWorkflow = json_body(req)?;
    let workflow = workflows::create(&api.table, caller, input).await?;
    let mut response = json_response(StatusCode::CREATED, &workflow, Some(workflow.etag()));
    response.headers_mut().insert(
        lambda_http::http::header::LOCATION,
        format!("/workflows/{}", workflow.id)
            .parse()
            .expect("valid header"),
    );
    Ok(response)
}

/// The tenant's workflows, oldest first.
#[utoipa::path(get, path = "/workflows", tag = "workflows",
    responses((status = 200, description = "The workflows", body = Vec<Workflow>)))]
async fn list_workflows(api: &WorkflowsApi, caller: &Caller) -> Result<Response<Body>, CrmError> {
    let all = workflows::list(&api.table, caller).await?;
    Ok(json_response(StatusCode::OK, &all, None))
}

#[utoipa::path(get, path = "/workflows/{id}", tag = "workflows", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The workflow", body = Workflow),
              (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json")))]
async fn get_workflow(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let workflow = workflows::get(&api.table, caller, path_id(req, "id")?).await?;
    Ok(json_response(
        StatusCode::OK,
        &workflow,
        Some(workflow.etag()),
    ))
}

/// Edit a workflow. New steps or a new goal make a new `revision`: runs in flight finish on
/// theirs, or move to the new one at their next step with `move_runs: true`. Status changes
/// pause (`paused`), resume (`active`) or retire (`archived`) it.
#[utoipa::path(patch, path = "/workflows/{id}", tag = "workflows", request_body = WorkflowPatch,
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "The workflow", body = Workflow),
              (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Changed since the ETag", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A rule broken (named)", body = Problem, content_type = "application/problem+json")))]
async fn patch_workflow(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let input: WorkflowPatch = json_body(req)?;
    let workflow = workflows::patch(
        &api.table,
        caller,
        path_id(req, "id")?,
        input,
        if_match(req)?,
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &workflow,
        Some(workflow.etag()),
    ))
}

/// Enroll a contact: starts a run whose steps the step executor carries out.
#[utoipa::path(post, path = "/workflows/{id}/runs", tag = "workflows", request_body = StartRun,
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, description = "Run started", body = WorkflowRun,
                links(("GetRun" = (operation_id = "get_run", parameters(("id" = "$response.body#/id")))),
                  ("PauseRun" = (operation_id = "pause_run", parameters(("id" = "$response.body#/id")))),
                  ("ResumeRun" = (operation_id = "resume_run", parameters(("id" = "$response.body#/id")))),
                  ("CancelRun" = (operation_id = "cancel_run", parameters(("id" = "$response.body#/id")))))),
              (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Contact already enrolled, or the workflow is not active", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "No such contact", body = Problem, content_type = "application/problem+json")))]
async fn start_run(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let workflow_id = path_id(req, "id")?;
    let input: StartRun = json_body(req)?;
    let run = workflows::start_run(&api.table, &api.effects, caller, workflow_id, input).await?;
    let mut response = json_response(StatusCode::CREATED, &run, Some(run.etag()));
    response.headers_mut().insert(
        lambda_http::http::header::LOCATION,
        format!("/workflow-runs/{}", run.id)
            .parse()
            .expect("valid header"),
    );
    Ok(response)
}

/// A page of the workflow's runs, by status then run (S7.5).
#[utoipa::path(get, path = "/workflows/{id}/runs", tag = "workflows",
    params(("id" = uuid::Uuid, Path),
           ("status" = Option<RunStatus>, Query, description = "Only runs in this status"),
           crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of runs", body = Page<WorkflowRun>),
              (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A bad parameter", body = Problem, content_type = "application/problem+json")))]
async fn list_runs(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (limit, cursor) = api_kit::page_params(req)?;
    let status = match api_kit::query_param(req, "status") {
        None => None,
        Some(raw) => Some(RunStatus::parse(raw.trim()).ok_or_else(|| {
            CrmError::validation(
                "status",
                "one_of",
                "must be active, waiting, completed, failed, cancelled or paused",
            )
        })?),
    };
    let page = workflows::runs_of_workflow(
        &api.table,
        caller,
        path_id(req, "id")?,
        status,
        limit as usize,
        cursor.as_deref(),
    )
    .await?;
    Ok(json_response(StatusCode::OK, &page, None))
}

/// A run with its status and step history (S7.5).
#[utoipa::path(get, path = "/workflow-runs/{id}", tag = "workflows", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The run", body = WorkflowRun),
              (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json")))]
async fn get_run(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let run = workflows::get_run(&api.table, caller, path_id(req, "id")?).await?;
    Ok(json_response(StatusCode::OK, &run, Some(run.etag())))
}

async fn control_run(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
    control: Control,
) -> Result<Response<Body>, CrmError> {
    let run = workflows::control_run(
        &api.table,
        &api.effects,
        caller,
        path_id(req, "id")?,
        control,
    )
    .await?;
    Ok(json_response(StatusCode::OK, &run, Some(run.etag())))
}

/// Pause a run: it executes nothing until resumed (S7.5).
#[utoipa::path(post, path = "/workflow-runs/{id}/pause", tag = "workflows", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The run after the action", body = WorkflowRun),
              (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The run has ended", body = Problem, content_type = "application/problem+json")))]
async fn pause_run(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    control_run(api, caller, req, Control::Pause).await
}

/// Resume a paused run at the step it stopped at; a wait keeps its wake-up time.
#[utoipa::path(post, path = "/workflow-runs/{id}/resume", tag = "workflows", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The run after the action", body = WorkflowRun),
              (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The run has ended", body = Problem, content_type = "application/problem+json")))]
async fn resume_run(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    control_run(api, caller, req, Control::Resume).await
}

/// Cancel a run for good; its contact may enroll again where the workflow allows it.
#[utoipa::path(post, path = "/workflow-runs/{id}/cancel", tag = "workflows", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The run after the action", body = WorkflowRun),
              (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The run has ended", body = Problem, content_type = "application/problem+json")))]
async fn cancel_run(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    control_run(api, caller, req, Control::Cancel).await
}

/// The runs of a contact the caller may see, oldest first (S7.5).
#[utoipa::path(get, path = "/contacts/{id}/runs", tag = "workflows", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The contact's runs", body = Vec<WorkflowRun>),
              (status = 404, description = "No such contact", body = Problem, content_type = "application/problem+json")))]
async fn contact_runs(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let runs = workflows::runs_of_contact(&api.table, caller, path_id(req, "id")?).await?;
    Ok(json_response(StatusCode::OK, &runs, None))
}

/// A job's `202`: the job, and where to follow it.
fn job_accepted(job: &Job) -> Response<Body> {
    let mut response = json_response(StatusCode::ACCEPTED, job, None);
    if let Ok(location) = format!("/jobs/{}", job.id).parse() {
        response
            .headers_mut()
            .insert(lambda_http::http::header::LOCATION, location);
    }
    response
}

/// Enroll every contact the caller may see that matches a list filter (S7.1), in the
/// background: the job (`GET /jobs/{id}`) counts them as `enrolled` and `already_enrolled`
/// (in the workflow before, or, with re-enrollment, in a run of it). A contact is never
/// enrolled twice, however often the job's work is repeated. Only an active workflow enrolls.
#[utoipa::path(post, path = "/workflows/{id}/enrollments", tag = "workflows", request_body = BulkEnrollment,
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 202, description = "The job enrolling the contacts, queued", body = Job, headers(("Location" = String, description = "`/jobs/{id}`"))),
              (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Role may not enroll contacts", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The workflow is not active", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A filter parameter is not a condition on contacts (named `filter.{parameter}`)", body = Problem, content_type = "application/problem+json")))]
async fn bulk_enroll(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let workflow_id = path_id(req, "id")?;
    let input: BulkEnrollment = json_body(req)?;
    let job = bulk::start_enrollment(&api.table, &api.jobs, caller, workflow_id, input).await?;
    Ok(job_accepted(&job))
}

async fn control_runs(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
    control: Control,
) -> Result<Response<Body>, CrmError> {
    let workflow_id = path_id(req, "id")?;
    let job = bulk::start_control(&api.table, &api.jobs, caller, workflow_id, control).await?;
    Ok(job_accepted(&job))
}

/// Pause every active and waiting run of the workflow (S7.5), in the background: the job
/// (`GET /jobs/{id}`) counts them as `paused` (or `skipped`: ended meanwhile). A paused run
/// executes nothing, its wake-ups included, until resumed. Owners, admins and managers.
#[utoipa::path(post, path = "/workflows/{id}/runs/pause", tag = "workflows",
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 202, description = "The job pausing the runs, queued", body = Job, headers(("Location" = String, description = "`/jobs/{id}`"))),
              (status = 403, description = "Role may not manage workflows", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json")))]
async fn pause_runs(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    control_runs(api, caller, req, Control::Pause).await
}

/// Resume every paused run of the workflow at the step it stopped at (S7.5), in the
/// background; a wait keeps its wake-up time. The job counts them as `resumed`. Owners,
/// admins and managers.
#[utoipa::path(post, path = "/workflows/{id}/runs/resume", tag = "workflows",
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 202, description = "The job resuming the runs, queued", body = Job, headers(("Location" = String, description = "`/jobs/{id}`"))),
              (status = 403, description = "Role may not manage workflows", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json")))]
async fn resume_runs(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    control_runs(api, caller, req, Control::Resume).await
}

/// Cancel every active, waiting and paused run of the workflow for good (S7.5), in the
/// background; the job counts them as `cancelled`. Owners, admins and managers.
#[utoipa::path(post, path = "/workflows/{id}/runs/cancel", tag = "workflows",
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 202, description = "The job cancelling the runs, queued", body = Job, headers(("Location" = String, description = "`/jobs/{id}`"))),
              (status = 403, description = "Role may not manage workflows", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json")))]
async fn cancel_runs(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    control_runs(api, caller, req, Control::Cancel).await
}

#[derive(utoipa::OpenApi)]
#[openapi(modifiers(&LinkOperationIds), paths(
    create_workflow,
    list_workflows,
    get_workflow,
    patch_workflow,
    start_run,
    list_runs,
    get_run,
    pause_run,
    resume_run,
    cancel_run,
    contact_runs,
    bulk_enroll,
    pause_runs,
    resume_runs,
    cancel_runs
))]
pub struct WorkflowsDoc;
