//! The one answer to "may this caller do this action on this subject" (S9.4). Use cases ask
//! [`Policy::check`] before they act; nothing else in the core looks at a role to decide.
//!
//! Reading a record is decided per record by [`super::visibility`]: a record the caller may
//! not see is 404 on every route. This table decides what a role may do at all:
//!
//! | subject | read | write |
//! |---|---|---|
//! | records (contacts, clients, …) | every role (then visibility) | owners, admins, managers, members; viewers and portal users 403 |
//! | a record's history | as reading the record; portal users: their own contact's only | — |
//! | erasing a contact (GDPR) | — | owners, admins (portal users 404) |
//! | a record deleted for good (tombstone, trail) | owners, admins (others 404) | — |
//! | the owner role | — | owners |
//! | custom field definitions | every role but portal users (403) | owners, admins |
//! | tenant settings | every role but portal users (403) | owners, admins |
//! | users and teams | every role but portal users (404) | owners, admins |
//! | workflows | every role but portal users (404) | owners, admins, managers |
//! | pipelines and stages | every role but portal users (404) | owners, admins |
//! | workflow runs, enrolling | every role but portal users (404) | the writing roles |
//! | imports | every role but portal users (404) | the writing roles |
//! | contact ↔ client links | as the records | the writing roles |

use super::{Caller, Role};
use crate::CrmError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    /// Create, change, delete, restore or share.
    Write,
    ReadHistory,
    /// Remove for good (GDPR).
    Erase,
    /// Read what is left of a record deleted for good (its tombstone and audit trail).
    ReadDeleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// Records of a kind (its name: `contact`, `client`, …).
    Record(&'static str),
    FieldDefinitions,
    Settings,
    Directory,
    Workflows,
    WorkflowRuns,
    /// Deal pipelines and their stages.
    Pipelines,
    Imports,
    Links,
    /// The owner role: granting it or taking it away.
    OwnerRole,
    /// Email templates (S6.4).
    EmailTemplates,
    /// Outbound email to a contact (S6.4).
    Messages,
}

impl Subject {
    fn noun(self) -> String {
        match self {
            Self::Record(kind) => format!("{kind}s"),
            Self::FieldDefinitions => "custom field definitions".into(),
            Self::Settings => "the tenant settings".into(),
            Self::Directory => "users and teams".into(),
            Self::Workflows => "workflows".into(),
            Self::Pipelines => "pipelines".into(),
            Self::WorkflowRuns => "workflow runs".into(),
            Self::Imports => "imports".into(),
            Self::Links => "links between contacts and clients".into(),
            Self::OwnerRole => "the owner role".into(),
            Self::EmailTemplates => "email templates".into(),
            Self::Messages => "email to contacts".into(),
        }
    }
}

/// What the policy says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// 403: the role may not do this (it may know the thing exists).
    Forbid(String),
    /// 404: for this role the thing does not exist.
    Hide,
}

pub struct Policy;

impl Policy {
    pub fn decide(caller: &Caller, action: Action, subject: Subject) -> Decision {
        use Action::*;
        use Subject::*;
        let role = caller.role;
        let writer = role.can_write();
        let admin = role.is_admin();
        let portal = role == Role::Portal;
        let forbid = |what: &str| {
            Decision::Forbid(format!(
                "the {} role cannot {what} {}",
                role.as_str(),
                subject.noun()
            ))
        };
        match (action, subject) {
            (Read, Record(_)) => Decision::Allow,
            (ReadHistory, Record("contact")) => Decision::Allow,
            (ReadHistory, Record(_)) if portal => Decision::Hide,
            (ReadHistory, Record(_)) => Decision::Allow,
            (Write, Record(_) | Links | Imports | WorkflowRuns) if writer => Decision::Allow,
            (Write, Record(_) | Links | Imports) => forbid("change"),
            (Write, WorkflowRuns) if portal => Decision::Hide,
            (Write, WorkflowRuns) => forbid("start"),
            (_, EmailTemplates | Messages) if portal => Decision::Hide,
            (Write, EmailTemplates | Messages) if writer => Decision::Allow,
            (Write, EmailTemplates | Messages) => forbid("send or change"),
            (ReadDeleted, _) if admin => Decision::Allow,
            (ReadDeleted, _) => Decision::Hide,
            (Write, OwnerRole) if role == Role::Owner => Decision::Allow,
            (Write, OwnerRole) => {
                Decision::Forbid("only an owner grants or takes away the owner role".into())
            }
            (Erase, _) if portal => Decision::Hide,
            (Erase, _) if admin => Decision::Allow,
            (Erase, _) => forbid("erase"),
            (Read, FieldDefinitions | Settings) if portal => forbid("read"),
            (Read, Directory | Workflows | WorkflowRuns | Imports | Pipelines) if portal => {
                Decision::Hide
            }
            (Read | ReadHistory, _) => Decision::Allow,
            (Write, Pipelines) if portal => Decision::Hide,
            (Write, Workflows) if admin || role == Role::Manager => Decision::Allow,
            (Write, FieldDefinitions | Settings | Directory | Pipelines) if admin => {
                Decision::Allow
            }
            (Write, _) => forbid("change"),
        }
    }

    /// Whether the role may do this at all (`Hide`: the thing does not exist for it, before
    /// any record is looked at).
    pub fn allows(caller: &Caller, action: Action, subject: Subject) -> bool {
        Self::decide(caller, action, subject) == Decision::Allow
    }

    /// `Err(NotFound)` when the thing does not exist for this role; else `Ok` (a 403 may
    /// still follow once the record is seen, so that what the caller may not see stays 404).
    pub fn check_exists(caller: &Caller, action: Action, subject: Subject) -> Result<(), CrmError> {
        match Self::decide(caller, action, subject) {
            Decision::Hide => Err(CrmError::NotFound),
            _ => Ok(()),
        }
    }

    /// `Ok` when allowed; else the 403 or 404 the caller gets.
    pub fn check(caller: &Caller, action: Action, subject: Subject) -> Result<(), CrmError> {
        match Self::decide(caller, action, subject) {
            Decision::Allow => Ok(()),
            Decision::Forbid(why) => Err(CrmError::Forbidden(why)),
            Decision::Hide => Err(CrmError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(role: Role, action: Action, subject: Subject) -> &'static str {
        match Policy::decide(&Caller::new("t", "u", role), action, subject) {
            Decision::Allow => "allow",
            Decision::Forbid(_) => "403",
            Decision::Hide => "404",
        }
    }

    #[test]
    fn the_role_table() {
        use Action::*;
        use Subject::*;
        let roles = [
            Role::Owner,
            Role::Admin,
            Role::Manager,
            Role::Member,
            Role::Viewer,
            Role::Portal,
        ];
        let rows: [(Action, Subject, [&str; 6]); 16] = [
            (Read, Record("contact"), ["allow"; 6]),
            (
                Write,
                Record("contact"),
                ["allow", "allow", "allow", "allow", "403", "403"],
            ),
            (
                ReadHistory,
                Record("client"),
                ["allow", "allow", "allow", "allow", "allow", "404"],
            ),
            (ReadHistory, Record("contact"), ["allow"; 6]),
            (
                Erase,
                Record("contact"),
                ["allow", "allow", "403", "403", "403", "404"],
            ),
            (
                Read,
                FieldDefinitions,
                ["allow", "allow", "allow", "allow", "allow", "403"],
            ),
            (
                Write,
                FieldDefinitions,
                ["allow", "allow", "403", "403", "403", "403"],
            ),
            (
                Read,
                Directory,
                ["allow", "allow", "allow", "allow", "allow", "404"],
            ),
            (
                Write,
                Workflows,
                ["allow", "allow", "allow", "403", "403", "403"],
            ),
            (
                Write,
                WorkflowRuns,
                ["allow", "allow", "allow", "allow", "403", "404"],
            ),
            (
                Read,
                Imports,
                ["allow", "allow", "allow", "allow", "allow", "404"],
            ),
            (
                Write,
                Settings,
                ["allow", "allow", "403", "403", "403", "403"],
            ),
            (
                ReadDeleted,
                Record("client"),
                ["allow", "allow", "404", "404", "404", "404"],
            ),
            (
                Read,
                Pipelines,
                ["allow", "allow", "allow", "allow", "allow", "404"],
            ),
            (
                Write,
                Pipelines,
                ["allow", "allow", "403", "403", "403", "404"],
            ),
            (
                Write,
                OwnerRole,
                ["allow", "403", "403", "403", "403", "403"],
            ),
        ];
        for (action, subject, expected) in rows {
            for (role, want) in roles.iter().zip(expected) {
                assert_eq!(
                    decide(*role, action, subject),
                    want,
                    "{role:?} {action:?} {subject:?}"
                );
            }
        }
    }
}
