use aws_lambda_events::event::sqs::SqsEvent;
use job_worker::JobWorker;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    api_kit::run_event_lambda::<SqsEvent, _>(|deps| Ok(JobWorker::new(deps))).await
}
