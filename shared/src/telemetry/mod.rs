//! Operational telemetry the core and the adapters feed without knowing where it goes: business
//! counters ([`metrics`]) and X-Ray subsegments of DynamoDB calls ([`xray`]). Both are ambient
//! per invocation (a tokio task-local the function edge sets up) and do nothing outside one, so
//! the core's rules and its tests are untouched by them. The edge (`api_kit::observe`) turns
//! the counters into one CloudWatch embedded-metric-format document per invocation.

pub mod metrics;
pub mod xray;
