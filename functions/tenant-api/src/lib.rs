//! `tenant-api`: the tenant's own administration: its settings (S2.4: base currency and exchange
//! rates). Users and teams will be routed here too. Parse, call `crm_shared`, answer.

use api_kit::{Problem, caller, error_response, if_match, json_body, json_response, route_key};
use crm_shared::settings::{self, DynamoSettings, SettingsPatch, TenantSettings};
use crm_shared::{Caller, CrmError, Deps};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub struct TenantApi {
    settings: DynamoSettings,
}

impl TenantApi {
    pub fn new(deps: Deps) -> Self {
        Self {
            settings: DynamoSettings::new(deps.table()),
        }
    }
}

impl api_kit::HttpHandler for TenantApi {
    async fn handle(&self, req: Request) -> Response<Body> {
        let caller = match caller(&req) {
            Ok(c) => c,
            Err(p) => return p.into_response(),
        };
        // One arm per route of this function in template.yaml.
        let result = match route_key(&req).as_str() {
            "GET /settings" => get_settings(self, &caller).await,
            "PATCH /settings" => patch_settings(self, &caller, &req).await,
            _ => return api_kit::unknown_route(),
        };
        result.unwrap_or_else(error_response)
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
              (status = 422, description = "A field breaks a rule, e.g. `exchange_rates/USD` `rate`", body = Problem, content_type = "application/problem+json")))]
async fn patch_settings(
    api: &TenantApi,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    settings::require_admin(caller)?;
    let expected = if_match(req)?;
    let patch: SettingsPatch = json_body(req)?;
    Ok(settings_response(
        &settings::patch(&api.settings, caller, patch, expected).await?,
    ))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(get_settings, patch_settings))]
pub struct TenantDoc;
