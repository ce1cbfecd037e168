//! The baseline of `make coldstart`: the smallest `lambda_http` function (no configuration, no
//! clients, no tracing subscriber). The CRM's functions are measured against it in the same run.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_req: Request| async {
        Ok::<_, Error>(Response::new(Body::Text("hello".into())))
    }))
    .await
}
