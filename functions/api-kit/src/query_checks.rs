//! Checks every query string gets before routing: a parameter sent without a value
//! (`?client=`) is no value the document allows (every string parameter has `minLength: 1`),
//! so it is refused with 400 naming it rather than read as absent.

use crm_shared::{CrmError, FieldError};

/// 400 naming the first query parameter whose value is empty or blank.
pub fn refuse_empty_values<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), CrmError> {
    let empty: Vec<&str> = params
        .into_iter()
        .filter(|(_, v)| v.trim().is_empty())
        .map(|(k, _)| k)
        .collect();
    if empty.is_empty() {
        return Ok(());
    }
    Err(CrmError::BadRequest {
        detail: format!("query parameters without a value: {}", empty.join(", ")),
        errors: empty
            .into_iter()
            .map(|k| FieldError::new(k, "not_empty", "must have a value"))
            .collect(),
    })
}

/// [`refuse_empty_values`] over a request's query string (every authenticated route runs it).
pub fn refuse_empty_query_values(req: &lambda_http::Request) -> Result<(), CrmError> {
    use lambda_http::RequestExt;
    let params = req.query_string_parameters();
    refuse_empty_values(params.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_query_value_is_refused_naming_it() {
        assert!(refuse_empty_values([("limit", "5"), ("q", "ada")]).is_ok());
        let Err(CrmError::BadRequest { errors, .. }) =
            refuse_empty_values([("limit", "5"), ("client", ""), ("tag", " ")])
        else {
            panic!("refused");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["client", "tag"]);
    }
}
