#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api_kit::run_lambda(tenant_api::TenantApi::new).await
}
