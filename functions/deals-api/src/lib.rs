//! `deals-api`: deals, their pipelines and stages (S4). Parse, call `crm_shared::deals` and the
//! record engine, answer.

use api_kit::records;
use api_kit::{
    Problem, idempotent, if_match, json_body, json_response, path_id, query_param, query_params,
};
use crm_shared::access::visibility::ShareInput;
use crm_shared::audit::AuditEntry;
use crm_shared::catalog::Catalog;
use crm_shared::deals::attachments::{
    AttachmentDownload, AttachmentList, AttachmentUpload, Attachments, NewAttachment,
    S3AttachmentFiles,
};
use crm_shared::deals::board::{self, Board};
use crm_shared::deals::forecast::{self, Forecast};
use crm_shared::deals::stage_removal::{self, StageRemoval, StageRemovals};
use crm_shared::deals::{
    self, Deal, DealPatch, Deals, LostReasons, LostReasonsInput, NewDeal, NewPipeline, Pipeline,
    PipelinePatch, Pipelines, StageChange,
};
use crm_shared::jobs::{Job, Jobs};
use crm_shared::pagination::Page;
use crm_shared::records::RecordQuery;
use crm_shared::store::openapi::LinkOperationIds;
use crm_shared::values::Patch;
use crm_shared::{Caller, CrmError, Deps};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

pub struct DealsApi {
    deps: Deps,
    catalog: Catalog,
    deals: Deals,
    pipelines: Pipelines,
    jobs: Jobs,
    attachment_files: Option<S3AttachmentFiles>,
}

impl DealsApi {
    pub fn new(deps: Deps) -> Self {
        let catalog = deps.catalog();
        Self {
            deals: catalog.deals(),
            pipelines: catalog.pipelines(),
            jobs: deps.jobs(),
            attachment_files: deps.attachment_files(),
            catalog,
            deps,
        }
    }
}

impl api_kit::Routes for DealsApi {
    async fn route(
        &self,
        route: &str,
        caller: &Caller,
        req: &Request,
    ) -> Result<Response<Body>, CrmError> {
        // One arm per route of this function in template.yaml.
        match route {
            "POST /deals" => {
                Ok(idempotent(&self.deps, caller, req, || create_deal(self, caller, req)).await)
            }
            "GET /deals" => list_deals(self, caller, req).await,
            "GET /deals/{id}" => get_deal(self, caller, req).await,
            "PATCH /deals/{id}" => patch_deal(self, caller, req).await,
            "DELETE /deals/{id}" => delete_deal(self, caller, req).await,
            "POST /deals/{id}/restore" => {
                Ok(idempotent(&self.deps, caller, req, || restore_deal(self, caller, req)).await)
            }
            "POST /deals/{id}/move" => {
                Ok(idempotent(&self.deps, caller, req, || move_deal(self, caller, req)).await)
            }
            "GET /deals/{id}/history" => deal_history(self, caller, req).await,
            "GET /deals/{id}/stage-history" => deal_stage_history(self, caller, req).await,
            "POST /deals/{id}/attachments" => Ok(idempotent(&self.deps, caller, req, || {
                create_attachment(self, caller, req)
            })
            .await),
            "GET /deals/{id}/attachments" => list_attachments(self, caller, req).await,
            "GET /deals/{id}/attachments/{attachment_id}" => {
                get_attachment(self, caller, req).await
            }
            "DELETE /deals/{id}/attachments/{attachment_id}" => {
                delete_attachment(self, caller, req).await
            }
            "POST /deals/{id}/shares" => share_deal(self, caller, req).await,
            "DELETE /deals/{id}/shares/{principal}" => unshare_deal(self, caller, req).await,
            "GET /contacts/{id}/deals" => contact_deals(self, caller, req).await,
            "GET /clients/{id}/deals" => client_deals(self, caller, req).await,
            "GET /pipelines" => list_pipelines(self, caller, req).await,
            "POST /pipelines" => Ok(idempotent(&self.deps, caller, req, || {
                create_pipeline(self, caller, req)
            })
            .await),
            "GET /pipelines/{id}" => get_pipeline(self, caller, req).await,
            "PATCH /pipelines/{id}" => patch_pipeline(self, caller, req).await,
            "GET /pipelines/{id}/board" => pipeline_board(self, caller, req).await,
            "GET /pipelines/{id}/forecast" => pipeline_forecast(self, caller, req).await,
            "DELETE /pipelines/{id}/stages/{stage_id}" => delete_stage(self, caller, req).await,
            "GET /jobs/{id}" => get_job(self, caller, req).await,
            "GET /deal-lost-reasons" => get_lost_reasons(self, caller).await,
            "PUT /deal-lost-reasons" => put_lost_reasons(self, caller, req).await,
            _ => Ok(api_kit::unknown_route()),
        }
    }

    fn deps(&self) -> &Deps {
        &self.deps
    }
}

/// Create a deal in a pipeline (its first stage unless `stage_id` names another); owner and
/// team default as for contacts (S4.2).
#[utoipa::path(post, path = "/deals", tag = "deals", request_body = NewDeal,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, description = "Created", body = Deal, headers(("ETag" = String), ("Location" = String)),
                links(("GetDeal" = (operation_id = "get_deal", parameters(("id" = "$response.body#/id")))),
                  ("PatchDeal" = (operation_id = "patch_deal", parameters(("id" = "$response.body#/id")))),
                  ("DeleteDeal" = (operation_id = "delete_deal", parameters(("id" = "$response.body#/id")))),
                  ("DealHistory" = (operation_id = "deal_history", parameters(("id" = "$response.body#/id")))),
                  ("MoveDeal" = (operation_id = "move_deal", parameters(("id" = "$response.body#/id")))),
                  ("DealAttachments" = (operation_id = "list_attachments", parameters(("id" = "$response.body#/id")))))),
              (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "The role cannot change deals", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn create_deal(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::create(&api.deals, caller, req).await
}

/// List deals, newest first, cursor-paginated: filtered by `pipeline`, `stage`, `status`,
/// `owner`, `team`, `client`, `contact`, `tag`, `source`, `expected_close_from/_to`,
/// `created_from/_to`, `updated_from/_to`, `amount_min/_max` and custom fields (`cf.{key}`, `cf.{key}[op]`),
/// searched by title words (`q`), sorted by `amount`, `expected_close`, `updated_at`, `title`,
/// `idle_since`, `created_at` or `cf.{key}` (`-` for descending). `rotting=true` lists the open
/// deals idle (no stage change, no activity) for at least their stage's rotting period, stage
/// by stage, most idle first (with the other filters; not with `sort` or `idle_from/_to`).
#[utoipa::path(get, path = "/deals", tag = "deals",
    params(("pipeline" = Option<uuid::Uuid>, Query), ("stage" = Option<uuid::Uuid>, Query),
           ("status" = Option<crm_shared::deals::DealStatus>, Query),
           ("owner" = Option<String>, Query, min_length = 1), ("team" = Option<uuid::Uuid>, Query),
           ("client" = Option<uuid::Uuid>, Query), ("contact" = Option<uuid::Uuid>, Query),
           ("tag" = Option<String>, Query, min_length = 1), ("source" = Option<String>, Query, min_length = 1),
           ("q" = Option<String>, Query, description = "Words of the title (prefixes)", min_length = 1),
           ("expected_close_from" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"), ("expected_close_to" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"),
           ("amount_min" = Option<String>, Query, description = "Lowest amount, in the deal's own currency", pattern = "^-?[0-9]{1,15}(\\.[0-9]{1,4})?$"),
           ("amount_max" = Option<String>, Query, description = "Highest amount, in the deal's own currency", pattern = "^-?[0-9]{1,15}(\\.[0-9]{1,4})?$"),
           ("idle_from" = Option<String>, Query, description = "Open deals idle since this time or later", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"),
           ("idle_to" = Option<String>, Query, description = "Open deals idle since this time or earlier", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"),
           ("rotting" = Option<String>, Query, description = "true: only rotting deals (leave it out otherwise)", pattern = "^true$"),
           ("sort" = Option<String>, Query, description = "amount, expected_close, updated_at, title, idle_since or created_at (`cf.{key}` for a custom field); `-` for descending", pattern = "^-?(amount|expected_close|updated_at|title|idle_since|created_at)$"),
           crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of deals", body = Page<Deal>),
              (status = 422, description = "A bad parameter, named with its rule", body = Problem, content_type = "application/problem+json")))]
async fn list_deals(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let params = query_params(req);
    if !deals::rotting::wants_rotting(&params)? {
        return records::list(&api.deals, caller, req).await;
    }
    let (limit, cursor) = api_kit::page_params(req)?;
    let page = deals::rotting::list_rotting(
        &api.deals,
        &api.pipelines,
        caller,
        &params,
        limit,
        cursor.as_deref(),
        crm_shared::values::now(),
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &api.deals.present_all(caller, &page).await?,
        None,
    ))
}

#[utoipa::path(get, path = "/deals/{id}", tag = "deals", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The deal", body = Deal, headers(("ETag" = String))),
              (status = 404, description = "No such deal visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn get_deal(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::get(&api.deals, caller, req).await
}

/// Change some fields (JSON merge patch). A new `stage_id` moves the deal and writes one stage
/// history entry; `status` won / lost moves it to the pipeline's won / lost stage.
#[utoipa::path(patch, path = "/deals/{id}", tag = "deals", request_body = DealPatch,
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "The changed deal", body = Deal),
              (status = 404, description = "No such deal", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn patch_deal(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::patch(&api.deals, caller, req).await
}

/// Move a deal to the trash (restorable for 30 days).
#[utoipa::path(delete, path = "/deals/{id}", tag = "deals",
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "In the trash"),
              (status = 404, description = "No such deal", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json")))]
async fn delete_deal(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::delete(&api.deals, caller, req).await
}

/// Take a deal out of the trash.
#[utoipa::path(post, path = "/deals/{id}/restore", tag = "deals",
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 200, description = "The restored deal", body = Deal, headers(("ETag" = String))),
              (status = 404, description = "No such deal, or deleted too long ago", body = Problem, content_type = "application/problem+json")))]
async fn restore_deal(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::restore(&api.deals, caller, req).await
}

/// Body of `POST /deals/{id}/move`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveInput {
    pub stage_id: uuid::Uuid,
    /// Another pipeline the stage belongs to (default: the deal's).
    #[serde(default)]
    pub pipeline_id: Option<uuid::Uuid>,
}

/// Move a deal to a stage: one stage history entry (from, to, actor, time, time in the stage
/// it left), in the deal's own transaction; a retry with the same Idempotency-Key writes none.
#[utoipa::path(post, path = "/deals/{id}/move", tag = "deals", request_body = MoveInput,
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 200, description = "The moved deal", body = Deal, headers(("ETag" = String))),
              (status = 404, description = "No such deal", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "No such stage in the pipeline", body = Problem, content_type = "application/problem+json")))]
async fn move_deal(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let id = path_id(req, "id")?;
    let expected = if_match(req)?;
    let input: MoveInput = json_body(req)?;
    let patch = DealPatch {
        stage_id: Patch::Set(input.stage_id),
        pipeline_id: input.pipeline_id.map_or(Patch::Absent, Patch::Set),
        ..DealPatch::default()
    };
    let deal = api.deals.patch(caller, id, patch, None, expected).await?;
    records::record_response(&api.deals, caller, StatusCode::OK, &deal).await
}

/// The deal's audit trail, newest first (S6.5).
#[utoipa::path(get, path = "/deals/{id}/history", tag = "deals",
    params(("id" = uuid::Uuid, Path), crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of audit entries", body = Page<AuditEntry>),
              (status = 404, description = "No such deal visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn deal_history(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::history(&api.deals, caller, req).await
}

/// The deal's stage moves, oldest first: from, to, who, when, and the time spent in the stage
/// it left (S4.2).
#[utoipa::path(get, path = "/deals/{id}/stage-history", tag = "deals",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The stage moves", body = Vec<StageChange>),
              (status = 404, description = "No such deal visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn deal_stage_history(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let history = deals::stage_history(&api.deals, caller, path_id(req, "id")?).await?;
    Ok(json_response(StatusCode::OK, &history, None))
}

impl DealsApi {
    fn attachments(&self) -> Result<Attachments<'_>, CrmError> {
        let files = self
            .attachment_files
            .as_ref()
            .ok_or_else(|| CrmError::Internal("missing configuration ATTACHMENTS_BUCKET".into()))?;
        Ok(Attachments {
            deals: &self.deals,
            files,
        })
    }
}

/// Ask to attach a file to the deal (S4.5): answers a presigned PUT (valid 15 minutes) whose
/// content type and length are signed — send exactly the returned headers. The attachment is
/// `pending` until the upload is checked (size equal to the declared one, at most 25 MiB, the
/// bytes of an allowed type that matches `content_type`), then `confirmed`, or `rejected` with
/// a reason and the file deleted. At most 100 attachments per deal.
#[utoipa::path(post, path = "/deals/{id}/attachments", tag = "deals", request_body = NewAttachment,
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, description = "Pending, with where to upload", body = AttachmentUpload,
                links(("GetAttachment" = (operation_id = "get_attachment", parameters(("id" = "$request.path.id"), ("attachment_id" = "$response.body#/attachment/id")))),
                  ("DeleteAttachment" = (operation_id = "delete_attachment", parameters(("id" = "$request.path.id"), ("attachment_id" = "$response.body#/attachment/id")))))),
              (status = 403, description = "The role cannot change deals", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such deal visible to the caller", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The deal has 100 attachments", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Name, type or size breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn create_attachment(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let input: NewAttachment = json_body(req)?;
    let upload = api
        .attachments()?
        .create(caller, path_id(req, "id")?, input)
        .await?;
    Ok(json_response(StatusCode::CREATED, &upload, None))
}

/// The deal's attachments, oldest first, each with its status (S4.5).
#[utoipa::path(get, path = "/deals/{id}/attachments", tag = "deals",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The attachments", body = AttachmentList),
              (status = 404, description = "No such deal visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn list_attachments(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let list = api.attachments()?.list(caller, path_id(req, "id")?).await?;
    Ok(json_response(StatusCode::OK, &list, None))
}

/// One attachment with a download URL valid for 5 minutes (confirmed attachments; the file
/// downloads under its name).
#[utoipa::path(get, path = "/deals/{id}/attachments/{attachment_id}", tag = "deals",
    params(("id" = uuid::Uuid, Path), ("attachment_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The attachment and its download URL", body = AttachmentDownload),
              (status = 404, description = "No such deal or attachment visible to the caller", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Not uploaded and checked (pending or rejected)", body = Problem, content_type = "application/problem+json")))]
async fn get_attachment(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (deal, id) = (path_id(req, "id")?, path_id(req, "attachment_id")?);
    let download = api.attachments()?.download(caller, deal, id).await?;
    Ok(json_response(StatusCode::OK, &download, None))
}

/// Delete an attachment and its file.
#[utoipa::path(delete, path = "/deals/{id}/attachments/{attachment_id}", tag = "deals",
    params(("id" = uuid::Uuid, Path), ("attachment_id" = uuid::Uuid, Path)),
    responses((status = 204, description = "Deleted"),
              (status = 403, description = "The role cannot change deals", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such deal or attachment visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn delete_attachment(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (deal, id) = (path_id(req, "id")?, path_id(req, "attachment_id")?);
    api.attachments()?.delete(caller, deal, id).await?;
    Ok(api_kit::no_content())
}

/// Share the deal with a user or a team (S9.4).
#[utoipa::path(post, path = "/deals/{id}/shares", tag = "deals", request_body = ShareInput,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The deal with its shares", body = Deal),
              (status = 404, description = "No such deal visible to the caller", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "No such user or team", body = Problem, content_type = "application/problem+json")))]
async fn share_deal(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::share(&api.deals, caller, req).await
}

/// Stop sharing the deal with a user (`user:{id}`) or a team (`team:{id}`).
#[utoipa::path(delete, path = "/deals/{id}/shares/{principal}", tag = "deals",
    params(("id" = uuid::Uuid, Path), ("principal" = String, Path)),
    responses((status = 200, description = "The deal with its shares", body = Deal),
              (status = 404, description = "No such deal or share", body = Problem, content_type = "application/problem+json")))]
async fn unshare_deal(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::unshare(&api.deals, caller, req).await
}

/// The deals of a record (`contact` or `client`) the caller may see, with the list's other
/// filters and sorts.
async fn deals_of(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
    facet: &str,
) -> Result<Response<Body>, CrmError> {
    let mut params = query_params(req);
    if params.contains_key(facet) {
        return Err(CrmError::validation(
            facet,
            "unknown_parameter",
            "given by the path",
        ));
    }
    params.insert(facet.to_string(), path_id(req, "id")?.to_string());
    let query = RecordQuery::parse(api.deals.schema(), &params)?;
    let (limit, cursor) = api_kit::page_params(req)?;
    let page = api
        .deals
        .list(caller, &query, limit, cursor.as_deref())
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &api.deals.present_all(caller, &page).await?,
        None,
    ))
}

/// The deals a contact takes part in, that the caller may see (S4.2).
#[utoipa::path(get, path = "/contacts/{id}/deals", tag = "deals",
    params(("id" = uuid::Uuid, Path), ("status" = Option<crm_shared::deals::DealStatus>, Query), ("sort" = Option<String>, Query, description = "amount, expected_close, updated_at, title, idle_since or created_at (`cf.{key}` for a custom field); `-` for descending", pattern = "^-?(amount|expected_close|updated_at|title|idle_since|created_at)$"),
           crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of deals", body = Page<Deal>),
              (status = 404, description = "No such contact visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn contact_deals(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    api.catalog
        .contacts()
        .get(caller, path_id(req, "id")?)
        .await?;
    deals_of(api, caller, req, "contact").await
}

/// The deals of a client that the caller may see (S4.2).
#[utoipa::path(get, path = "/clients/{id}/deals", tag = "deals",
    params(("id" = uuid::Uuid, Path), ("status" = Option<crm_shared::deals::DealStatus>, Query), ("sort" = Option<String>, Query, description = "amount, expected_close, updated_at, title, idle_since or created_at (`cf.{key}` for a custom field); `-` for descending", pattern = "^-?(amount|expected_close|updated_at|title|idle_since|created_at)$"),
           crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of deals", body = Page<Deal>),
              (status = 404, description = "No such client visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn client_deals(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    api.catalog
        .clients()
        .get(caller, path_id(req, "id")?)
        .await?;
    deals_of(api, caller, req, "client").await
}

/// The tenant's pipelines in order; archived ones with `archived=true` (S4.1).
#[utoipa::path(get, path = "/pipelines", tag = "pipelines",
    params(("archived" = Option<bool>, Query, description = "Also the archived ones")),
    responses((status = 200, description = "The pipelines", body = Vec<Pipeline>),
              (status = 404, description = "Portal users have no pipelines", body = Problem, content_type = "application/problem+json")))]
async fn list_pipelines(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let archived = match query_param(req, "archived").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(CrmError::validation("archived", "boolean", "true or false"));
        }
    };
    let all = api.pipelines.list(caller, archived).await?;
    Ok(json_response(StatusCode::OK, &all, None))
}

/// Create a pipeline with its stages: exactly one `won` and one `lost`, at least one `open`
/// (owners and admins).
#[utoipa::path(post, path = "/pipelines", tag = "pipelines", request_body = NewPipeline,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, description = "Created", body = Pipeline, headers(("ETag" = String)),
                links(("GetPipeline" = (operation_id = "get_pipeline", parameters(("id" = "$response.body#/id")))),
                  ("PatchPipeline" = (operation_id = "patch_pipeline", parameters(("id" = "$response.body#/id")))),
                  ("PipelineBoard" = (operation_id = "pipeline_board", parameters(("id" = "$response.body#/id")))))),
              (status = 403, description = "Only owners and admins change pipelines", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn create_pipeline(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let p = api.pipelines.create(caller, json_body(req)?).await?;
    Ok(json_response(StatusCode::CREATED, &p, Some(p.etag())))
}

#[utoipa::path(get, path = "/pipelines/{id}", tag = "pipelines", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The pipeline", body = Pipeline, headers(("ETag" = String))),
              (status = 404, description = "No such pipeline", body = Problem, content_type = "application/problem+json")))]
async fn get_pipeline(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let p = api.pipelines.get(caller, path_id(req, "id")?).await?;
    Ok(json_response(StatusCode::OK, &p, Some(p.etag())))
}

/// Rename, reorder, archive, or change the stages (the whole list in board order: rename,
/// reorder, add, change probability or rotting period; every existing stage stays).
#[utoipa::path(patch, path = "/pipelines/{id}", tag = "pipelines", request_body = PipelinePatch,
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "The changed pipeline", body = Pipeline, headers(("ETag" = String))),
              (status = 403, description = "Only owners and admins change pipelines", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such pipeline", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn patch_pipeline(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let expected = if_match(req)?;
    let patch: PipelinePatch = json_body(req)?;
    let p = api
        .pipelines
        .patch(caller, path_id(req, "id")?, patch, expected)
        .await?;
    Ok(json_response(StatusCode::OK, &p, Some(p.etag())))
}

/// The board (S4.3): every stage with the count, total and weighted total (amount ×
/// probability) of the deals the caller may see, in the tenant's base currency (each
/// currency's exact sum converted once with the tenant's rate, rounded once; the rates used are
/// listed; a missing rate is a 422 naming it), and its first page of deal cards (`cards`,
/// 1–200, default 20) with a cursor for `GET /deals?stage={stage_id}&cursor=…`.
#[utoipa::path(get, path = "/pipelines/{id}/board", tag = "pipelines",
    params(("id" = uuid::Uuid, Path), ("cards" = Option<i32>, Query, description = "Cards per stage, 1–200 (default 20)", minimum = 1, maximum = 200)),
    responses((status = 200, description = "The board", body = Board),
              (status = 404, description = "No such pipeline", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A missing exchange rate, named; a bad parameter", body = Problem, content_type = "application/problem+json")))]
async fn pipeline_board(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let cards = match query_param(req, "cards") {
        None => board::DEFAULT_CARDS,
        Some(raw) => crm_shared::pagination::page_size(Some(&raw))
            .map_err(|_| CrmError::validation("cards", "range", "a whole number from 1 to 200"))?,
    };
    let pipeline = api.pipelines.get(caller, path_id(req, "id")?).await?;
    let board = board::board(&api.deals, caller, &pipeline, cards).await?;
    Ok(json_response(StatusCode::OK, &board, None))
}

/// The forecast (S4.4): per expected-close month from `from` to `to` (`YYYY-MM`, at most 36
/// months) the open deals' count, total and weighted total in the base currency, the deals
/// won and lost by the month they closed in, the period's won and lost totals and its lost
/// reasons with counts — of exactly the deals the caller may see.
#[utoipa::path(get, path = "/pipelines/{id}/forecast", tag = "pipelines",
    params(("id" = uuid::Uuid, Path), ("from" = String, Query, description = "First month, YYYY-MM", pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$"),
           ("to" = String, Query, description = "Last month, YYYY-MM", pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")),
    responses((status = 200, description = "The forecast", body = Forecast),
              (status = 404, description = "No such pipeline", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A bad month or range; a missing exchange rate, named", body = Problem, content_type = "application/problem+json")))]
async fn pipeline_forecast(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let month = |name: &str| -> Result<_, CrmError> {
        let raw = query_param(req, name)
            .ok_or_else(|| CrmError::validation(name, "required", "a month as YYYY-MM"))?;
        forecast::parse_month(name, &raw)
    };
    let (from, to) = (month("from"), month("to"));
    let pipeline = api.pipelines.get(caller, path_id(req, "id")?).await?;
    let (from, to) = match (from, to) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(CrmError::Validation(mut a)), Err(CrmError::Validation(b))) => {
            a.extend(b);
            return Err(CrmError::Validation(a));
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let body = forecast::forecast(&api.deals, caller, &pipeline, from, to).await?;
    Ok(json_response(StatusCode::OK, &body, None))
}

/// Delete an open stage, moving its deals to `move_to` (each with one stage history entry and
/// its audit entry); owners and admins. At most 500 deals move within the request; when more
/// remain, `202` names the job moving the rest (`GET /jobs/{id}` shows its status and count),
/// and the stage goes when it is empty. `200` once the stage is gone. No deal enters the stage
/// meanwhile, none is moved twice; asking again while the job runs answers the job.
#[utoipa::path(delete, path = "/pipelines/{id}/stages/{stage_id}", tag = "pipelines",
    params(("id" = uuid::Uuid, Path), ("stage_id" = uuid::Uuid, Path),
           ("move_to" = uuid::Uuid, Query, description = "The stage its deals move to")),
    responses((status = 200, description = "The stage is gone", body = StageRemoval),
              (status = 202, description = "Deals moved; a job moves the rest", body = StageRemoval, headers(("Location" = String))),
              (status = 403, description = "Only owners and admins change pipelines", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such pipeline or stage", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The stage is already being deleted into another stage", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "No such target stage; the won, lost or last open stage stays", body = Problem, content_type = "application/problem+json")))]
async fn delete_stage(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let move_to = query_param(req, "move_to")
        .ok_or_else(|| CrmError::validation("move_to", "required", "the stage its deals move to"))?
        .parse::<uuid::Uuid>()
        .map_err(|_| CrmError::validation("move_to", "uuid", "must be a UUID"))?;
    let (pipeline, stage) = (path_id(req, "id")?, path_id(req, "stage_id")?);
    let with = StageRemovals {
        deals: &api.deals,
        pipelines: &api.pipelines,
        jobs: &api.jobs,
    };
    let outcome = stage_removal::delete_stage(&with, caller, pipeline, stage, move_to).await?;
    let mut response = json_response(
        if outcome.continues {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        },
        &outcome,
        Some(outcome.pipeline.etag()),
    );
    if let Some(job) = outcome.job.as_ref().filter(|_| outcome.continues) {
        if let Ok(location) = format!("/jobs/{}", job.id).parse() {
            response.headers_mut().insert("location", location);
        }
    }
    Ok(response)
}

/// A background job (a stage removal moving many deals): its status (`queued`, `completed`,
/// `failed` with a reason) and how many records it has done. Its requester, owners and admins
/// see it; others get 404.
#[utoipa::path(get, path = "/jobs/{id}", tag = "pipelines",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The job", body = Job),
              (status = 404, description = "No such job the caller may see", body = Problem, content_type = "application/problem+json")))]
async fn get_job(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let job = api.jobs.get_for(caller, path_id(req, "id")?).await?;
    Ok(json_response(StatusCode::OK, &job, None))
}

/// The tenant's catalogue of reasons deals are lost for (a lost deal's `lost_reason` is one of
/// its keys once it has any); every role but portal users reads it.
#[utoipa::path(get, path = "/deal-lost-reasons", tag = "pipelines",
    responses((status = 200, description = "The catalogue", body = LostReasons, headers(("ETag" = String))),
              (status = 404, description = "Portal users have none", body = Problem, content_type = "application/problem+json")))]
async fn get_lost_reasons(api: &DealsApi, caller: &Caller) -> Result<Response<Body>, CrmError> {
    let r = api.pipelines.get_lost_reasons(caller).await?;
    Ok(json_response(
        StatusCode::OK,
        &r,
        Some(format!("\"{}\"", r.version)),
    ))
}

/// Replace the catalogue of lost reasons (owners and admins): keys unique, labels required.
#[utoipa::path(put, path = "/deal-lost-reasons", tag = "pipelines", request_body = LostReasonsInput,
    params(("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "The catalogue", body = LostReasons, headers(("ETag" = String))),
              (status = 403, description = "Only owners and admins change it", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A key or label breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn put_lost_reasons(
    api: &DealsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let expected = if_match(req)?;
    let r = api
        .pipelines
        .put_lost_reasons(caller, json_body(req)?, expected)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &r,
        Some(format!("\"{}\"", r.version)),
    ))
}

#[derive(utoipa::OpenApi)]
#[openapi(modifiers(&LinkOperationIds), paths(
    create_deal,
    list_deals,
    get_deal,
    patch_deal,
    delete_deal,
    restore_deal,
    move_deal,
    deal_history,
    deal_stage_history,
    create_attachment,
    list_attachments,
    get_attachment,
    delete_attachment,
    share_deal,
    unshare_deal,
    contact_deals,
    client_deals,
    list_pipelines,
    create_pipeline,
    get_pipeline,
    patch_pipeline,
    pipeline_board,
    pipeline_forecast,
    delete_stage,
    get_job,
    get_lost_reasons,
    put_lost_reasons
))]
pub struct DealsDoc;
