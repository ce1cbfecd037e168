//! The `limit` and `cursor` query parameters of every cursor-paginated list, as the OpenAPI
//! document states them: the same bounds [`super::cursor::page_size`] enforces.

/// `?limit=` (1–200, default 50) and `?cursor=` (opaque) of a list request.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1–200.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page of the same list (opaque).
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::super::cursor::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

    #[test]
    fn the_documented_bounds_are_the_enforced_ones() {
        assert_eq!((DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), (50, 200));
    }
}
