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

    /// Roles that administer the tenant (workflows, settings).
    pub fn is_admin(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant_id: String,
    pub user_id: String,
    pub role: Role,
}

impl Caller {
    /// Tenant ids are embedded in every key, so they are restricted to a safe alphabet.
    pub fn is_valid_tenant_id(tenant: &str) -> bool {
        !tenant.is_empty()
            && tenant.len() <= 64
            && tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
}
