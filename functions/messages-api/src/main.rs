#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api_kit::run_lambda(messages_api::MessagesApi::new).await
}
