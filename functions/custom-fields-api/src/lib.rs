//! `custom-fields-api`: the definitions of custom fields and their groups (S3.1–S3.4). Owners
//! and admins define; every other role but portal users reads the fields it may see. Parse,
//! call `crm_shared::custom_fields::admin`, answer.

use api_kit::{Problem, if_match, json_body, json_response, path_param};
use crm_shared::custom_fields::admin::{self, ChangeOutcome};
use crm_shared::custom_fields::store::FieldStore;
use crm_shared::custom_fields::{Entity, FieldDefinition, NewFieldDefinition, NewFieldGroup};
use crm_shared::{Caller, CrmError, Deps, FieldError};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

pub struct CustomFieldsApi {
    deps: Deps,
    store: FieldStore,
    catalog: crm_shared::catalog::Catalog,
}

impl CustomFieldsApi {
    pub fn new(deps: Deps) -> Self {
        Self {
            store: FieldStore::new(deps.table()),
            catalog: deps.catalog(),
            deps,
        }
    }
}

impl api_kit::Routes for CustomFieldsApi {
    async fn route(
        &self,
        route: &str,
        caller: &Caller,
        req: &Request,
    ) -> Result<Response<Body>, CrmError> {
        // One arm per route of this function in template.yaml.
        match route {
            "GET /custom-fields" => list_fields(self, caller, req).await,
            "POST /custom-fields" => create_field(self, caller, req).await,
            "GET /custom-fields/{entity}/{key}" => get_field(self, caller, req).await,
            "PATCH /custom-fields/{entity}/{key}" => change_field(self, caller, req).await,
            "POST /custom-field-groups" => create_group(self, caller, req).await,
            "PATCH /custom-field-groups/{entity}/{key}" => change_group(self, caller, req).await,
            _ => Ok(api_kit::unknown_route()),
        }
    }

    fn deps(&self) -> &Deps {
        &self.deps
    }
}

fn entity(raw: Option<String>, name: &str) -> Result<Entity, CrmError> {
    match raw.as_deref().and_then(Entity::parse) {
        Some(entity) => Ok(entity),
        None => Err(CrmError::Validation(vec![FieldError::new(
            name,
            "one_of",
            "must be contact, client or deal",
        )])),
    }
}

/// The `{entity}/{key}` of a path; an unknown entity names nothing: 404.
fn entity_and_key(req: &Request) -> Result<(Entity, String), CrmError> {
    let entity = entity(path_param(req, "entity"), "entity").map_err(|_| CrmError::NotFound)?;
    let key = path_param(req, "key").ok_or(CrmError::NotFound)?;
    Ok((entity, key))
}

fn definition_response(status: StatusCode, def: &FieldDefinition) -> Response<Body> {
    json_response(status, &def.to_json(), Some(format!("\"{}\"", def.version)))
}

/// An entity's custom fields and groups, ordered, as the caller may see them: the field
/// catalogue forms, import mapping, export columns and workflow conditions are built from.
#[utoipa::path(get, path = "/custom-fields", tag = "custom fields",
    params(("entity" = String, Query, description = "contact, client or deal")),
    responses((status = 200, description = "`{\"fields\": [...], \"groups\": [...]}`", body = Object),
              (status = 403, description = "Portal users cannot read definitions", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "No or unknown entity", body = Problem, content_type = "application/problem+json")))]
async fn list_fields(
    api: &CustomFieldsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let entity = entity(api_kit::query_param(req, "entity"), "entity")?;
    let schema = admin::schema(&api.store, caller, entity).await?;
    let body = json!({
        "entity": entity.as_str(),
        "fields": schema.fields.iter().map(FieldDefinition::to_json).collect::<Vec<Value>>(),
        "groups": schema.groups,
    });
    Ok(json_response(StatusCode::OK, &body, None))
}

/// Define a custom field (owners and admins). Body: `key` (`^[a-z][a-z0-9_]{0,39}$`, unique per
/// entity, never changes), `entity`, `label`, `type` (`{"kind": "decimal", "scale": 2, "min":
/// "0"}`, …), `help_text`, `required`, `default`, `order`, `group`, `visibility` (`{"kind":
/// "all"}` or `{"kind": "restricted", "teams": [...], "roles": [...]}`), `archived`.
#[utoipa::path(post, path = "/custom-fields", tag = "custom fields", request_body = NewFieldDefinition,
    responses((status = 201, description = "The definition", body = Object, headers(("ETag" = String))),
              (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Only owners and admins define fields", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "A field with this key exists", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A rule of the definition is broken, named with its rule", body = Problem, content_type = "application/problem+json")))]
async fn create_field(
    api: &CustomFieldsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    admin::require_admin(caller)?;
    let input: NewFieldDefinition = json_body(req)?;
    let def = admin::create(&api.store, caller, input).await?;
    Ok(definition_response(StatusCode::CREATED, &def))
}

#[utoipa::path(get, path = "/custom-fields/{entity}/{key}", tag = "custom fields",
    params(("entity" = String, Path), ("key" = String, Path)),
    responses((status = 200, description = "The definition", body = Object, headers(("ETag" = String))),
              (status = 404, description = "No such field visible to the caller", body = Problem, content_type = "application/problem+json")))]
async fn get_field(
    api: &CustomFieldsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (entity, key) = entity_and_key(req)?;
    let def = admin::get(&api.store, caller, entity, &key).await?;
    Ok(definition_response(StatusCode::OK, &def))
}

/// Change a field (JSON merge patch over the definition; `options` is replaced whole, and an
/// option keeps its id, so a new label is a rename that touches no record). A change that
/// would orphan or invalidate stored values (a type change, a removed option, a narrower
/// rule) is refused with 409 and `affected_records`, unless every stored value converts: then
/// the values are migrated and `migrated_records` says how many. Removed options can be mapped
/// with `"option_mapping": {"old_id": "new_id" | null}`. `archived: true` keeps every value.
#[utoipa::path(patch, path = "/custom-fields/{entity}/{key}", tag = "custom fields", request_body = Object,
    params(("entity" = String, Path), ("key" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "The changed definition and the records migrated", body = ChangeOutcome),
              (status = 403, description = "Only owners and admins change fields", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such field", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Stored values would not survive; `affected_records` counts them", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A rule of the changed definition is broken", body = Problem, content_type = "application/problem+json")))]
async fn change_field(
    api: &CustomFieldsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    admin::require_admin(caller)?;
    let (entity, key) = entity_and_key(req)?;
    let expected = if_match(req)?;
    let patch: serde_json::Map<String, Value> = json_body(req)?;
    let outcome: ChangeOutcome = admin::change(
        &api.store,
        &api.catalog,
        caller,
        entity,
        &key,
        patch,
        expected,
    )
    .await?;
    let etag = outcome
        .definition
        .get("version")
        .map(|v| format!("\"{v}\""));
    Ok(json_response(StatusCode::OK, &outcome, etag))
}

/// Create a group (section) fields are shown in, ordered within its entity; `teams` scopes it
/// to the teams it is for (S3.4).
#[utoipa::path(post, path = "/custom-field-groups", tag = "custom fields", request_body = NewFieldGroup,
    responses((status = 201, description = "The group", body = Object),
              (status = 403, description = "Only owners and admins define groups", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "A group with this key exists", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A rule is broken", body = Problem, content_type = "application/problem+json")))]
async fn create_group(
    api: &CustomFieldsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    admin::require_admin(caller)?;
    let input: NewFieldGroup = json_body(req)?;
    let group = admin::create_group(&api.store, caller, input).await?;
    Ok(json_response(StatusCode::CREATED, &group, None))
}

/// Rename, reorder or re-scope a group (merge patch of `label`, `order`, `teams`).
#[utoipa::path(patch, path = "/custom-field-groups/{entity}/{key}", tag = "custom fields", request_body = Object,
    params(("entity" = String, Path), ("key" = String, Path)),
    responses((status = 200, description = "The group", body = Object),
              (status = 400, description = "Another attribute than label, order, teams", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Only owners and admins change groups", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A rule is broken", body = Problem, content_type = "application/problem+json")))]
async fn change_group(
    api: &CustomFieldsApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    admin::require_admin(caller)?;
    let (entity, key) = entity_and_key(req)?;
    let patch: serde_json::Map<String, Value> = json_body(req)?;
    let group = admin::change_group(&api.store, caller, entity, &key, patch).await?;
    Ok(json_response(StatusCode::OK, &group, None))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_fields,
    create_field,
    get_field,
    change_field,
    create_group,
    change_group
))]
pub struct CustomFieldsDoc;
