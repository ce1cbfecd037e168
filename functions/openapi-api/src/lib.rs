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

pub struct OpenApiHandler {
    json: String,
}

impl Default for OpenApiHandler {
    fn default() -> Self {
        Self {
            json: document_json(),
        }
    }
}

impl api_kit::HttpHandler for OpenApiHandler {
    async fn handle(&self, _req: Request) -> Response<Body> {
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(Body::Text(self.json.clone()))
            .expect("valid response")
    }
}
