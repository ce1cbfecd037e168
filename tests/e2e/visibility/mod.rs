//! Users, teams, roles and who sees what (S9.4, S9.5, S1.4), end to end through the gateway.

mod portal;
mod role_matrix;
mod teams_and_sharing;
mod users_and_teams;
