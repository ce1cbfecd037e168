#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api_kit::run_lambda(leads_api::LeadsApi::new).await
}
