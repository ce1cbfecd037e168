use job_worker::JobWorker;
use lambda_runtime::{LambdaEvent, service_fn};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    api_kit::init_tracing();
    let worker = Arc::new(JobWorker::new(crm_shared::Deps::from_env().await?));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| {
            let worker = worker.clone();
            async move { Ok::<_, lambda_runtime::Error>(worker.handle(event.payload).await) }
        },
    ))
    .await
}
