//! Who sees which contact or client (S1.4, S9.4). The one place the rules live: every read,
//! list, search, export and erase asks `Caller::sees`, and the list indexes are keyed by the
//! scopes below so that a list reads only what its caller may see.
//!
//! - owners, admins: everything; viewers: everything, read-only;
//! - managers: records of their teams (any visibility), their own, and records shared with
//!   them or their teams;
//! - members: their own, their teams' records marked `team`, and records shared with them or
//!   their teams;
//! - portal users: only their own client and their own contact record.
//!
//! A record nobody may see answers 404: the rules never produce a 403 for reading.

use crate::{Caller, CrmError, FieldError, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Who besides the owner sees a record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// The members of the record's team (the default).
    #[default]
    Team,
    /// Only the owner (and the team's managers, and admins).
    Private,
}

/// A user or a team a record is shared with (S9.4).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Principal {
    User(String),
    Team(Uuid),
}

/// Most principals a record can be shared with (each is an index entry of the record).
pub const MAX_SHARES: usize = 10;

/// Which record of a kind a portal user (S9.5) sees: their own contact, their own client, or
/// nothing of the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalView {
    OwnContact,
    OwnClient,
    Nothing,
}

/// The facts about a record that decide who sees it.
#[derive(Debug, Clone, Copy)]
pub struct Access<'a> {
    pub portal: PortalView,
    pub id: Uuid,
    pub owner: Option<&'a str>,
    pub team: Option<Uuid>,
    pub visibility: Visibility,
    pub shared_with: &'a [Principal],
}

impl Caller {
    /// Whether the caller may read the record (S1.4).
    pub fn sees(&self, r: &Access) -> bool {
        match self.role {
            Role::Owner | Role::Admin | Role::Viewer => true,
            Role::Portal => match r.portal {
                PortalView::OwnContact => self.portal_contact_id == Some(r.id),
                PortalView::OwnClient => self.portal_client_id == Some(r.id),
                PortalView::Nothing => false,
            },
            Role::Manager | Role::Member => {
                let scopes = self.scopes().unwrap_or_default();
                record_scopes(r).iter().any(|s| scopes.contains(s))
            }
        }
    }

    /// Whether the caller may change the record: a writing role that sees it.
    pub fn may_change(&self, r: &Access) -> bool {
        self.role.can_write() && self.sees(r)
    }

    /// The list scopes whose union is what a manager or member sees; `None` for the roles
    /// that see everything (and for portal users, whose two records are read by id).
    pub fn scopes(&self) -> Option<Vec<String>> {
        let team_scope = match self.role {
            Role::Manager => "t",
            Role::Member => "tv",
            _ => return None,
        };
        let mut scopes = vec![
            format!("o:{}", self.user_id),
            format!("su:{}", self.user_id),
        ];
        for team in &self.teams {
            scopes.push(format!("{team_scope}:{team}"));
            scopes.push(format!("st:{team}"));
        }
        Some(scopes)
    }
}

/// The team qualifier of a record (`tv:{team}` when its team sees it, else `tp:{team}`): index
/// entries are also found under it, so a manager's or member's filtered list reads only their
/// teams' records.
pub fn team_qualifier(r: &Access) -> Option<String> {
    r.team.map(|t| match r.visibility {
        Visibility::Team => format!("tv:{t}"),
        Visibility::Private => format!("tp:{t}"),
    })
}

/// The scopes a record is listed under: `o:` its owner, `t:` its team (for managers), `tv:`
/// its team when team-visible (for members), `su:` / `st:` each user / team it is shared with.
pub fn record_scopes(r: &Access) -> Vec<String> {
    let mut scopes = Vec::new();
    if let Some(owner) = r.owner {
        scopes.push(format!("o:{owner}"));
    }
    if let Some(team) = r.team {
        scopes.push(format!("t:{team}"));
        if r.visibility == Visibility::Team {
            scopes.push(format!("tv:{team}"));
        }
    }
    for p in r.shared_with {
        scopes.push(match p {
            Principal::User(u) => format!("su:{u}"),
            Principal::Team(t) => format!("st:{t}"),
        });
    }
    scopes
}

/// Body of a share (`POST /contacts/{id}/shares`, `POST /clients/{id}/shares`): exactly one
/// of `user` or `team`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareInput {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub team: Option<Uuid>,
}

impl ShareInput {
    pub fn principal(self) -> Result<Principal, CrmError> {
        match (self.user, self.team) {
            (Some(u), None) => Ok(Principal::User(u)),
            (None, Some(t)) => Ok(Principal::Team(t)),
            _ => Err(CrmError::Validation(vec![FieldError::new(
                "user",
                "one_of",
                "give exactly one of `user` or `team`",
            )])),
        }
    }
}

/// Parses the `{principal}` of `DELETE /{records}/{id}/shares/{principal}`: `user:{id}` or
/// `team:{uuid}`.
pub fn parse_principal(s: &str) -> Option<Principal> {
    match s.split_once(':')? {
        ("user", u) if crate::values::ids::is_valid_user_id(u) => {
            Some(Principal::User(u.to_string()))
        }
        ("team", t) => t.parse().ok().map(Principal::Team),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn caller(role: Role, user: &str, teams: Vec<Uuid>) -> Caller {
        Caller {
            teams,
            ..Caller::new("t1", user, role)
        }
    }

    fn team(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    fn access<'a>(
        owner: Option<&'a str>,
        t: Option<Uuid>,
        v: Visibility,
        shared: &'a [Principal],
    ) -> Access<'a> {
        Access {
            portal: PortalView::OwnContact,
            id: Uuid::from_bytes([9; 16]),
            owner,
            team: t,
            visibility: v,
            shared_with: shared,
        }
    }

    #[test]
    fn s1_4_rules() {
        let shared = [Principal::User("carol".into())];
        let rec = access(Some("bob"), Some(team(1)), Visibility::Private, &shared);
        assert!(caller(Role::Admin, "x", vec![]).sees(&rec));
        assert!(caller(Role::Viewer, "x", vec![]).sees(&rec));
        assert!(!caller(Role::Viewer, "x", vec![]).may_change(&rec));
        assert!(caller(Role::Manager, "m", vec![team(1)]).sees(&rec));
        assert!(!caller(Role::Manager, "m", vec![team(2)]).sees(&rec));
        // A private record is not seen by the owner's team members…
        assert!(!caller(Role::Member, "dave", vec![team(1)]).sees(&rec));
        // …but by its owner and whoever it is shared with.
        assert!(caller(Role::Member, "bob", vec![]).sees(&rec));
        assert!(caller(Role::Member, "carol", vec![]).sees(&rec));
        let team_rec = access(Some("bob"), Some(team(1)), Visibility::Team, &[]);
        assert!(caller(Role::Member, "dave", vec![team(1)]).sees(&team_rec));
        assert!(!caller(Role::Member, "dave", vec![team(2)]).sees(&team_rec));
        let portal = Caller {
            portal_contact_id: Some(Uuid::from_bytes([9; 16])),
            ..caller(Role::Portal, "p", vec![])
        };
        assert!(portal.sees(&team_rec));
        assert!(!portal.sees(&Access {
            id: Uuid::nil(),
            ..team_rec
        }));
        assert!(!portal.sees(&Access {
            portal: PortalView::OwnClient,
            ..team_rec
        }));
    }

    fn principal() -> impl Strategy<Value = Principal> {
        prop_oneof![
            (0u8..4).prop_map(|u| Principal::User(format!("u{u}"))),
            (0u8..4).prop_map(|t| Principal::Team(team(t))),
        ]
    }

    proptest! {
        /// The list indexes and the per-record check agree: a manager or member sees a record
        /// exactly when one of their scopes is one of the record's scopes.
        #[test]
        fn scopes_agree_with_sees(
            owner in proptest::option::of(0u8..4),
            rec_team in proptest::option::of(0u8..4),
            private in any::<bool>(),
            shared in proptest::collection::vec(principal(), 0..3),
            manager in any::<bool>(),
            user in 0u8..4,
            teams in proptest::collection::vec(0u8..4, 0..3),
        ) {
            let owner = owner.map(|o| format!("u{o}"));
            let rec = access(
                owner.as_deref(),
                rec_team.map(team),
                if private { Visibility::Private } else { Visibility::Team },
                &shared,
            );
            let role = if manager { Role::Manager } else { Role::Member };
            let c = caller(role, &format!("u{user}"), teams.into_iter().map(team).collect());
            let expected = owner.as_deref() == Some(c.user_id.as_str())
                || shared.contains(&Principal::User(c.user_id.clone()))
                || shared.iter().any(|p| matches!(p, Principal::Team(t) if c.teams.contains(t)))
                || rec.team.is_some_and(|t| c.teams.contains(&t) && (manager || !private));
            prop_assert_eq!(c.sees(&rec), expected);
        }
    }
}
