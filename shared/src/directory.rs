//! Users and teams of a tenant (S9.4). The identity provider authenticates; the directory says
//! what a user may do here. A user's record, when it exists, overrides the token's `role`
//! claim and adds the user's teams, and it is read on every request: a role changed or a user
//! deactivated by an admin takes effect on the next request, not when the token expires.
//! A user without a record keeps the role the identity provider put in the token (how a
//! tenant's first owner gets in); removing a user therefore deactivates the record instead of
//! deleting it.
//!
//! Items: users `T#{t}#USERS` / `USER#{user_id}`, teams `T#{t}#TEAMS` / `TEAM#{id}`. A tenant
//! has hundreds of users, not millions: both lists are one partition, read in pages.

use crate::access::visibility::{MAX_SHARES, Principal};
use crate::access::{Action, Policy, Subject};
use crate::errors::{FieldErrors, FieldPath};
use crate::store::cursor::{ListQuery, Page};
use crate::store::{Item, Query, Table, from_item, key, s, to_item};
use crate::values::Patch;
use crate::{Caller, CrmError, FieldError, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most teams a user can belong to (each is a visibility scope queried on lists).
pub const MAX_TEAMS_PER_USER: usize = 10;
const NAME_MAX: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    /// Can no longer use the tenant; records they own stay.
    Deactivated,
}

/// A member of the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    /// The identity provider's subject (`sub` claim).
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub role: Role,
    #[serde(default)]
    pub teams: Vec<Uuid>,
    pub status: UserStatus,
    /// Portal users: the client whose portal they use (S9.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal_client_id: Option<Uuid>,
    /// Portal users: their own contact record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal_contact_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub version: u64,
}

/// Body of `PUT /users/{user_id}`: the whole membership (creates or replaces it).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    pub role: Role,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub teams: Vec<Uuid>,
    #[serde(default)]
    pub status: Option<UserStatus>,
    #[serde(default)]
    pub portal_client_id: Option<Uuid>,
    #[serde(default)]
    pub portal_contact_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Team {
    pub id: Uuid,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub version: u64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
}

fn users_pk(tenant: &str) -> String {
    format!("T#{tenant}#USERS")
}

fn user_sk(user: &str) -> String {
    format!("USER#{user}")
}

fn teams_pk(tenant: &str) -> String {
    format!("T#{tenant}#TEAMS")
}

fn team_sk(id: Uuid) -> String {
    format!("TEAM#{id}")
}

pub use crate::values::ids::is_valid_user_id;

#[derive(Clone)]
pub struct Directory {
    table: Table,
}

impl Directory {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    pub async fn user(&self, tenant: &str, user: &str) -> Result<Option<User>, CrmError> {
        if !is_valid_user_id(user) {
            return Ok(None);
        }
        self.table
            .get(users_pk(tenant), user_sk(user))
            .await?
            .map(strip_keys)
            .map(from_item)
            .transpose()
    }

    /// Whether the tenant has any user record (one item read at most).
    pub async fn has_users(&self, tenant: &str) -> Result<bool, CrmError> {
        let page = self
            .table
            .query(
                crate::store::Query::partition(users_pk(tenant))
                    .prefix("USER#")
                    .limit(1),
            )
            .await?;
        Ok(!page.items.is_empty())
    }

    /// Every user and every team of a tenant (a tenant has at most a few thousand): imports
    /// resolve owner emails and team names with them.
    pub async fn everyone(&self, tenant: &str) -> Result<(Vec<User>, Vec<Team>), CrmError> {
        let users = self
            .table
            .query_all(crate::store::Query::partition(users_pk(tenant)).prefix("USER#"))
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        let teams = self
            .table
            .query_all(crate::store::Query::partition(teams_pk(tenant)).prefix("TEAM#"))
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        Ok((users, teams))
    }

    pub async fn team(&self, tenant: &str, id: Uuid) -> Result<Option<Team>, CrmError> {
        self.table
            .get(teams_pk(tenant), team_sk(id))
            .await?
            .map(strip_keys)
            .map(from_item)
            .transpose()
    }

    /// The caller as the directory knows them on this request (see the module comment).
    /// `Forbidden` when the user was deactivated.
    pub async fn effective_caller(&self, token: Caller) -> Result<Caller, CrmError> {
        match self.user(&token.tenant_id, &token.user_id).await? {
            None => Ok(token),
            Some(u) if u.status == UserStatus::Deactivated => Err(CrmError::Forbidden(
                "your membership of this tenant is deactivated".into(),
            )),
            Some(u) => Ok(Caller {
                role: u.role,
                teams: u.teams,
                portal_client_id: u.portal_client_id,
                portal_contact_id: u.portal_contact_id,
                ..token
            }),
        }
    }

    async fn put_versioned(&self, item: Item, expected: Option<u64>) -> Result<(), CrmError> {
        self.table.put_versioned(item, expected).await
    }
}

impl Directory {
    async fn is_active_user(&self, tenant: &str, user: &str) -> Result<bool, CrmError> {
        Ok(self
            .user(tenant, user)
            .await?
            .is_some_and(|u| u.status == UserStatus::Active))
    }

    /// The owner and team a contact or client is assigned to must exist in the tenant (the
    /// caller always counts as a user); checked only for what changed from `before`.
    pub async fn check_assignment(
        &self,
        caller: &Caller,
        owner: Option<&str>,
        team: Option<Uuid>,
        before: Option<(Option<&str>, Option<Uuid>)>,
    ) -> Result<(), CrmError> {
        let tenant = &caller.tenant_id;
        let mut errors = FieldErrors::new();
        if let Some(owner) = owner {
            let changed = before.is_none_or(|(o, _)| o != Some(owner));
            if changed && owner != caller.user_id && !self.is_active_user(tenant, owner).await? {
                errors.push(
                    "owner",
                    "exists",
                    "no active user with this id in the tenant",
                );
            }
        }
        if let Some(team) = team {
            let changed = before.is_none_or(|(_, t)| t != Some(team));
            if changed && self.team(tenant, team).await?.is_none() {
                errors.push("team", "exists", "no such team in the tenant");
            }
        }
        errors.into_result()
    }

    /// A record may be shared with an active user or a team of the tenant, with at most
    /// `MAX_SHARES` of them (S9.4).
    pub async fn check_share(
        &self,
        caller: &Caller,
        shared_with: &[Principal],
        principal: &Principal,
    ) -> Result<(), CrmError> {
        let tenant = &caller.tenant_id;
        let (field, exists) = match principal {
            Principal::User(u) => (
                "user",
                u == &caller.user_id || self.is_active_user(tenant, u).await?,
            ),
            Principal::Team(t) => ("team", self.team(tenant, *t).await?.is_some()),
        };
        if !exists {
            return Err(CrmError::validation(
                field,
                "exists",
                "no such user or team in the tenant",
            ));
        }
        if shared_with.len() >= MAX_SHARES {
            return Err(CrmError::validation(
                field,
                "max_items",
                format!("a record is shared with at most {MAX_SHARES} users and teams"),
            ));
        }
        Ok(())
    }
}

fn strip_keys(mut item: Item) -> Item {
    for k in ["PK", "SK", "entity", "tenant_id"] {
        item.remove(k);
    }
    item
}

fn require_admin(caller: &Caller) -> Result<(), CrmError> {
    Policy::check(caller, Action::Write, Subject::Directory)
}

fn require_member(caller: &Caller) -> Result<(), CrmError> {
    Policy::check(caller, Action::Read, Subject::Directory)
}

/// `PUT /users/{user_id}`: adds a member or changes their role, teams or status. Only an
/// owner grants or takes away the owner role, and nobody deactivates or demotes themselves
/// (so a tenant always keeps someone who can administer it).
pub async fn put_user(
    dir: &Directory,
    caller: &Caller,
    user_id: &str,
    input: UserInput,
    if_match: Option<u64>,
) -> Result<User, CrmError> {
    require_admin(caller)?;
    if !is_valid_user_id(user_id) {
        return Err(CrmError::Validation(vec![FieldError::new(
            "user_id",
            "format",
            "1–128 characters of letters, digits and - _ . @ : | +",
        )]));
    }
    let tenant = &caller.tenant_id;
    let current = dir.user(tenant, user_id).await?;
    if let (Some(v), Some(c)) = (if_match, &current) {
        if v != c.version {
            return Err(CrmError::PreconditionFailed);
        }
    }
    let mut errors = FieldErrors::new();
    let name = errors.text("name", input.name, NAME_MAX);
    let email = errors.email("email", input.email);
    let mut teams = input.teams.clone();
    teams.sort();
    teams.dedup();
    if teams.len() > MAX_TEAMS_PER_USER {
        errors.push(
            "teams",
            "max_items",
            format!("at most {MAX_TEAMS_PER_USER} teams"),
        );
    }
    for (i, t) in teams.iter().enumerate() {
        if dir.team(tenant, *t).await?.is_none() {
            errors.push(
                FieldPath::new("teams").index(i),
                "exists",
                "no such team in this tenant",
            );
        }
    }
    let is_portal = input.role == Role::Portal;
    if is_portal && input.portal_client_id.is_none() {
        errors.push(
            "portal_client_id",
            "required",
            "a portal user belongs to one client",
        );
    }
    if !is_portal && (input.portal_client_id.is_some() || input.portal_contact_id.is_some()) {
        errors.push(
            "portal_client_id",
            "portal_only",
            "only portal users have a portal client or contact",
        );
    }
    errors.into_result()?;
    let status = input.status.unwrap_or(UserStatus::Active);
    let touches_owner =
        input.role == Role::Owner || current.as_ref().is_some_and(|c| c.role == Role::Owner);
    if touches_owner {
        Policy::check(caller, Action::Write, Subject::OwnerRole)?;
    }
    if user_id == caller.user_id && (status != UserStatus::Active || input.role != caller.role) {
        return Err(CrmError::Conflict {
            detail: "you cannot change your own role or deactivate yourself".into(),
            errors: vec![FieldError::new("role", "not_self", "ask another admin")],
        });
    }
    let now = crate::values::now();
    let user = User {
        user_id: user_id.to_string(),
        name,
        email,
        role: input.role,
        teams,
        status,
        portal_client_id: input.portal_client_id.filter(|_| is_portal),
        portal_contact_id: input.portal_contact_id.filter(|_| is_portal),
        created_at: current.as_ref().map_or(now, |c| c.created_at),
        created_by: current
            .as_ref()
            .map_or_else(|| caller.user_id.clone(), |c| c.created_by.clone()),
        updated_at: now,
        updated_by: caller.user_id.clone(),
        version: current.as_ref().map_or(1, |c| c.version + 1),
    };
    let mut keys = key(users_pk(tenant), user_sk(user_id));
    keys.insert("entity".into(), s("user"));
    dir.put_versioned(to_item(&user, keys)?, current.map(|c| c.version))
        .await?;
    Ok(user)
}

pub async fn get_user(dir: &Directory, caller: &Caller, user_id: &str) -> Result<User, CrmError> {
    require_member(caller)?;
    dir.user(&caller.tenant_id, user_id)
        .await?
        .ok_or(CrmError::NotFound)
}

pub async fn list_users(
    dir: &Directory,
    caller: &Caller,
    team: Option<Uuid>,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<User>, CrmError> {
    require_member(caller)?;
    let query = ListQuery::new(&caller.tenant_id, format!("users:{team:?}"));
    let page = dir
        .table
        .query(
            Query::partition(users_pk(&caller.tenant_id))
                .prefix("USER#")
                .limit(limit)
                .start(query.start(cursor)?),
        )
        .await?;
    let mut users: Vec<User> = page
        .items
        .into_iter()
        .map(|i| from_item(strip_keys(i)))
        .collect::<Result<_, _>>()?;
    // Team members are a filter over the (small, bounded) user list of the tenant.
    if let Some(team) = team {
        users.retain(|u| u.teams.contains(&team));
    }
    Ok(query.page(users, page.last_key))
}

pub async fn create_team(
    dir: &Directory,
    caller: &Caller,
    input: NewTeam,
) -> Result<Team, CrmError> {
    require_admin(caller)?;
    let mut errors = FieldErrors::new();
    let name = errors.text("name", Some(input.name), NAME_MAX);
    let description = errors.text("description", input.description, NAME_MAX);
    let Some(name) = name else {
        if errors.is_empty() {
            errors.push("name", "required", "a team needs a name");
        }
        return Err(CrmError::Validation(errors.into_vec()));
    };
    errors.into_result()?;
    let now = crate::values::now();
    let team = Team {
        id: crate::values::new_id(),
        name,
        description,
        created_at: now,
        created_by: caller.user_id.clone(),
        updated_at: now,
        updated_by: caller.user_id.clone(),
        version: 1,
    };
    dir.put_versioned(team_item(&caller.tenant_id, &team)?, None)
        .await?;
    Ok(team)
}

fn team_item(tenant: &str, team: &Team) -> Result<Item, CrmError> {
    let mut keys = key(teams_pk(tenant), team_sk(team.id));
    keys.insert("entity".into(), s("team"));
    to_item(team, keys)
}

pub async fn get_team(dir: &Directory, caller: &Caller, id: Uuid) -> Result<Team, CrmError> {
    require_member(caller)?;
    dir.team(&caller.tenant_id, id)
        .await?
        .ok_or(CrmError::NotFound)
}

pub async fn patch_team(
    dir: &Directory,
    caller: &Caller,
    id: Uuid,
    patch: TeamPatch,
    if_match: Option<u64>,
) -> Result<Team, CrmError> {
    let current = get_team(dir, caller, id).await?;
    require_admin(caller)?;
    if if_match.is_some_and(|v| v != current.version) {
        return Err(CrmError::PreconditionFailed);
    }
    let mut errors = FieldErrors::new();
    let name = errors.text(
        "name",
        patch.name.apply(Some(current.name.clone())),
        NAME_MAX,
    );
    let description = errors.text(
        "description",
        patch.description.apply(current.description.clone()),
        NAME_MAX,
    );
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        if errors.is_empty() {
            errors.push("name", "required", "a team needs a name");
        }
        return Err(CrmError::Validation(errors.into_vec()));
    };
    let next = Team {
        name,
        description,
        updated_at: crate::values::now(),
        updated_by: caller.user_id.clone(),
        version: current.version + 1,
        ..current.clone()
    };
    dir.put_versioned(team_item(&caller.tenant_id, &next)?, Some(current.version))
        .await?;
    Ok(next)
}

pub async fn list_teams(
    dir: &Directory,
    caller: &Caller,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<Team>, CrmError> {
    require_member(caller)?;
    let query = ListQuery::new(&caller.tenant_id, "teams");
    let page = dir
        .table
        .query(
            Query::partition(teams_pk(&caller.tenant_id))
                .prefix("TEAM#")
                .limit(limit)
                .start(query.start(cursor)?),
        )
        .await?;
    let teams = page
        .items
        .into_iter()
        .map(|i| from_item(strip_keys(i)))
        .collect::<Result<_, _>>()?;
    Ok(query.page(teams, page.last_key))
}
