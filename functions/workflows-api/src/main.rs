use std::sync::Arc;
use workflows_api::WorkflowsApi;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api_kit::init_tracing();
    let api = Arc::new(WorkflowsApi::new(crm_shared::Deps::from_env().await?));
    lambda_http::run(lambda_http::service_fn(move |req| {
        let api = api.clone();
        async move { Ok::<_, std::convert::Infallible>(api.handle(req).await) }
    }))
    .await
}
