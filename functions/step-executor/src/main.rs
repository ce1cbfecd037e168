use step_executor::{StepExecutor, StepExecutorEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    api_kit::run_event_lambda::<StepExecutorEvent, _>(|deps| Ok(StepExecutor::new(deps))).await
}
