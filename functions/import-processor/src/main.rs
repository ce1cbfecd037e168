use import_processor::{ImportEvent, ImportProcessor};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    api_kit::run_event_lambda::<ImportEvent, _>(ImportProcessor::new).await
}
