#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // The document needs no AWS resources, so no `Deps` are built (unlike `api_kit::run_lambda`),
    // and it is the committed one, embedded at build time (not generated at init).
    api_kit::init_tracing();
    let handler = std::sync::Arc::new(openapi_api::OpenApiHandler::embedded());
    lambda_http::run(lambda_http::service_fn(move |req| {
        let handler = handler.clone();
        async move {
            let response =
                api_kit::observe::http(req, |req| api_kit::HttpHandler::handle(&*handler, req))
                    .await;
            Ok::<_, std::convert::Infallible>(response)
        }
    }))
    .await
}
