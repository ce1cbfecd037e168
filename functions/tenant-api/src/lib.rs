//! `tenant-api`: the tenant's own administration: its settings (S2.4: base currency and exchange
//! rates), its users and teams (S9.4). Parse, call `crm_shared`, answer.

use api_kit::{Problem, if_match, json_body, json_response, page_params, path_id, path_param};
use crm_shared::access::{Action, Policy, Subject};
use crm_shared::directory::{self, Directory, NewTeam, Team, TeamPatch, User, UserInput};
use crm_shared::pagination::Page;
use crm_shared::settings::{self, SettingsPatch, SettingsStore, TenantSettings};
use crm_shared::{Caller, CrmError, Deps};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub struct TenantApi {
    deps: Deps,
    settings: SettingsStore,
    directory: Directory,
}

impl TenantApi {
    pub fn new(deps: Deps) -> Self {
        Self {
            settings: SettingsStore::new(deps.table()),
            directory: Directory::new(deps.table()),
            deps,
        }
    }
}

impl api_kit::Routes for TenantApi {
    async fn route(
        &self,
        route: &str,
        caller: &Caller,
        req: &Request,
    ) -> Result<Response<Body>, CrmError> {
        // One arm per route of this function in template.yaml.
        match route {
            "GET /settings" => get_settings(self, caller).await,
            "PATCH /settings" => patch_settings(self, caller, req).await,
            "GET /me" => me(caller),
            "GET /users" => list_users(self, caller, req).await,
            "GET /users/{user_id}" => get_user(self, caller, req).await,
            "PUT /users/{user_id}" => put_user(self, caller, req).await,
            "GET /teams" => list_teams(self, caller, req).await,
            "POST /teams" => create_team(self, caller, req).await,
            "GET /teams/{id}" => get_team(self, caller, req).await,
            "PATCH /teams/{id}" => patch_team(self, caller, req).await,
            _ => Ok(api_kit::unknown_route()),
        }
    }

    fn deps(&self) -> &Deps {
        &self.deps
    }
}

fn settings_response(s: &TenantSettings) -> Response<Body> {
    json_response(StatusCode::OK, s, Some(s.etag()))
}

/// The tenant's base currency and exchange rates (S2.4); the defaults (EUR, no rates, version
/// 0) until an admin saves them. Every role but portal users may read them.
#[utoipa::path(get, path = "/settings", tag = "tenant",
    responses((status = 200, description = "The tenant's settings", body = TenantSettings, headers(("ETag" = String))),
              (status = 403, description = "Portal users cannot read the settings", body = Problem, content_type = "application/problem+json")))]
async fn get_settings(api: &TenantApi, caller: &Caller) -> Result<Response<Body>, CrmError> {
    Ok(settings_response(
        &settings::get(&api.settings, caller).await?,
    ))
}

/// Change the base currency and the rates (JSON merge patch; `exchange_rates` entries are set
/// with a decimal string and cleared with `null`). Owners and admins only. A rate says how many
/// units of the base currency one unit of its currency is worth, exactly (> 0, at most 12
/// decimals). The request that changes `base_currency` must restate or clear every rate it
/// keeps: rates are never carried over into another base.
#[utoipa::path(patch, path = "/settings", tag = "tenant", request_body = SettingsPatch,
    params(("If-Match" = Option<String>, Header, description = "The ETag (version) last read; \"0\" before the first save")),
    responses((status = 200, description = "The changed settings", body = TenantSettings, headers(("ETag" = String))),
              (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Only owners and admins change the settings", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule, e.g. `exchange_rates.USD` `rate`", body = Problem, content_type = "application/problem+json")))]
async fn patch_settings(
    api: &TenantApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    // The role decides before the body is read: a member gets 403 whatever they send.
    Policy::check(caller, Action::Write, Subject::Settings)?;
    let expected = if_match(req)?;
    let patch: SettingsPatch = json_body(req)?;
    Ok(settings_response(
        &settings::patch(&api.settings, caller, patch, expected).await?,
    ))
}

/// Who the caller is on this request: the role and teams the directory gives them.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Me {
    pub tenant_id: String,
    pub user_id: String,
    pub role: crm_shared::Role,
    pub teams: Vec<uuid::Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portal_client_id: Option<uuid::Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portal_contact_id: Option<uuid::Uuid>,
}

/// The caller as this request sees them (S9.4): a role changed by an admin shows here at once.
#[utoipa::path(get, path = "/me", tag = "tenant",
    responses((status = 200, description = "The caller", body = Me),
              (status = 403, description = "The caller's membership is deactivated", body = Problem, content_type = "application/problem+json")))]
fn me(caller: &Caller) -> Result<Response<Body>, CrmError> {
    let me = Me {
        tenant_id: caller.tenant_id.clone(),
        user_id: caller.user_id.clone(),
        role: caller.role,
        teams: caller.teams.clone(),
        portal_client_id: caller.portal_client_id,
        portal_contact_id: caller.portal_contact_id,
    };
    Ok(json_response(StatusCode::OK, &me, None))
}

fn user_id(req: &Request) -> Result<String, CrmError> {
    path_param(req, "user_id").ok_or(CrmError::NotFound)
}

/// The tenant's users, optionally only the members of one team (`?team=`).
#[utoipa::path(get, path = "/users", tag = "tenant",
    params(("team" = Option<uuid::Uuid>, Query), ("limit" = Option<i32>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, description = "A page of users", body = Page<User>)))]
async fn list_users(
    api: &TenantApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (limit, cursor) = page_params(req)?;
    let team = match api_kit::query_param(req, "team") {
        None => None,
        Some(t) => Some(
            t.parse()
                .map_err(|_| CrmError::validation("team", "uuid", "must be a UUID"))?,
        ),
    };
    let page =
        directory::list_users(&api.directory, caller, team, limit, cursor.as_deref()).await?;
    Ok(json_response(StatusCode::OK, &page, None))
}

#[utoipa::path(get, path = "/users/{user_id}", tag = "tenant",
    params(("user_id" = String, Path, description = "The identity provider's subject")),
    responses((status = 200, description = "The user", body = User, headers(("ETag" = String))),
              (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json")))]
async fn get_user(
    api: &TenantApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let user = directory::get_user(&api.directory, caller, &user_id(req)?).await?;
    Ok(json_response(
        StatusCode::OK,
        &user,
        Some(format!("\"{}\"", user.version)),
    ))
}

/// Add a member or change their role, teams or status (owners and admins; only an owner grants
/// or removes the owner role). Takes effect on the user's next request.
#[utoipa::path(put, path = "/users/{user_id}", tag = "tenant", request_body = UserInput,
    params(("user_id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "The user", body = User, headers(("ETag" = String))),
              (status = 403, description = "Only owners and admins manage users", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Changing one's own role or status", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule (unknown team, portal user without client, …)", body = Problem, content_type = "application/problem+json")))]
async fn put_user(
    api: &TenantApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let id = user_id(req)?;
    let expected = if_match(req)?;
    let input: UserInput = json_body(req)?;
    let user = directory::put_user(&api.directory, caller, &id, input, expected).await?;
    Ok(json_response(
        StatusCode::OK,
        &user,
        Some(format!("\"{}\"", user.version)),
    ))
}

#[utoipa::path(get, path = "/teams", tag = "tenant",
    params(("limit" = Option<i32>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, description = "A page of teams", body = Page<Team>)))]
async fn list_teams(
    api: &TenantApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (limit, cursor) = page_params(req)?;
    let page = directory::list_teams(&api.directory, caller, limit, cursor.as_deref()).await?;
    Ok(json_response(StatusCode::OK, &page, None))
}

/// Create a team (owners and admins).
#[utoipa::path(post, path = "/teams", tag = "tenant", request_body = NewTeam,
    responses((status = 201, description = "The team", body = Team, headers(("ETag" = String))),
              (status = 403, description = "Only owners and admins manage teams", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json")))]
async fn create_team(
    api: &TenantApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let input: NewTeam = json_body(req)?;
    let team = directory::create_team(&api.directory, caller, input).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &team,
        Some(format!("\"{}\"", team.version)),
    ))
}

#[utoipa::path(get, path = "/teams/{id}", tag = "tenant",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The team", body = Team, headers(("ETag" = String))),
              (status = 404, description = "No such team", body = Problem, content_type = "application/problem+json")))]
async fn get_team(
    api: &TenantApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let team = directory::get_team(&api.directory, caller, path_id(req, "id")?).await?;
    Ok(json_response(
        StatusCode::OK,
        &team,
        Some(format!("\"{}\"", team.version)),
    ))
}

/// Rename a team or change its description (owners and admins).
#[utoipa::path(patch, path = "/teams/{id}", tag = "tenant", request_body = TeamPatch,
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "The team", body = Team, headers(("ETag" = String))),
              (status = 403, description = "Only owners and admins manage teams", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json")))]
async fn patch_team(
    api: &TenantApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let id = path_id(req, "id")?;
    let expected = if_match(req)?;
    let patch: TeamPatch = json_body(req)?;
    let team = directory::patch_team(&api.directory, caller, id, patch, expected).await?;
    Ok(json_response(
        StatusCode::OK,
        &team,
        Some(format!("\"{}\"", team.version)),
    ))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    get_settings,
    patch_settings,
    me,
    list_users,
    get_user,
    put_user,
    list_teams,
    create_team,
    get_team,
    patch_team
))]
pub struct TenantDoc;
