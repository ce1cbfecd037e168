use aws_lambda_events::event::sqs::SqsEvent;
use step_executor::StepExecutor;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    api_kit::run_event_lambda::<SqsEvent, _>(|deps| Ok(StepExecutor::new(deps))).await
}
