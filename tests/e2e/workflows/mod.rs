//! Slice 3: workflow wait → EventBridge Scheduler → SQS → step executor → SES (S7.1, S7.2,
//! S7.4), and the contact's data a workflow keeps: the export and the erasure (S1.2).

mod bulk;
mod privacy;
mod runs;
mod waits;

use crm_e2e_tests::{Reply, Stack, json};

/// A contact Ada with this email: its id.
async fn contact(stack: &Stack, token: &str, email: &str) -> String {
    stack
        .create_contact(token, json!({"first_name": "Ada", "email": email}))
        .await
}

/// The Welcome workflow: wait `minutes`, then a merge-field email. Its id.
async fn workflow(stack: &Stack, token: &str, minutes: u32) -> String {
    stack
        .create(
            "/workflows",
            token,
            json!({
                "name": "Welcome",
                "steps": [
                    {"type": "wait", "minutes": minutes},
                    {"type": "send_email", "subject": "Welcome, {{first_name}}", "body": "Hello {{ display_name }}!"}
                ]
            }),
        )
        .await
}

/// Starts a run of a workflow for a contact (the reply).
async fn start_run(stack: &Stack, token: &str, workflow_id: &str, contact_id: &str) -> Reply {
    stack
        .call(
            "POST",
            &format!("/workflows/{workflow_id}/runs"),
            token,
            Some(json!({"contact_id": contact_id})),
        )
        .await
}
