//! Starting a session at sign-in, and what other use cases write to one: a password or email
//! change carries the caller's own session over to the new session epoch (every other session
//! ends with the old epoch), and ending one deletes it.

use crate::app::App;
use crate::auth::Requester;
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::Key;
use crate::model::session::{MAX_SECONDS, Session, SessionScope, new_refresh_token};
use crate::store::{Condition, Transaction, Update, num, s};
use crate::tokens::{Claims, Grant, TokenScope};
use serde::Deserialize;
use uuid::Uuid;

/// Where a client wants its refresh token: always in the cookie, and in the body too when a
/// non-browser client asks with `"refresh": "body"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshDelivery {
    #[default]
    Cookie,
    Body,
}

/// A refresh token just issued, for the entrypoint to set as a cookie: the token and the seconds
/// the cookie may live (until the session's end).
#[derive(Clone)]
pub struct IssuedRefresh {
    pub token: String,
    pub max_age: i64,
}

impl std::fmt::Debug for IssuedRefresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("IssuedRefresh")
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

/// A session being started by a sign-in: the grant names it (its access tokens carry its id)
/// before the token is signed, and its item joins the sign-in's transaction.
pub struct NewSession {
    session: Session,
    pub refresh: IssuedRefresh,
}

/// Starts a session for `grant` (a person's sign-in: platform, tenant or user scope), from where
/// `requester` signs in; `grant` is bound to it.
pub fn start(app: &App, requester: &Requester, grant: &mut Grant) -> ApiResult<NewSession> {
    let now = app.now();
    let scope = match grant.scope {
        Some(TokenScope::Platform) => SessionScope::Platform,
        Some(TokenScope::Tenant) => SessionScope::Tenant,
        Some(TokenScope::User) => SessionScope::User,
        _ => {
            return Err(ApiError::internal(
                "only a person's sign-in starts a session",
            ));
        }
    };
    let id = Uuid::now_v7();
    let token = new_refresh_token(id);
    let session = Session {
        id,
        user_id: grant.user_id,
        scope,
        tenant_id: grant.tenant_id(),
        member_id: grant.member_id,
        user_session: grant.user_session,
        member_session: grant.member_session,
        refresh_hash: crypto::token_hash(&token),
        created_at: now,
        last_used_at: now,
        expires_at: now + time::Duration::seconds(MAX_SECONDS),
        ip_address: requester.origin.source_ip.clone(),
        user_agent: requester.origin.user_agent.clone(),
        ttl: 0,
    };
    let session = Session {
        ttl: session.ends_at().unix_timestamp(),
        ..session
    };
    grant.session = Some(id);
    Ok(NewSession {
        refresh: IssuedRefresh {
            token,
            max_age: MAX_SECONDS,
        },
        session,
    })
}

impl NewSession {
    /// Adds the session's item to `tx`.
    pub fn add(&self, tx: &mut Transaction) -> ApiResult<()> {
        tx.put(
            self.session.item()?,
            Some((
                Condition::absent(),
                ApiError::internal("session id collision"),
            )),
        )
    }
}

/// Keeps the caller's own session `session_id` (of `user_id`) alive under the user's new session
/// epoch, within the transaction that replaces it (a password change, an email change): every
/// other session ends, this one goes on. Refused if it ended meanwhile.
pub fn carry_over(
    tx: &mut Transaction,
    session_id: Uuid,
    user_id: Uuid,
    epoch: u64,
) -> ApiResult<()> {
    tx.update(
        &Key::session(session_id),
        Update::new("SET user_session = :epoch").value(":epoch", num(epoch)),
        Some((
            Condition::new("user_id = :user").value(":user", s(user_id.to_string())),
            ApiError::Unauthorized,
        )),
    )
}

/// What a password change (within `tx`, for the caller of `claims`, whose fresh token `grant`
/// is under the new epoch) does to the caller's session: a session goes on (see
/// [`carry_over`]); the token of a `password_expired` sign-in has none, and the change completes
/// that sign-in, so its session starts here (its refresh token returned).
pub fn through_password_change(
    app: &App,
    requester: &Requester,
    tx: &mut Transaction,
    claims: Option<&Claims>,
    grant: &mut Grant,
) -> ApiResult<Option<IssuedRefresh>> {
    match claims {
        Some(c) if c.scp == TokenScope::PasswordChange => {
            let session = start(app, requester, grant)?;
            session.add(tx)?;
            Ok(Some(session.refresh))
        }
        Some(Claims { sid: Some(sid), .. }) => {
            carry_over(tx, *sid, grant.user_id, grant.user_session)?;
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// Ends session `session_id` within `tx`: its refresh tokens and access tokens stop working.
pub fn end(tx: &mut Transaction, session_id: Uuid) -> ApiResult<()> {
    tx.delete(&Key::session(session_id), None)
}
