#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api_kit::run_lambda(custom_fields_api::CustomFieldsApi::new).await
}
