//! A user's account as the use cases share it: what clients see of it, the links mailed to it,
//! its password and sessions, and its memberships.

use crate::app::App;
use crate::auth::{Authorized, authenticate, authenticate_for_password_change};
use crate::auth::{Caller, Requester};
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, EventType};
use crate::members::view::MemberView;
use crate::model::keys::{GSI1, Key, memberships_of};
use crate::model::member::{Member, UserInTenant};
use crate::model::time::rfc3339;
use crate::model::user::{
    Delivery, EmailGuard, StoredToken, TokenPurpose, User, new_session_epoch,
};
use crate::sessions::issue::{IssuedRefresh, RefreshDelivery};
use crate::store::{
    Batch, Condition, Query, SortRange, Transaction, Update, from_item, num, s, to_item,
};
use crate::tokens::{Grant, TokenScope};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// A user as clients see it: never the password hash.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub language: String,
    pub email_verified: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub password_changed_at: Option<OffsetDateTime>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            phone: u.phone.clone(),
            language: u.language.clone(),
            email_verified: u.email_verified,
            created_at: u.created_at,
            password_changed_at: u.password_changed_at,
        }
    }
}

impl EmailGuard {
    /// The guard still names this account, in the proof state read.
    pub(crate) fn unchanged(&self) -> Condition {
        let condition = if self.verified {
            Condition::new("user_id = :user AND verified = :proven")
        } else {
            Condition::new(
                "user_id = :user AND (attribute_not_exists(verified) OR verified = :proven)",
            )
        };
        condition
            .value(":user", s(self.user_id.to_string()))
            .value(":proven", AttributeValue::Bool(self.verified))
    }
}

impl User {
    /// Adds the user and its email guard to `tx`; a concurrent registration of the same email
    /// cancels the transaction.
    pub fn add_new(&self, tx: &mut Transaction) -> ApiResult<()> {
        tx.put(
            to_item(self, &Key::user(self.id), &[])?,
            Some((
                Condition::absent(),
                ApiError::Conflict("the user already exists".into()),
            )),
        )?;
        tx.put(
            to_item(
                &EmailGuard {
                    user_id: self.id,
                    verified: self.email_verified,
                },
                &Key::email(&self.email),
                &[],
            )?,
            Some((
                Condition::absent(),
                ApiError::Conflict(
                    "another request registered this email at the same time; retry".into(),
                ),
            )),
        )
    }
}

impl StoredToken {
    /// The token item at `key` if it exists, has not outlived its TTL and serves `purposes`.
    pub(crate) async fn find(
        app: &App,
        key: &Key,
        purposes: &[TokenPurpose],
    ) -> ApiResult<Option<Self>> {
        let Some(item) = app.store.get(key).await? else {
            return Ok(None);
        };
        let stored: Self = from_item(item)?;
        let now = app.now().unix_timestamp();
        let alive = stored.ttl.is_none_or(|ttl| ttl > now);
        Ok(Some(stored).filter(|s| alive && purposes.contains(&s.purpose)))
    }
}

/// Adds a new one-time link token of a user to `tx`, mailed to `to`, and returns the token for
/// the mail link. It works while the user's session epoch is still `session_epoch`.
pub fn add_password_token(
    app: &App,
    tx: &mut Transaction,
    user_id: Uuid,
    session_epoch: u64,
    purpose: TokenPurpose,
    lifetime: time::Duration,
    to: &str,
) -> ApiResult<String> {
    let link = UserLink {
        user_id,
        session_epoch,
        purpose,
        lifetime,
        to,
    };
    add_user_link(app, tx, link, None)
}

/// A one-time link of a user's: what it opens, for how long, and the address it is mailed to.
pub(crate) struct UserLink<'a> {
    pub user_id: Uuid,
    pub session_epoch: u64,
    pub purpose: TokenPurpose,
    pub lifetime: time::Duration,
    pub to: &'a str,
}

impl<'a> UserLink<'a> {
    /// A link of `user`'s mailed to their address.
    pub(crate) fn to_user(user: &'a User, purpose: TokenPurpose, lifetime: time::Duration) -> Self {
        Self {
            user_id: user.id,
            session_epoch: user.session_epoch,
            purpose,
            lifetime,
            to: &user.email,
        }
    }
}

/// Adds `link` to `tx` (`new_email`: the address an email change moves to) and returns its token.
pub(crate) fn add_user_link(
    app: &App,
    tx: &mut Transaction,
    link: UserLink<'_>,
    new_email: Option<String>,
) -> ApiResult<String> {
    let token = crypto::new_token();
    let expires_at = app.now() + link.lifetime;
    let stored = StoredToken {
        purpose: link.purpose,
        user_id: Some(link.user_id),
        tenant_id: None,
        target_id: None,
        expires_at: Some(expires_at),
        ttl: Some(expires_at.unix_timestamp()),
        session_epoch: Some(link.session_epoch),
        email: new_email,
        delivered: Some(Delivery::Email(link.to.to_string())),
    };
    tx.put(
        to_item(&stored, &Key::token(&crypto::token_hash(&token)), &[])?,
        Some((Condition::absent(), ApiError::internal("token collision"))),
    )?;
    Ok(token)
}

/// The caller and their own user record (one batched read). `password_change` also accepts the
/// token a `password_expired` sign-in hands out.
pub(super) async fn own_user(
    app: &App,
    requester: &Requester,
    password_change: bool,
) -> ApiResult<(crate::auth::Authorized, User)> {
    let claims = requester.claims()?;
    let mut batch = Batch::new();
    let user = batch.read::<User>(Key::user(claims.sub));
    let mut authorized = if password_change {
        authenticate_for_password_change(app, requester, batch).await?
    } else {
        authenticate(app, requester, batch).await?
    };
    let user = authorized.read.take(user)?.ok_or(ApiError::Unauthorized)?;
    Ok((authorized, user))
}

pub fn password_link(app: &App, token: &str) -> String {
    format!("{}/set-password?token={token}", app.config.app_url)
}

/// An existing account's address, attached to a tenant by someone with authority (an operator
/// naming a tenant's owner, an admin creating a member, an import row). A proven account is taken
/// as it is. An unproven one was registered by whoever typed the address first, maybe not its
/// owner: its password, sessions and links are discarded and the address gets a set-password
/// link (the token returned), so only who reads its mail can ever sign in. `tx` also checks that
/// the guard is still as read.
pub(crate) fn claim_address(
    app: &App,
    tx: &mut Transaction,
    guard: &EmailGuard,
    email: &str,
    lifetime: time::Duration,
) -> ApiResult<Option<String>> {
    let changed = || ApiError::Conflict("the account changed at the same time; retry".into());
    tx.check(&Key::email(email), guard.unchanged(), changed())?;
    if guard.verified {
        return Ok(None);
    }
    let epoch = new_session_epoch();
    tx.update(
        &Key::user(guard.user_id),
        Update::new(
            "REMOVE password_hash, password_must_change \
             SET session_epoch = :epoch, updated_at = :now ADD version :one",
        )
        .value(":epoch", num(epoch))
        .value(":now", s(rfc3339(app.now())))
        .value(":one", num(1)),
        Some((Condition::exists(), changed())),
    )?;
    add_password_token(
        app,
        tx,
        guard.user_id,
        epoch,
        TokenPurpose::SetPassword,
        lifetime,
        email,
    )
    .map(Some)
}

/// The user's session epoch is still `epoch` (the one a token or link was issued under).
pub(crate) fn session_is(epoch: u64) -> Condition {
    let condition = if epoch == 0 {
        Condition::new(
            "attribute_exists(pk) AND (attribute_not_exists(session_epoch) OR session_epoch = :epoch)",
        )
    } else {
        Condition::new("attribute_exists(pk) AND session_epoch = :epoch")
    };
    condition.value(":epoch", num(epoch))
}

/// Sets `user`'s password and ends every session and link (a new epoch, returned). `proven`: the
/// setter proved the address too; `must_change`: the password is still the one an admin gave.
/// Refused if the user's sessions ended meanwhile.
pub(crate) fn set_password(
    app: &App,
    tx: &mut Transaction,
    user: &User,
    hash: &str,
    proven: bool,
    must_change: bool,
    stale: ApiError,
) -> ApiResult<u64> {
    let epoch = new_session_epoch();
    let now = s(rfc3339(app.now()));
    tx.update(
        &Key::user(user.id),
        Update::new(
            "SET password_hash = :hash, password_changed_at = :now, updated_at = :now, \
             session_epoch = :new_epoch, email_verified = :proven, \
             password_must_change = :must_change ADD version :one",
        )
        .value(":hash", s(hash))
        .value(":must_change", AttributeValue::Bool(must_change))
        .value(":now", now)
        .value(":new_epoch", num(epoch))
        .value(
            ":proven",
            AttributeValue::Bool(proven || user.email_verified),
        )
        .value(":one", num(1)),
        Some((session_is(user.session_epoch), stale)),
    )?;
    Ok(epoch)
}

/// A fresh access token, as sign-in answers it.
#[derive(Debug, Serialize)]
pub struct FreshToken {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    /// The refresh token of a session the answer starts, when the client asked for it in the
    /// body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The refresh token of a session the answer starts, for the entrypoint's cookie.
    #[serde(skip)]
    pub refresh: Option<IssuedRefresh>,
}

impl FreshToken {
    /// The grant of a token like the caller's (a password-change token becomes a member token,
    /// a token of a session stays in it), under the user's new session epoch; into its tenant
    /// only while that tenant issues (SPEC.md §9.1).
    pub(crate) fn grant_like(authorized: &Authorized, session_epoch: u64) -> ApiResult<Grant> {
        let claims = authorized.claims.as_ref().ok_or(ApiError::Unauthorized)?;
        let mut grant = Grant::renewing(claims, authorized.home.as_ref())?;
        grant.user_session = session_epoch;
        if grant.scope == Some(TokenScope::PasswordChange) {
            grant.scope = Some(TokenScope::Tenant);
        }
        Ok(grant)
    }

    /// The answer of a fresh token for `grant`, and of the session it starts (`refresh`, if any).
    pub(crate) async fn issue(
        app: &App,
        grant: &Grant,
        refresh: Option<IssuedRefresh>,
        delivery: RefreshDelivery,
    ) -> ApiResult<Self> {
        Ok(Self {
            access_token: app.keys.issue(app.now(), grant).await?,
            token_type: "Bearer",
            expires_in: crate::tokens::ACCESS_TOKEN_SECONDS,
            refresh_token: refresh
                .as_ref()
                .filter(|_| delivery == RefreshDelivery::Body)
                .map(|r| r.token.clone()),
            refresh,
        })
    }

    /// A token like the caller's, in the caller's session (if it has one).
    pub(crate) async fn like(
        app: &App,
        authorized: &Authorized,
        session_epoch: u64,
    ) -> ApiResult<Self> {
        let grant = Self::grant_like(authorized, session_epoch)?;
        Self::issue(app, &grant, None, RefreshDelivery::Cookie).await
    }
}

/// The member a user is in a tenant, if any.
pub async fn member_of(app: &App, tenant_id: Uuid, user_id: Uuid) -> ApiResult<Option<Member>> {
    let Some(guard) = app
        .store
        .get(&Key::user_in_tenant(tenant_id, user_id))
        .await?
    else {
        return Ok(None);
    };
    let guard: UserInTenant = from_item(guard)?;
    match app
        .store
        .get(&Key::member(tenant_id, guard.member_id))
        .await?
    {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// Every membership of a user (gsi1: a handful of items).
pub async fn memberships(app: &App, user_id: Uuid) -> ApiResult<Vec<Member>> {
    app.store
        .query_all(Query::new(
            Some(GSI1),
            memberships_of(user_id),
            SortRange::Prefix("TENANT#".into()),
        ))
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

/// Commits `tx` together with every membership's copy of `user`'s name, email, proof and phone
/// that differs from the user, in as many transactions as the copies need (a user may belong to
/// many tenants). The first transaction is `tx` itself; copies already up to date are skipped, so
/// a rerun after a failure finishes what it left. Each copy carries its member's event, made by
/// `caller`.
pub(crate) async fn commit_with_memberships(
    app: &App,
    caller: &Caller,
    mut tx: Transaction,
    user: &User,
) -> ApiResult<()> {
    for member in memberships(app, user.id).await? {
        if member.name == user.name
            && member.email == user.email
            && member.email_verified == user.email_verified
            && member.phone == user.phone
        {
            continue;
        }
        let mut follow = Transaction::new();
        member.follow_user(
            &mut follow,
            &user.name,
            &user.email,
            user.email_verified,
            user.phone.as_deref(),
        )?;
        let followed = Member {
            name: user.name.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            phone: user.phone.clone(),
            ..member
        };
        let view = MemberView::from(&followed);
        let event = EventType::MemberUpdated;
        events::record(app, &mut follow, caller, followed.tenant_id, event, &view)?;
        if tx.len() + follow.len() > crate::store::MAX_TRANSACTION_ACTIONS {
            app.store.transact(tx).await?;
            tx = Transaction::new();
        }
        tx.append(follow);
    }
    if !tx.is_empty() {
        app.store.transact(tx).await?;
    }
    Ok(())
}
