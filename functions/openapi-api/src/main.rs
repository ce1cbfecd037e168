use openapi_api::OpenApiHandler;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api_kit::init_tracing();
    let handler = Arc::new(OpenApiHandler::default());
    lambda_http::run(lambda_http::service_fn(move |req| {
        let handler = handler.clone();
        async move { Ok::<_, std::convert::Infallible>(handler.handle(req).await) }
    }))
    .await
}
