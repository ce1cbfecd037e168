use aws_lambda_events::event::sqs::SqsEvent;
use mail_events::MailEvents;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    api_kit::run_event_lambda::<SqsEvent, _>(|deps| Ok(MailEvents::new(deps))).await
}
