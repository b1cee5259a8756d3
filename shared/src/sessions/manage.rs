//! A person's own sessions: signing out (`POST /v1/auth/logout`), the list of their live sessions
//! (`GET /v1/me/sessions`) and ending one of them (`DELETE /v1/me/sessions/{id}`). Another
//! person's session is never found (404), whatever its id.

use super::refresh::{Presented, Standing};
use crate::app::App;
use crate::auth::{Authorized, CallerKind, Requester, authenticate};
use crate::error::{ApiError, ApiResult};
use crate::model::keys::{GSI1, Key, sessions_of};
use crate::model::member::Member;
use crate::model::session::Session;
use crate::model::user::User;
use crate::model::{List, PageParams};
use crate::store::{Batch, Condition, Query, SortRange, Transaction, from_item, s};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutInput {
    /// The refresh token, for clients that keep it themselves (browsers send the cookie).
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// Signs out: ends the session of the presented refresh token (the body's, else the `cookie`'s),
/// its refresh and access tokens with it. A token of no live session ends nothing and answers
/// alike, so signing out twice is no error and the answer tells nothing about a token.
pub async fn logout(app: &App, cookie: Option<String>, input: LogoutInput) -> ApiResult<()> {
    let presented = input.refresh_token.or(cookie).unwrap_or_default();
    let (presented, _) = Presented::read(app, &presented, &[]).await?;
    // A spent token ends its session too: its holder wants it ended, and it is no longer the
    // only holder of the session anyway.
    if let Standing::Current(session) | Standing::Spent(session) = presented.standing {
        let mut tx = Transaction::new();
        super::issue::end(&mut tx, session.id)?;
        app.store.transact(tx).await?;
    }
    Ok(())
}

/// A session as its person sees it.
#[derive(Debug, Serialize)]
pub struct SessionView {
    pub id: Uuid,
    /// The tenant the session acts in (none: a platform operator's or a person's without one).
    pub tenant_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_used_at: OffsetDateTime,
    /// When it ends unless refreshed before (idle), or at the latest.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Where it was last used from (signed in, then refreshed).
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// The session of the token that asks.
    pub current: bool,
}

/// The caller, a person (not a machine client), and their user record, read with `batch`.
async fn person(
    app: &App,
    requester: &Requester,
    mut batch: Batch,
) -> ApiResult<(Authorized, User)> {
    let claims = requester.claims()?;
    // The same key `authenticate` reads for the session epoch: one read serves both.
    let user = batch.read::<User>(Key::user(claims.sub));
    let mut authorized = authenticate(app, requester, batch).await?;
    if matches!(authorized.caller.kind, CallerKind::ApiClient(_)) {
        return Err(ApiError::Forbidden(
            "only a person has sessions, not a machine client",
        ));
    }
    let user = authorized.read.take(user)?.ok_or(ApiError::Unauthorized)?;
    Ok((authorized, user))
}

/// Whether `session` of `user` can still be refreshed, as far as the user's record and its
/// clock tell (the membership's standing is checked apart).
fn open(session: &Session, user: &User, now: OffsetDateTime) -> bool {
    session.user_id == user.id
        && session.user_session == user.session_epoch
        && session.ends_at() > now
}

/// The caller's live sessions, newest first: one query after the caller's read, and one batched
/// read of the memberships tenant sessions act as (those other than the caller's own), so a
/// session a disabled or deleted membership ended is not listed.
pub async fn list(
    app: &App,
    requester: &Requester,
    page: PageParams,
) -> ApiResult<List<SessionView>> {
    let (authorized, user) = person(app, requester, Batch::new()).await?;
    let mut query = Query::new(Some(GSI1), sessions_of(user.id), SortRange::All).page(&page);
    query.newest_first = true;
    let result = app.store.query(query).await?;
    let now = app.now();
    let sessions: Vec<Session> = result
        .items
        .into_iter()
        .map(from_item::<Session>)
        .collect::<ApiResult<Vec<_>>>()?
        .into_iter()
        .filter(|s| open(s, &user, now))
        .collect();
    let epochs = member_epochs(app, &authorized, &sessions).await?;
    let current = authorized.claims.as_ref().and_then(|c| c.sid);
    let items = sessions
        .into_iter()
        .filter(|s| match s.member_id {
            Some(m) => epochs.get(&m) == Some(&s.member_session),
            None => true,
        })
        .map(|s| SessionView {
            id: s.id,
            tenant_id: s.tenant_id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.ends_at(),
            ip_address: s.ip_address.clone(),
            user_agent: s.user_agent.clone(),
            current: Some(s.id) == current,
        })
        .collect();
    Ok(List {
        items,
        next_cursor: result.next_cursor,
    })
}

/// The session epoch of each membership `sessions` act as (the caller's own as read already),
/// for the members still live and the user's.
async fn member_epochs(
    app: &App,
    authorized: &Authorized,
    sessions: &[Session],
) -> ApiResult<HashMap<Uuid, u64>> {
    let mut epochs = HashMap::new();
    if let Some(own) = authorized.caller.member() {
        epochs.insert(own.id, own.session_epoch);
    }
    let mut keys: Vec<Key> = Vec::new();
    for session in sessions {
        if let (Some(m), Some(key)) = (session.member_id, session.member_key())
            && !epochs.contains_key(&m)
            && !keys.contains(&key)
        {
            keys.push(key);
        }
    }
    if keys.is_empty() {
        return Ok(epochs);
    }
    for item in app.store.get_many(&keys).await?.into_iter().flatten() {
        let member: Member = from_item(item)?;
        if member.user_id == authorized.caller.user_id && member.status.in_directory() {
            epochs.insert(member.id, member.session_epoch);
        }
    }
    Ok(epochs)
}

/// Ends one of the caller's sessions (their current one too): 404 for a session that is not
/// theirs or has already ended.
pub async fn end(app: &App, requester: &Requester, session_id: Uuid) -> ApiResult<()> {
    let mut batch = Batch::new();
    let session = batch.read::<Session>(Key::session(session_id));
    let (mut authorized, user) = person(app, requester, batch).await?;
    authorized
        .read
        .take(session)?
        .filter(|s| open(s, &user, app.now()))
        .ok_or(ApiError::NotFound)?;
    let mut tx = Transaction::new();
    tx.delete(
        &Key::session(session_id),
        Some((
            Condition::new("user_id = :user").value(":user", s(user.id.to_string())),
            ApiError::NotFound,
        )),
    )?;
    app.store.transact(tx).await
}
