use aws_lambda_events::event::s3::S3Event;
use import_processor::ImportProcessor;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    api_kit::run_event_lambda::<S3Event, _>(|deps| Ok(ImportProcessor::new(deps))).await
}
