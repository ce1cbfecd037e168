//! Emulation of the API Gateway HTTP API: matches a request to a route of `template.yaml`, runs
//! the JWT authorizer, builds the payload-v2.0 event a Lambda would receive and hands it to that
//! function's handler through lambda_http's own event deserialiser.

use crate::authorizer::DevAuthorizer;
use crate::cors::Cors;
use crate::functions::Functions;
use crate::template::HttpRoute;
use base64::Engine as _;
use lambda_http::Body;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

pub struct Gateway {
    routes: Vec<HttpRoute>,
    authorizer: DevAuthorizer,
    functions: Arc<Functions>,
    /// Handlers of functions that are not in the template (tests' own record kinds), by binary.
    extra: HashMap<String, Arc<dyn DynHttpHandler>>,
    /// The HTTP API's `CorsConfiguration` (none: CORS not configured, no CORS headers).
    cors: Option<Cors>,
}

/// An HTTP handler behind a pointer: the gateway serves functions it does not know by type.
pub trait DynHttpHandler: Send + Sync {
    fn call(
        &self,
        req: lambda_http::Request,
    ) -> futures::future::BoxFuture<'_, lambda_http::Response<Body>>;
}

impl<H: api_kit::HttpHandler> DynHttpHandler for H {
    fn call(
        &self,
        req: lambda_http::Request,
    ) -> futures::future::BoxFuture<'_, lambda_http::Response<Body>> {
        Box::pin(self.handle(req))
    }
}

/// Matches `/contacts/123` against `/contacts/{id}`; returns the path parameters.
pub fn match_path(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut params = HashMap::new();
    for (i, seg) in t.iter().enumerate() {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if let Some(greedy) = name.strip_suffix('+') {
                let rest = p.get(i..)?.join("/");
                if rest.is_empty() {
                    return None;
                }
                params.insert(greedy.to_string(), rest);
                return Some(params);
            }
            let value = p.get(i).filter(|v| !v.is_empty())?;
            let decoded = percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned();
            params.insert(name.to_string(), decoded);
        } else if p.get(i) != Some(seg) {
            return None;
        }
    }
    (t.len() == p.len()).then_some(params)
}

fn gateway_error(status: u16, message: &str) -> axum::response::Response {
    axum::response::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({ "message": message }).to_string(),
        ))
        .expect("valid response")
}

impl Gateway {
    pub fn new(
        routes: Vec<HttpRoute>,
        authorizer: DevAuthorizer,
        functions: Arc<Functions>,
    ) -> Self {
        Self {
            routes,
            authorizer,
            functions,
            extra: HashMap::new(),
            cors: None,
        }
    }

    /// Applies `cors` (the template's, see [`crate::cors`]) to every request.
    pub fn with_cors(mut self, cors: Option<Cors>) -> Self {
        self.cors = cors;
        self
    }

    /// Also serves `routes` with `handler` (as the function `binary` of the routes).
    pub fn with_function(
        mut self,
        routes: Vec<HttpRoute>,
        binary: &str,
        handler: Arc<dyn DynHttpHandler>,
    ) -> Self {
        self.routes.extend(routes);
        self.extra.insert(binary.to_string(), handler);
        self
    }

    pub fn router(self: Arc<Self>) -> axum::Router {
        axum::Router::new().fallback(move |req: axum::extract::Request| {
            let gateway = self.clone();
            async move { gateway.handle(req).await }
        })
    }

    async fn handle(&self, req: axum::extract::Request) -> axum::response::Response {
        let Some(cors) = &self.cors else {
            return self.route(req).await;
        };
        let request_headers = req.headers().clone();
        if Cors::is_preflight(req.method(), &request_headers)
            && !self.has_options_route(req.uri().path())
        {
            let (parts, ()) = cors.preflight(&request_headers).into_parts();
            return axum::response::Response::from_parts(parts, axum::body::Body::empty());
        }
        let mut response = self.route(req).await;
        cors.apply(&request_headers, response.headers_mut());
        response
    }

    /// A route of the template takes `OPTIONS` on `path` (then it, not the gateway, answers
    /// preflights there, as in API Gateway).
    fn has_options_route(&self, path: &str) -> bool {
        self.routes
            .iter()
            .filter(|r| r.method == "OPTIONS" || r.method == "ANY")
            .any(|r| match_path(&r.path, path).is_some())
    }

    async fn route(&self, req: axum::extract::Request) -> axum::response::Response {
        let (parts, body) = req.into_parts();
        let Ok(body) = axum::body::to_bytes(body, 10 * 1024 * 1024).await else {
            return gateway_error(413, "Request Entity Too Large");
        };
        let method = parts.method.as_str().to_uppercase();
        let path = parts.uri.path().to_string();
        let Some((route, params)) = self
            .routes
            .iter()
            .filter(|r| r.method == method || r.method == "ANY")
            .find_map(|r| match_path(&r.path, &path).map(|p| (r, p)))
        else {
            return gateway_error(404, "Not Found");
        };
        let claims = if route.authorized {
            let header = parts
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            match self.authorizer.verify(header) {
                Ok(claims) => Some(claims),
                Err(reason) => {
                    tracing::info!(%reason, "local authorizer refused the request");
                    return gateway_error(401, "Unauthorized");
                }
            }
        } else {
            None
        };
        let request = match lambda_request(route, &parts, &body, params, claims) {
            Ok(r) => r,
            Err(e) => return gateway_error(500, &format!("event did not parse: {e}")),
        };
        if let Some(handler) = self.extra.get(&route.binary) {
            return to_axum(handler.call(request).await);
        }
        match self.functions.invoke_http(&route.binary, request).await {
            Some(response) => to_axum(response),
            None => gateway_error(502, "no local handler for this function"),
        }
    }
}

/// The Lambda request API Gateway hands a function for a request (`parts`, `body`) matched to
/// `route` with path parameters `params` and the authorizer's `claims` (benchmarks call a
/// handler with it directly).
pub fn lambda_request(
    route: &HttpRoute,
    parts: &axum::http::request::Parts,
    body: &[u8],
    params: HashMap<String, String>,
    claims: Option<HashMap<String, String>>,
) -> Result<lambda_http::Request, String> {
    let event = build_event(route, parts, body, params, claims);
    lambda_http::request::from_str(&event.to_string()).map_err(|e| e.to_string())
}

/// The API Gateway HTTP API payload format 2.0.
fn build_event(
    route: &HttpRoute,
    parts: &axum::http::request::Parts,
    body: &[u8],
    params: HashMap<String, String>,
    claims: Option<HashMap<String, String>>,
) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        // Bytes as API Gateway passes them: a value with non-ASCII bytes reaches the function
        // (which refuses what it cannot read), it is not dropped to an empty one.
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == "cookie" {
            cookies.extend(value.split("; ").map(|c| Value::String(c.to_string())));
            continue;
        }
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_string(), Value::String(value));
            }
        }
    }
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let mut query = Map::new();
    for (k, v) in url_pairs(&raw_query) {
        match query.get_mut(&k) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                query.insert(k, Value::String(v));
            }
        }
    }
    let now = chrono::Utc::now();
    let is_text = std::str::from_utf8(body).is_ok();
    let route_key = format!("{} {}", route.method, route.path);
    let user_agent = headers
        .get("user-agent")
        .cloned()
        .unwrap_or(Value::String(String::new()));
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": user_agent,
            },
            "requestId": uuid::Uuid::now_v7().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": !is_text,
    });
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !params.is_empty() {
        event["pathParameters"] = json!(params);
    }
    if !body.is_empty() {
        event["body"] = if is_text {
            Value::String(String::from_utf8_lossy(body).into_owned())
        } else {
            Value::String(base64::engine::general_purpose::STANDARD.encode(body))
        };
    }
    if let Some(claims) = claims {
        event["requestContext"]["authorizer"] =
            json!({ "jwt": { "claims": claims, "scopes": null } });
    }
    event
}

fn url_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn to_axum(response: lambda_http::Response<Body>) -> axum::response::Response {
    let (parts, body) = response.into_parts();
    let bytes: Vec<u8> = match body {
        Body::Text(t) => t.into_bytes(),
        Body::Binary(b) => b,
        _ => Vec::new(),
    };
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_templates() {
        assert_eq!(match_path("/contacts", "/contacts"), Some(HashMap::new()));
        assert_eq!(
            match_path("/contacts/{id}", "/contacts/abc").unwrap()["id"],
            "abc"
        );
        assert_eq!(match_path("/contacts/{id}", "/contacts"), None);
        assert_eq!(match_path("/contacts/{id}", "/contacts/a/b"), None);
        assert_eq!(
            match_path("/workflows/{id}/runs", "/workflows/x/runs").unwrap()["id"],
            "x"
        );
        assert_eq!(
            match_path("/files/{proxy+}", "/files/a/b").unwrap()["proxy"],
            "a/b"
        );
    }
}
