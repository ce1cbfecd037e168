//! The HTTP routes every record kind gets, over the engine's use cases
//! ([`crm_shared::records::Records`]): `POST /{plural}`, `GET /{plural}`,
//! `GET|PATCH|DELETE /{plural}/{id}`, `GET /{plural}/{id}/history`,
//! `POST /{plural}/{id}/restore`, `POST /{plural}/{id}/shares`,
//! `DELETE /{plural}/{id}/shares/{principal}`. A kind's function calls these from its own
//! (documented) handlers, or serves them all with [`dispatch`].

use crate::{
    error_response, idempotent, json_body, json_body_with_custom_fields, json_response, no_content,
    page_params, path_id, path_param, query_params, route_key,
};
use crm_shared::access::visibility::{ShareInput, parse_principal};
use crm_shared::records::{Kind, Record, RecordQuery, Records};
use crm_shared::{Caller, CrmError, Deps};
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};

/// A record's ETag: its version.
pub fn etag<R: Record>(record: &R) -> String {
    format!("\"{}\"", record.version())
}

/// A record as the caller may read it, with its ETag.
pub async fn record_response<K: Kind>(
    records: &Records<K>,
    caller: &Caller,
    status: StatusCode,
    record: &K::Record,
) -> Result<Response<Body>, CrmError> {
    let body = records.present(caller, record).await?;
    Ok(json_response(status, &body, Some(etag(record))))
}

pub async fn create<K: Kind>(
    records: &Records<K>,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (input, custom) = json_body_with_custom_fields::<K::New>(req)?;
    let record = records.create(caller, input, custom.as_ref()).await?;
    let mut response = record_response(records, caller, StatusCode::CREATED, &record).await?;
    let location = format!("/{}/{}", K::schema().plural, record.id());
    response
        .headers_mut()
        .insert(header::LOCATION, location.parse().expect("valid header"));
    Ok(response)
}

pub async fn get<K: Kind>(
    records: &Records<K>,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let record = records.get(caller, path_id(req, "id")?).await?;
    record_response(records, caller, StatusCode::OK, &record).await
}

pub async fn patch<K: Kind>(
    records: &Records<K>,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let id = path_id(req, "id")?;
    let expected = expected_version(records, caller, req, id).await?;
    let (patch, custom) = json_body_with_custom_fields::<K::Patch>(req)?;
    let record = records
        .patch(caller, id, patch, custom.as_ref(), expected)
        .await?;
    record_response(records, caller, StatusCode::OK, &record).await
}

pub async fn delete<K: Kind>(
    records: &Records<K>,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let id = path_id(req, "id")?;
    let expected = expected_version(records, caller, req, id).await?;
    records.delete(caller, id, expected).await?;
    Ok(no_content())
}

/// The version a conditional write expects: an `If-Match` list naming several versions is
/// resolved against the record's current version (the write itself is still conditional on
/// the version it read, so a change in between answers 412).
async fn expected_version<K: Kind>(
    records: &Records<K>,
    caller: &Caller,
    req: &Request,
    id: uuid::Uuid,
) -> Result<Option<u64>, CrmError> {
    match crate::conditional::if_match_header(req.headers())? {
        Some(m) if m.versions().len() > 1 => {
            let current = records.get(caller, id).await?;
            Ok(m.expected_version(Some(current.version())))
        }
        m => Ok(m.and_then(|m| m.expected_version(None))),
    }
}

pub async fn restore<K: Kind>(
    records: &Records<K>,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let record = records.restore(caller, path_id(req, "id")?).await?;
    record_response(records, caller, StatusCode::OK, &record).await
}

pub async fn history<K: Kind>(
    records: &Records<K>,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (limit, cursor) = page_params(req)?;
    let page = records
        .history(caller, path_id(req, "id")?, limit, cursor.as_deref())
        .await?;
    Ok(json_response(StatusCode::OK, &page, None))
}

pub async fn list<K: Kind>(
    records: &Records<K>,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let (limit, cursor) = page_params(req)?;
    let query = RecordQuery::parse(K::schema(), &query_params(req))?;
    let page = records
        .list(caller, &query, limit, cursor.as_deref())
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &records.present_all(caller, &page).await?,
        None,
    ))
}

pub async fn share<K: Kind>(
    records: &Records<K>,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let input: ShareInput = json_body(req)?;
    let record = records
        .share(caller, path_id(req, "id")?, input.principal()?)
        .await?;
    record_response(records, caller, StatusCode::OK, &record).await
}

pub async fn unshare<K: Kind>(
    records: &Records<K>,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, CrmError> {
    let id = path_id(req, "id")?;
    let principal = path_param(req, "principal")
        .as_deref()
        .and_then(parse_principal)
        .ok_or(CrmError::NotFound)?;
    let record = records.unshare(caller, id, principal).await?;
    record_response(records, caller, StatusCode::OK, &record).await
}

/// Serves the standard routes of a kind; `None` for any other route.
pub async fn dispatch<K: Kind>(
    deps: &Deps,
    records: &Records<K>,
    caller: &Caller,
    req: &Request,
) -> Option<Response<Body>> {
    let plural = K::schema().plural;
    let route = route_key(req);
    let (method, path) = route.split_once(' ')?;
    let rest = path.strip_prefix('/')?.strip_prefix(plural)?;
    let result = match (method, rest) {
        ("POST", "") => {
            return Some(idempotent(deps, caller, req, || create(records, caller, req)).await);
        }
        ("GET", "") => list(records, caller, req).await,
        ("GET", "/{id}") => get(records, caller, req).await,
        ("PATCH", "/{id}") => patch(records, caller, req).await,
        ("DELETE", "/{id}") => delete(records, caller, req).await,
        ("GET", "/{id}/history") => history(records, caller, req).await,
        ("POST", "/{id}/restore") => {
            return Some(idempotent(deps, caller, req, || restore(records, caller, req)).await);
        }
        ("POST", "/{id}/shares") => share(records, caller, req).await,
        ("DELETE", "/{id}/shares/{principal}") => unshare(records, caller, req).await,
        _ => return None,
    };
    Some(result.unwrap_or_else(error_response))
}

/// A function serving one kind's standard routes and nothing else: all a new kind needs
/// until it has routes of its own.
pub struct RecordsApi<K: Kind> {
    deps: Deps,
    records: Records<K>,
}

impl<K: Kind> RecordsApi<K> {
    pub fn new(deps: Deps) -> Self {
        Self {
            records: deps.catalog().records(),
            deps,
        }
    }
}

impl<K: Kind> crate::Routes for RecordsApi<K> {
    async fn route(
        &self,
        _route: &str,
        caller: &Caller,
        req: &Request,
    ) -> Result<Response<Body>, CrmError> {
        Ok(dispatch(&self.deps, &self.records, caller, req)
            .await
            .unwrap_or_else(crate::unknown_route))
    }

    fn deps(&self) -> &Deps {
        &self.deps
    }
}

/// The standard routes of a kind, as `(method, path)` pairs (`POST /widgets`, …).
pub fn routes<K: Kind>() -> Vec<(&'static str, String)> {
    let plural = K::schema().plural;
    let mut out = vec![
        ("POST", format!("/{plural}")),
        ("GET", format!("/{plural}")),
        ("GET", format!("/{plural}/{{id}}")),
        ("PATCH", format!("/{plural}/{{id}}")),
        ("DELETE", format!("/{plural}/{{id}}")),
        ("GET", format!("/{plural}/{{id}}/history")),
        ("POST", format!("/{plural}/{{id}}/shares")),
        ("DELETE", format!("/{plural}/{{id}}/shares/{{principal}}")),
    ];
    if K::schema().has_trash() {
        out.push(("POST", format!("/{plural}/{{id}}/restore")));
    }
    out
}
