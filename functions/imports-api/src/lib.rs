//! `imports-api`: start an import (presigned upload) and read its progress (S5).

use api_kit::{Problem, idempotent, json_body, json_response, path_id};
use crm_shared::imports::templates::{
    ImportTemplate, ImportTemplatePatch, ImportTemplates, NewImportTemplate,
};
use crm_shared::imports::{self, Import, ImportCreated, NewImport};
use crm_shared::store::openapi::LinkOperationIds;
use crm_shared::{Caller, CrmError, Deps};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub struct ImportsApi {
    deps: Deps,
    table: crm_shared::store::Table,
    catalog: crm_shared::catalog::Catalog,
    uploads: imports::S3Uploads,
    queue: Option<crm_shared::store::queue::SqsQueue>,
    jobs: crm_shared::jobs::Jobs,
    export_files: crm_shared::exports::S3ExportFiles,
}

impl ImportsApi {
    pub fn new(deps: Deps) -> Self {
        Self {
            table: deps.table(),
            catalog: deps.catalog(),
            uploads: deps.uploads(),
            queue: deps.import_queue(),
            jobs: deps.jobs(),
            export_files: deps.export_files(),
            deps,
        }
    }
}

impl api_kit::Routes for ImportsApi {
    async fn route(
        &self,
        route: &str,
        caller: &Caller,
        req: &Request,
    ) -> Result<Response<Body>, CrmError> {
        match route {
            "POST /imports" => {
                Ok(idempotent(&self.deps, caller, req, || create_import(self, caller, req)).await)
            }
            "GET /imports/{id}" => get_import(self, caller, req).await,
            "GET /imports" => list_imports(self, caller, req).await,
            "POST /imports/{id}/cancel" => cancel_import(self, caller, req).await,
            "GET /imports/{id}/errors" => import_errors(self, caller, req).await,
            "GET /imports/{id}/preview" => preview_import(self, caller, req).await,
            "POST /imports/{id}/start" => start_import(self, caller, req).await,
            "POST /imports/{id}/undo" => undo_import(self, caller, req).await,
            "POST /exports" => create_export(self, caller, req).await,
            "GET /exports/{id}" => get_export(self, caller, req).await,
            "POST /import-templates" => create_template(self, caller, req).await,
            "GET /import-templates" => list_templates(self, caller).await,
            "GET /import-templates/{id}" => get_template(self, caller, req).await,
            "PATCH /import-templates/{id}" => patch_template(self, caller, req).await,
            "DELETE /import-templates/{id}" => delete_template(self, caller, req).await,
            _ => Ok(api_kit::unknown_route()),
        }
    }

    fn deps(&self) -> &Deps {
        &self.deps
    }
}

/// Start a contact import: returns the import and a presigned PUT for the file (S5.1). Uploading
/// the file starts the processing (`queued`, then `running` chunk by chunk); follow it with
/// `GET /imports/{id}`. `mode` says what rows whose email belongs to a contact do (S5.3).
#[utoipa::path(post, path = "/imports", tag = "imports", request_body = NewImport,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and request replays the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, description = "Import created; upload the file to `upload.url`", body = ImportCreated,
                links(("GetImport" = (operation_id = "get_import", parameters(("id" = "$response.body#/import/id")))),
                  ("CancelImport" = (operation_id = "cancel_import", parameters(("id" = "$response.body#/import/id")))),
                  ("PreviewImport" = (operation_id = "preview_import", parameters(("id" = "$response.body#/import/id")))),
                  ("StartImport" = (operation_id = "start_import", parameters(("id" = "$response.body#/import/id")))),
                  ("ImportErrors" = (operation_id = "import_errors", parameters(("id" = "$response.body#/import/id")))),
                  ("UndoImport" = (operation_id = "undo_import", parameters(("id" = "$response.body#/import/id")))))),
              (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn create_import(
    api: &ImportsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let input: NewImport = json_body(req)?;
    let created = imports::start(&api.catalog, &api.uploads, caller, input).await?;
    let etag = format!("\"{}\"", created.import.version);
    Ok(json_response(StatusCode::CREATED, &created, Some(etag)))
}

/// An import with its status, counts and row errors (S5.5).
#[utoipa::path(get, path = "/imports/{id}", tag = "imports", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The import", body = Import),
              (status = 404, description = "No such import visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn get_import(
    api: &ImportsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let import = imports::get(&api.table, caller, path_id(req, "id")?).await?;
    let etag = format!("\"{}\"", import.version);
    Ok(json_response(StatusCode::OK, &import, Some(etag)))
}

/// The tenant's imports, newest first, cursor-paginated (S5.5).
#[utoipa::path(get, path = "/imports", tag = "imports",
    params(crm_shared::store::openapi::PageQuery),
    responses((status = 200, description = "A page of imports", body = crm_shared::pagination::Page<Import>),
              (status = 422, description = "A bad parameter, named with its rule", body = Problem, content_type = "application/problem+json")))]
async fn list_imports(
    api: &ImportsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (limit, cursor) = api_kit::page_params(req)?;
    let page = imports::list(&api.table, caller, limit, cursor.as_deref()).await?;
    Ok(json_response(StatusCode::OK, &page, None))
}

/// Stop an import before its next chunk (S5.5): rows already written stay and are counted.
/// Cancelling a cancelled import answers it again.
#[utoipa::path(post, path = "/imports/{id}/cancel", tag = "imports", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The import, cancelled", body = Import),
              (status = 404, description = "No such import visible to the caller", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The import has finished", body = Problem, content_type = "application/problem+json")))]
async fn cancel_import(
    api: &ImportsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let import = imports::cancel(&api.table, caller, path_id(req, "id")?).await?;
    let etag = format!("\"{}\"", import.version);
    Ok(json_response(StatusCode::OK, &import, Some(etag)))
}

/// A presigned download (5 minutes) of the import's errors file: the failed and skipped rows as
/// they were in the file, with a last column `Import errors` naming each reason; fix the rows
/// and import the file again (S5.5). Written when the import ends.
#[utoipa::path(get, path = "/imports/{id}/errors", tag = "imports", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Where to download the errors file", body = imports::ErrorsDownload),
              (status = 404, description = "No such import visible to the caller", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The import has not ended, or its file was refused whole", body = Problem, content_type = "application/problem+json")))]
async fn import_errors(
    api: &ImportsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let download =
        imports::errors_download(&api.table, &api.uploads, caller, path_id(req, "id")?).await?;
    Ok(json_response(StatusCode::OK, &download, None))
}

/// What was detected in the uploaded file, each column with its target (as mapped, else
/// suggested: English and German names, the headers of HubSpot, Salesforce, Pipedrive and
/// LinkedIn exports, custom fields by key, `cf.key` or label) and why, and the first 20 rows
/// with every cell checked as the import would check it (S5.2).
#[utoipa::path(get, path = "/imports/{id}/preview", tag = "imports", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The preview", body = imports::Preview),
              (status = 404, description = "No such import visible to the caller", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The file is not there yet, or was refused", body = Problem, content_type = "application/problem+json")))]
async fn preview_import(
    api: &ImportsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let preview =
        imports::start::preview(&api.catalog, &api.uploads, caller, path_id(req, "id")?).await?;
    Ok(json_response(StatusCode::OK, &preview, None))
}

/// Start an `uploaded` import with a mapping (each column to a standard field, `cf.{key}`, or
/// `ignore`; several email or phone columns fill the lists; a tag column's separator; the
/// order of slashed dates) or the one the preview suggests, and a mode (S5.2, S5.3).
#[utoipa::path(post, path = "/imports/{id}/start", tag = "imports", params(("id" = uuid::Uuid, Path)),
    request_body = imports::StartImport,
    responses((status = 200, description = "The import, queued", body = Import),
              (status = 404, description = "No such import visible to the caller", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The import is not `uploaded`", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "The mapping does not fit the file, naming each mistake", body = Problem, content_type = "application/problem+json")))]
async fn start_import(
    api: &ImportsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let input: imports::StartImport = json_body(req)?;
    let queue = api
        .queue
        .as_ref()
        .ok_or_else(|| CrmError::Internal("missing configuration IMPORT_QUEUE_URL".into()))?;
    let import =
        imports::start::start_import(&api.catalog, queue, caller, path_id(req, "id")?, input)
            .await?;
    let etag = format!("\"{}\"", import.version);
    Ok(json_response(StatusCode::OK, &import, Some(etag)))
}

/// Undo a completed or cancelled import (S5.5): the contacts it created go to the trash, the
/// ones it updated get their values from before it back; a contact changed since is left as
/// it is and reported (`undo.left_rows`). Runs in the background: follow `GET /imports/{id}`
/// until `undone`. Asking again answers the same undo.
#[utoipa::path(post, path = "/imports/{id}/undo", tag = "imports", params(("id" = uuid::Uuid, Path)),
    responses((status = 202, description = "The import, undoing", body = Import),
              (status = 404, description = "No such import visible to the caller", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The import is still running, or was refused", body = Problem, content_type = "application/problem+json")))]
async fn undo_import(
    api: &ImportsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let queue = api
        .queue
        .as_ref()
        .ok_or_else(|| CrmError::Internal("missing configuration IMPORT_QUEUE_URL".into()))?;
    let import =
        imports::undo::request_undo(&api.catalog, queue, caller, path_id(req, "id")?).await?;
    let etag = format!("\"{}\"", import.version);
    Ok(json_response(StatusCode::ACCEPTED, &import, Some(etag)))
}

/// Export the caller's visible contacts or clients (S5.4) as CSV or `.xlsx`: the columns
/// (default: every standard column and every custom field the caller may see) and the list
/// filters of `GET /contacts` / `GET /clients`. Runs as a job; follow `GET /exports/{id}`.
#[utoipa::path(post, path = "/exports", tag = "exports", request_body = crm_shared::exports::NewExport,
    responses((status = 202, description = "The export, queued", body = crm_shared::exports::Export,
                links(("GetExport" = (operation_id = "get_export", parameters(("id" = "$response.body#/id")))))),
              (status = 403, description = "The caller may not read these records", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A column or filter breaks a rule, named", body = Problem, content_type = "application/problem+json")))]
async fn create_export(
    api: &ImportsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let input: crm_shared::exports::NewExport = json_body(req)?;
    let export = crm_shared::exports::start(&api.catalog, &api.jobs, caller, input).await?;
    let mut response = json_response(StatusCode::ACCEPTED, &export, None);
    if let Ok(location) = format!("/exports/{}", export.id).parse() {
        response.headers_mut().insert("location", location);
    }
    Ok(response)
}

/// An export: its status and, once completed, a presigned download (5 minutes; a fresh one on
/// every read). Its requester, owners and admins see it.
#[utoipa::path(get, path = "/exports/{id}", tag = "exports", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The export", body = crm_shared::exports::Export),
              (status = 404, description = "No such export visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn get_export(
    api: &ImportsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let export =
        crm_shared::exports::get(&api.jobs, &api.export_files, caller, path_id(req, "id")?).await?;
    Ok(json_response(StatusCode::OK, &export, None))
}

fn template_response(status: StatusCode, t: &ImportTemplate) -> Response<Body> {
    json_response(status, t, Some(format!("\"{}\"", t.version)))
}

/// Save a mapping and a mode as a named import template (S5.2); name it at `POST /imports` or
/// `POST /imports/{id}/start` as `template`. Names are unique per tenant.
#[utoipa::path(post, path = "/import-templates", operation_id = "create_import_template", tag = "imports", request_body = NewImportTemplate,
    responses((status = 201, description = "The template", body = ImportTemplate,
                links(("GetImportTemplate" = (operation_id = "get_import_template", parameters(("id" = "$response.body#/id")))),
                  ("PatchImportTemplate" = (operation_id = "patch_import_template", parameters(("id" = "$response.body#/id")))),
                  ("DeleteImportTemplate" = (operation_id = "delete_import_template", parameters(("id" = "$response.body#/id")))))),
              (status = 409, description = "Another template has this name", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field or a mapping target breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn create_template(
    api: &ImportsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let input: NewImportTemplate = json_body(req)?;
    let t = ImportTemplates::new(&api.catalog)
        .create(caller, input)
        .await?;
    Ok(template_response(StatusCode::CREATED, &t))
}

/// Body of `GET /import-templates`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ImportTemplateList {
    pub items: Vec<ImportTemplate>,
}

/// The tenant's import templates, by name.
#[utoipa::path(get, path = "/import-templates", operation_id = "list_import_templates", tag = "imports",
    responses((status = 200, description = "The templates", body = ImportTemplateList)))]
async fn list_templates(api: &ImportsApi, caller: &Caller) -> Result<Response<Body>, CrmError> {
    let items = ImportTemplates::new(&api.catalog).list(caller).await?;
    Ok(json_response(
        StatusCode::OK,
        &ImportTemplateList { items },
        None,
    ))
}

/// One import template.
#[utoipa::path(get, path = "/import-templates/{id}", operation_id = "get_import_template", tag = "imports", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The template", body = ImportTemplate),
              (status = 404, description = "No such template", body = Problem, content_type = "application/problem+json")))]
async fn get_template(
    api: &ImportsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let t = ImportTemplates::new(&api.catalog)
        .get(caller, path_id(req, "id")?)
        .await?;
    Ok(template_response(StatusCode::OK, &t))
}

/// Change an import template's name, mapping or mode (merge patch; `If-Match` optional).
#[utoipa::path(patch, path = "/import-templates/{id}", operation_id = "patch_import_template", tag = "imports", params(("id" = uuid::Uuid, Path)),
    request_body = ImportTemplatePatch,
    responses((status = 200, description = "The template", body = ImportTemplate),
              (status = 404, description = "No such template", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Another template has this name", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Changed since the version in If-Match", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field or a mapping target breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn patch_template(
    api: &ImportsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let patch: ImportTemplatePatch = json_body(req)?;
    let t = ImportTemplates::new(&api.catalog)
        .patch(caller, path_id(req, "id")?, patch, api_kit::if_match(req)?)
        .await?;
    Ok(template_response(StatusCode::OK, &t))
}

/// Delete an import template (imports started with it keep their mapping).
#[utoipa::path(delete, path = "/import-templates/{id}", operation_id = "delete_import_template", tag = "imports", params(("id" = uuid::Uuid, Path)),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such template", body = Problem, content_type = "application/problem+json")))]
async fn delete_template(
    api: &ImportsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    ImportTemplates::new(&api.catalog)
        .delete(caller, path_id(req, "id")?)
        .await?;
    Ok(api_kit::no_content())
}

#[derive(utoipa::OpenApi)]
#[openapi(modifiers(&LinkOperationIds), paths(
    create_export,
    get_export,
    create_template,
    list_templates,
    get_template,
    patch_template,
    delete_template,
    create_import,
    get_import,
    list_imports,
    cancel_import,
    import_errors,
    preview_import,
    start_import,
    undo_import
))]
pub struct ImportsDoc;
