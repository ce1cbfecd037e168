use aws_lambda_events::event::s3::S3Event;
use inbound_mail::InboundMail;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    api_kit::run_event_lambda::<S3Event, _>(InboundMail::new).await
}
