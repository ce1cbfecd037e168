#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api_kit::run_lambda(clients_api::ClientsApi::new).await
}
