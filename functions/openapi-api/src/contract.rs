//! Completes the merged document so that it states what every operation can answer
//! (issue 14 item 1). The handlers' annotations state each operation's own responses; what
//! every operation can give through the common layers is added here once, from what the
//! operation takes:
//! - every operation: 500 and 503 (with `Retry-After`), and 429 (with `Retry-After`); behind the
//!   authorizer also 401 and 403;
//! - a path naming a record (`{...}`): 404;
//! - query parameters, a body or a conditional header: 400 (malformed parameter, cursor or
//!   header) and 422 (a value breaking a rule, e.g. `limit`);
//! - a body: 413 and 415;
//! - a write (POST, PUT, PATCH, DELETE): 409;
//! - `If-Match`: 412 (a tag that does not match, `*` on any existing record);
//! - `limit`: an integer 1–200, default 50; `cursor`: a non-empty opaque string.
//!
//! Read models that flatten their input model (`allOf: [{$ref: ClientFields}, {...}]`) become
//! one object with the properties of both, so a response is not checked against the input
//! model's `additionalProperties: false`. Creates link to the operations on what they created
//! (`$response.body#/id`), so stateful testing reaches real records.

use serde_json::{Map, Value, json};

/// `*` or a comma-separated list of entity tags (RFC 9110 §8.8.3, §13.1.1).
// Empty allowed: a list of no tags is well formed and matches nothing (412).
const IF_MATCH_PATTERN: &str = r#"^(\*|((W/)?"[!#-~]*"( *, *(W/)?"[!#-~]*")*)?)$"#;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

/// 401 comes from API Gateway's JWT authorizer (`{"message": "Unauthorized"}`, as
/// `application/json`) before a handler runs, or from a handler as problem+json.
fn unauthorized() -> Value {
    gateway_or_problem(
        "No valid bearer token: the gateway's `{\"message\": \"Unauthorized\"}`, or a problem when the token lacks a claim",
    )
}

/// An answer API Gateway itself may give (`application/json`, `{"message": ...}`) as well as a
/// function (problem+json).
fn gateway_or_problem(description: &str) -> Value {
    let mut r = problem(description);
    r["content"]["application/json"] =
        json!({"schema": {"$ref": "#/components/schemas/GatewayMessage"}});
    r
}

fn retry_after(description: &str) -> Value {
    let mut r = problem(description);
    r["headers"] = json!({"Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": true,
        "schema": {"type": "integer", "minimum": 0}
    }});
    r
}

/// The common responses, by status, as components.
fn common_responses() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "400",
            "BadRequest",
            problem(
                "Malformed request: a parameter, cursor (one that cannot be used: malformed, another tenant's or another query's), header or body the API cannot read; the field is named",
            ),
        ),
        ("401", "Unauthorized", unauthorized()),
        (
            "403",
            "Forbidden",
            problem("The caller's role or status does not allow this"),
        ),
        (
            "404",
            "NotFound",
            problem("No such record visible to the caller"),
        ),
        (
            "409",
            "Conflict",
            problem(
                "The request conflicts with the record's state, or a request with this Idempotency-Key is still in progress",
            ),
        ),
        (
            "412",
            "PreconditionFailed",
            problem("If-Match names no current entity tag of the record"),
        ),
        (
            "413",
            "PayloadTooLarge",
            gateway_or_problem(
                "The body is larger than the API accepts (the gateway's own answer, or a problem)",
            ),
        ),
        (
            "415",
            "UnsupportedMediaType",
            problem("The body is not sent as application/json"),
        ),
        (
            "422",
            "UnprocessableContent",
            problem("A value breaks a rule; the field and rule are named"),
        ),
        (
            "429",
            "TooManyRequests",
            retry_after("Too many requests; retry after Retry-After seconds"),
        ),
        (
            "500",
            "InternalError",
            problem("An internal error; nothing was changed"),
        ),
        (
            "503",
            "ServiceUnavailable",
            retry_after("Temporarily unavailable; retry after Retry-After seconds"),
        ),
    ]
}

/// Completes `doc` in place (see the module documentation).
pub fn complete(doc: &mut Value) {
    let names: Map<String, Value> = common_responses()
        .into_iter()
        .map(|(status, name, _)| (status.to_string(), json!(name)))
        .collect();
    {
        let responses = doc["components"]
            .as_object_mut()
            .expect("components")
            .entry("responses")
            .or_insert_with(|| json!({}));
        for (_, name, body) in common_responses() {
            responses[name] = body;
        }
    }
    doc["components"]["schemas"]["GatewayMessage"] = json!({
        "type": "object",
        "description": "An answer of API Gateway itself (its JWT authorizer), before any function runs.",
        "required": ["message"],
        "properties": {"message": {"type": "string"}}
    });
    close_tagged_variants(doc);
    constrain_formats(doc);
    flatten_read_models(doc);
    let paths: Vec<String> = doc["paths"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for path in &paths {
        for method in METHODS {
            let Some(op) = doc["paths"][path].get_mut(method) else {
                continue;
            };
            complete_operation(path, method, op, &names);
        }
    }
    unique_operation_ids(doc);
    add_links(doc, &paths);
}

fn complete_operation(path: &str, method: &str, op: &mut Value, names: &Map<String, Value>) {
    let public = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().all(|r| r.as_object().is_some_and(Map::is_empty)));
    let has_body = op.get("requestBody").is_some();
    let params: Vec<(String, String)> = op
        .get("parameters")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    (
                        p["in"].as_str().unwrap_or("").to_string(),
                        p["name"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let has_query = params.iter().any(|(at, _)| at == "query");
    let if_match = params
        .iter()
        .any(|(_, n)| n.eq_ignore_ascii_case("if-match"));
    let idempotency = params
        .iter()
        .any(|(_, n)| n.eq_ignore_ascii_case("idempotency-key"));
    let write = method != "get";

    let mut statuses = vec!["429", "500", "503"];
    if !public {
        statuses.extend(["401", "403"]);
    }
    if path.contains('{') {
        statuses.push("404");
    }
    if has_query || has_body || if_match || idempotency || path.contains('{') {
        statuses.extend(["400", "422"]);
    }
    if has_body {
        statuses.extend(["413", "415"]);
    }
    if write {
        statuses.push("409");
    }
    if if_match {
        statuses.push("412");
    }
    let responses = op
        .as_object_mut()
        .expect("operation")
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses");
    for status in statuses {
        if !responses.contains_key(status) {
            let name = names[status].as_str().expect("name");
            responses.insert(
                status.to_string(),
                json!({"$ref": format!("#/components/responses/{name}")}),
            );
        } else if status == "429" || status == "503" {
            responses[status]["headers"]["Retry-After"] = json!({
                "description": "Seconds to wait before retrying.",
                "required": true,
                "schema": {"type": "integer", "minimum": 0}
            });
        }
    }
    if let Some(ps) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in ps {
            constrain_parameter(p);
        }
    }
}

fn constrain_parameter(p: &mut Value) {
    let name = p["name"].as_str().unwrap_or("").to_string();
    let at = p["in"].as_str().unwrap_or("").to_string();
    match (at.as_str(), name.as_str()) {
        ("query", "limit") => {
            p["schema"] = json!({"type": "integer", "format": "int32", "minimum": 1, "maximum": 200, "default": 50});
            p["description"] = json!("Page size, 1–200 (default 50); anything else is 422.");
        }
        ("query", "cursor") => {
            p["schema"] = json!({"type": "string", "minLength": 1});
            p["description"] = json!(
                "`next_cursor` of the previous page of the same list and query; opaque. A cursor that cannot be used (malformed, another tenant's, another list's or query's) is 400."
            );
        }
        ("header", n) if n.eq_ignore_ascii_case("if-match") => {
            p["schema"] = json!({"type": "string", "pattern": IF_MATCH_PATTERN});
            p["description"] = json!(
                "`*` or a list of the record's entity tags (its `ETag`, e.g. `\"3\"`); a tag that does not match is 412, a value that is no entity-tag list 400. Optional: without it the write is unconditional."
            );
        }
        ("header", n) if n.eq_ignore_ascii_case("idempotency-key") => {
            p["schema"] = json!({"type": "string", "pattern": "^[!-~]{1,255}$"});
            p["description"] =
                json!("Replays the first response of the same request with this key (24 hours).");
        }
        ("query", _) => {
            // A query parameter sent without a value is refused (api_kit::query_checks).
            if let Some(s) = p["schema"].as_object_mut() {
                if s.get("type") == Some(&json!("string")) && !s.contains_key("enum") {
                    s.entry("minLength").or_insert(json!(1));
                }
            }
        }
        ("path", _) => {
            // A path segment is never empty.
            if let Some(s) = p["schema"].as_object_mut() {
                if s.get("type") == Some(&json!("string")) && !s.contains_key("format") {
                    s.entry("minLength").or_insert(json!(1));
                }
            }
        }
        _ => {}
    }
}

/// How the API reads a UUID: the hyphenated form (the uuid crate reads others too).
const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// States what a format implies as plain constraints, anywhere in the document: a `uuid`
/// string its pattern (not every tool validates the format, and an empty string is no UUID);
/// an `int32` / `int64` integer the bounds of its Rust type where utoipa states none (a number
/// beyond them is not that integer, and is refused).
fn constrain_formats(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let is_type = |map: &Map<String, Value>, t: &str| match map.get("type") {
                Some(Value::String(s)) => s == t,
                Some(Value::Array(types)) => types.iter().any(|x| x == t),
                _ => false,
            };
            let format = map
                .get("format")
                .and_then(Value::as_str)
                .map(str::to_string);
            match format.as_deref() {
                Some("uuid") if is_type(map, "string") => {
                    map.entry("pattern").or_insert_with(|| json!(UUID_PATTERN));
                }
                Some("int32") if is_type(map, "integer") => {
                    map.entry("minimum").or_insert_with(|| json!(i32::MIN));
                    map.entry("maximum").or_insert_with(|| json!(i32::MAX));
                }
                Some("int64") if is_type(map, "integer") => {
                    map.entry("minimum").or_insert_with(|| json!(i64::MIN));
                    map.entry("maximum").or_insert_with(|| json!(i64::MAX));
                }
                _ => {}
            }
            map.values_mut().for_each(constrain_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(constrain_formats),
        _ => {}
    }
}

/// serde-tagged enums whose variants refuse unknown fields (`deny_unknown_fields`). utoipa 5
/// states that as `additionalProperties: false` for structs but not for enum variants, so the
/// document would call bodies with stray fields valid that the API refuses with 400.
const CLOSED_VARIANTS: [&str; 5] = ["FieldType", "FieldVisibility", "Trigger", "Goal", "Step"];

/// Closes the variants of [`CLOSED_VARIANTS`]; and a struct that flattens one of them beside
/// fields of its own (`WorkflowStep`: `id` + a `Step`, `allOf` of the two) becomes one closed
/// variant per variant with those fields added — closing the variants alone would refuse the
/// struct's own fields.
fn close_tagged_variants(doc: &mut Value) {
    let Some(schemas) = doc["components"]["schemas"].as_object_mut() else {
        return;
    };
    for name in CLOSED_VARIANTS {
        let variants = schemas
            .get_mut(name)
            .and_then(|s| s.get_mut("oneOf"))
            .and_then(Value::as_array_mut);
        for variant in variants.into_iter().flatten() {
            if variant.get("type") == Some(&json!("object")) {
                variant["additionalProperties"] = json!(false);
            }
        }
    }
    let snapshot = schemas.clone();
    for (name, schema) in &snapshot {
        let Some([first, second]) = schema
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        else {
            continue;
        };
        let (reference, own) = match (first.get("$ref"), second.get("$ref")) {
            (Some(r), None) => (r, second),
            (None, Some(r)) => (r, first),
            _ => continue,
        };
        let Some(target) = reference
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .filter(|t| CLOSED_VARIANTS.contains(t))
        else {
            continue;
        };
        let Some(variants) = snapshot[target].get("oneOf").and_then(Value::as_array) else {
            continue;
        };
        let own_properties = own.get("properties").and_then(Value::as_object);
        let merged: Vec<Value> = variants
            .iter()
            .map(|variant| {
                let mut v = variant.clone();
                let properties = v["properties"].as_object_mut().expect("an object variant");
                for (k, p) in own_properties.into_iter().flatten() {
                    properties.insert(k.clone(), p.clone());
                }
                v
            })
            .collect();
        let mut out = json!({"oneOf": merged});
        if let Some(d) = schema.get("description") {
            out["description"] = d.clone();
        }
        schemas[name] = out;
    }
}

/// `allOf: [{$ref: Input}, {type: object, ...}]` → one object with both sets of properties
/// and required names, open to additional properties (a read model is not closed like the
/// input it embeds). Named read models and read models inline in another schema (a page's
/// `items`: `Page<Client>`) alike.
fn flatten_read_models(doc: &mut Value) {
    let Some(schemas) = doc["components"]["schemas"].as_object().cloned() else {
        return;
    };
    for schema in doc["components"]["schemas"]
        .as_object_mut()
        .into_iter()
        .flat_map(|s| s.values_mut())
    {
        flatten_within(schema, &schemas);
    }
}

/// Flattens `schema` and every schema nested in it that is such an `allOf`.
fn flatten_within(schema: &mut Value, schemas: &Map<String, Value>) {
    if let Some(flat) = flattened(schema, schemas) {
        *schema = flat;
    }
    match schema {
        Value::Object(map) => map.values_mut().for_each(|v| flatten_within(v, schemas)),
        Value::Array(items) => items.iter_mut().for_each(|v| flatten_within(v, schemas)),
        _ => {}
    }
}

/// The one object an `allOf` of plain objects (or references to them) stands for; `None` for
/// anything else.
fn flattened(schema: &Value, schemas: &Map<String, Value>) -> Option<Value> {
    let parts = schema.get("allOf").and_then(Value::as_array)?;
    let mut properties = Map::new();
    let mut required: Vec<Value> = Vec::new();
    for part in parts {
        let part = match part.get("$ref").and_then(Value::as_str) {
            Some(r) => schemas.get(r.strip_prefix("#/components/schemas/")?)?,
            None => part,
        };
        if part.get("allOf").is_some() || part.get("oneOf").is_some() {
            return None;
        }
        if let Some(props) = part.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                properties.insert(k.clone(), v.clone());
            }
        }
        for r in part
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !required.contains(r) {
                required.push(r.clone());
            }
        }
    }
    let mut out = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        out["required"] = Value::Array(required);
    }
    if let Some(d) = schema.get("description") {
        out["description"] = d.clone();
    }
    Some(out)
}

/// Operation ids are unique: a repeated one (`list_templates` of email and import templates)
/// is prefixed with its first path segment.
fn unique_operation_ids(doc: &mut Value) {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let mut all = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            for method in METHODS {
                if let Some(id) = ops
                    .get(method)
                    .and_then(|o| o.get("operationId"))
                    .and_then(Value::as_str)
                {
                    *seen.entry(id.to_string()).or_default() += 1;
                    all.push((path.clone(), method, id.to_string()));
                }
            }
        }
    }
    for (path, method, id) in all {
        if seen[&id] > 1 {
            let segment = path
                .trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or("")
                .replace('-', "_");
            doc["paths"][&path][method]["operationId"] = json!(format!("{segment}_{id}"));
        }
    }
}

/// `POST /things` answering 201 with an `id` links to every operation on `/things/{id}...`
/// that takes only `id` from the path.
fn add_links(doc: &mut Value, paths: &[String]) {
    for collection in paths.iter().filter(|p| !p.contains('{')) {
        let Some(created) = doc["paths"][collection]["post"]["responses"]
            .get("201")
            .or_else(|| doc["paths"][collection]["post"]["responses"].get("202"))
            .cloned()
        else {
            continue;
        };
        let Some(id_pointer) = id_pointer(doc, &created) else {
            continue;
        };
        let status = if doc["paths"][collection]["post"]["responses"]
            .get("201")
            .is_some()
        {
            "201"
        } else {
            "202"
        };
        let prefix = format!("{collection}/{{id}}");
        let mut links = Map::new();
        for path in paths
            .iter()
            .filter(|p| *p == &prefix || p.starts_with(&format!("{prefix}/")))
        {
            if path.matches('{').count() != 1 {
                continue;
            }
            for method in METHODS {
                let Some(op) = doc["paths"][path].get(method) else {
                    continue;
                };
                let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                    continue;
                };
                links.insert(
                    id.to_string(),
                    json!({
                        "operationId": id,
                        "parameters": {"path.id": format!("$response.body#{id_pointer}")},
                        "description": format!("{} {path} on the record this created", method.to_uppercase())
                    }),
                );
            }
        }
        if !links.is_empty() {
            doc["paths"][collection]["post"]["responses"][status]["links"] = Value::Object(links);
        }
    }
}

fn resolve(doc: &Value, schema: &Value) -> Value {
    let mut schema = schema.clone();
    for _ in 0..4 {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.trim_start_matches("#/components/schemas/");
                schema = doc["components"]["schemas"][name].clone();
            }
            None => break,
        }
    }
    schema
}

/// Where a response's JSON body holds the created record's id: `/id`, or `/{p}/id` when the
/// record is wrapped (`POST /imports` answers `{"import": {...}, "upload": {...}}`).
fn id_pointer(doc: &Value, response: &Value) -> Option<String> {
    let schema = resolve(doc, &response["content"]["application/json"]["schema"]);
    let props = schema["properties"].as_object()?;
    if props.contains_key("id") {
        return Some("/id".into());
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    props
        .iter()
        .filter(|(name, _)| required.contains(&name.as_str()))
        .find(|(_, s)| resolve(doc, s)["properties"].get("id").is_some())
        .map(|(name, _)| format!("/{name}/id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        crate::document_value()
    }

    #[test]
    fn every_operation_states_the_common_responses() {
        let d = doc();
        for (path, ops) in d["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                let r = op["responses"].as_object().unwrap();
                for status in ["429", "500"] {
                    assert!(r.contains_key(status), "{method} {path} lacks {status}");
                }
                if path.contains('{') {
                    assert!(r.contains_key("404"), "{method} {path} lacks 404");
                }
                if op.get("requestBody").is_some() {
                    for status in ["400", "413", "415", "422"] {
                        assert!(r.contains_key(status), "{method} {path} lacks {status}");
                    }
                }
            }
        }
        let patch = &d["paths"]["/contacts/{id}"]["patch"]["responses"];
        assert!(patch.get("412").is_some() && patch.get("401").is_some());
        let too_many = &d["components"]["responses"]["TooManyRequests"];
        assert!(too_many["headers"]["Retry-After"].is_object());
    }

    #[test]
    fn read_models_are_open_objects_and_creates_link_to_their_record() {
        let d = doc();
        let client = &d["components"]["schemas"]["Client"];
        assert!(client.get("allOf").is_none());
        assert!(client["properties"]["version"].is_object());
        assert!(client["properties"]["name"].is_object());
        assert!(client.get("additionalProperties").is_none());
        // A page's items too (they were an inline allOf of the closed input model).
        let page_item = &d["components"]["schemas"]["Page_Client"]["properties"]["items"]["items"];
        assert!(page_item.get("allOf").is_none());
        assert!(page_item["properties"]["version"].is_object());
        assert!(page_item.get("additionalProperties").is_none());
        let links = &d["paths"]["/contacts"]["post"]["responses"]["201"]["links"];
        assert_eq!(
            links["get_contact"]["parameters"]["path.id"],
            "$response.body#/id"
        );
        let limit = d["paths"]["/contacts"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap()
            .clone();
        assert_eq!(
            (
                limit["schema"]["minimum"].clone(),
                limit["schema"]["maximum"].clone()
            ),
            (json!(1), json!(200))
        );
    }

    #[test]
    fn tagged_variants_are_closed_and_a_flattened_step_keeps_its_id() {
        let d = doc();
        let schemas = &d["components"]["schemas"];
        for name in CLOSED_VARIANTS {
            for variant in schemas[name]["oneOf"].as_array().unwrap() {
                assert_eq!(variant["additionalProperties"], json!(false), "{name}");
            }
        }
        let steps = schemas["WorkflowStep"]["oneOf"].as_array().unwrap();
        assert_eq!(
            steps.len(),
            schemas["Step"]["oneOf"].as_array().unwrap().len()
        );
        for step in steps {
            assert!(step["properties"]["id"].is_object() && step["properties"]["type"].is_object());
            assert_eq!(step["additionalProperties"], json!(false));
        }
    }

    #[test]
    fn formats_are_stated_as_constraints() {
        let mut v = json!({"a": {"type": "string", "format": "uuid"},
                           "b": {"type": ["integer", "null"], "format": "int64", "minimum": 0},
                           "c": [{"type": "integer", "format": "int32"}],
                           "d": {"type": "string", "format": "uuid", "pattern": "^x$"}});
        constrain_formats(&mut v);
        assert_eq!(v["a"]["pattern"], json!(UUID_PATTERN));
        assert_eq!(
            (v["b"]["minimum"].clone(), v["b"]["maximum"].clone()),
            (json!(0), json!(i64::MAX))
        );
        assert_eq!(
            (v["c"][0]["minimum"].clone(), v["c"][0]["maximum"].clone()),
            (json!(i32::MIN), json!(i32::MAX))
        );
        assert_eq!(v["d"]["pattern"], "^x$");
        let re = regex::Regex::new(UUID_PATTERN).unwrap();
        assert!(re.is_match(&uuid::Uuid::now_v7().to_string()) && !re.is_match(""));
    }
}
