//! Refreshing a session (`POST /v1/auth/refresh`): the presented refresh token is spent for a
//! fresh access token and the session's next refresh token (rotation). A token is good once:
//! presenting a spent one again means two holders have it, so the whole session ends, its newest
//! refresh token and its access tokens with it. Two refreshes racing with one token are the same
//! case: the session's conditional write lets one through, and the other ends the session.
//!
//! A refresh passes what a sign-in passes, as things stand now: the user's and the membership's
//! session epochs (SPEC.md §8.1: a password change or reset, an email change, an admin's disable
//! or delete end every refresh token), the membership's status, the tenant's allowlists, status
//! and password expiry. Failed refreshes count against the source address.

use super::issue::{IssuedRefresh, RefreshDelivery};
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Caller, CallerKind, Requester};
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::limits::{self, Counter};
use crate::model::keys::Key;
use crate::model::member::{Member, MemberStatus};
use crate::model::session::{Session, SessionScope, SpentRefresh, new_refresh_token};
use crate::model::user::User;
use crate::store::{Batch, Condition, Item, Transaction, Update, num, s};
use crate::tokens::{Grant, TokenScope};
use crate::users::{LoginOutput, admit};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshInput {
    /// The refresh token, for clients that keep it themselves (browsers send the cookie).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// `body`: the next refresh token is answered in the body too.
    #[serde(default)]
    pub refresh: Option<RefreshDelivery>,
}

/// The error a rotation's conditions answer: the token was spent by another refresh meanwhile.
const SPENT_MEANWHILE: &str = "the refresh token was spent meanwhile";

/// Refreshes the session of the presented refresh token (the body's, else the `cookie`'s): a
/// fresh access token (answered as sign-in answers) and the next refresh token, for the cookie
/// and, when asked or when the token came in the body, in the body. Unknown, spent, ended or
/// expired tokens answer 401 and count against the address.
pub async fn refresh(
    app: &App,
    requester: &Requester,
    cookie: Option<String>,
    input: RefreshInput,
) -> ApiResult<LoginOutput> {
    let delivery = match (input.refresh, &input.refresh_token) {
        (Some(asked), _) => asked,
        (None, Some(_)) => RefreshDelivery::Body,
        (None, None) => RefreshDelivery::Cookie,
    };
    let presented = input.refresh_token.or(cookie).unwrap_or_default();
    let failures = [Counter::refresh_address(
        &app.config.limits,
        requester.origin.source_ip.as_deref(),
    )];
    let refreshed = refresh_counted(app, requester, &presented, &failures, delivery).await;
    if matches!(refreshed, Err(ApiError::Unauthorized)) {
        limits::count_failure(app, &failures).await?;
    }
    refreshed
}

async fn refresh_counted(
    app: &App,
    requester: &Requester,
    presented: &str,
    failures: &[Counter],
    delivery: RefreshDelivery,
) -> ApiResult<LoginOutput> {
    let (presented, counters) = Presented::read(app, presented, failures).await?;
    limits::check(app, failures, &counters)?;
    let session = match presented.standing {
        Standing::Current(session) => session,
        Standing::Spent(session) => {
            end_reused(app, requester, &session).await?;
            return Err(ApiError::Unauthorized);
        }
        Standing::Unknown => return Err(ApiError::Unauthorized),
    };
    if session.ends_at() <= app.now() {
        return Err(ApiError::Unauthorized);
    }
    let grant = renewed_grant(app, requester, &session).await?;
    rotate(app, requester, &session, &presented.hash, grant, delivery).await
}

/// What a presented refresh token is to its session.
pub(super) enum Standing {
    /// The session's current token.
    Current(Session),
    /// A token the session spent: whoever presents it is not the only holder.
    Spent(Session),
    /// No session's token (malformed, forged, or its session ended).
    Unknown,
}

/// A presented refresh token and what it is, read with `counters`' items in one request.
pub(super) struct Presented {
    pub hash: String,
    pub standing: Standing,
}

impl Presented {
    /// Reads the session the token names and its spent marker for the token, with the items of
    /// `counters` (answered in their order).
    pub(super) async fn read(
        app: &App,
        token: &str,
        counters: &[Counter],
    ) -> ApiResult<(Self, Vec<Option<Item>>)> {
        let hash = crypto::token_hash(token);
        let now = app.now();
        let mut batch = Batch::new();
        let counted: Vec<_> = counters
            .iter()
            .flat_map(|c| c.keys(now))
            .map(|key| batch.read_item(key))
            .collect();
        let named = crate::model::session::refresh_token_session(token).map(|id| {
            (
                batch.read::<Session>(Key::session(id)),
                batch.read_item(Key::spent_refresh(id, &hash)),
            )
        });
        let mut read = batch.run(&app.store).await?;
        let counters = counted.into_iter().map(|s| read.take_item(s)).collect();
        let standing = match named {
            None => Standing::Unknown,
            Some((session, spent)) => match (read.take(session)?, read.take_item(spent)) {
                (Some(s), _) if s.refresh_hash == hash => Standing::Current(s),
                (Some(s), Some(_)) => Standing::Spent(s),
                _ => Standing::Unknown,
            },
        };
        Ok((Self { hash, standing }, counters))
    }
}

/// The grant of the session's next access token, as the account stands now: refused (401) once
/// the user's or the membership's session epoch moved on or the operator record is gone, and
/// held to the tenant's sign-in rules as they are now (403 as at sign-in).
async fn renewed_grant(app: &App, requester: &Requester, session: &Session) -> ApiResult<Grant> {
    let mut batch = Batch::new();
    let user = batch.read::<User>(Key::user(session.user_id));
    let operator = (session.scope == SessionScope::Platform)
        .then(|| batch.read_item(Key::platform_admin(session.user_id)));
    let member = session.member_key().map(|key| batch.read::<Member>(key));
    let mut read = batch.run(&app.store).await?;
    let user = read
        .take(user)?
        .filter(|u| u.session_epoch == session.user_session)
        .ok_or(ApiError::Unauthorized)?;
    let mut grant = match (session.scope, member) {
        (SessionScope::Platform, _) => {
            operator
                .and_then(|slot| read.take_item(slot))
                .ok_or(ApiError::Unauthorized)?;
            Grant::new(user.id, TokenScope::Platform)
        }
        (SessionScope::User, _) => Grant::new(user.id, TokenScope::User),
        (SessionScope::Tenant, Some(slot)) => {
            let member = read
                .take(slot)?
                .filter(|m| {
                    m.user_id == user.id
                        && m.session_epoch == session.member_session
                        && matches!(m.status, MemberStatus::Active | MemberStatus::Disabled)
                })
                .ok_or(ApiError::Unauthorized)?;
            match admit(app, requester, &user, &member, app.now()).await? {
                Ok(grant) => grant,
                Err((_, refusal)) => return Err(refusal),
            }
        }
        (SessionScope::Tenant, None) => return Err(ApiError::Unauthorized),
    };
    grant.user_session = user.session_epoch;
    grant.session = Some(session.id);
    Ok(grant)
}

/// Spends the presented token (`spent_hash`) for the next one and signs the access token: the
/// session takes the next token's hash only while it still holds the presented one's, and the
/// spent marker is new, so of two refreshes with one token one passes and the other ends the
/// session.
async fn rotate(
    app: &App,
    requester: &Requester,
    session: &Session,
    spent_hash: &str,
    grant: Grant,
    delivery: RefreshDelivery,
) -> ApiResult<LoginOutput> {
    let now = app.now();
    let token = new_refresh_token(session.id);
    let used = Session {
        last_used_at: now,
        ..session.clone()
    };
    let optional = |v: &Option<String>| v.as_deref().map_or(AttributeValue::Null(true), s);
    let spent_meanwhile = || ApiError::Conflict(SPENT_MEANWHILE.into());
    let mut tx = Transaction::new();
    tx.update(
        &Key::session(session.id),
        Update::new(
            "SET refresh_hash = :next, last_used_at = :now, #ttl = :ttl, ip_address = :ip, \
             user_agent = :ua",
        )
        .name("#ttl", "ttl")
        .value(":next", s(crypto::token_hash(&token)))
        .value(":now", s(crate::model::time::rfc3339(now)))
        .value(":ttl", num(used.ends_at().unix_timestamp()))
        .value(":ip", optional(&requester.origin.source_ip))
        .value(":ua", optional(&requester.origin.user_agent)),
        Some((
            Condition::new("refresh_hash = :spent").value(":spent", s(spent_hash)),
            spent_meanwhile(),
        )),
    )?;
    let marker = SpentRefresh {
        session_id: session.id,
        ttl: session.expires_at.unix_timestamp(),
    };
    tx.put(
        marker.item(spent_hash)?,
        Some((Condition::absent(), spent_meanwhile())),
    )?;
    match app.store.transact(tx).await {
        Err(ApiError::Conflict(why)) if why == SPENT_MEANWHILE => {
            end_reused(app, requester, session).await?;
            return Err(ApiError::Unauthorized);
        }
        other => other?,
    }
    let access_token = app.keys.issue(now, &grant).await?;
    let refresh = IssuedRefresh {
        token,
        max_age: (session.expires_at - now).whole_seconds(),
    };
    Ok(LoginOutput::new(access_token, &grant, refresh, delivery))
}

/// Ends a session whose spent refresh token was presented again (or raced): its newest refresh
/// token and its access tokens stop working. A tenant session's tenant audits it (who presented
/// it from where); the log says so too.
pub(super) async fn end_reused(
    app: &App,
    requester: &Requester,
    session: &Session,
) -> ApiResult<()> {
    tracing::warn!(
        session_id = %session.id,
        user_id = %session.user_id,
        "a spent refresh token was presented again: the session is ended"
    );
    let mut tx = Transaction::new();
    super::issue::end(&mut tx, session.id)?;
    if let Some(tenant_id) = session.tenant_id {
        let holder = Caller {
            user_id: session.user_id,
            kind: CallerKind::User,
            origin: requester.origin.clone(),
        };
        let change = Change {
            tenant_id,
            action: "session.refresh_reused",
            target_type: "session",
            target_id: session.id,
            before: None,
            after: None,
        };
        audit::record(app, &mut tx, &holder, change)?;
    }
    app.store.transact(tx).await
}
