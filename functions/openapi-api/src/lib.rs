//! `openapi-api`: serves the OpenAPI 3.1 document, generated from the handlers' annotations.

pub mod contract;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "CRM API", license(name = "Proprietary"), description = "Multi-tenant CRM backend. Errors are RFC 9457 problem+json; lists are cursor-paginated; POSTs accept Idempotency-Key; PATCH and DELETE honour If-Match."),
    components(schemas(api_kit::Problem)),
    security(("bearer" = []))
)]
struct BaseDoc;

/// The whole API: every function's routes merged, as the handlers annotate them (before
/// [`contract::complete`] adds what every operation can answer).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = BaseDoc::openapi();
    doc.merge(contacts_api::ContactsDoc::openapi());
    doc.merge(clients_api::ClientsDoc::openapi());
    doc.merge(deals_api::DealsDoc::openapi());
    doc.merge(leads_api::LeadsDoc::openapi());
    doc.merge(activities_api::ActivitiesDoc::openapi());
    doc.merge(imports_api::ImportsDoc::openapi());
    doc.merge(workflows_api::WorkflowsDoc::openapi());
    doc.merge(tenant_api::TenantDoc::openapi());
    doc.merge(custom_fields_api::CustomFieldsDoc::openapi());
    doc.merge(messages_api::MessagesDoc::openapi());
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    doc
}

/// The served document: [`document`] completed by [`contract::complete`].
pub fn document_value() -> serde_json::Value {
    let mut doc = serde_json::to_value(document()).expect("the OpenAPI document serialises");
    contract::complete(&mut doc);
    doc
}

pub fn document_json() -> String {
    serde_json::to_string_pretty(&document_value()).expect("the OpenAPI document serialises")
}

/// The committed document (`make openapi`), embedded at build time. The platform test keeps it
/// equal to [`document_json`], so the function serves it without generating it at init.
pub const COMMITTED_JSON: &str = include_str!("../../../openapi.json");

pub struct OpenApiHandler {
    json: std::borrow::Cow<'static, str>,
}

/// The document generated from the handlers' annotations (the local runtime: always current).
impl Default for OpenApiHandler {
    fn default() -> Self {
        Self {
            json: document_json().into(),
        }
    }
}

impl OpenApiHandler {
    /// The committed document: no work at the function's cold start.
    pub fn embedded() -> Self {
        Self {
            json: COMMITTED_JSON.into(),
        }
    }
}

impl api_kit::HttpHandler for OpenApiHandler {
    async fn handle(&self, _req: Request) -> Response<Body> {
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(Body::Text(self.json.to_string()))
            .expect("valid response")
    }
}
