//! The SDK's shared configuration on a Lambda cold start, read from the environment Lambda sets
//! (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) rather than
//! through `aws_config::load_defaults`, which also looks for profile files and resolves a dozen
//! settings through provider chains (profile, web identity, ECS, IMDS) that a Lambda function
//! never uses. Anywhere else — or with any variable those chains would honour set — it is
//! `load_defaults` as before.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Variables only the full provider chains honour: with one set, the fast path would ignore it.
const CHAIN_ONLY: &[&str] = &[
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
];

pub async fn sdk_config() -> SdkConfig {
    match lambda_sdk_config(
        |name| std::env::var(name).ok(),
        std::env::vars().map(|(k, _)| k),
    ) {
        Some(sdk) => sdk,
        None => aws_config::load_defaults(BehaviorVersion::latest()).await,
    }
}

/// The configuration from Lambda's variables, or `None` when not in Lambda (or when the
/// environment asks for something only the provider chains do).
fn lambda_sdk_config(
    var: impl Fn(&str) -> Option<String>,
    names: impl Iterator<Item = String>,
) -> Option<SdkConfig> {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    let in_lambda =
        set("AWS_LAMBDA_FUNCTION_NAME") && set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY");
    let region = var("AWS_REGION").filter(|v| !v.is_empty())?;
    let overridden = names.into_iter().any(|n| {
        CHAIN_ONLY
            .iter()
            .any(|c| n == *c || n.starts_with("AWS_ENDPOINT_URL_"))
    });
    if !in_lambda || overridden {
        return None;
    }
    let credentials = aws_config::environment::EnvironmentVariableCredentialsProvider::new();
    Some(
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                credentials,
            ))
            .identity_cache(aws_config::identity::IdentityCache::lazy().build())
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lambda_env(extra: &[(&str, &str)]) -> Option<SdkConfig> {
        let env: Vec<(String, String)> = [
            ("AWS_LAMBDA_FUNCTION_NAME", "contacts-api"),
            ("AWS_REGION", "eu-central-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let lookup = env.clone();
        lambda_sdk_config(
            move |name| {
                lookup
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            },
            env.into_iter().map(|(k, _)| k),
        )
    }

    #[test]
    fn in_lambda_the_region_and_credentials_come_from_its_variables() {
        let sdk = lambda_env(&[]).expect("the Lambda path");
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-central-1"));
        assert!(sdk.credentials_provider().is_some());
        assert_eq!(sdk.endpoint_url(), None);
    }

    #[test]
    fn an_endpoint_or_profile_override_takes_the_full_chain() {
        assert!(lambda_env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")]).is_none());
        assert!(lambda_env(&[("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:5000")]).is_none());
        assert!(lambda_env(&[("AWS_PROFILE", "dev")]).is_none());
    }

    #[test]
    fn outside_lambda_it_is_the_full_chain() {
        let none = lambda_sdk_config(|_| None, std::iter::empty());
        assert!(none.is_none());
    }
}
