//! Unit tests of CORS as the local gateway applies it: read from a template (the parameter
//! resolved, overridden as `make dev` does), preflights and actual responses.

use super::*;
use std::collections::HashMap;

const YAML: &str = r#"
Parameters:
  AllowedOrigins:
    Type: CommaDelimitedList
    Default: http://localhost:5173
Resources:
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: !Ref AllowedOrigins
        AllowHeaders: [authorization, Content-Type, if-match, idempotency-key]
        AllowMethods: [GET, POST, PUT, PATCH, DELETE, OPTIONS]
        ExposeHeaders: [ETag, location, retry-after]
        MaxAge: 600
"#;

fn cors_with(overrides: &[(&str, &str)]) -> Cors {
    let template = Template::parse(YAML).unwrap();
    let mut resolved = Resolved::default();
    resolved.refs.extend(template.parameter_defaults());
    resolved.refs.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
    );
    Cors::from_template(&template, &resolved).unwrap().unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

fn get<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

#[test]
fn the_configuration_is_read_from_the_template_with_the_parameter_resolved() {
    let cors = cors_with(&[]);
    assert_eq!(cors.allow_origins, ["http://localhost:5173"]);
    assert_eq!(
        cors.allow_methods,
        ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    );
    assert_eq!(
        cors.allow_headers,
        [
            "authorization",
            "content-type",
            "if-match",
            "idempotency-key"
        ]
    );
    assert_eq!(cors.expose_headers, ["etag", "location", "retry-after"]);
    assert_eq!(cors.max_age, Some(600));
    assert!(!cors.allow_credentials);

    let overridden = cors_with(&[(
        "AllowedOrigins",
        "http://127.0.0.1:8080, https://app.example.com",
    )]);
    assert_eq!(
        overridden.allow_origins,
        ["http://127.0.0.1:8080", "https://app.example.com"]
    );
}

#[test]
fn the_repository_template_allows_the_write_conventions() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    let template = Template::load(&path).unwrap();
    let mut resolved = Resolved::default();
    resolved.refs.extend(template.parameter_defaults());
    let cors = Cors::from_template(&template, &resolved).unwrap().unwrap();
    assert!(
        !cors.allow_origins.iter().any(|o| o == "*"),
        "origins are a parameter, not *"
    );
    assert!(!cors.allow_origins.is_empty());
    for header in [
        "authorization",
        "content-type",
        "if-match",
        "idempotency-key",
    ] {
        assert!(cors.allow_headers.iter().any(|h| h == header), "{header}");
    }
    for header in ["etag", "location", "retry-after"] {
        assert!(cors.expose_headers.iter().any(|h| h == header), "{header}");
    }
    // Every method a route uses is allowed (PUT /users/{id}, PUT /contacts/{id}/clients/...).
    for route in template.http_routes() {
        assert!(
            cors.allow_methods.contains(&route.method),
            "{} {}",
            route.method,
            route.path
        );
    }
    assert!(cors.max_age.is_some());
}

#[test]
fn a_preflight_from_an_allowed_origin_is_answered_with_the_allow_headers() {
    let cors = cors_with(&[]);
    let request = headers(&[
        ("origin", "http://localhost:5173"),
        ("access-control-request-method", "PATCH"),
        (
            "access-control-request-headers",
            "authorization,content-type,If-Match",
        ),
    ]);
    assert!(Cors::is_preflight(&Method::OPTIONS, &request));
    let response = cors.preflight(&request);
    assert_eq!(response.status(), 204);
    let h = response.headers();
    assert_eq!(
        get(h, "access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert_eq!(
        get(h, "access-control-allow-methods"),
        Some("GET,POST,PUT,PATCH,DELETE,OPTIONS")
    );
    assert_eq!(
        get(h, "access-control-allow-headers"),
        Some("authorization,content-type,if-match,idempotency-key")
    );
    assert_eq!(get(h, "access-control-max-age"), Some("600"));
    assert_eq!(get(h, "vary"), Some("Origin"));
    assert_eq!(get(h, "access-control-allow-credentials"), None);
}

#[test]
fn a_preflight_the_configuration_does_not_allow_gets_no_cors_headers() {
    let cors = cors_with(&[]);
    for request in [
        // Another origin (scheme, host and port count).
        headers(&[
            ("origin", "http://evil.example"),
            ("access-control-request-method", "GET"),
        ]),
        headers(&[
            ("origin", "http://localhost:5174"),
            ("access-control-request-method", "GET"),
        ]),
        headers(&[
            ("origin", "https://localhost:5173"),
            ("access-control-request-method", "GET"),
        ]),
        // A method no route uses.
        headers(&[
            ("origin", "http://localhost:5173"),
            ("access-control-request-method", "TRACE"),
        ]),
        // A header not allowed.
        headers(&[
            ("origin", "http://localhost:5173"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type,x-secret"),
        ]),
    ] {
        let response = cors.preflight(&request);
        assert_eq!(response.status(), 204);
        assert!(
            !response
                .headers()
                .keys()
                .any(|k| k.as_str().starts_with("access-control-")),
            "{request:?} → {:?}",
            response.headers()
        );
    }
    // Without Access-Control-Request-Method it is no preflight: it is routed like any request.
    assert!(!Cors::is_preflight(
        &Method::OPTIONS,
        &headers(&[("origin", "http://localhost:5173")])
    ));
    assert!(!Cors::is_preflight(
        &Method::GET,
        &headers(&[
            ("origin", "http://localhost:5173"),
            ("access-control-request-method", "GET")
        ])
    ));
}

#[test]
fn an_actual_response_exposes_the_configured_headers_to_an_allowed_origin_only() {
    let cors = cors_with(&[]);
    let mut response = headers(&[
        ("etag", "\"3\""),
        ("vary", "Accept-Encoding"),
        // A function's own CORS headers are ignored, as API Gateway does.
        ("access-control-allow-origin", "*"),
        ("access-control-allow-methods", "GET"),
    ]);
    cors.apply(
        &headers(&[("origin", "http://localhost:5173")]),
        &mut response,
    );
    assert_eq!(
        get(&response, "access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert_eq!(
        get(&response, "access-control-expose-headers"),
        Some("etag,location,retry-after")
    );
    assert_eq!(get(&response, "access-control-allow-methods"), None);
    let vary: Vec<_> = response
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(vary, ["Accept-Encoding", "Origin"]);
    assert_eq!(get(&response, "etag"), Some("\"3\""));

    for origin in [None, Some("http://evil.example")] {
        let mut response = headers(&[("access-control-allow-origin", "*")]);
        let request = origin.map_or_else(HeaderMap::new, |o| headers(&[("origin", o)]));
        cors.apply(&request, &mut response);
        assert!(response.is_empty(), "{origin:?}: {response:?}");
    }
}

#[test]
fn wildcards_and_credentials() {
    let mut cors = cors_with(&[("AllowedOrigins", "https://*.example.com,*")]);
    assert!(cors.allows_origin("https://app.example.com"));
    assert!(cors.allows_origin("http://anything"));
    let mut response = HeaderMap::new();
    cors.apply(&headers(&[("origin", "http://anything")]), &mut response);
    assert_eq!(get(&response, "access-control-allow-origin"), Some("*"));
    assert_eq!(get(&response, "vary"), None);

    cors = cors_with(&[("AllowedOrigins", "https://*.example.com")]);
    assert!(cors.allows_origin("https://a.b.example.com"));
    assert!(!cors.allows_origin("https://example.com"));
    assert!(!cors.allows_origin("https://evilexample.com"));
    assert!(!cors.allows_origin("http://app.example.com"));

    let yaml = YAML.replace("MaxAge: 600", "MaxAge: 600\n        AllowCredentials: true");
    let template = Template::parse(&yaml).unwrap();
    let mut resolved = Resolved::default();
    resolved.refs.insert("AllowedOrigins".into(), "*".into());
    assert!(
        Cors::from_template(&template, &resolved).is_err(),
        "credentials with *"
    );
    resolved
        .refs
        .insert("AllowedOrigins".into(), "http://localhost:5173".into());
    let cors = Cors::from_template(&template, &resolved).unwrap().unwrap();
    let mut response = HeaderMap::new();
    cors.apply(
        &headers(&[("origin", "http://localhost:5173")]),
        &mut response,
    );
    assert_eq!(
        get(&response, "access-control-allow-credentials"),
        Some("true")
    );
}

#[test]
fn no_configuration_no_cors() {
    let template =
        Template::parse("Resources:\n  HttpApi:\n    Type: AWS::Serverless::HttpApi\n").unwrap();
    assert_eq!(
        Cors::from_template(&template, &Resolved::default()).unwrap(),
        None
    );
}
