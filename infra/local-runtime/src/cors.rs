//! CORS as API Gateway's HTTP API applies it, from the template's `CorsConfiguration` (issue 14
//! item 4), so a page tried against `make dev` meets the rules it meets once deployed:
//!
//! - a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) to a path with no
//!   `OPTIONS` (or `ANY`) route is answered by the gateway itself, before any authorizer: `204`
//!   with the `Access-Control-Allow-*` headers when the origin, the requested method and every
//!   requested header are allowed, and with no CORS header otherwise (the browser then blocks
//!   the request);
//! - an actual request from an allowed origin gets `Access-Control-Allow-Origin`,
//!   `Access-Control-Expose-Headers` (and `-Allow-Credentials` when configured) on whatever
//!   answers it, the function or the gateway (a 401 of the authorizer too), plus `Vary: Origin`
//!   when the answer names the origin;
//! - CORS headers a function returns are dropped: API Gateway ignores them once CORS is
//!   configured.
//!
//! Names compare case-insensitively; an origin entry may be `*` or `scheme://*.domain` (any
//! subdomain), as API Gateway accepts.

use crate::template::{Resolved, Template, TemplateError};
use http::{HeaderMap, HeaderValue, Method};
use serde_yaml::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    /// Upper-case; may hold `*`.
    pub allow_methods: Vec<String>,
    /// Lower-case; may hold `*`.
    pub allow_headers: Vec<String>,
    /// Lower-case.
    pub expose_headers: Vec<String>,
    pub max_age: Option<u64>,
    pub allow_credentials: bool,
}

impl Cors {
    /// The HTTP API's configuration with parameters resolved (`Ok(None)`: CORS not configured).
    pub fn from_template(
        template: &Template,
        resolved: &Resolved,
    ) -> Result<Option<Self>, TemplateError> {
        match template.http_api_cors() {
            None | Some(Value::Bool(false)) => Ok(None),
            // SAM's shorthand `CorsConfiguration: true`: every origin, nothing else configured.
            Some(Value::Bool(true)) => Ok(Some(Self {
                allow_origins: vec!["*".into()],
                ..Self::default()
            })),
            Some(config) => Self::from_value(&config, resolved).map(Some),
        }
    }

    fn from_value(config: &Value, resolved: &Resolved) -> Result<Self, TemplateError> {
        let list = |key: &str| -> Result<Vec<String>, TemplateError> {
            let items: Vec<&Value> = match config.get(key) {
                None => Vec::new(),
                Some(Value::Sequence(s)) => s.iter().collect(),
                Some(v) => vec![v],
            };
            let mut out = Vec::new();
            for item in items {
                // A `!Ref` of a CommaDelimitedList parameter resolves to "a,b".
                let text = resolved.resolve(item)?;
                out.extend(
                    text.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                );
            }
            Ok(out)
        };
        let max_age = match config.get("MaxAge") {
            None => None,
            Some(v) => Some(resolved.resolve(v)?.parse().map_err(|_| {
                TemplateError::Invalid(format!("CorsConfiguration.MaxAge is not a number: {v:?}"))
            })?),
        };
        let allow_credentials = match config.get("AllowCredentials") {
            None => false,
            Some(v) => resolved.resolve(v)? == "true",
        };
        let cors = Self {
            allow_origins: list("AllowOrigins")?,
            allow_methods: list("AllowMethods")?
                .into_iter()
                .map(|m| m.to_ascii_uppercase())
                .collect(),
            allow_headers: lower(list("AllowHeaders")?),
            expose_headers: lower(list("ExposeHeaders")?),
            max_age,
            allow_credentials,
        };
        if cors.allow_credentials && cors.allow_origins.iter().any(|o| o == "*") {
            return Err(TemplateError::Invalid(
                "CorsConfiguration: AllowCredentials with the origin `*` (API Gateway refuses it)"
                    .into(),
            ));
        }
        Ok(cors)
    }

    /// Whether a page of `origin` may call the API.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allow_origins.iter().any(|allowed| {
            if allowed == "*" || allowed.eq_ignore_ascii_case(origin) {
                return true;
            }
            // `https://*.example.com`: any subdomain, same scheme (and port, if given).
            let Some((scheme, rest)) = allowed.split_once("://*.") else {
                return false;
            };
            let Some((o_scheme, o_host)) = origin.split_once("://") else {
                return false;
            };
            o_scheme.eq_ignore_ascii_case(scheme)
                && o_host.len() > rest.len() + 1
                && o_host[o_host.len() - rest.len()..].eq_ignore_ascii_case(rest)
                && o_host.as_bytes()[o_host.len() - rest.len() - 1] == b'.'
        })
    }

    fn allows_method(&self, method: &str) -> bool {
        self.allow_methods
            .iter()
            .any(|m| m == "*" || m.eq_ignore_ascii_case(method))
    }

    fn allows_header(&self, header: &str) -> bool {
        self.allow_headers
            .iter()
            .any(|h| h == "*" || h.eq_ignore_ascii_case(header))
    }

    /// The value of `Access-Control-Allow-Origin` for a request from `origin`.
    fn allow_origin_value<'a>(&self, origin: &'a str) -> &'a str {
        if self.allow_origins.iter().any(|o| o == "*") && !self.allow_credentials {
            "*"
        } else {
            origin
        }
    }

    /// A preflight request: `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers.contains_key(http::header::ORIGIN)
            && headers.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The gateway's own answer to a preflight: 204, with the CORS headers only when the
    /// origin, the method and every requested header are allowed.
    pub fn preflight(&self, request: &HeaderMap) -> http::Response<()> {
        let mut response = http::Response::builder()
            .status(http::StatusCode::NO_CONTENT)
            .body(())
            .expect("valid response");
        let text = |name| {
            request
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let (Some(origin), Some(method)) = (
            text(http::header::ORIGIN),
            text(http::header::ACCESS_CONTROL_REQUEST_METHOD),
        ) else {
            return response;
        };
        let requested: Vec<&str> = request
            .get_all(http::header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        if !self.allows_origin(origin)
            || !self.allows_method(method.trim())
            || !requested.iter().all(|h| self.allows_header(h))
        {
            return response;
        }
        let headers = response.headers_mut();
        self.put_origin(headers, origin);
        let methods = if self.allow_methods.iter().any(|m| m == "*") {
            method.trim().to_ascii_uppercase()
        } else {
            self.allow_methods.join(",")
        };
        put(
            headers,
            http::header::ACCESS_CONTROL_ALLOW_METHODS,
            &methods,
        );
        let allowed_headers = if self.allow_headers.iter().any(|h| h == "*") {
            requested.join(",").to_ascii_lowercase()
        } else {
            self.allow_headers.join(",")
        };
        if !allowed_headers.is_empty() {
            put(
                headers,
                http::header::ACCESS_CONTROL_ALLOW_HEADERS,
                &allowed_headers,
            );
        }
        if let Some(max_age) = self.max_age {
            put(
                headers,
                http::header::ACCESS_CONTROL_MAX_AGE,
                &max_age.to_string(),
            );
        }
        response
    }

    /// The CORS headers of an actual response to a request with headers `request`: those of
    /// the function dropped, the configured ones added for an allowed origin.
    pub fn apply(&self, request: &HeaderMap, response: &mut HeaderMap) {
        let own: Vec<_> = response
            .keys()
            .filter(|k| k.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in own {
            response.remove(name);
        }
        let Some(origin) = request
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .filter(|o| self.allows_origin(o))
        else {
            return;
        };
        self.put_origin(response, origin);
        if !self.expose_headers.is_empty() {
            put(
                response,
                http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
                &self.expose_headers.join(","),
            );
        }
    }

    fn put_origin(&self, headers: &mut HeaderMap, origin: &str) {
        let value = self.allow_origin_value(origin);
        put(headers, http::header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        if self.allow_credentials {
            put(
                headers,
                http::header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                "true",
            );
        }
        if value != "*" {
            // The answer depends on the Origin: caches must key on it.
            let varies = headers.get_all(http::header::VARY).iter().any(|v| {
                v.to_str().is_ok_and(|v| {
                    v.split(',')
                        .any(|n| n.trim().eq_ignore_ascii_case("origin"))
                })
            });
            if !varies {
                headers.append(http::header::VARY, HeaderValue::from_static("Origin"));
            }
        }
    }
}

fn lower(v: Vec<String>) -> Vec<String> {
    v.into_iter().map(|s| s.to_ascii_lowercase()).collect()
}

fn put(headers: &mut HeaderMap, name: http::header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests;
