//! Who is asking. Built only from a verified token's claims; the tenant never comes from a body.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Manager,
    Member,
    Viewer,
    Portal,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "owner" => Self::Owner,
            "admin" => Self::Admin,
            "manager" => Self::Manager,
            "member" => Self::Member,
            "viewer" => Self::Viewer,
            "portal" => Self::Portal,
            _ => return None,
        })
    }

    /// Roles that may create and change CRM records.
    pub fn can_write(self) -> bool {
        matches!(
            self,
            Self::Owner | Self::Admin | Self::Manager | Self::Member
        )
    }

    /// Roles that administer the tenant (workflows, settings, users and teams) and see all.
    pub fn is_admin(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    /// Roles that read every record of the tenant: admins, and viewers (read-only seats for
    /// reporting and finance).
    pub fn sees_everything(self) -> bool {
        matches!(self, Self::Owner | Self::Admin | Self::Viewer)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Manager => "manager",
            Self::Member => "member",
            Self::Viewer => "viewer",
            Self::Portal => "portal",
        }
    }
}

/// Who is asking, as the directory (S9.4) knows them on this request: the role and teams come
/// from the tenant's user record when it has one, so a changed role applies on the next request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant_id: String,
    pub user_id: String,
    pub role: Role,
    /// The teams the user belongs to.
    pub teams: Vec<uuid::Uuid>,
    /// For portal users: the client whose portal they use, and their own contact record.
    pub portal_client_id: Option<uuid::Uuid>,
    pub portal_contact_id: Option<uuid::Uuid>,
}

impl Caller {
    /// A caller with no teams and no portal links (as a token alone describes them).
    pub fn new(tenant_id: impl Into<String>, user_id: impl Into<String>, role: Role) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            user_id: user_id.into(),
            role,
            teams: Vec::new(),
            portal_client_id: None,
            portal_contact_id: None,
        }
    }

    /// Tenant ids are embedded in every key, so they are restricted to a safe alphabet.
    pub fn is_valid_tenant_id(tenant: &str) -> bool {
        crate::values::ids::is_valid_tenant_id(tenant)
    }
}
