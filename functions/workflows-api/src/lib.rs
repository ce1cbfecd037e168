//! `workflows-api`: define workflows, enroll a contact, follow a run (S7).

use api_kit::{Problem, idempotent, json_body, json_response, path_id};
use crm_shared::workflows::{self, AwsEffects, NewWorkflow, StartRun, Workflow, WorkflowRun};
use crm_shared::{Caller, CrmError, Deps};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub struct WorkflowsApi {
    deps: Deps,
    table: crm_shared::store::Table,
    effects: AwsEffects,
}

impl WorkflowsApi {
    pub fn new(deps: Deps) -> Self {
        Self {
            table: deps.table(),
            effects: deps.step_effects(),
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
            "GET /workflows/{id}" => get_workflow(self, caller, req).await,
            "POST /workflows/{id}/runs" => {
                Ok(idempotent(&self.deps, caller, req, || start_run(self, caller, req)).await)
            }
            "GET /workflow-runs/{id}" => get_run(self, caller, req).await,
            _ => Ok(api_kit::unknown_route()),
        }
    }

    fn deps(&self) -> &Deps {
        &self.deps
    }
}

/// Define a workflow: a manual trigger and steps (wait, send email).
#[utoipa::path(post, path = "/workflows", tag = "workflows", request_body = NewWorkflow,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, description = "Created", body = Workflow),
              (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Role may not manage workflows", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A step breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn create_workflow(
    api: &WorkflowsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let input: NewWorkflow = json_body(req)?;
    let workflow = workflows::create(&api.table, caller, input).await?;
    let etag = format!("\"{}\"", workflow.version);
    Ok(json_response(StatusCode::CREATED, &workflow, Some(etag)))
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
    let etag = format!("\"{}\"", workflow.version);
    Ok(json_response(StatusCode::OK, &workflow, Some(etag)))
}

/// Enroll a contact: starts a run whose steps the step executor carries out.
#[utoipa::path(post, path = "/workflows/{id}/runs", tag = "workflows", request_body = StartRun,
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, description = "Run started", body = WorkflowRun),
              (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Contact already enrolled", body = Problem, content_type = "application/problem+json"),
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

#[derive(utoipa::OpenApi)]
#[openapi(paths(create_workflow, get_workflow, start_run, get_run))]
pub struct WorkflowsDoc;
