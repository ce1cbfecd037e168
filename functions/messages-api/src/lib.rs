//! `messages-api`: email out (S6.4) — send to a contact or a deal's contact, email templates,
//! and the public one-click unsubscribe link (no login: the signed token is the authority).

use api_kit::{Problem, idempotent, if_match, json_body, json_response, no_content, path_id};
use crm_shared::email::templates::{self, EmailTemplate, EmailTemplatePatch, NewEmailTemplate};
use crm_shared::email::{self, MailSettings, NewMessage, SentMessage, SesMailer};
use crm_shared::pagination::Page;
use crm_shared::store::openapi::LinkOperationIds;
use crm_shared::{Caller, CrmError, Deps};
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};

pub struct MessagesApi {
    deps: Deps,
    catalog: crm_shared::catalog::Catalog,
    mailer: SesMailer,
    mail: MailSettings,
}

impl MessagesApi {
    pub fn new(deps: Deps) -> Self {
        Self {
            catalog: deps.catalog(),
            mailer: deps.mailer(),
            mail: deps.mail_settings(),
            deps,
        }
    }
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct TemplateList {
    items: Vec<EmailTemplate>,
}

impl api_kit::HttpHandler for MessagesApi {
    async fn handle(&self, req: Request) -> Response<Body> {
        // The unsubscribe link has no login (`Auth: Authorizer: NONE` in the template).
        match api_kit::route_key(&req).as_str() {
            "GET /unsubscribe/{token}" => unsubscribe_page(self, &req)
                .await
                .unwrap_or_else(page_error),
            "POST /unsubscribe/{token}" => unsubscribe(self, &req).await.unwrap_or_else(page_error),
            route => {
                let req = &req;
                api_kit::serve_authenticated(&self.deps, req, |caller| async move {
                    self.route(route, &caller, req).await
                })
                .await
            }
        }
    }
}

impl MessagesApi {
    /// The mail settings of this request: links go to the domain the request came in on when
    /// the function has no configured public URL.
    fn mail_for(&self, req: &Request) -> MailSettings {
        let mut mail = self.mail.clone();
        if mail.public_url.is_none() {
            if let lambda_http::request::RequestContext::ApiGatewayV2(ctx) = req.request_context() {
                mail.public_url = ctx.domain_name.map(|d| format!("https://{d}"));
            }
        }
        mail
    }

    async fn route(
        &self,
        route: &str,
        caller: &Caller,
        req: &Request,
    ) -> Result<Response<Body>, CrmError> {
        match route {
            "POST /contacts/{id}/messages" => Ok(idempotent(&self.deps, caller, req, || {
                send_to_contact(self, caller, req)
            })
            .await),
            "POST /deals/{id}/messages" => {
                Ok(idempotent(&self.deps, caller, req, || send_for_deal(self, caller, req)).await)
            }
            "GET /email-templates" => list_templates(self, caller).await,
            "GET /inbound-messages" => list_inbound(self, caller, req).await,
            "POST /email-templates" => Ok(idempotent(&self.deps, caller, req, || {
                create_template(self, caller, req)
            })
            .await),
            "GET /email-templates/{id}" => get_template(self, caller, req).await,
            "PATCH /email-templates/{id}" => patch_template(self, caller, req).await,
            "DELETE /email-templates/{id}" => delete_template(self, caller, req).await,
            _ => Ok(api_kit::unknown_route()),
        }
    }
}

fn sent(message: &SentMessage) -> Response<Body> {
    json_response(StatusCode::CREATED, message, None)
}

/// Email a contact: from a template or a subject and body with merge fields, through SES.
#[utoipa::path(post, path = "/contacts/{id}/messages", tag = "messages", request_body = NewMessage,
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, description = "Sent", body = SentMessage),
              (status = 404, description = "No such contact (or template) the caller may see", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The address is suppressed (bounced or complained); nothing sent", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Opted out, do-not-contact, no address, an unknown merge field or a header value with a line break; nothing sent", body = Problem, content_type = "application/problem+json")))]
async fn send_to_contact(
    api: &MessagesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let input: NewMessage = json_body(req)?;
    let message = email::send_to_contact(
        &api.catalog,
        &api.mailer,
        &api.mail_for(req),
        caller,
        path_id(req, "id")?,
        input,
    )
    .await?;
    Ok(sent(&message))
}

/// Email a deal's primary contact (or `contact_id`, one of its contacts).
#[utoipa::path(post, path = "/deals/{id}/messages", tag = "messages", request_body = NewMessage,
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, description = "Sent", body = SentMessage),
              (status = 404, description = "No such deal (or contact, template) the caller may see", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The address is suppressed; nothing sent", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Not one of the deal's contacts, opted out, or a rule broken; nothing sent", body = Problem, content_type = "application/problem+json")))]
async fn send_for_deal(
    api: &MessagesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let input: NewMessage = json_body(req)?;
    let message = email::send_for_deal(
        &api.catalog,
        &api.mailer,
        &api.mail_for(req),
        caller,
        path_id(req, "id")?,
        input,
    )
    .await?;
    Ok(sent(&message))
}

/// The tenant's inbound mail log, newest first (owners and admins): every stored message,
/// processed (its contacts, activity, thread, attachments) or failed with its rule and reason
/// (`no_tenant`, `no_headers`, `no_from`, `too_large`, `empty`) (S6.4).
#[utoipa::path(get, path = "/inbound-messages", tag = "messages",
    params(crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of inbound messages", body = Page<crm_shared::inbox::InboundMessage>),
              (status = 400, description = "A cursor that cannot be used", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Owners and admins only", body = Problem, content_type = "application/problem+json")))]
async fn list_inbound(
    api: &MessagesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (limit, cursor) = api_kit::page_params(req)?;
    let after = match cursor {
        None => None,
        Some(c) => Some(c.parse::<uuid::Uuid>().map_err(|_| CrmError::BadRequest {
            detail: "cursor: not a cursor of this list".into(),
            errors: vec![crm_shared::FieldError::new(
                "cursor",
                "cursor",
                "not a cursor of this list",
            )],
        })?),
    };
    let page = crm_shared::inbox::InboundMessages::new(api.catalog.table().clone())
        .list(caller, Some(limit.clamp(1, 100) as u32), after)
        .await?;
    Ok(json_response(StatusCode::OK, &page, None))
}

#[utoipa::path(get, path = "/email-templates", operation_id = "list_email_templates", tag = "messages",
    responses((status = 200, description = "The tenant's email templates, by name", body = TemplateList)))]
async fn list_templates(api: &MessagesApi, caller: &Caller) -> Result<Response<Body>, CrmError> {
    let items = templates::list(api.catalog.table(), caller).await?;
    Ok(json_response(StatusCode::OK, &TemplateList { items }, None))
}

/// Save an email template; its merge fields are checked (an unknown one is a 422 naming it).
#[utoipa::path(post, path = "/email-templates", operation_id = "create_email_template", tag = "messages", request_body = NewEmailTemplate,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, description = "Created", body = EmailTemplate,
                links(("GetEmailTemplate" = (operation_id = "get_email_template", parameters(("id" = "$response.body#/id")))),
                  ("PatchEmailTemplate" = (operation_id = "patch_email_template", parameters(("id" = "$response.body#/id")))),
                  ("DeleteEmailTemplate" = (operation_id = "delete_email_template", parameters(("id" = "$response.body#/id")))))),
              (status = 422, description = "A rule broken (an unknown merge field named by its part)", body = Problem, content_type = "application/problem+json")))]
async fn create_template(
    api: &MessagesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let input: NewEmailTemplate = json_body(req)?;
    let t = templates::create(api.catalog.table(), caller, input).await?;
    Ok(json_response(StatusCode::CREATED, &t, Some(t.etag())))
}

#[utoipa::path(get, path = "/email-templates/{id}", operation_id = "get_email_template", tag = "messages", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The template", body = EmailTemplate),
              (status = 404, description = "No such template", body = Problem, content_type = "application/problem+json")))]
async fn get_template(
    api: &MessagesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let t = templates::get(api.catalog.table(), caller, path_id(req, "id")?).await?;
    Ok(json_response(StatusCode::OK, &t, Some(t.etag())))
}

#[utoipa::path(patch, path = "/email-templates/{id}", operation_id = "patch_email_template", tag = "messages", request_body = EmailTemplatePatch,
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "Changed", body = EmailTemplate),
              (status = 404, description = "No such template", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Changed meanwhile", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A rule broken", body = Problem, content_type = "application/problem+json")))]
async fn patch_template(
    api: &MessagesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let patch: EmailTemplatePatch = json_body(req)?;
    let t = templates::patch(
        api.catalog.table(),
        caller,
        path_id(req, "id")?,
        patch,
        if_match(req)?,
    )
    .await?;
    Ok(json_response(StatusCode::OK, &t, Some(t.etag())))
}

#[utoipa::path(delete, path = "/email-templates/{id}", operation_id = "delete_email_template", tag = "messages",
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such template", body = Problem, content_type = "application/problem+json")))]
async fn delete_template(
    api: &MessagesApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    templates::delete(
        api.catalog.table(),
        caller,
        path_id(req, "id")?,
        if_match(req)?,
    )
    .await?;
    Ok(no_content())
}

fn token(req: &Request) -> String {
    api_kit::path_param(req, "token").unwrap_or_default()
}

fn html(status: StatusCode, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        )
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text(body))
        .expect("valid response")
}

fn page(title: &str, content: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"robots\" \
         content=\"noindex\"><title>{title}</title></head><body style=\"font-family:sans-serif;\
         max-width:32em;margin:3em auto\"><h1>{title}</h1>{content}</body></html>"
    )
}

fn page_error(e: CrmError) -> Response<Body> {
    match e {
        CrmError::NotFound => html(
            StatusCode::NOT_FOUND,
            page(
                "Link not valid",
                "<p>This unsubscribe link is not valid. Nothing was changed.</p>",
            ),
        ),
        other => {
            tracing::error!(error = %crm_shared::telemetry::Redacted(&other), "unsubscribe failed");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                page("Something went wrong", "<p>Please try again later.</p>"),
            )
        }
    }
}

/// The confirmation page of an unsubscribe link: a button that POSTs (a GET changes nothing,
/// so link scanners do not unsubscribe anybody).
#[utoipa::path(get, path = "/unsubscribe/{token}", tag = "messages", security(()),
    params(("token" = String, Path)),
    responses((status = 200, description = "An HTML page with an unsubscribe button", content_type = "text/html"),
              (status = 404, description = "A forged or altered token", content_type = "text/html")))]
async fn unsubscribe_page(api: &MessagesApi, req: &Request) -> Result<Response<Body>, CrmError> {
    let token = token(req);
    let u = email::unsubscribe_target(api.catalog.table(), &api.mail, &token).await?;
    let address = email::render::escape_html(&u.address);
    let action = email::render::escape_html(&format!("/unsubscribe/{token}"));
    Ok(html(
        StatusCode::OK,
        page(
            "Unsubscribe",
            &format!(
                "<p>Stop email to <strong>{address}</strong>?</p><form method=\"post\" \
                 action=\"{action}\"><input type=\"hidden\" name=\"List-Unsubscribe\" \
                 value=\"One-Click\"><button type=\"submit\">Unsubscribe</button></form>"
            ),
        ),
    ))
}

/// One-click unsubscribe (RFC 8058): sets the contact's `email_opt_out`. Idempotent.
#[utoipa::path(post, path = "/unsubscribe/{token}", tag = "messages", security(()),
    params(("token" = String, Path)),
    responses((status = 200, description = "Unsubscribed (also when already)", content_type = "text/html"),
              (status = 404, description = "A forged or altered token: nothing changed", content_type = "text/html")))]
async fn unsubscribe(api: &MessagesApi, req: &Request) -> Result<Response<Body>, CrmError> {
    email::unsubscribe(api.catalog.table(), &api.mail, &token(req)).await?;
    Ok(html(
        StatusCode::OK,
        page(
            "Unsubscribed",
            "<p>You will get no more email from us at this address.</p>",
        ),
    ))
}

#[derive(utoipa::OpenApi)]
#[openapi(modifiers(&LinkOperationIds), paths(
    send_to_contact,
    send_for_deal,
    list_templates,
    list_inbound,
    create_template,
    get_template,
    patch_template,
    delete_template,
    unsubscribe_page,
    unsubscribe
))]
pub struct MessagesDoc;
