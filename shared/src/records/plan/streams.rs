//! Which partitions a driver reads for a caller: their visibility as atoms (their own
//! records, their teams', or everything), each a qualified index partition of the driver's
//! entries; and the partitions of records shared with them.

use super::super::keys::{self, CATEGORY_INDEXES, OWNER_INDEX, TEAM_INDEX};
use super::super::kind::Schema;
use super::super::query::RecordQuery;
use super::Stream;
use crate::access::{Caller, Role};
use crate::store::KeyRange;
use uuid::Uuid;

/// Which records a caller's list starts from.
#[derive(Debug, Clone, PartialEq)]
pub enum Atom {
    All,
    Owner(String),
    Team { team: Uuid, private_too: bool },
}

/// The caller's visibility as partitions, narrowed by an owner or team filter; and whether
/// records shared with them are read in a phase of their own.
pub fn atoms(caller: &Caller, q: &RecordQuery) -> (Vec<Atom>, bool) {
    let restricted = matches!(caller.role, Role::Manager | Role::Member);
    match (&q.owner, q.team) {
        (Some(owner), _) => (vec![Atom::Owner(owner.clone())], false),
        (None, Some(team)) => (
            vec![Atom::Team {
                team,
                private_too: true,
            }],
            false,
        ),
        (None, None) if !restricted => (vec![Atom::All], false),
        (None, None) => {
            let private_too = caller.role == Role::Manager;
            let mut atoms = vec![Atom::Owner(caller.user_id.clone())];
            atoms.extend(caller.teams.iter().map(|t| Atom::Team {
                team: *t,
                private_too,
            }));
            (atoms, true)
        }
    }
}

/// The scopes a record reachable through the atoms has (for leaving those out of the shares
/// phase).
pub fn atom_scopes(atoms: &[Atom]) -> Vec<String> {
    atoms
        .iter()
        .flat_map(|a| match a {
            Atom::All => vec![],
            Atom::Owner(o) => vec![format!("o:{o}")],
            Atom::Team {
                team,
                private_too: true,
            } => vec![format!("t:{team}")],
            Atom::Team { team, .. } => vec![format!("tv:{team}")],
        })
        .collect()
}

/// The partitions holding records shared with the caller (directly or with their teams).
pub fn share_partitions(tenant: &str, schema: &Schema, caller: &Caller) -> Vec<String> {
    let mut scopes = vec![format!("su:{}", caller.user_id)];
    scopes.extend(caller.teams.iter().map(|t| format!("st:{t}")));
    scopes
        .iter()
        .map(|s| keys::index_base(tenant, schema, s))
        .collect()
}

/// The entries a driver reads: base partitions (with whether sharded), and key ranges.
#[derive(Debug, Clone)]
pub struct Driver {
    pub bases: Vec<(String, bool)>,
    pub ranges: Vec<KeyRange>,
}

impl Driver {
    /// The driver's streams restricted to the atoms (or, for everything, qualified by a
    /// category when `category` is given).
    pub fn streams(&self, atoms: &[Atom], category: Option<(usize, &str)>) -> Vec<Stream> {
        let mut out = Vec::new();
        for (base, sharded) in &self.bases {
            for range in &self.ranges {
                let via = |index: &'static str, scope: String| Stream {
                    index: Some(index),
                    pk: keys::qualified(base, &scope),
                    range: range.clone(),
                    base: Some((base.clone(), *sharded)),
                };
                for atom in atoms {
                    match atom {
                        Atom::All => match category {
                            Some((i, c)) => out.push(via(CATEGORY_INDEXES[i], c.to_string())),
                            None => out.extend(
                                keys::partitions(base, *sharded)
                                    .into_iter()
                                    .map(|p| Stream::table(p, range.clone())),
                            ),
                        },
                        Atom::Owner(o) => out.push(via(OWNER_INDEX, format!("o:{o}"))),
                        Atom::Team { team, private_too } => {
                            out.push(via(TEAM_INDEX, format!("tv:{team}")));
                            if *private_too {
                                out.push(via(TEAM_INDEX, format!("tp:{team}")));
                            }
                        }
                    }
                }
            }
        }
        out
    }
}
