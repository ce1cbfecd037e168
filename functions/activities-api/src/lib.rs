//! `activities-api`: activities and timelines (S6.1–S6.3). Parse, call
//! `crm_shared::activities` and the record engine, answer.

use api_kit::records;
use api_kit::{
    Problem, idempotent, if_match, json_body_with_custom_fields, json_response, page_params,
    path_id, query_params,
};
use crm_shared::activities::timeline::{self, Subject};
use crm_shared::activities::{self, Activities, Activity, ActivityFields, ActivitySummary};
use crm_shared::audit::AuditEntry;
use crm_shared::pagination::Page;
use crm_shared::store::openapi::LinkOperationIds;
use crm_shared::{Caller, CrmError, Deps};
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};

pub struct ActivitiesApi {
    deps: Deps,
    activities: Activities,
}

impl ActivitiesApi {
    pub fn new(deps: Deps) -> Self {
        Self {
            activities: deps.catalog().records(),
            deps,
        }
    }
}

impl api_kit::Routes for ActivitiesApi {
    async fn route(
        &self,
        route: &str,
        caller: &Caller,
        req: &Request,
    ) -> Result<Response<Body>, CrmError> {
        // One arm per route of this function in template.yaml.
        match route {
            "POST /activities" => Ok(idempotent(&self.deps, caller, req, || {
                create_activity(self, caller, req)
            })
            .await),
            "GET /activities" => list_activities(self, caller, req).await,
            "GET /activities/{id}" => get_activity(self, caller, req).await,
            "PATCH /activities/{id}" => patch_activity(self, caller, req).await,
            "DELETE /activities/{id}" => delete_activity(self, caller, req).await,
            "POST /activities/{id}/restore" => Ok(idempotent(&self.deps, caller, req, || {
                restore_activity(self, caller, req)
            })
            .await),
            "GET /activities/{id}/history" => activity_history(self, caller, req).await,
            "POST /activities/{id}/shares" => share_activity(self, caller, req).await,
            "DELETE /activities/{id}/shares/{principal}" => {
                unshare_activity(self, caller, req).await
            }
            "GET /contacts/{id}/activities" => contact_timeline(self, caller, req).await,
            "GET /clients/{id}/activities" => client_timeline(self, caller, req).await,
            "GET /deals/{id}/activities" => deal_timeline(self, caller, req).await,
            "GET /me/tasks" => my_tasks(self, caller, req).await,
            _ => Ok(api_kit::unknown_route()),
        }
    }

    fn deps(&self) -> &Deps {
        &self.deps
    }
}

/// Log an activity: `type` (email, chat, ticket, call, meeting, note, task) and that type's
/// fields (a field of another type is refused by name), linked to contacts, at most one client
/// and at most one deal, all visible to the writer. An outbound email, call or chat and any
/// meeting sets its contacts' last contact; any activity on a deal is its last activity.
#[utoipa::path(post, path = "/activities", tag = "activities", request_body = ActivityFields,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, description = "Created", body = Activity, headers(("ETag" = String), ("Location" = String)),
                links(("GetActivity" = (operation_id = "get_activity", parameters(("id" = "$response.body#/id")))),
                  ("PatchActivity" = (operation_id = "patch_activity", parameters(("id" = "$response.body#/id")))),
                  ("DeleteActivity" = (operation_id = "delete_activity", parameters(("id" = "$response.body#/id")))),
                  ("ActivityHistory" = (operation_id = "activity_history", parameters(("id" = "$response.body#/id")))))),
              (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "The role cannot change activities", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule (unknown, of another type, required, a link not visible)", body = Problem, content_type = "application/problem+json")))]
async fn create_activity(
    api: &ActivitiesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (input, custom) = json_body_with_custom_fields(req)?;
    let a = activities::log(&api.activities, caller, input, custom.as_ref()).await?;
    let mut response =
        records::record_response(&api.activities, caller, StatusCode::CREATED, &a).await?;
    let location = format!("/activities/{}", a.id);
    response
        .headers_mut()
        .insert(header::LOCATION, location.parse().expect("valid header"));
    Ok(response)
}

/// List the activities the caller may see, cursor-paginated: filtered by `contact`, `client`
/// (its own and its contacts' activities), `deal`, `type`, `owner`, `team`,
/// `occurred_from/_to`, `due_from/_to`, `created_from/_to`, custom fields; sorted by
/// `occurred_at`, `due_at`, `updated_at` or `created_at` (`-` for descending; default
/// newest created first).
#[utoipa::path(get, path = "/activities", tag = "activities",
    params(("contact" = Option<uuid::Uuid>, Query), ("client" = Option<uuid::Uuid>, Query),
           ("deal" = Option<uuid::Uuid>, Query), ("type" = Option<crm_shared::activities::ActivityType>, Query),
           ("owner" = Option<String>, Query, min_length = 1), ("team" = Option<uuid::Uuid>, Query),
           ("occurred_from" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"), ("occurred_to" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"),
           ("sort" = Option<String>, Query, description = "occurred_at, due_at, updated_at or created_at (`cf.{key}` for a custom field); `-` for descending", pattern = "^-?(occurred_at|due_at|updated_at|created_at)$"), crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of activities", body = Page<ActivitySummary>),
              (status = 400, description = "A bad parameter or cursor", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A filter breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn list_activities(
    api: &ActivitiesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::list(&api.activities, caller, req).await
}

/// One activity the caller may see, with its ETag.
#[utoipa::path(get, path = "/activities/{id}", tag = "activities", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The activity", body = Activity, headers(("ETag" = String))),
              (status = 404, description = "No such activity visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn get_activity(
    api: &ActivitiesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::get(&api.activities, caller, req).await
}

/// Change an activity (JSON merge patch of its fields; optional `If-Match`). Its type and a
/// logged email's body cannot change (422 `immutable`); a task marked `done` records when.
#[utoipa::path(patch, path = "/activities/{id}", tag = "activities", request_body = ActivityFields,
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "The changed activity", body = Activity, headers(("ETag" = String))),
              (status = 404, description = "No such activity visible to the caller", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "If-Match does not match", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn patch_activity(
    api: &ActivitiesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let id = path_id(req, "id")?;
    let expected = if_match(req)?;
    let (patch, custom) = json_body_with_custom_fields(req)?;
    let a = activities::change(
        &api.activities,
        caller,
        id,
        patch,
        custom.as_ref(),
        expected,
    )
    .await?;
    records::record_response(&api.activities, caller, StatusCode::OK, &a).await
}

/// Move an activity to the trash (restorable for 30 days).
#[utoipa::path(delete, path = "/activities/{id}", tag = "activities",
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "In the trash"),
              (status = 404, description = "No such activity visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn delete_activity(
    api: &ActivitiesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::delete(&api.activities, caller, req).await
}

/// Restore an activity from the trash.
#[utoipa::path(post, path = "/activities/{id}/restore", tag = "activities", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Restored", body = Activity),
              (status = 404, description = "Not in the caller's trash", body = Problem, content_type = "application/problem+json")))]
async fn restore_activity(
    api: &ActivitiesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::restore(&api.activities, caller, req).await
}

/// An activity's audit trail, newest first (S6.3).
#[utoipa::path(get, path = "/activities/{id}/history", tag = "activities",
    params(("id" = uuid::Uuid, Path), crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of audit entries", body = Page<AuditEntry>),
              (status = 404, description = "No such activity visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn activity_history(
    api: &ActivitiesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::history(&api.activities, caller, req).await
}

/// Share an activity with a user or team (S9.4).
#[utoipa::path(post, path = "/activities/{id}/shares", tag = "activities",
    params(("id" = uuid::Uuid, Path)), request_body = crm_shared::access::visibility::ShareInput,
    responses((status = 200, description = "The activity, shared", body = Activity),
              (status = 404, description = "No such activity visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn share_activity(
    api: &ActivitiesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::share(&api.activities, caller, req).await
}

/// Stop sharing an activity with a user (`user:{id}`) or team (`team:{id}`).
#[utoipa::path(delete, path = "/activities/{id}/shares/{principal}", tag = "activities",
    params(("id" = uuid::Uuid, Path), ("principal" = String, Path)),
    responses((status = 200, description = "The activity", body = Activity),
              (status = 404, description = "No such activity or share", body = Problem, content_type = "application/problem+json")))]
async fn unshare_activity(
    api: &ActivitiesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::unshare(&api.activities, caller, req).await
}

async fn timeline_page(
    api: &ActivitiesApi,
    caller: &Caller,
    req: &Request,
    subject: Subject,
) -> Result<Response<Body>, CrmError> {
    let (limit, cursor) = page_params(req)?;
    let (page, _) = timeline::timeline(
        &api.activities,
        caller,
        subject,
        query_params(req),
        limit,
        cursor.as_deref(),
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &api.activities.present_all(caller, &page).await?,
        None,
    ))
}

/// A contact's timeline: the activities linked to it that the caller may see, newest first
/// (`sort=occurred_at` for oldest first), by `type` and `occurred_from/_to` (S6.2).
#[utoipa::path(get, path = "/contacts/{id}/activities", tag = "activities",
    params(("id" = uuid::Uuid, Path), ("type" = Option<crm_shared::activities::ActivityType>, Query),
           ("occurred_from" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"), ("occurred_to" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"),
           ("sort" = Option<String>, Query, description = "occurred_at, due_at, updated_at or created_at (`cf.{key}` for a custom field); `-` for descending", pattern = "^-?(occurred_at|due_at|updated_at|created_at)$"), crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of the timeline", body = Page<ActivitySummary>),
              (status = 404, description = "No such contact visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn contact_timeline(
    api: &ActivitiesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    timeline_page(api, caller, req, Subject::Contact(path_id(req, "id")?)).await
}

/// A client's timeline: its own activities and its contacts', newest first, one index read
/// per page (S6.2).
#[utoipa::path(get, path = "/clients/{id}/activities", tag = "activities",
    params(("id" = uuid::Uuid, Path), ("type" = Option<crm_shared::activities::ActivityType>, Query),
           ("occurred_from" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"), ("occurred_to" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"),
           ("sort" = Option<String>, Query, description = "occurred_at, due_at, updated_at or created_at (`cf.{key}` for a custom field); `-` for descending", pattern = "^-?(occurred_at|due_at|updated_at|created_at)$"), crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of the timeline", body = Page<ActivitySummary>),
              (status = 404, description = "No such client visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn client_timeline(
    api: &ActivitiesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    timeline_page(api, caller, req, Subject::Client(path_id(req, "id")?)).await
}

/// A deal's timeline, newest first (S6.2).
#[utoipa::path(get, path = "/deals/{id}/activities", tag = "activities",
    params(("id" = uuid::Uuid, Path), ("type" = Option<crm_shared::activities::ActivityType>, Query),
           ("occurred_from" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"), ("occurred_to" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"),
           ("sort" = Option<String>, Query, description = "occurred_at, due_at, updated_at or created_at (`cf.{key}` for a custom field); `-` for descending", pattern = "^-?(occurred_at|due_at|updated_at|created_at)$"), crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of the timeline", body = Page<ActivitySummary>),
              (status = 404, description = "No such deal visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn deal_timeline(
    api: &ActivitiesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    timeline_page(api, caller, req, Subject::Deal(path_id(req, "id")?)).await
}

/// The caller's open tasks, soonest due first (no due date last); `due_from/_to` (S6.1).
#[utoipa::path(get, path = "/me/tasks", tag = "activities",
    params(("due_from" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"), ("due_to" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"),
           crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of open tasks", body = Page<ActivitySummary>)))]
async fn my_tasks(
    api: &ActivitiesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (limit, cursor) = page_params(req)?;
    let page = timeline::my_tasks(
        &api.activities,
        caller,
        query_params(req),
        limit,
        cursor.as_deref(),
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &api.activities.present_all(caller, &page).await?,
        None,
    ))
}

#[derive(utoipa::OpenApi)]
#[openapi(modifiers(&LinkOperationIds), paths(
    create_activity,
    list_activities,
    get_activity,
    patch_activity,
    delete_activity,
    restore_activity,
    activity_history,
    share_activity,
    unshare_activity,
    contact_timeline,
    client_timeline,
    deal_timeline,
    my_tasks
))]
pub struct ActivitiesDoc;
