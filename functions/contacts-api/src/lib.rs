//! `contacts-api`: the contact routes (S1). Parse, call `crm_shared::contacts`, answer.

use api_kit::records;
use api_kit::{Problem, idempotent, json_body, json_response, no_content, page_params, path_id};
use crm_shared::access::visibility::ShareInput;
use crm_shared::audit::AuditEntry;
use crm_shared::catalog::Catalog;
use crm_shared::contacts::{Contact, ContactPatch, ContactSummary, Contacts, NewContact};
use crm_shared::links::{self, ClientLink, LinkInput};
use crm_shared::pagination::Page;
use crm_shared::privacy::ContactExport;
use crm_shared::telemetry::metrics::{self, Counter};
use crm_shared::{Caller, CrmError, Deps};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub struct ContactsApi {
    deps: Deps,
    catalog: Catalog,
    contacts: Contacts,
    leads: crm_shared::leads::Leads,
}

impl ContactsApi {
    pub fn new(deps: Deps) -> Self {
        let catalog = deps.catalog();
        Self {
            contacts: catalog.contacts(),
            leads: deps.leads(),
            catalog,
            deps,
        }
    }
}

impl api_kit::Routes for ContactsApi {
    async fn route(
        &self,
        route: &str,
        caller: &Caller,
        req: &Request,
    ) -> Result<Response<Body>, CrmError> {
        match route {
            "POST /contacts" => Ok(idempotent(&self.deps, caller, req, || {
                create_contact(self, caller, req)
            })
            .await),
            "GET /contacts" => list_contacts(self, caller, req).await,
            "GET /contacts/{id}" => get_contact(self, caller, req).await,
            "PATCH /contacts/{id}" => patch_contact(self, caller, req).await,
            "DELETE /contacts/{id}" => delete_contact(self, caller, req).await,
            "POST /contacts/{id}/shares" => share_contact(self, caller, req).await,
            "DELETE /contacts/{id}/shares/{principal}" => unshare_contact(self, caller, req).await,
            "GET /contacts/{id}/history" => contact_history(self, caller, req).await,
            "GET /contacts/{id}/export" => export_contact(self, caller, req).await,
            "GET /contacts/{id}/clients" => list_contact_clients(self, caller, req).await,
            "PUT /contacts/{id}/clients/{client_id}" => link_client(self, caller, req).await,
            "DELETE /contacts/{id}/clients/{client_id}" => unlink_client(self, caller, req).await,
            "POST /contacts/{id}/restore" => Ok(idempotent(&self.deps, caller, req, || {
                restore_contact(self, caller, req)
            })
            .await),
            "POST /contacts/{id}/erase" => {
                Ok(idempotent(&self.deps, caller, req, || erase_contact(self, caller, req)).await)
            }
            _ => Ok(api_kit::unknown_route()),
        }
    }

    fn deps(&self) -> &Deps {
        &self.deps
    }
}

/// Create a contact (S1.1, S1.2).
#[utoipa::path(post, path = "/contacts", tag = "contacts", request_body = NewContact,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    responses(
        (status = 201, description = "Created", body = Contact, headers(("ETag" = String), ("Location" = String))),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email already used by another contact", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_contact(
    api: &ContactsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    // The one creation of every lead path: assignment, lead event and notifications (S8.4).
    let (input, custom) = api_kit::json_body_with_custom_fields::<NewContact>(req)?;
    let entry = crm_shared::contacts::EntryInput::default();
    let contact = api
        .leads
        .create_contact(caller, input, custom.as_ref(), entry, None)
        .await?;
    metrics::count(Counter::ContactsCreated, 1);
    let mut response =
        records::record_response(&api.contacts, caller, StatusCode::CREATED, &contact).await?;
    let location = format!("/contacts/{}", contact.id);
    response.headers_mut().insert(
        lambda_http::http::header::LOCATION,
        location.parse().expect("valid header"),
    );
    Ok(response)
}

/// List, filter and search the contacts the caller may see (S1.3, S1.4), newest first unless
/// `sort` says otherwise; cursor-paginated. A page can come back short (even empty) with a
/// `next_cursor` when filters rejected many entries: each request reads a bounded number of
/// index items.
#[utoipa::path(get, path = "/contacts", tag = "contacts",
    params(("q" = Option<String>, Query, description = "Prefix search on name, email and company; case- and accent-insensitive; several words must all match"),
           ("client" = Option<uuid::Uuid>, Query), ("owner" = Option<String>, Query), ("team" = Option<uuid::Uuid>, Query),
           ("tag" = Option<String>, Query), ("lead_source" = Option<String>, Query),
           ("status" = Option<crm_shared::contacts::LifecycleStatus>, Query),
           ("created_from" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD; likewise the other ranges"),
           ("created_to" = Option<String>, Query), ("updated_from" = Option<String>, Query), ("updated_to" = Option<String>, Query),
           ("last_contacted_from" = Option<String>, Query), ("last_contacted_to" = Option<String>, Query),
           ("not_contacted_since" = Option<String>, Query, description = "Last contacted before this time, or never (follow-up list)"),
           ("sort" = Option<String>, Query, description = "name, created_at, updated_at or last_contacted_at; prefix - for descending (default -created_at)"),
           ("limit" = Option<i32>, Query, description = "Page size, 1–200 (default 50)"),
           ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page")),
    responses((status = 200, description = "A page of contact summaries", body = Page<ContactSummary>),
              (status = 422, description = "A bad parameter, named with its rule", body = Problem, content_type = "application/problem+json")))]
async fn list_contacts(
    api: &ContactsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::list(&api.contacts, caller, req).await
}

/// Share the contact with a user or a team of the tenant (S9.4).
#[utoipa::path(post, path = "/contacts/{id}/shares", tag = "contacts", request_body = ShareInput,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The contact", body = Contact, headers(("ETag" = String))),
              (status = 403, description = "The role cannot change contacts", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such contact visible to the caller", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "No such user or team", body = Problem, content_type = "application/problem+json")))]
async fn share_contact(
    api: &ContactsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::share(&api.contacts, caller, req).await
}

/// Stop sharing the contact with a user (`user:{id}`) or team (`team:{id}`).
#[utoipa::path(delete, path = "/contacts/{id}/shares/{principal}", tag = "contacts",
    params(("id" = uuid::Uuid, Path), ("principal" = String, Path, description = "`user:{user_id}` or `team:{team_id}`")),
    responses((status = 200, description = "The contact", body = Contact, headers(("ETag" = String))),
              (status = 404, description = "No such contact or share", body = Problem, content_type = "application/problem+json")))]
async fn unshare_contact(
    api: &ContactsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::unshare(&api.contacts, caller, req).await
}

/// Read one contact; its ETag is its version.
#[utoipa::path(get, path = "/contacts/{id}", tag = "contacts",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The contact", body = Contact, headers(("ETag" = String))),
              (status = 404, description = "No such contact visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn get_contact(
    api: &ContactsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::get(&api.contacts, caller, req).await
}

/// Change some fields (JSON merge patch); `If-Match` guards against lost updates.
#[utoipa::path(patch, path = "/contacts/{id}", tag = "contacts", request_body = ContactPatch,
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag from a GET")),
    responses((status = 200, description = "The changed contact", body = Contact, headers(("ETag" = String))),
              (status = 404, description = "No such contact visible to the caller", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn patch_contact(
    api: &ContactsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::patch(&api.contacts, caller, req).await
}

/// Move a contact to the trash: it disappears from reads and lists, its email is free again,
/// and `POST /contacts/{id}/restore` brings it back within 30 days; then it is gone.
#[utoipa::path(delete, path = "/contacts/{id}", tag = "contacts",
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag from a GET")),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such contact visible to the caller", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json")))]
async fn delete_contact(
    api: &ContactsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::delete(&api.contacts, caller, req).await
}

/// The contact's audit trail, newest first: who changed which field from what to what (S6.5).
#[utoipa::path(get, path = "/contacts/{id}/history", tag = "contacts",
    params(("id" = uuid::Uuid, Path),
           ("limit" = Option<i32>, Query, description = "Page size, 1–200 (default 50)"),
           ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page")),
    responses((status = 200, description = "A page of audit entries", body = Page<AuditEntry>),
              (status = 404, description = "No such contact visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn contact_history(
    api: &ContactsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::history(&api.contacts, caller, req).await
}

/// Everything held about one contact, as JSON: the record, its audit trail and its workflow
/// runs (S1.2, GDPR data export).
#[utoipa::path(get, path = "/contacts/{id}/export", tag = "contacts",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "All data held on the contact", body = ContactExport),
              (status = 404, description = "No such contact visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn export_contact(
    api: &ContactsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let export =
        crm_shared::privacy::export_contact(&api.catalog, caller, path_id(req, "id")?).await?;
    // Custom field values in their plain shape, only those the caller may see.
    let body = api.contacts.present_all(caller, &export).await?;
    Ok(json_response(StatusCode::OK, &body, None))
}

/// Take a deleted contact out of the trash (within 30 days of the delete).
#[utoipa::path(post, path = "/contacts/{id}/restore", tag = "contacts",
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, description = "The restored contact", body = Contact, headers(("ETag" = String))),
              (status = 404, description = "No such contact, or deleted too long ago", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Its email now belongs to another contact", body = Problem, content_type = "application/problem+json")))]
async fn restore_contact(
    api: &ContactsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::restore(&api.contacts, caller, req).await
}

/// Erase a contact and everything about them for good (GDPR); owners and admins only.
#[utoipa::path(post, path = "/contacts/{id}/erase", tag = "contacts",
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 204, description = "Erased"),
              (status = 403, description = "Only owners and admins erase", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such contact visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn erase_contact(
    api: &ContactsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let mail = api.deps.inbox_objects();
    let mail = mail
        .as_ref()
        .map(|m| m as &dyn crm_shared::inbox::MailObjects);
    crm_shared::privacy::erase_contact(&api.catalog, caller, path_id(req, "id")?, mail).await?;
    Ok(no_content())
}

/// The contact's clients with the contact's role at each (S1.5).
#[utoipa::path(get, path = "/contacts/{id}/clients", tag = "contacts",
    params(("id" = uuid::Uuid, Path), ("limit" = Option<i32>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, description = "A page of links", body = Page<ClientLink>),
              (status = 404, description = "No such contact", body = Problem, content_type = "application/problem+json")))]
async fn list_contact_clients(
    api: &ContactsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (limit, cursor) = page_params(req)?;
    let page = links::clients_of_contact(
        &api.catalog,
        caller,
        path_id(req, "id")?,
        limit,
        cursor.as_deref(),
    )
    .await?;
    Ok(json_response(StatusCode::OK, &page, None))
}

/// Link the contact to a client with a role; `primary: true` makes it the contact's primary client.
#[utoipa::path(put, path = "/contacts/{id}/clients/{client_id}", tag = "contacts", request_body = LinkInput,
    params(("id" = uuid::Uuid, Path), ("client_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The link", body = ClientLink),
              (status = 404, description = "No such contact or client", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "The contact changed meanwhile; retry", body = Problem, content_type = "application/problem+json")))]
async fn link_client(
    api: &ContactsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (contact, client) = (path_id(req, "id")?, path_id(req, "client_id")?);
    let link = links::set_link(&api.catalog, caller, contact, client, json_body(req)?).await?;
    Ok(json_response(StatusCode::OK, &link, None))
}

/// Remove the link between the contact and a client.
#[utoipa::path(delete, path = "/contacts/{id}/clients/{client_id}", tag = "contacts",
    params(("id" = uuid::Uuid, Path), ("client_id" = uuid::Uuid, Path)),
    responses((status = 204, description = "Unlinked"),
              (status = 404, description = "No such link", body = Problem, content_type = "application/problem+json")))]
async fn unlink_client(
    api: &ContactsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    links::remove_link(
        &api.catalog,
        caller,
        path_id(req, "id")?,
        path_id(req, "client_id")?,
    )
    .await?;
    Ok(no_content())
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_contact,
    list_contacts,
    share_contact,
    unshare_contact,
    get_contact,
    patch_contact,
    delete_contact,
    contact_history,
    export_contact,
    restore_contact,
    erase_contact,
    list_contact_clients,
    link_client,
    unlink_client
))]
pub struct ContactsDoc;
