//! What joining a tenant answers, through an invitation or a public door.

use crate::model::member::MemberStatus;
use serde::Serialize;
use uuid::Uuid;

/// The outcome of joining a tenant: a member (active) or a join request (pending).
#[derive(Debug, Serialize)]
pub struct Joined {
    pub tenant_id: Uuid,
    pub member_id: Uuid,
    pub user_id: Uuid,
    pub status: MemberStatus,
    /// True when a new account was created (sign in with the password just chosen).
    pub account_created: bool,
}

/// What a request to join answers. A signed-in person learns the request made for them; an
/// anonymous one learns only that mail went to the address, whether or not it has an account, so
/// the answer tells nobody which addresses are registered.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum JoinOutcome {
    Joined(Joined),
    VerificationSent {
        tenant_id: Uuid,
        status: &'static str,
    },
}
