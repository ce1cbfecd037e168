//! `leads-api`: outreach (S8.1), the lead source catalogue, web forms and their public
//! submissions, notifications and lead assignment rules (S8.2–S8.4). Parse, call
//! `crm_shared::outreach` / `crm_shared::leads` and the record engine, answer.

use api_kit::records;
use api_kit::{Problem, if_match, json_body, json_response, path_id, path_param, query_params};
use crm_shared::audit::AuditEntry;
use crm_shared::catalog::Catalog;
use crm_shared::lead_sources::{self, LeadSources, LeadSourcesInput};
use crm_shared::leads::assignment::{self, AssignmentRules, AssignmentRulesInput};
use crm_shared::leads::notifications::{self, Notification, NotificationPreferences};
use crm_shared::leads::web_forms::{self, NewWebForm, Submission, WebForm, WebFormPatch};
use crm_shared::leads::{Leads, sources};
use crm_shared::outreach::{NewOutreach, Outreach, OutreachKind, OutreachPatch, OutreachRecords};
use crm_shared::pagination::Page;
use crm_shared::records::RecordQuery;
use crm_shared::store::openapi::LinkOperationIds;
use crm_shared::{Caller, CrmError, Deps};
use lambda_http::http::{StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

pub struct LeadsApi {
    deps: Deps,
    catalog: Catalog,
    outreach: OutreachRecords,
    leads: Leads,
}

impl LeadsApi {
    pub fn new(deps: Deps) -> Self {
        let catalog = deps.catalog();
        Self {
            outreach: catalog.records::<OutreachKind>(),
            leads: deps.leads(),
            catalog,
            deps,
        }
    }

    async fn authenticated(&self, route: &str, req: &Request) -> Response<Body> {
        api_kit::serve_authenticated(&self.deps, req, |caller| async move {
            self.route(route, &caller, req).await
        })
        .await
    }

    async fn route(
        &self,
        route: &str,
        caller: &Caller,
        req: &Request,
    ) -> Result<Response<Body>, CrmError> {
        // One arm per route of this function in template.yaml.
        match route {
            "POST /outreach" => Ok(api_kit::idempotent(&self.deps, caller, req, || {
                create_outreach(self, caller, req)
            })
            .await),
            "GET /outreach" => list_outreach(self, caller, req).await,
            "GET /outreach/{id}" => get_outreach(self, caller, req).await,
            "PATCH /outreach/{id}" => patch_outreach(self, caller, req).await,
            "DELETE /outreach/{id}" => delete_outreach(self, caller, req).await,
            "POST /outreach/{id}/restore" => restore_outreach(self, caller, req).await,
            "GET /outreach/{id}/history" => outreach_history(self, caller, req).await,
            "GET /contacts/{id}/outreach" => contact_outreach(self, caller, req).await,
            "GET /lead-sources" => get_lead_sources(self, caller).await,
            "PUT /lead-sources" => put_lead_sources(self, caller, req).await,
            "GET /web-forms" => list_web_forms(self, caller).await,
            "POST /web-forms" => create_web_form(self, caller, req).await,
            "PATCH /web-forms/{id}" => patch_web_form(self, caller, req).await,
            "GET /me/notifications" => list_notifications(self, caller, req).await,
            "POST /me/notifications/{id}/read" => read_notification(self, caller, req).await,
            "POST /me/notifications/read-all" => read_all_notifications(self, caller).await,
            "GET /me/notification-preferences" => get_preferences(self, caller).await,
            "PUT /me/notification-preferences" => put_preferences(self, caller, req).await,
            "GET /lead-assignment-rules" => get_rules(self, caller).await,
            "PUT /lead-assignment-rules" => put_rules(self, caller, req).await,
            _ => Ok(api_kit::unknown_route()),
        }
    }
}

impl api_kit::HttpHandler for LeadsApi {
    async fn handle(&self, req: Request) -> Response<Body> {
        let route = api_kit::route_key(&req);
        // The one route without a login: a web form's submissions.
        if route == "POST /forms/{form_key}/submissions" {
            return submit_form(self, &req)
                .await
                .unwrap_or_else(api_kit::error_response);
        }
        self.authenticated(&route, &req).await
    }
}

fn versioned<T: serde::Serialize>(body: &T, version: u64) -> Response<Body> {
    json_response(StatusCode::OK, body, Some(format!("\"{version}\"")))
}

/// Record an outreach touch to a contact the caller can see (S8.1). Each `type` has its own
/// fields — platform: `platform` (upwork, linkedin, fiverr, other + `platform_name`),
/// `proposal_url`; email: `email_address`, `subject`; call: `phone_number`,
/// `duration_seconds`; social: `network`, `profile_handle` / `profile_url`; messenger:
/// `messenger_app`, `profile_handle` / `phone_number` — and another type's field is a 422
/// naming it (`not_for_type`). An outbound touch sets the contact's last contact and adds to
/// its 30 / 90-day touch counts.
#[utoipa::path(post, path = "/outreach", tag = "outreach", request_body = NewOutreach,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, description = "Created", body = Outreach, headers(("ETag" = String), ("Location" = String)),
                links(("GetOutreach" = (operation_id = "get_outreach", parameters(("id" = "$response.body#/id")))),
                  ("PatchOutreach" = (operation_id = "patch_outreach", parameters(("id" = "$response.body#/id")))),
                  ("DeleteOutreach" = (operation_id = "delete_outreach", parameters(("id" = "$response.body#/id")))),
                  ("OutreachHistory" = (operation_id = "outreach_history", parameters(("id" = "$response.body#/id")))))),
              (status = 403, description = "The role cannot change records", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule, or the contact is not visible", body = Problem, content_type = "application/problem+json")))]
async fn create_outreach(
    api: &LeadsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (input, custom) = api_kit::json_body_with_custom_fields::<NewOutreach>(req)?;
    let o = crm_shared::outreach::create(&api.outreach, caller, input, custom.as_ref()).await?;
    let mut response =
        records::record_response(&api.outreach, caller, StatusCode::CREATED, &o).await?;
    let location = format!("/outreach/{}", o.id);
    response
        .headers_mut()
        .insert(header::LOCATION, location.parse().expect("valid header"));
    Ok(response)
}

/// List outreach, newest first, cursor-paginated: filtered by `contact`, `owner`, `team`,
/// `type`, `outcome`, `direction`, `occurred_from/_to` (the period), `created_from/_to`;
/// sorted by `occurred_at` or `updated_at` (`-` for descending).
#[utoipa::path(get, path = "/outreach", tag = "outreach",
    params(("contact" = Option<uuid::Uuid>, Query), ("owner" = Option<String>, Query, min_length = 1), ("team" = Option<uuid::Uuid>, Query),
           ("type" = Option<crm_shared::outreach::OutreachType>, Query),
           ("outcome" = Option<crm_shared::outreach::Outcome>, Query), ("direction" = Option<crm_shared::outreach::Direction>, Query),
           ("occurred_from" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"),
           ("occurred_to" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD", pattern = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?$"),
           ("sort" = Option<String>, Query, description = "occurred_at, updated_at or created_at (`cf.{key}` for a custom field); `-` for descending", pattern = "^-?(occurred_at|updated_at|created_at)$"),
           crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of outreach", body = Page<Outreach>),
              (status = 422, description = "A bad parameter, named with its rule", body = Problem, content_type = "application/problem+json")))]
async fn list_outreach(
    api: &LeadsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::list(&api.outreach, caller, req).await
}

#[utoipa::path(get, path = "/outreach/{id}", tag = "outreach", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The outreach", body = Outreach, headers(("ETag" = String))),
              (status = 404, description = "No such outreach visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn get_outreach(
    api: &LeadsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::get(&api.outreach, caller, req).await
}

/// Change some fields (JSON merge patch; `null` clears). A new `type` needs the old type's
/// fields cleared in the same patch.
#[utoipa::path(patch, path = "/outreach/{id}", tag = "outreach", request_body = OutreachPatch,
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "The changed outreach", body = Outreach),
              (status = 404, description = "No such outreach", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn patch_outreach(
    api: &LeadsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let id = api_kit::path_id(req, "id")?;
    let expected = api_kit::if_match(req)?;
    let (patch, custom) = api_kit::json_body_with_custom_fields(req)?;
    let o =
        crm_shared::outreach::change(&api.outreach, caller, id, patch, custom.as_ref(), expected)
            .await?;
    records::record_response(&api.outreach, caller, StatusCode::OK, &o).await
}

/// Move an outreach record to the trash (restorable for 30 days).
#[utoipa::path(delete, path = "/outreach/{id}", tag = "outreach",
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "In the trash"),
              (status = 404, description = "No such outreach", body = Problem, content_type = "application/problem+json")))]
async fn delete_outreach(
    api: &LeadsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::delete(&api.outreach, caller, req).await
}

#[utoipa::path(post, path = "/outreach/{id}/restore", tag = "outreach",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The restored outreach", body = Outreach),
              (status = 404, description = "No such outreach in the trash", body = Problem, content_type = "application/problem+json")))]
async fn restore_outreach(
    api: &LeadsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::restore(&api.outreach, caller, req).await
}

/// The outreach record's audit trail, newest first.
#[utoipa::path(get, path = "/outreach/{id}/history", tag = "outreach",
    params(("id" = uuid::Uuid, Path), crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of audit entries", body = Page<AuditEntry>),
              (status = 404, description = "No such outreach visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn outreach_history(
    api: &LeadsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::history(&api.outreach, caller, req).await
}

/// The outreach to a contact that the caller may see, with the list's other filters (404 when
/// the caller cannot see the contact).
#[utoipa::path(get, path = "/contacts/{id}/outreach", tag = "outreach",
    params(("id" = uuid::Uuid, Path), ("type" = Option<crm_shared::outreach::OutreachType>, Query), ("outcome" = Option<crm_shared::outreach::Outcome>, Query),
           ("sort" = Option<String>, Query, description = "occurred_at, updated_at or created_at (`cf.{key}` for a custom field); `-` for descending", pattern = "^-?(occurred_at|updated_at|created_at)$"), crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of outreach", body = Page<Outreach>),
              (status = 404, description = "No such contact visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn contact_outreach(
    api: &LeadsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let contact = path_id(req, "id")?;
    api.catalog.contacts().get(caller, contact).await?;
    let mut params = query_params(req);
    if params.contains_key("contact") {
        return Err(CrmError::validation(
            "contact",
            "unknown_parameter",
            "given by the path",
        ));
    }
    params.insert("contact".into(), contact.to_string());
    let query = RecordQuery::parse(api.outreach.schema(), &params)?;
    let (limit, cursor) = api_kit::page_params(req)?;
    let page = api
        .outreach
        .list(caller, &query, limit, cursor.as_deref())
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &api.outreach.present_all(caller, &page).await?,
        None,
    ))
}

/// The tenant's lead sources (every role but portal users). Empty with version 0 until first
/// saved: then any `lead_source` key is taken.
#[utoipa::path(get, path = "/lead-sources", tag = "leads",
    responses((status = 200, description = "The catalogue", body = LeadSources, headers(("ETag" = String)))))]
async fn get_lead_sources(api: &LeadsApi, caller: &Caller) -> Result<Response<Body>, CrmError> {
    let c = lead_sources::read(api.catalog.table(), caller).await?;
    Ok(versioned(&c, c.version))
}

/// Replace the catalogue (owners and admins). The first save adds every `lead_source` the
/// tenant's contacts already have (kind `other`, labelled with the key); from then on a
/// contact create, patch or import row with a source not in it (or inactive) is a 422 naming it.
#[utoipa::path(put, path = "/lead-sources", tag = "leads", request_body = LeadSourcesInput,
    params(("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "The catalogue", body = LeadSources, headers(("ETag" = String))),
              (status = 403, description = "Only owners and admins change it", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A key or label breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn put_lead_sources(
    api: &LeadsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let c = sources::put(api.catalog.table(), caller, json_body(req)?, if_match(req)?).await?;
    Ok(versioned(&c, c.version))
}

/// The tenant's web forms (owners and admins).
#[utoipa::path(get, path = "/web-forms", tag = "leads",
    responses((status = 200, description = "The forms", body = Vec<WebForm>),
              (status = 403, description = "Only owners and admins", body = Problem, content_type = "application/problem+json")))]
async fn list_web_forms(api: &LeadsApi, caller: &Caller) -> Result<Response<Body>, CrmError> {
    let forms = web_forms::list(api.catalog.table(), caller).await?;
    Ok(json_response(StatusCode::OK, &forms, None))
}

/// Create a web form (owners and admins): its lead source (a key of the catalogue once it
/// has one), an optional owner and team for its leads, and a random `form_key` for
/// `POST /forms/{form_key}/submissions`.
#[utoipa::path(post, path = "/web-forms", tag = "leads", request_body = NewWebForm,
    responses((status = 201, description = "The form", body = WebForm,
                links(("PatchWebForm" = (operation_id = "patch_web_form", parameters(("id" = "$response.body#/id")))))),
              (status = 403, description = "Only owners and admins", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn create_web_form(
    api: &LeadsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let form = web_forms::create(&api.leads, caller, json_body(req)?).await?;
    Ok(json_response(StatusCode::CREATED, &form, None))
}

/// Change a web form (merge patch): name, lead source, owner, team, `active` (a disabled
/// form's key answers 404).
#[utoipa::path(patch, path = "/web-forms/{id}", tag = "leads", request_body = WebFormPatch,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The form", body = WebForm),
              (status = 404, description = "No such form", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn patch_web_form(
    api: &LeadsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let patch: WebFormPatch = json_body(req)?;
    let form = web_forms::patch(&api.leads, caller, path_id(req, "id")?, patch).await?;
    Ok(json_response(StatusCode::OK, &form, None))
}

/// A web form submission (no login): lead fields only (`name`, `email`, `phone`, `company`,
/// `message`, `utm_source`, `utm_medium`, `utm_campaign`; anything else is a 422 naming it).
/// Creates a contact with lifecycle `lead` and answers 202 without saying more; at most 5
/// submissions per form and client address in 10 minutes (then 429 with `Retry-After`).
#[utoipa::path(post, path = "/forms/{form_key}/submissions", tag = "leads", security(()),
    params(("form_key" = String, Path)),
    request_body = Object,
    responses((status = 202, description = "Received"),
              (status = 404, description = "No such form, or disabled", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field that is not a lead field, or breaks a rule", body = Problem, content_type = "application/problem+json"),
              (status = 429, description = "Too many submissions from this address", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = String)))))]
async fn submit_form(api: &LeadsApi, req: &Request) -> Result<Response<Body>, CrmError> {
    let key = path_param(req, "form_key").ok_or(CrmError::NotFound)?;
    let address = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
    .unwrap_or_else(|| "unknown".into());
    let body: serde_json::Map<String, serde_json::Value> = json_body(req)?;
    match web_forms::submit(&api.leads, &key, &address, body).await? {
        Submission::Created(_) | Submission::Ignored => Ok(json_response(
            StatusCode::ACCEPTED,
            &serde_json::json!({"status": "received"}),
            None,
        )),
        Submission::RateLimited { retry_after } => {
            let mut r = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                format!("too many submissions from this address; retry in {retry_after} s"),
                vec![],
            )
            .into_response();
            r.headers_mut().insert(
                header::RETRY_AFTER,
                retry_after.to_string().parse().expect("a number"),
            );
            Ok(r)
        }
    }
}

/// The caller's notifications, newest first (`unread=true`: only unread ones).
#[utoipa::path(get, path = "/me/notifications", tag = "leads",
    params(("unread" = Option<bool>, Query), crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of notifications", body = Page<Notification>)))]
async fn list_notifications(
    api: &LeadsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let unread = match api_kit::query_param(req, "unread").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(CrmError::validation("unread", "boolean", "true or false"));
        }
    };
    let (limit, cursor) = api_kit::page_params(req)?;
    let page = notifications::list(
        api.catalog.table(),
        caller,
        unread,
        limit,
        cursor.as_deref(),
    )
    .await?;
    Ok(json_response(StatusCode::OK, &page, None))
}

/// Mark one of the caller's notifications read.
#[utoipa::path(post, path = "/me/notifications/{id}/read", tag = "leads",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The notification", body = Notification),
              (status = 404, description = "No such notification of the caller", body = Problem, content_type = "application/problem+json")))]
async fn read_notification(
    api: &LeadsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let n = notifications::mark_read(api.catalog.table(), caller, path_id(req, "id")?).await?;
    Ok(json_response(StatusCode::OK, &n, None))
}

/// Body of `POST /me/notifications/read-all`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MarkedRead {
    /// How many notifications were unread and are now read.
    pub marked: usize,
}

/// Mark every unread notification of the caller read.
#[utoipa::path(post, path = "/me/notifications/read-all", tag = "leads",
    responses((status = 200, description = "How many were marked", body = MarkedRead)))]
async fn read_all_notifications(
    api: &LeadsApi,
    caller: &Caller,
) -> Result<Response<Body>, CrmError> {
    let marked = notifications::mark_all_read(api.catalog.table(), caller).await?;
    Ok(json_response(StatusCode::OK, &MarkedRead { marked }, None))
}

#[utoipa::path(get, path = "/me/notification-preferences", tag = "leads",
    responses((status = 200, description = "The caller's preferences", body = NotificationPreferences)))]
async fn get_preferences(api: &LeadsApi, caller: &Caller) -> Result<Response<Body>, CrmError> {
    let p =
        notifications::preferences(api.catalog.table(), &caller.tenant_id, &caller.user_id).await?;
    Ok(json_response(StatusCode::OK, &p, None))
}

/// Set the caller's preferences: `email_new_leads` sends an email for each new lead too.
#[utoipa::path(put, path = "/me/notification-preferences", tag = "leads", request_body = NotificationPreferences,
    responses((status = 200, description = "The caller's preferences", body = NotificationPreferences)))]
async fn put_preferences(
    api: &LeadsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let p = notifications::put_preferences(api.catalog.table(), caller, json_body(req)?).await?;
    Ok(json_response(StatusCode::OK, &p, None))
}

#[utoipa::path(get, path = "/lead-assignment-rules", tag = "leads",
    responses((status = 200, description = "The rules", body = AssignmentRules, headers(("ETag" = String)))))]
async fn get_rules(api: &LeadsApi, caller: &Caller) -> Result<Response<Body>, CrmError> {
    let r = assignment::read(api.catalog.table(), caller).await?;
    Ok(versioned(&r, r.version))
}

/// Replace the assignment rules (owners and admins): a lead created without an owner goes by
/// the first rule matching its `source` and entry `path` to the rule's `user`, or round robin
/// to the active members of its `team`.
#[utoipa::path(put, path = "/lead-assignment-rules", tag = "leads", request_body = AssignmentRulesInput,
    params(("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "The rules", body = AssignmentRules, headers(("ETag" = String))),
              (status = 403, description = "Only owners and admins", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A team or user that does not fit", body = Problem, content_type = "application/problem+json")))]
async fn put_rules(
    api: &LeadsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let input: AssignmentRulesInput = json_body(req)?;
    let r = assignment::put(api.catalog.table(), caller, input, if_match(req)?).await?;
    Ok(versioned(&r, r.version))
}

#[derive(utoipa::OpenApi)]
#[openapi(modifiers(&LinkOperationIds), paths(
    create_outreach,
    list_outreach,
    get_outreach,
    patch_outreach,
    delete_outreach,
    restore_outreach,
    outreach_history,
    contact_outreach,
    get_lead_sources,
    put_lead_sources,
    list_web_forms,
    create_web_form,
    patch_web_form,
    submit_form,
    list_notifications,
    read_notification,
    read_all_notifications,
    get_preferences,
    put_preferences,
    get_rules,
    put_rules
))]
pub struct LeadsDoc;
