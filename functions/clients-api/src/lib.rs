//! `clients-api`: client companies and their hierarchy (S2). Parse, call `crm_shared::clients`, answer.

use api_kit::records;
use api_kit::{Problem, idempotent, json_response, page_params, path_id};
use crm_shared::access::visibility::ShareInput;
use crm_shared::audit::AuditEntry;
use crm_shared::catalog::Catalog;
use crm_shared::clients::{self, Client, ClientFields, ClientPatch, ClientTree, Clients};
use crm_shared::links::ClientLink;
use crm_shared::pagination::Page;
use crm_shared::{Caller, CrmError, Deps};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub struct ClientsApi {
    deps: Deps,
    catalog: Catalog,
    clients: Clients,
}

impl ClientsApi {
    pub fn new(deps: Deps) -> Self {
        let catalog = deps.catalog();
        Self {
            clients: catalog.clients(),
            catalog,
            deps,
        }
    }
}

impl api_kit::Routes for ClientsApi {
    async fn route(
        &self,
        route: &str,
        caller: &Caller,
        req: &Request,
    ) -> Result<Response<Body>, CrmError> {
        match route {
            "POST /clients" => {
                Ok(idempotent(&self.deps, caller, req, || create_client(self, caller, req)).await)
            }
            "GET /clients" => list_clients(self, caller, req).await,
            "GET /clients/{id}" => get_client(self, caller, req).await,
            "PATCH /clients/{id}" => patch_client(self, caller, req).await,
            "DELETE /clients/{id}" => delete_client(self, caller, req).await,
            "GET /clients/{id}/subsidiaries" => list_subsidiaries(self, caller, req).await,
            "GET /clients/{id}/hierarchy" => client_hierarchy(self, caller, req).await,
            "GET /clients/{id}/contacts" => list_client_contacts(self, caller, req).await,
            "GET /clients/{id}/history" => client_history(self, caller, req).await,
            "POST /clients/{id}/shares" => share_client(self, caller, req).await,
            "DELETE /clients/{id}/shares/{principal}" => unshare_client(self, caller, req).await,
            _ => Ok(api_kit::unknown_route()),
        }
    }

    fn deps(&self) -> &Deps {
        &self.deps
    }
}

/// Create a client company (S2.1–S2.4).
#[utoipa::path(post, path = "/clients", tag = "clients", request_body = ClientFields,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, description = "Created", body = Client, headers(("ETag" = String), ("Location" = String))),
              (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule (incl. a parent that would close a cycle)", body = Problem, content_type = "application/problem+json")))]
async fn create_client(
    api: &ClientsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::create(&api.clients, caller, req).await
}

/// List clients, newest first, cursor-paginated; filtered and sorted by custom fields with
/// `cf.{key}=v`, `cf.{key}[op]=v` (`eq ne lt gt lte gte contains in empty`) and
/// `sort=cf.{key}` / `-cf.{key}` (S3.5). A page can come back short with a `next_cursor`.
#[utoipa::path(get, path = "/clients", tag = "clients",
    params(("cf.{key}" = Option<String>, Query, description = "A custom field filter; `cf.{key}[op]` for other operators"),
           ("sort" = Option<String>, Query, description = "`cf.{key}` or `-cf.{key}`; default newest first"),
           ("limit" = Option<i32>, Query, description = "Page size, 1–200 (default 50)"),
           ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page")),
    responses((status = 200, description = "A page of clients", body = Page<Client>),
              (status = 422, description = "A bad parameter, named with its rule", body = Problem, content_type = "application/problem+json")))]
async fn list_clients(
    api: &ClientsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::list(&api.clients, caller, req).await
}

#[utoipa::path(get, path = "/clients/{id}", tag = "clients", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The client", body = Client, headers(("ETag" = String))),
              (status = 404, description = "No such client visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn get_client(
    api: &ClientsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::get(&api.clients, caller, req).await
}

/// Change some fields (JSON merge patch; nested objects are replaced whole).
#[utoipa::path(patch, path = "/clients/{id}", tag = "clients", request_body = ClientPatch,
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "The changed client", body = Client),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn patch_client(
    api: &ClientsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::patch(&api.clients, caller, req).await
}

/// Delete a client without subsidiaries.
#[utoipa::path(delete, path = "/clients/{id}", tag = "clients",
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The client has subsidiaries", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json")))]
async fn delete_client(
    api: &ClientsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::delete(&api.clients, caller, req).await
}

/// Direct subsidiaries of a client (S2.2).
#[utoipa::path(get, path = "/clients/{id}/subsidiaries", tag = "clients",
    params(("id" = uuid::Uuid, Path), ("limit" = Option<i32>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, description = "A page of subsidiaries", body = Page<Client>),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json")))]
async fn list_subsidiaries(
    api: &ClientsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (limit, cursor) = page_params(req)?;
    let page = clients::subsidiaries(
        &api.clients,
        caller,
        path_id(req, "id")?,
        limit,
        cursor.as_deref(),
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &api.clients.present_all(caller, &page).await?,
        None,
    ))
}

/// The roll-up: the client with all subsidiaries below it (at most 1000 clients).
#[utoipa::path(get, path = "/clients/{id}/hierarchy", tag = "clients", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The client's subtree", body = ClientTree),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json")))]
async fn client_hierarchy(
    api: &ClientsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let tree = clients::hierarchy(&api.clients, caller, path_id(req, "id")?).await?;
    Ok(json_response(
        StatusCode::OK,
        &api.clients.present_all(caller, &tree).await?,
        None,
    ))
}

/// The client's contacts with their role there (S1.5).
#[utoipa::path(get, path = "/clients/{id}/contacts", tag = "clients",
    params(("id" = uuid::Uuid, Path), ("limit" = Option<i32>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, description = "A page of links", body = Page<ClientLink>),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json")))]
async fn list_client_contacts(
    api: &ClientsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (limit, cursor) = page_params(req)?;
    let page = crm_shared::links::contacts_of_client(
        &api.catalog,
        caller,
        path_id(req, "id")?,
        limit,
        cursor.as_deref(),
    )
    .await?;
    Ok(json_response(StatusCode::OK, &page, None))
}

/// The client's audit trail, newest first: who changed which field from what to what (S6.5).
/// Kept after a delete, for owners and admins.
#[utoipa::path(get, path = "/clients/{id}/history", tag = "clients",
    params(("id" = uuid::Uuid, Path),
           ("limit" = Option<i32>, Query, description = "Page size, 1–200 (default 50)"),
           ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page")),
    responses((status = 200, description = "A page of audit entries", body = Page<AuditEntry>),
              (status = 404, description = "No such client visible to the caller (after a delete: unless owner or admin)", body = Problem, content_type = "application/problem+json")))]
async fn client_history(
    api: &ClientsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::history(&api.clients, caller, req).await
}

/// Share the client with a user or a team of the tenant (S9.4).
#[utoipa::path(post, path = "/clients/{id}/shares", tag = "clients", request_body = ShareInput,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The client", body = Client, headers(("ETag" = String))),
              (status = 403, description = "The role cannot change clients", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such client visible to the caller", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "No such user or team", body = Problem, content_type = "application/problem+json")))]
async fn share_client(
    api: &ClientsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::share(&api.clients, caller, req).await
}

/// Stop sharing the client with a user (`user:{id}`) or team (`team:{id}`).
#[utoipa::path(delete, path = "/clients/{id}/shares/{principal}", tag = "clients",
    params(("id" = uuid::Uuid, Path), ("principal" = String, Path, description = "`user:{user_id}` or `team:{team_id}`")),
    responses((status = 200, description = "The client", body = Client, headers(("ETag" = String))),
              (status = 404, description = "No such client or share", body = Problem, content_type = "application/problem+json")))]
async fn unshare_client(
    api: &ClientsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    records::unshare(&api.clients, caller, req).await
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_client,
    list_clients,
    share_client,
    unshare_client,
    get_client,
    patch_client,
    delete_client,
    list_subsidiaries,
    client_hierarchy,
    list_client_contacts,
    client_history
))]
pub struct ClientsDoc;
