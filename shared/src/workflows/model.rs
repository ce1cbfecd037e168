use crate::FieldError;
use crate::email::render::check_fields;
use crate::errors::{FieldErrors, FieldPath};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_STEPS: usize = 50;
pub const MAX_WAIT_MINUTES: u32 = 366 * 24 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Contacts are enrolled through `POST /workflows/{id}/runs`.
    #[default]
    Manual,
}

/// One step of a workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Pause the run; a one-time schedule resumes it.
    Wait { minutes: u32 },
    /// Email the enrolled contact (a text body; the HTML part is made from it), with the
    /// one-click unsubscribe headers. `subject` and `body` may use the merge fields of the
    /// email renderer (`crate::email::render`): `{{first_name}}`, `{{cf.key}}`, `{{owner.name}}`…
    SendEmail { subject: String, body: String },
}

impl Step {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Wait { .. } => "wait",
            Self::SendEmail { .. } => "send_email",
        }
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkflow {
    pub name: String,
    #[serde(default)]
    pub trigger: Trigger,
    pub steps: Vec<Step>,
    /// Whether a contact may be enrolled again while or after a run (default: no).
    #[serde(default)]
    pub allow_reenrollment: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Workflow {
    pub id: Uuid,
    pub name: String,
    pub trigger: Trigger,
    pub steps: Vec<Step>,
    pub allow_reenrollment: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    pub contact_id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Active,
    Waiting,
    Completed,
    Failed,
    Cancelled,
    Paused,
}

impl RunStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// What happened at one step of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepRecord {
    pub step_index: u32,
    pub kind: String,
    pub at: DateTime<Utc>,
    /// `scheduled`, `sent`, `failed`.
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkflowRun {
    pub id: Uuid,
    pub workflow_id: Uuid,
    pub workflow_version: u64,
    pub contact_id: Uuid,
    pub status: RunStatus,
    /// Index of the next step to execute.
    pub current_step: u32,
    /// The steps as they were when the run started: editing the workflow leaves the run intact.
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_at: Option<DateTime<Utc>>,
    pub history: Vec<StepRecord>,
    pub started_at: DateTime<Utc>,
    pub started_by: String,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    pub version: u64,
}

/// The body of a step message on the step queue (sent directly, or by a fired schedule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepMessage {
    pub tenant_id: String,
    pub run_id: Uuid,
    pub step_index: u32,
}

impl Workflow {
    /// `custom_keys`: the tenant's contact custom fields (for `{{cf.key}}` merge fields).
    pub fn new(
        input: NewWorkflow,
        actor: &str,
        custom_keys: &[String],
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        let name = errors.required_text("name", &input.name, 200);
        if input.steps.is_empty() {
            errors.push("steps", "min_items", "a workflow needs at least one step");
        }
        if input.steps.len() > MAX_STEPS {
            errors.push("steps", "max_items", format!("at most {MAX_STEPS} steps"));
        }
        for (i, step) in input.steps.iter().enumerate() {
            match step {
                Step::Wait { minutes } => {
                    if *minutes == 0 || *minutes > MAX_WAIT_MINUTES {
                        errors.push(
                            FieldPath::new("steps").index(i).field("minutes"),
                            "range",
                            format!("minutes must be from 1 to {MAX_WAIT_MINUTES}"),
                        );
                    }
                }
                Step::SendEmail { subject, body } => {
                    if subject.trim().is_empty() || subject.chars().count() > 998 {
                        errors.push(
                            FieldPath::new("steps").index(i).field("subject"),
                            "length",
                            "subject must have 1 to 998 characters",
                        );
                    }
                    if body.len() > 100_000 {
                        errors.push(
                            FieldPath::new("steps").index(i).field("body"),
                            "max_length",
                            "body must be at most 100000 bytes",
                        );
                    }
                    for (field, text) in [("subject", subject), ("body", body)] {
                        let path = FieldPath::new("steps").index(i).field(field).to_string();
                        check_fields(&mut errors, &path, text, &|key| {
                            custom_keys.iter().any(|k| k == key)
                        });
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors.into_vec());
        }
        let now = crate::values::now();
        Ok(Self {
            id: crate::values::new_id(),
            name,
            trigger: input.trigger,
            steps: input.steps,
            allow_reenrollment: input.allow_reenrollment,
            created_at: now,
            created_by: actor.to_string(),
            updated_at: now,
            version: 1,
        })
    }
}

impl WorkflowRun {
    pub fn start(workflow: &Workflow, contact_id: Uuid, actor: &str) -> Self {
        let now = crate::values::now();
        Self {
            id: crate::values::new_id(),
            workflow_id: workflow.id,
            workflow_version: workflow.version,
            contact_id,
            status: RunStatus::Active,
            current_step: 0,
            steps: workflow.steps.clone(),
            wake_at: None,
            history: vec![],
            started_at: now,
            started_by: actor.to_string(),
            updated_at: now,
            finished_at: None,
            version: 1,
        }
    }

    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s7_2_workflow_validation_names_the_step() {
        let input = NewWorkflow {
            name: " ".into(),
            trigger: Trigger::Manual,
            steps: vec![
                Step::Wait { minutes: 0 },
                Step::SendEmail {
                    subject: "x".into(),
                    body: "{{nope}}".into(),
                },
            ],
            allow_reenrollment: false,
        };
        let errs = Workflow::new(input, "u", &[]).unwrap_err();
        let got: Vec<_> = errs
            .iter()
            .map(|e| (e.field.as_str(), e.rule.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("name", "required"),
                ("steps[0].minutes", "range"),
                ("steps[1].body", "merge_field")
            ]
        );
    }
}
