//! Users (global identities), sign-in, one-time password links and the caller's own profile.
//! Proof of address (`proof`) and email changes (`email_change`) have modules of their own.

pub mod email_change;
pub mod proof;

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Requester;
use crate::auth::{CallerKind, authenticate, authenticate_for_password_change};
use crate::crypto;
use crate::error::{ApiError, ApiResult, Checks};
use crate::limits::{Attempt, Counter};
use crate::logins::{LoginEntry, LoginFailure};
use crate::model::department::Department;
use crate::model::keys::{GSI1, Key, memberships_of};
use crate::model::member::{Member, MemberStatus, UserInTenant};
use crate::model::roles::{Permissions, Role};
use crate::model::tenant::Tenant;
pub use crate::model::time::{rfc3339, whole_seconds};
pub use crate::model::user::{
    EmailGuard, PlatformAdmin, StoredToken, TokenPurpose, User, new_session_epoch,
};
use crate::store::{Condition, Query, SortRange, Transaction, from_item, num, s, to_item};
use crate::tokens::{Claims, Grant, TokenScope};
use crate::validate;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
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
    pub fn add_new(&self, app: &App, tx: &mut Transaction) -> ApiResult<()> {
        tx.put(
            app.table(),
            to_item(self, &Key::user(self.id), &[])?,
            Some((
                Condition::absent(),
                ApiError::Conflict("the user already exists".into()),
            )),
        )?;
        tx.put(
            app.table(),
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

/// Adds a new one-time link token of a user to `tx` and returns the token for the mail link. It
/// works while the user's session epoch is still `session_epoch`.
pub fn add_password_token(
    app: &App,
    tx: &mut Transaction,
    user_id: Uuid,
    session_epoch: u64,
    purpose: TokenPurpose,
    lifetime: time::Duration,
) -> ApiResult<String> {
    add_user_link(app, tx, user_id, session_epoch, purpose, lifetime, None)
}

pub(crate) fn add_user_link(
    app: &App,
    tx: &mut Transaction,
    user_id: Uuid,
    session_epoch: u64,
    purpose: TokenPurpose,
    lifetime: time::Duration,
    email: Option<String>,
) -> ApiResult<String> {
    let token = crypto::new_token();
    let expires_at = app.now() + lifetime;
    let stored = StoredToken {
        purpose,
        user_id: Some(user_id),
        tenant_id: None,
        target_id: None,
        expires_at: Some(expires_at),
        ttl: Some(expires_at.unix_timestamp()),
        session_epoch: Some(session_epoch),
        email,
    };
    tx.put(
        app.table(),
        to_item(&stored, &Key::token(&crypto::token_hash(&token)), &[])?,
        Some((Condition::absent(), ApiError::internal("token collision"))),
    )?;
    Ok(token)
}

/// The caller and their own user record (one batched read). `password_change` also accepts the
/// token a `password_expired` sign-in hands out.
async fn own_user(
    app: &App,
    requester: &Requester,
    password_change: bool,
) -> ApiResult<(crate::auth::Authorized, User)> {
    let claims = requester.claims()?;
    let keys = [Key::user(claims.sub)];
    let mut authorized = if password_change {
        authenticate_for_password_change(app, requester, &keys).await?
    } else {
        authenticate(app, requester, &keys).await?
    };
    let item = authorized
        .items
        .pop()
        .flatten()
        .ok_or(ApiError::Unauthorized)?;
    Ok((authorized, from_item(item)?))
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
    tx.check(
        app.table(),
        &Key::email(email),
        guard.unchanged(),
        changed(),
    )?;
    if guard.verified {
        return Ok(None);
    }
    let epoch = new_session_epoch();
    tx.update(
        app.table(),
        &Key::user(guard.user_id),
        Condition::new(
            "REMOVE password_hash SET session_epoch = :epoch, updated_at = :now ADD version :one",
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
/// setter proved the address too. Refused if the user's sessions ended meanwhile.
pub(crate) fn set_password(
    app: &App,
    tx: &mut Transaction,
    user: &User,
    hash: &str,
    proven: bool,
    stale: ApiError,
) -> ApiResult<u64> {
    let epoch = new_session_epoch();
    let now = s(rfc3339(app.now()));
    tx.update(
        app.table(),
        &Key::user(user.id),
        Condition::new(
            "SET password_hash = :hash, password_changed_at = :now, updated_at = :now, \
             session_epoch = :new_epoch, email_verified = :proven ADD version :one",
        )
        .value(":hash", s(hash))
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordInput {
    pub current_password: String,
    pub new_password: String,
}

/// A fresh access token, as sign-in answers it.
#[derive(Debug, Serialize)]
pub struct FreshToken {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
}

impl FreshToken {
    /// A token like `claims` (a password-change token becomes a member token), under the user's
    /// new session epoch.
    pub(crate) fn like(app: &App, claims: &Claims, session_epoch: u64) -> ApiResult<Self> {
        let mut grant = Grant::of(claims);
        grant.user_session = session_epoch;
        if grant.scope == Some(TokenScope::PasswordChange) {
            grant.scope = Some(TokenScope::Tenant);
        }
        Ok(Self {
            access_token: app.keys.issue(app.now(), &grant)?,
            token_type: "Bearer",
            expires_in: crate::tokens::ACCESS_TOKEN_SECONDS,
        })
    }
}

/// Changes the caller's own password after checking the current one. Every other session and
/// every outstanding link of the user ends; the caller gets a fresh token.
pub async fn change_password(
    app: &App,
    requester: &Requester,
    input: ChangePasswordInput,
) -> ApiResult<FreshToken> {
    let mut checks = Checks::new();
    validate::password(&mut checks, "new_password", &input.new_password);
    checks.check(
        input.current_password.chars().count() <= validate::MAX_PASSWORD * 4,
        "current_password",
        "is too long",
    );
    checks.finish()?;
    let (authorized, user) = own_user(app, requester, true).await?;
    if !crypto::verify_password(&input.current_password, user.password_hash.as_deref()) {
        return Err(ApiError::invalid(
            "current_password",
            "is not the current password",
        ));
    }
    if input.current_password == input.new_password {
        return Err(ApiError::invalid(
            "new_password",
            "must differ from the current password",
        ));
    }
    let hash = crypto::hash_password(&input.new_password)?;
    let mut tx = Transaction::new();
    let epoch = set_password(app, &mut tx, &user, &hash, false, ApiError::Unauthorized)?;
    if let CallerKind::Member(m) = &authorized.caller.kind {
        audit::record(
            app,
            &mut tx,
            &authorized.caller,
            Change {
                tenant_id: m.tenant_id,
                action: "user.password_change",
                target_type: "user",
                target_id: user.id,
                before: None,
                after: None,
            },
        )?;
    }
    app.store.transact(tx).await?;
    FreshToken::like(app, &authorized.claims, epoch)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub tenant_id: Option<Uuid>,
}

#[derive(Debug, Serialize)]
pub struct LoginOutput {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub tenant_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    pub platform_admin: bool,
}

/// Signs a user in. Unknown emails and wrong passwords get the same 401 after the same work.
/// Every attempt is counted against the account and the source address before the password is
/// checked (so concurrent guesses cannot slip under the limits); a right password takes its count
/// back. Past a limit every attempt answers 429, the right password too. An account whose address
/// nobody proved answers 403 `email_unverified` to the right password and gets a verification
/// link mailed.
///
/// Without `tenant_id`, platform admins get a platform token and members of exactly one tenant a
/// token for it. A member's sign-in then passes the tenant's rules — IP allowlist (the tenant's
/// and the department's), account status, password age — and every attempt on a known
/// membership lands in the tenant's sign-in log.
pub async fn login(app: &App, requester: &Requester, input: LoginInput) -> ApiResult<LoginOutput> {
    let mut checks = Checks::new();
    let email = validate::email(&mut checks, "email", &input.email);
    checks.check(
        !input.password.is_empty() && input.password.len() <= validate::MAX_PASSWORD * 4,
        "password",
        "must be 1 to 1024 bytes",
    );
    checks.finish()?;

    let now = app.now();
    let limits = &app.config.limits;
    let counters = [
        Counter::sign_in_account(limits, &email),
        Counter::sign_in_address(limits, requester.origin.source_ip.as_deref()),
    ];
    let mut keys = vec![Key::email(&email)];
    for counter in &counters {
        keys.extend(counter.keys(now));
    }
    let mut items = app.store.get_many(&keys).await?;
    let guard: Option<EmailGuard> = items.remove(0).map(from_item).transpose()?;
    let counted = Attempt::count(app, &counters, &items).await;
    // An unknown address reads a key nobody holds: the same round trips either way.
    let user = app
        .store
        .get(&Key::user(
            guard.as_ref().map_or(Uuid::nil(), |g| g.user_id),
        ))
        .await?
        .filter(|_| guard.is_some())
        .map(from_item::<User>)
        .transpose()?;
    // The membership named by tenant_id is known before the password is checked, so a refused
    // attempt can be logged against it.
    let named = match (&user, input.tenant_id) {
        (Some(u), Some(t)) => member_of(app, t, u.id).await?,
        _ => None,
    };
    let logged = named.as_ref().filter(|m| m.status.in_directory());
    let attempt = match counted {
        Ok(attempt) => attempt,
        Err(err) => {
            if let (Some(m), ApiError::RateLimited { .. }) = (logged, &err) {
                log_attempt(app, requester, m, Some(LoginFailure::RateLimited), None).await?;
            }
            return Err(err);
        }
    };
    let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
    if !crypto::verify_password(&input.password, hash) {
        if let Some(m) = logged {
            log_attempt(app, requester, m, Some(LoginFailure::BadPassword), None).await?;
        }
        return Err(ApiError::Unauthorized);
    }
    let user = user.ok_or(ApiError::Unauthorized)?;

    if !user.email_verified {
        let mut tx = Transaction::new();
        attempt.give_back(app, &mut tx)?;
        if let Some(m) = logged {
            LoginEntry::new(now, requester, m, Some(LoginFailure::EmailUnverified))
                .record(app, &mut tx)?;
        }
        let mail = proof::add_verification(app, &mut tx, &user)?;
        app.store.transact(tx).await?;
        app.mail().send(mail).await?;
        return Err(ApiError::EmailUnverified);
    }

    // A person with no membership to act in yet (none, or only join requests) still signs in:
    // with a user-scope token that opens their own identity, invitations and join links.
    let mut scope = TokenScope::Platform;
    let member = match input.tenant_id {
        Some(_) => named.filter(|m| m.status.in_directory()),
        None => {
            if app
                .store
                .get(&Key::platform_admin(user.id))
                .await?
                .is_some()
            {
                None
            } else {
                let mut live = memberships(app, user.id)
                    .await?
                    .into_iter()
                    .filter(|m| m.status.in_directory());
                match (live.next(), live.next()) {
                    (Some(only), None) => Some(only),
                    (None, _) => {
                        scope = TokenScope::User;
                        None
                    }
                    (Some(_), Some(_)) => {
                        attempt.give_back_now(app).await?;
                        return Err(ApiError::invalid(
                            "tenant_id",
                            "is required: the account belongs to several tenants",
                        ));
                    }
                }
            }
        }
    };
    let grant = Grant {
        user_session: user.session_epoch,
        ..Grant::new(user.id, scope)
    };
    let access_token = match (&member, input.tenant_id) {
        (None, Some(_)) => {
            attempt.give_back_now(app).await?;
            return Err(ApiError::Unauthorized);
        }
        (None, None) => {
            attempt.give_back_now(app).await?;
            app.keys.issue(now, &grant)?
        }
        (Some(m), _) => {
            let allowlist = match admit(app, requester, &user, m, now).await? {
                Ok(allowlist) => allowlist,
                Err((failure, err)) => {
                    log_attempt(app, requester, m, Some(failure), Some(&attempt)).await?;
                    return Err(err);
                }
            };
            let mut tx = Transaction::new();
            tx.update(
                app.table(),
                &m.key(),
                Condition::new("SET last_login_at = :now, gsi5sk = :position")
                    .value(":now", s(rfc3339(now)))
                    .value(
                        ":position",
                        s(crate::model::keys::last_login_position(
                            Some(&rfc3339(now)),
                            m.id,
                        )),
                    ),
                Some((Condition::exists(), ApiError::Unauthorized)),
            )?;
            LoginEntry::new(now, requester, m, None).record(app, &mut tx)?;
            attempt.give_back(app, &mut tx)?;
            app.store.transact(tx).await?;
            app.keys.issue(now, &member_grant(&user, m, allowlist))?
        }
    };
    Ok(LoginOutput {
        access_token,
        token_type: "Bearer",
        expires_in: crate::tokens::ACCESS_TOKEN_SECONDS,
        tenant_id: member.as_ref().map(|m| m.tenant_id),
        member_id: member.as_ref().map(|m| m.id),
        platform_admin: member.is_none() && scope == TokenScope::Platform,
    })
}

/// A member's token: usable from the addresses both allowlists (tenant's, department's) allow, alive while neither the user's
/// nor the member's sessions end.
fn member_grant(user: &User, member: &Member, allowlists: [Vec<String>; 2]) -> Grant {
    let [allowlist, department_allowlist] = allowlists;
    Grant {
        tenant_id: Some(member.tenant_id),
        member_id: Some(member.id),
        allowlist,
        department_allowlist,
        user_session: user.session_epoch,
        member_session: member.session_epoch,
        ..Grant::new(user.id, TokenScope::Tenant)
    }
}

/// The tenant's rules for a member with the right password: the IP allowlist in force for them,
/// or the refusal.
async fn admit(
    app: &App,
    requester: &Requester,
    user: &User,
    member: &Member,
    now: OffsetDateTime,
) -> ApiResult<Result<[Vec<String>; 2], (LoginFailure, ApiError)>> {
    let items = app
        .store
        .get_many(&[
            Key::tenant(member.tenant_id),
            Key::department(member.tenant_id, member.department_id),
        ])
        .await?;
    let mut items = items.into_iter();
    let tenant: Tenant = from_item(items.next().flatten().ok_or(ApiError::Unauthorized)?)?;
    let department: Option<Department> = items.next().flatten().map(from_item).transpose()?;
    // A department's list narrows the tenant's: the address must pass both, and so must every
    // request made with the token (it carries both).
    let department_list = department
        .as_ref()
        .and_then(|d| d.settings.ip_allowlist.clone())
        .unwrap_or_default();
    let source = requester.origin.source_ip.as_deref();
    if !crate::auth::ip_allowed(source, &tenant.settings.ip_allowlist)
        || !crate::auth::ip_allowed(source, &department_list)
    {
        return Ok(Err((LoginFailure::IpNotAllowed, ApiError::IpNotAllowed)));
    }
    let allowlist = [tenant.settings.ip_allowlist.clone(), department_list];
    if member.status == MemberStatus::Disabled {
        return Ok(Err((
            LoginFailure::AccountDisabled,
            ApiError::AccountDisabled,
        )));
    }
    if let Some(days) = tenant.settings.password_expiry_days {
        let changed = user.password_changed_at.unwrap_or(user.created_at);
        if changed + time::Duration::days(i64::from(days)) <= now {
            let grant = Grant {
                scope: Some(TokenScope::PasswordChange),
                ..member_grant(user, member, allowlist)
            };
            let access_token = app.keys.issue(now, &grant)?;
            return Ok(Err((
                LoginFailure::PasswordExpired,
                ApiError::PasswordExpired { access_token },
            )));
        }
    }
    Ok(Ok(allowlist))
}

/// Records a refused attempt on a membership, giving the attempt's count back when the password
/// was right (the refusal is the tenant's rule, not a guess).
async fn log_attempt(
    app: &App,
    requester: &Requester,
    member: &Member,
    failure: Option<LoginFailure>,
    right_password: Option<&Attempt>,
) -> ApiResult<()> {
    let mut tx = Transaction::new();
    LoginEntry::new(app.now(), requester, member, failure).record(app, &mut tx)?;
    if let Some(attempt) = right_password {
        attempt.give_back(app, &mut tx)?;
    }
    app.store.transact(tx).await
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

#[derive(Debug, Serialize)]
pub struct MembershipView {
    pub tenant_id: Uuid,
    pub member_id: Uuid,
    pub role: Role,
    pub status: MemberStatus,
    pub department_id: Uuid,
}

#[derive(Debug, Serialize)]
pub struct CurrentView {
    pub tenant_id: Uuid,
    pub member_id: Uuid,
    pub role: Role,
    pub permissions: Permissions,
}

#[derive(Debug, Serialize)]
pub struct MeView {
    pub user: UserView,
    pub platform_admin: bool,
    pub current: Option<CurrentView>,
    pub memberships: Vec<MembershipView>,
}

/// The caller's identity, the membership their token acts in, and all their memberships.
pub async fn me(app: &App, requester: &Requester) -> ApiResult<MeView> {
    let (authorized, user) = own_user(app, requester, false).await?;
    let memberships = memberships(app, user.id)
        .await?
        .into_iter()
        .filter(|m| m.status != MemberStatus::Deleted)
        .map(|m| MembershipView {
            tenant_id: m.tenant_id,
            member_id: m.id,
            role: m.role,
            status: m.status,
            department_id: m.department_id,
        })
        .collect();
    let current = authorized.caller.member().map(|m| CurrentView {
        tenant_id: m.tenant_id,
        member_id: m.id,
        role: m.role,
        permissions: m.effective_permissions(),
    });
    Ok(MeView {
        user: UserView::from(&user),
        platform_admin: authorized.caller.is_platform(),
        current,
        memberships,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MePatch {
    #[serde(default)]
    pub name: Option<String>,
    /// A new sign-in email: needs `current_password`.
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub current_password: Option<String>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub phone: Option<Option<String>>,
    #[serde(default)]
    pub language: Option<String>,
}

/// What PATCH /v1/me did: the profile as it now is and, when a new address was asked for, the
/// address waiting for its link (answered 202: nothing about the address has changed yet).
#[derive(Debug, Serialize)]
pub struct MeUpdate {
    pub user: UserView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_email: Option<String>,
}

/// Only the user edits their own name, email, phone and language. A new email needs the current
/// password and takes effect only through the link mailed to it (see `email_change`).
pub async fn update_me(app: &App, requester: &Requester, patch: MePatch) -> ApiResult<MeUpdate> {
    let (authorized, before) = own_user(app, requester, false).await?;
    let copied_to_members = patch.name.is_some() || patch.phone.is_some();
    let mut checks = Checks::new();
    let email = patch
        .email
        .as_deref()
        .map(|e| validate::email(&mut checks, "email", e));
    let name = patch
        .name
        .as_deref()
        .map(|n| validate::text(&mut checks, "name", n, validate::MAX_NAME));
    let phone = patch.phone.map(|p| {
        validate::optional_text(&mut checks, "phone", p.as_deref(), validate::MAX_SHORT_TEXT)
    });
    let language = patch
        .language
        .as_deref()
        .map(|l| validate::language(&mut checks, "language", l));
    checks.check(
        patch
            .current_password
            .as_deref()
            .is_none_or(|p| p.chars().count() <= validate::MAX_PASSWORD * 4),
        "current_password",
        "is too long",
    );
    checks.finish()?;

    let mut after = before.clone();
    let new_email = email.filter(|e| *e != before.email);
    if new_email.is_some() {
        let password = patch.current_password.as_deref().unwrap_or_default();
        if !crypto::verify_password(password, before.password_hash.as_deref()) {
            return Err(ApiError::invalid(
                "current_password",
                "is required to change the email, and must be the current password",
            ));
        }
    }
    if let Some(name) = name {
        after.name = name;
    }
    if let Some(phone) = phone {
        after.phone = phone;
    }
    if let Some(language) = language {
        after.language = language;
    }
    let mut tx = Transaction::new();
    let profile_changed = after.name != before.name
        || after.phone != before.phone
        || after.language != before.language;
    if profile_changed || new_email.is_none() {
        after.updated_at = app.now();
        after.version += 1;
        tx.put(
            app.table(),
            to_item(&after, &Key::user(after.id), &[])?,
            Some((
                Condition::version_is(before.version),
                ApiError::Conflict("the profile changed at the same time; retry".into()),
            )),
        )?;
    }
    let mails = match &new_email {
        Some(email) => Some(email_change::request(app, &mut tx, &before, email)?),
        None => None,
    };
    if let CallerKind::Member(m) = &authorized.caller.kind {
        audit::record(
            app,
            &mut tx,
            &authorized.caller,
            Change {
                tenant_id: m.tenant_id,
                action: "user.update",
                target_type: "user",
                target_id: after.id,
                before: audit::snapshot(&UserView::from(&before)),
                after: audit::snapshot(&UserView::from(&after)),
            },
        )?;
    }
    // Members carry the user's name and phone (directory and search): they follow. Asked for
    // again, copies a failed earlier run left behind catch up too.
    if copied_to_members {
        commit_with_memberships(app, tx, &after).await?;
    } else {
        app.store.transact(tx).await?;
    }
    for mail in mails.into_iter().flatten() {
        app.mail().send(mail).await?;
    }
    Ok(MeUpdate {
        user: UserView::from(&after),
        pending_email: new_email,
    })
}

/// Commits `tx` together with every membership's copy of `user`'s name, email, proof and phone
/// that differs from the user, in as many transactions as the copies need (a user may belong to
/// many tenants). The first transaction is `tx` itself; copies already up to date are skipped, so
/// a rerun after a failure finishes what it left.
pub(crate) async fn commit_with_memberships(
    app: &App,
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
            app,
            &mut follow,
            &user.name,
            &user.email,
            user.email_verified,
            user.phone.as_deref(),
        )?;
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
