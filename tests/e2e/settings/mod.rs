//! Tenant settings (S2.4): the base currency and the exchange rates for reporting, through the
//! gateway and tenant-api: defaults, who may change them, validation naming the rate, If-Match,
//! the base-currency rule, tenancy.

mod access;
mod rates;
mod validation;

use crm_e2e_tests::{Reply, Stack};
use serde_json::Value;

/// `PATCH /settings`, with `If-Match` when given.
async fn patch(stack: &Stack, token: &str, if_match: Option<&str>, body: Value) -> Reply {
    match if_match {
        Some(etag) => {
            stack
                .call_if_match("PATCH", "/settings", token, etag, Some(body))
                .await
        }
        None => stack.call("PATCH", "/settings", token, Some(body)).await,
    }
}
