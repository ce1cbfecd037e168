//! The full contact model (S1.1), search and filters (S1.3), end to end through the gateway.

mod contact_model;
mod filters;
mod text_search;

use crm_e2e_tests::Stack;

/// Display names of every contact listed by `GET /contacts{query}`, following cursors.
async fn names(stack: &Stack, token: &str, query: &str) -> Vec<String> {
    let items = stack.list_all(&format!("/contacts{query}"), token).await;
    items
        .iter()
        .map(|c| c["display_name"].as_str().unwrap().to_string())
        .collect()
}
