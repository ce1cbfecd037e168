//! The OpenAPI pieces the routes share: the `limit` and `cursor` query parameters of every
//! cursor-paginated list, as the document states them (the same bounds
//! [`super::cursor::page_size`] enforces), and the link fix every function document applies.

use utoipa::openapi::link::Link;
use utoipa::openapi::{OpenApi, RefOr};

/// `?limit=` (1–200, default 50) and `?cursor=` (opaque) of a list request.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1–200.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page of the same list (opaque).
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// Writes each response link's target as `operationId`: utoipa 5.5 serialises the field as
/// `operation_id`, which no OpenAPI tool reads (schemathesis refuses such links). A function's
/// document applies it with `#[openapi(modifiers(&LinkOperationIds))]`.
pub struct LinkOperationIds;

impl utoipa::Modify for LinkOperationIds {
    fn modify(&self, doc: &mut OpenApi) {
        let operations = doc.paths.paths.values_mut().flat_map(|item| {
            [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
        });
        for operation in operations {
            for response in operation.responses.responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                for link in response.links.values_mut() {
                    if let RefOr::T(link) = link {
                        spell_operation_id(link);
                    }
                }
            }
        }
    }
}

fn spell_operation_id(link: &mut Link) {
    if link.operation_id.is_empty() {
        return;
    }
    let id = std::mem::take(&mut link.operation_id);
    link.extensions
        .get_or_insert_with(Default::default)
        .insert("operationId".into(), id.into());
}

#[cfg(test)]
mod tests {
    use super::super::cursor::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

    #[test]
    fn the_documented_bounds_are_the_enforced_ones() {
        assert_eq!((DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), (50, 200));
    }

    #[test]
    fn links_name_their_target_as_operation_id() {
        use utoipa::Modify;
        use utoipa::openapi::link::Link;
        use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
        use utoipa::openapi::{OpenApiBuilder, ResponseBuilder, ResponsesBuilder};
        let link = Link::builder()
            .operation_id("get_thing")
            .parameter("id", "$response.body#/id")
            .build();
        let created = ResponseBuilder::new()
            .description("Created")
            .link("GetThing", link);
        let op = OperationBuilder::new()
            .responses(ResponsesBuilder::new().response("201", created))
            .build();
        let mut doc = OpenApiBuilder::new()
            .paths(PathsBuilder::new().path("/things", PathItem::new(HttpMethod::Post, op)))
            .build();
        super::LinkOperationIds.modify(&mut doc);
        let json = serde_json::to_value(&doc).unwrap();
        let link = &json["paths"]["/things"]["post"]["responses"]["201"]["links"]["GetThing"];
        assert_eq!(link["operationId"], "get_thing");
        assert!(link.get("operation_id").is_none());
        assert_eq!(link["parameters"]["id"], "$response.body#/id");
    }
}
