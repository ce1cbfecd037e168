use lambda_runtime::{LambdaEvent, service_fn};
use std::sync::Arc;
use step_executor::StepExecutor;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    api_kit::init_tracing();
    let executor = Arc::new(StepExecutor::new(crm_shared::Deps::from_env().await?));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| {
            let executor = executor.clone();
            async move { Ok::<_, lambda_runtime::Error>(executor.handle(event.payload).await) }
        },
    ))
    .await
}
