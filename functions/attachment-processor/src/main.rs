use attachment_processor::AttachmentProcessor;
use lambda_runtime::{LambdaEvent, service_fn};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    api_kit::init_tracing();
    let processor = Arc::new(AttachmentProcessor::new(
        crm_shared::Deps::from_env().await?,
    )?);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::s3::S3Event>| {
            let processor = processor.clone();
            async move {
                processor
                    .handle(event.payload)
                    .await
                    .map(|_| ())
                    .map_err(lambda_runtime::Error::from)
            }
        },
    ))
    .await
}
