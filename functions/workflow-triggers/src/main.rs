use aws_lambda_events::event::dynamodb::Event;
use workflow_triggers::WorkflowTriggers;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    api_kit::run_event_lambda::<Event, _>(|deps| Ok(WorkflowTriggers::new(deps))).await
}
