#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api_kit::run_lambda(workflows_api::WorkflowsApi::new).await
}
