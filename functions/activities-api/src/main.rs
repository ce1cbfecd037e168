#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api_kit::run_lambda(activities_api::ActivitiesApi::new).await
}
