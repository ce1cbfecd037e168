//! The steps of a workflow (S7.2): every kind, its validation when the workflow is saved (each
//! error names the step and its field), and the walk through a tree of steps with if / else
//! branches. A step has a stable `id`: runs point at steps by id, so an edit that moves or
//! removes steps never makes a run execute a step twice or a removed one.

use super::criteria::Criteria;
use super::waits::{Weekday, parse_time_of_day, parse_zone};
use crate::errors::{FieldErrors, FieldPath};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

pub const MAX_STEPS: usize = 50;
pub const MAX_WAIT_MINUTES: u32 = 366 * 24 * 60;
/// How deep if / else branches may nest.
pub const MAX_DEPTH: usize = 5;
/// The rule of a field `update_field` does not know (standard or custom): named `field`.
pub const UNKNOWN_FIELD: &str = "unknown_field";

/// One step: its id and what it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkflowStep {
    /// Stable within the workflow: given back on edits, so runs keep their place. Assigned
    /// when missing.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(flatten)]
    pub action: Step,
}

/// Who a notification or task goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// The contact's owner.
    Owner,
    /// Every active member of the contact's team.
    Team,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Email the enrolled contact through the renderer of outbound email: a saved template
    /// (`template_id`) or a subject and text body given here. Merge fields: `{{first_name}}`,
    /// `{{cf.key}}`, `{{owner.name}}`… Opted-out, do-not-contact and suppressed contacts are
    /// skipped, and the step records why.
    SendEmail {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template_id: Option<Uuid>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// Wait a duration (the sum of the parts; at least a minute).
    Wait {
        #[serde(default)]
        minutes: u32,
        #[serde(default)]
        hours: u32,
        #[serde(default)]
        days: u32,
    },
    /// Wait until a local date and time in a time zone (`2026-12-24T09:00`, `Europe/Berlin`);
    /// a time already past continues at once.
    WaitUntil {
        at: String,
        time_zone: String,
    },
    /// Wait until the next window: one of `weekdays` at `time` in `time_zone` ("next workday
    /// at 9:00 Europe/Berlin": mon–fri, `09:00`).
    WaitForTime {
        weekdays: Vec<Weekday>,
        time: String,
        time_zone: String,
    },
    /// Log an activity on the contact (and the run's deal): the body of `POST /activities`
    /// without its links; a task is due `due_in_days` after the step and assigned to the
    /// contact's owner unless the body names an assignee.
    CreateActivity {
        activity: Map<String, Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_in_days: Option<u32>,
    },
    /// Set a contact field, standard or custom (`cf.{key}`), through the same validator as
    /// `PATCH /contacts/{id}`; `null` clears it.
    UpdateField {
        field: String,
        value: Value,
    },
    AddTag {
        tag: String,
    },
    RemoveTag {
        tag: String,
    },
    /// Move the run's deal (a deal-triggered run), or else the contact's newest open deal in
    /// the stage's pipeline, to the stage.
    MoveDeal {
        pipeline_id: Uuid,
        stage_id: Uuid,
    },
    /// An in-app notification (and email) to the contact's owner or team.
    Notify {
        to: Recipient,
        message: String,
    },
    /// Branch on a condition, in the language of the trigger criteria.
    IfElse {
        condition: Criteria,
        #[serde(default)]
        #[schema(no_recursion)]
        then: Vec<WorkflowStep>,
        #[serde(default, rename = "else")]
        #[schema(no_recursion)]
        otherwise: Vec<WorkflowStep>,
    },
}

impl Step {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SendEmail { .. } => "send_email",
            Self::Wait { .. } => "wait",
            Self::WaitUntil { .. } => "wait_until",
            Self::WaitForTime { .. } => "wait_for_time",
            Self::CreateActivity { .. } => "create_activity",
            Self::UpdateField { .. } => "update_field",
            Self::AddTag { .. } => "add_tag",
            Self::RemoveTag { .. } => "remove_tag",
            Self::MoveDeal { .. } => "move_deal",
            Self::Notify { .. } => "notify",
            Self::IfElse { .. } => "if_else",
        }
    }

    /// The minutes of a `wait`.
    pub fn wait_minutes(minutes: u32, hours: u32, days: u32) -> u64 {
        u64::from(minutes) + u64::from(hours) * 60 + u64::from(days) * 24 * 60
    }
}

/// What a save needs to know about the tenant to validate steps.
pub trait StepCatalog {
    /// The keys of the contacts' custom fields (for `{{cf.key}}`).
    fn custom_keys(&self) -> &[String];
    /// Whether the email template exists.
    fn template(&self, id: Uuid) -> bool;
    /// Whether the stage belongs to the pipeline.
    fn stage(&self, pipeline: Uuid, stage: Uuid) -> bool;
    /// Checks a contact patch body (`{field: value}`) with the contact validator.
    fn check_contact_patch(&self, body: &Map<String, Value>) -> Vec<crate::FieldError>;
    /// Checks an activity body (with a placeholder contact link) with the activity validator.
    fn check_activity(&self, body: &Map<String, Value>) -> Vec<crate::FieldError>;
    /// Checks criteria in the contact list's filter language.
    fn check_criteria(&self, criteria: &Criteria) -> Vec<crate::FieldError>;
}

/// Assigns ids to the steps that have none and validates every step; errors are named
/// `steps[i].field`, `steps[i].then[j].field`…
pub fn prepare(steps: &mut [WorkflowStep], catalog: &dyn StepCatalog, errors: &mut FieldErrors) {
    let mut ids = std::collections::BTreeSet::new();
    let mut count = 0;
    prepare_list(
        steps,
        &FieldPath::new("steps"),
        1,
        catalog,
        errors,
        &mut ids,
        &mut count,
    );
    if count > MAX_STEPS {
        errors.push(
            "steps",
            "max_items",
            format!("at most {MAX_STEPS} steps in all"),
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn prepare_list(
    steps: &mut [WorkflowStep],
    path: &FieldPath,
    depth: usize,
    catalog: &dyn StepCatalog,
    errors: &mut FieldErrors,
    ids: &mut std::collections::BTreeSet<String>,
    count: &mut usize,
) {
    for (i, step) in steps.iter_mut().enumerate() {
        *count += 1;
        let at = path.index(i);
        if step.id.is_empty() {
            step.id = new_step_id();
        } else if step.id.len() > 40
            || !step
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            errors.push(at.field("id"), "format", "1 to 40 letters, digits, - or _");
        }
        if !ids.insert(step.id.clone()) {
            errors.push(at.field("id"), "unique", "another step has this id");
        }
        check_step(&mut step.action, &at, catalog, errors);
        if let Step::IfElse {
            then, otherwise, ..
        } = &mut step.action
        {
            if depth >= MAX_DEPTH {
                errors.push(
                    at.field("then"),
                    "max_depth",
                    format!("branches nest at most {MAX_DEPTH} deep"),
                );
                continue;
            }
            prepare_list(
                then,
                &at.field("then"),
                depth + 1,
                catalog,
                errors,
                ids,
                count,
            );
            prepare_list(
                otherwise,
                &at.field("else"),
                depth + 1,
                catalog,
                errors,
                ids,
                count,
            );
        }
    }
}

fn new_step_id() -> String {
    let id = crate::values::new_id().simple().to_string();
    // The random tail of a v7 id: unique enough within one workflow, short in URLs and logs.
    format!("s{}", &id[id.len() - 10..])
}

fn check_step(step: &mut Step, at: &FieldPath, catalog: &dyn StepCatalog, e: &mut FieldErrors) {
    match step {
        Step::SendEmail {
            template_id,
            subject,
            body,
        } => match (template_id, subject.as_ref(), body.as_ref()) {
            (Some(id), None, None) => {
                if !catalog.template(*id) {
                    e.push(at.field("template_id"), "exists", "no such email template");
                }
            }
            (None, Some(subject), Some(body)) => {
                let mail = crate::email::render::MailTemplate {
                    subject: subject.clone(),
                    text: body.clone(),
                    html: None,
                };
                for error in crate::email::templates::check_mail(&mail, catalog.custom_keys()) {
                    let field = if error.field == "subject" {
                        "subject"
                    } else {
                        "body"
                    };
                    e.push(at.field(field), error.rule.as_str(), error.message.clone());
                }
            }
            _ => e.push(
                at.field("template_id"),
                "one_of",
                "give either template_id, or subject and body",
            ),
        },
        Step::Wait {
            minutes,
            hours,
            days,
        } => {
            let total = Step::wait_minutes(*minutes, *hours, *days);
            if total == 0 || total > u64::from(MAX_WAIT_MINUTES) {
                e.push(
                    at.field("minutes"),
                    "range",
                    format!("the wait must be from 1 minute to {MAX_WAIT_MINUTES} minutes"),
                );
            }
        }
        Step::WaitUntil {
            at: when,
            time_zone,
        } => {
            if let Err(error) = parse_zone(time_zone) {
                e.push(at.field("time_zone"), "time_zone", error);
            }
            if chrono::NaiveDateTime::parse_from_str(when, "%Y-%m-%dT%H:%M").is_err()
                && chrono::NaiveDateTime::parse_from_str(when, "%Y-%m-%dT%H:%M:%S").is_err()
            {
                e.push(
                    at.field("at"),
                    "format",
                    "a local date and time: 2026-12-24T09:00",
                );
            }
        }
        Step::WaitForTime {
            weekdays,
            time,
            time_zone,
        } => {
            if weekdays.is_empty() {
                e.push(at.field("weekdays"), "min_items", "at least one weekday");
            }
            if parse_time_of_day(time).is_none() {
                e.push(at.field("time"), "format", "a time of day: 09:00");
            }
            if let Err(error) = parse_zone(time_zone) {
                e.push(at.field("time_zone"), "time_zone", error);
            }
        }
        Step::CreateActivity {
            activity,
            due_in_days,
        } => {
            for error in catalog.check_activity(activity) {
                e.push(
                    at.field("activity").field(&error.field),
                    error.rule.as_str(),
                    error.message.clone(),
                );
            }
            if due_in_days.is_some_and(|d| d > 3660) {
                e.push(at.field("due_in_days"), "range", "at most 3660 days");
            }
        }
        Step::UpdateField { field, value } => {
            let mut body = Map::new();
            body.insert(field.clone(), value.clone());
            if field == "last_contacted_at" || field == "touches" {
                e.push(at.field("field"), "read_only", "kept by the system");
            } else {
                for error in catalog.check_contact_patch(&body) {
                    let name = if error.rule == UNKNOWN_FIELD
                        || !error.field.starts_with(field.as_str())
                    {
                        "field"
                    } else {
                        "value"
                    };
                    e.push(at.field(name), error.rule.as_str(), error.message.clone());
                }
            }
        }
        Step::AddTag { tag } | Step::RemoveTag { tag } => {
            let trimmed = tag.trim();
            if trimmed.is_empty() || trimmed.chars().count() > 100 {
                e.push(at.field("tag"), "length", "a tag has 1 to 100 characters");
            }
            *tag = trimmed.to_string();
        }
        Step::MoveDeal {
            pipeline_id,
            stage_id,
        } => {
            if !catalog.stage(*pipeline_id, *stage_id) {
                e.push(
                    at.field("stage_id"),
                    "exists",
                    "no such stage in this pipeline",
                );
            }
        }
        Step::Notify { message, .. } => {
            if message.trim().is_empty() || message.chars().count() > 2000 {
                e.push(
                    at.field("message"),
                    "length",
                    "a message has 1 to 2000 characters",
                );
            }
        }
        Step::IfElse { condition, .. } => {
            for error in catalog.check_criteria(condition) {
                e.push(
                    at.field("condition").field(&error.field),
                    error.rule.as_str(),
                    error.message.clone(),
                );
            }
        }
    }
}

/// Walks a tree of steps by id.
pub struct Program<'a> {
    pub steps: &'a [WorkflowStep],
}

impl<'a> Program<'a> {
    pub fn new(steps: &'a [WorkflowStep]) -> Self {
        Self { steps }
    }

    pub fn find(&self, id: &str) -> Option<&'a WorkflowStep> {
        fn walk<'b>(list: &'b [WorkflowStep], id: &str) -> Option<&'b WorkflowStep> {
            for s in list {
                if s.id == id {
                    return Some(s);
                }
                if let Step::IfElse {
                    then, otherwise, ..
                } = &s.action
                {
                    if let Some(found) = walk(then, id).or_else(|| walk(otherwise, id)) {
                        return Some(found);
                    }
                }
            }
            None
        }
        walk(self.steps, id)
    }

    /// The step after `id` is done: the next one in its list, or after the branch that holds
    /// it; `None` at the end of the workflow.
    pub fn next_after(&self, id: &str) -> Option<&'a WorkflowStep> {
        fn walk<'b>(
            list: &'b [WorkflowStep],
            id: &str,
            after_list: Option<&'b WorkflowStep>,
        ) -> Option<Option<&'b WorkflowStep>> {
            for (i, s) in list.iter().enumerate() {
                let next = list.get(i + 1).or(after_list);
                if s.id == id {
                    return Some(next);
                }
                if let Step::IfElse {
                    then, otherwise, ..
                } = &s.action
                {
                    if let Some(found) = walk(then, id, next).or_else(|| walk(otherwise, id, next))
                    {
                        return Some(found);
                    }
                }
            }
            None
        }
        walk(self.steps, id, None).flatten()
    }

    /// Where a branch of an if / else step starts (or what follows the step when the branch
    /// is empty).
    pub fn branch_start(&self, id: &str, taken: bool) -> Option<&'a WorkflowStep> {
        match self.find(id).map(|s| &s.action) {
            Some(Step::IfElse {
                then, otherwise, ..
            }) => {
                let list = if taken { then } else { otherwise };
                list.first().or_else(|| self.next_after(id))
            }
            _ => self.next_after(id),
        }
    }

    /// Every step id in order (depth first).
    #[cfg(test)]
    pub fn ids(&self) -> Vec<&'a str> {
        fn walk<'b>(list: &'b [WorkflowStep], out: &mut Vec<&'b str>) {
            for s in list {
                out.push(&s.id);
                if let Step::IfElse {
                    then, otherwise, ..
                } = &s.action
                {
                    walk(then, out);
                    walk(otherwise, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.steps, &mut out);
        out
    }
}

/// Where a run continues on a newer revision (S7.1): its next step if the new revision still
/// has it, else the first step after it (in the old order) that the new revision has; steps the
/// run has already executed are never taken again. `None`: nothing left to do.
pub fn migrate_pointer(
    old: &Program<'_>,
    new: &Program<'_>,
    pointer: &str,
    done: &[String],
) -> Option<String> {
    let mut candidate = old.find(pointer);
    while let Some(step) = candidate {
        if new.find(&step.id).is_some() && !done.contains(&step.id) {
            return Some(step.id.clone());
        }
        candidate = old.next_after(&step.id);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, action: Step) -> WorkflowStep {
        WorkflowStep {
            id: id.into(),
            action,
        }
    }

    fn tag(id: &str) -> WorkflowStep {
        step(id, Step::AddTag { tag: id.into() })
    }

    fn tree() -> Vec<WorkflowStep> {
        vec![
            tag("a"),
            step(
                "if",
                Step::IfElse {
                    condition: Criteria::default(),
                    then: vec![tag("t1"), tag("t2")],
                    otherwise: vec![],
                },
            ),
            tag("z"),
        ]
    }

    #[test]
    fn s7_2_the_walk_follows_branches_and_returns_after_them() {
        let steps = tree();
        let p = Program::new(&steps);
        assert_eq!(p.next_after("a").unwrap().id, "if");
        assert_eq!(p.branch_start("if", true).unwrap().id, "t1");
        assert_eq!(
            p.branch_start("if", false).unwrap().id,
            "z",
            "an empty else goes on"
        );
        assert_eq!(p.next_after("t1").unwrap().id, "t2");
        assert_eq!(p.next_after("t2").unwrap().id, "z");
        assert!(p.next_after("z").is_none());
        assert_eq!(p.ids(), vec!["a", "if", "t1", "t2", "z"]);
    }

    #[test]
    fn s7_1_a_moved_run_skips_removed_and_done_steps() {
        let old = tree();
        let new = vec![tag("z"), tag("a"), tag("n")];
        let (old, new) = (Program::new(&old), Program::new(&new));
        // At "if" (removed): the first step after it that remains is t1? No: t1 is inside the
        // branch; the walk after "if" goes to z.
        assert_eq!(
            migrate_pointer(&old, &new, "if", &["a".into()]).as_deref(),
            Some("z")
        );
        // "a" was done before: a run whose pointer is z continues at z, never back at a.
        assert_eq!(
            migrate_pointer(&old, &new, "z", &["a".into()]).as_deref(),
            Some("z")
        );
        assert_eq!(migrate_pointer(&old, &new, "t2", &["z".into()]), None);
    }

    #[test]
    fn steps_read_with_their_id_and_refuse_unknown_fields() {
        let s: WorkflowStep = serde_json::from_value(
            serde_json::json!({"id": "x1", "type": "add_tag", "tag": "vip"}),
        )
        .unwrap();
        assert_eq!(s.action, Step::AddTag { tag: "vip".into() });
        let bad = serde_json::from_value::<WorkflowStep>(
            serde_json::json!({"type": "add_tag", "tag": "vip", "colour": "red"}),
        );
        assert!(bad.is_err());
    }
}
