//! Users (global identities), sign-in, one-time password links and the caller's own profile.

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{CallerKind, Permissions, Role, authenticate, authenticate_for_password_change};
use crate::crypto;
use crate::departments::Department;
use crate::error::{ApiError, ApiResult, Checks};
use crate::http::RequestMeta;
use crate::keys::{GSI1, Key, memberships_of};
use crate::logins::{LoginEntry, LoginFailure};
use crate::members::{Member, MemberStatus, UserInTenant};
use crate::store::{Condition, Query, SortRange, Transaction, from_item, num, s, to_item};
use crate::tenants::Tenant;
use crate::tokens::TokenScope;
use crate::validate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub language: String,
    /// argon2id; absent until the user sets a password.
    pub password_hash: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub password_changed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

/// A user as clients see it: never the password hash.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub language: String,
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
            created_at: u.created_at,
            password_changed_at: u.password_changed_at,
        }
    }
}

/// The guard that makes an email belong to one user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailGuard {
    pub user_id: Uuid,
}

/// A platform operator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlatformAdmin {
    pub user_id: Uuid,
    pub email: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl User {
    pub fn new(now: OffsetDateTime, email: String, name: String, language: String) -> Self {
        Self {
            id: Uuid::now_v7(),
            email,
            name,
            phone: None,
            language,
            password_hash: None,
            password_changed_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

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
                &EmailGuard { user_id: self.id },
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

/// What a one-time token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    /// First password of a new account (the link in a new owner's mail).
    SetPassword,
    /// A reset requested by the user or an admin.
    ResetPassword,
    /// The link of an invitation mail (`target_id`: the invitation).
    Invitation,
    /// A join link's code (`target_id`: the join link).
    JoinLink,
}

/// A token as stored: only its hash is the key; the item says what the token opens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredToken {
    pub purpose: TokenPurpose,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<Uuid>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// Epoch seconds after which DynamoDB may delete the item (and reads treat it as gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
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

/// Adds a new one-time password token to `tx` and returns the token for the mail link.
pub fn add_password_token(
    app: &App,
    tx: &mut Transaction,
    user_id: Uuid,
    purpose: TokenPurpose,
    lifetime: time::Duration,
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
    meta: &RequestMeta,
    password_change: bool,
) -> ApiResult<(crate::auth::Authorized, User)> {
    let token = meta.bearer.as_deref().ok_or(ApiError::Unauthorized)?;
    let claims = app.keys.verify(token, app.now())?;
    let keys = [Key::user(claims.sub)];
    let mut authorized = if password_change {
        authenticate_for_password_change(app, meta, &keys).await?
    } else {
        authenticate(app, meta, &keys).await?
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetInput {
    pub token: String,
    pub new_password: String,
}

/// Sets a password with a one-time token: the token is spent and the password set in one
/// transaction, so a link works exactly once.
pub async fn complete_password_reset(app: &App, input: PasswordResetInput) -> ApiResult<()> {
    let mut checks = Checks::new();
    validate::password(&mut checks, "new_password", &input.new_password);
    checks.check(
        !input.token.is_empty() && input.token.len() <= 128,
        "token",
        "is invalid",
    );
    checks.finish()?;
    let invalid = || ApiError::invalid("token", "is invalid, expired or already used");
    let key = Key::token(&crypto::token_hash(&input.token));
    let stored = StoredToken::find(
        app,
        &key,
        &[TokenPurpose::SetPassword, TokenPurpose::ResetPassword],
    )
    .await?
    .ok_or_else(invalid)?;
    let now = app.now();
    // DynamoDB deletes expired items late: the expiry is checked here, and again in the condition.
    let (Some(user_id), Some(expires_at)) = (stored.user_id, stored.expires_at) else {
        return Err(invalid());
    };
    if expires_at <= now {
        return Err(invalid());
    }
    let hash = crypto::hash_password(&input.new_password)?;
    let mut tx = Transaction::new();
    tx.delete(
        app.table(),
        &key,
        Some((
            Condition::new("attribute_exists(pk) AND #ttl > :now")
                .name("#ttl", "ttl")
                .value(":now", num(now.unix_timestamp())),
            invalid(),
        )),
    )?;
    set_password(app, &mut tx, user_id, &hash, now)?;
    app.store.transact(tx).await
}

fn set_password(
    app: &App,
    tx: &mut Transaction,
    user_id: Uuid,
    hash: &str,
    now: OffsetDateTime,
) -> ApiResult<()> {
    tx.update(
        app.table(),
        &Key::user(user_id),
        Condition::new(
            "SET password_hash = :hash, password_changed_at = :now, updated_at = :now ADD version :one",
        )
        .value(":hash", s(hash))
        .value(":now", s(rfc3339(now)))
        .value(":one", num(1)),
        Some((Condition::exists(), ApiError::NotFound)),
    )
}

/// Times in index sort keys are whole seconds: RFC 3339 of them has one width and sorts as text.
pub fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordInput {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the caller's own password after checking the current one.
pub async fn change_password(
    app: &App,
    meta: &RequestMeta,
    input: ChangePasswordInput,
) -> ApiResult<()> {
    let mut checks = Checks::new();
    validate::password(&mut checks, "new_password", &input.new_password);
    checks.check(
        input.current_password.len() <= validate::MAX_PASSWORD * 4,
        "current_password",
        "is too long",
    );
    checks.finish()?;
    let (authorized, user) = own_user(app, meta, true).await?;
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
    let now = app.now();
    let mut tx = Transaction::new();
    set_password(app, &mut tx, user.id, &hash, now)?;
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
    app.store.transact(tx).await
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
/// Without `tenant_id`, platform admins get a platform token and members of exactly one tenant a
/// token for it. A member's sign-in then passes the tenant's rules — IP allowlist (the
/// department's when it overrides the tenant's), account status, password age — and every
/// attempt on a known membership lands in the tenant's sign-in log.
pub async fn login(app: &App, meta: &RequestMeta, input: LoginInput) -> ApiResult<LoginOutput> {
    let mut checks = Checks::new();
    let email = validate::email(&mut checks, "email", &input.email);
    checks.check(
        !input.password.is_empty() && input.password.len() <= validate::MAX_PASSWORD * 4,
        "password",
        "must be 1 to 1024 bytes",
    );
    checks.finish()?;

    let guard = match app.store.get(&Key::email(&email)).await? {
        Some(item) => Some(from_item::<EmailGuard>(item)?),
        None => None,
    };
    let user = match &guard {
        Some(g) => match app.store.get(&Key::user(g.user_id)).await? {
            Some(item) => Some(from_item::<User>(item)?),
            None => None,
        },
        None => None,
    };
    // The membership named by tenant_id is known before the password is checked, so a wrong
    // password can be logged against it.
    let named = match (&user, input.tenant_id) {
        (Some(u), Some(t)) => member_of(app, t, u.id).await?,
        _ => None,
    };
    let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
    if !crypto::verify_password(&input.password, hash) {
        if let Some(m) = named.as_ref().filter(|m| m.status.in_directory()) {
            log_attempt(app, meta, m, Some(LoginFailure::BadPassword)).await?;
        }
        return Err(ApiError::Unauthorized);
    }
    let user = user.ok_or(ApiError::Unauthorized)?;
    let now = app.now();

    // A person with no membership to act in yet (none, or only join requests) still signs in:
    // with a user-scope token that opens their own identity, invitations and join links.
    let mut scope = TokenScope::Platform;
    let member = match input.tenant_id {
        Some(_) => Some(named.ok_or(ApiError::Unauthorized)?),
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
                        return Err(ApiError::invalid(
                            "tenant_id",
                            "is required: the account belongs to several tenants",
                        ));
                    }
                }
            }
        }
    };
    let access_token = match &member {
        None => app.keys.issue(now, user.id, scope, None, None)?,
        Some(m) => {
            if !m.status.in_directory() {
                return Err(ApiError::Unauthorized);
            }
            let allowlist = match admit(app, meta, &user, m, now).await? {
                Ok(allowlist) => allowlist,
                Err((failure, err)) => {
                    log_attempt(app, meta, m, Some(failure)).await?;
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
                        s(crate::keys::last_login_position(Some(&rfc3339(now)), m.id)),
                    ),
                Some((Condition::exists(), ApiError::Unauthorized)),
            )?;
            LoginEntry::new(now, meta, m, None).record(app, &mut tx)?;
            app.store.transact(tx).await?;
            app.keys.issue_limited(
                now,
                user.id,
                TokenScope::Tenant,
                Some(m.tenant_id),
                Some(m.id),
                &allowlist,
            )?
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

/// The tenant's rules for a member with the right password: the IP allowlist in force for them,
/// or the refusal.
async fn admit(
    app: &App,
    meta: &RequestMeta,
    user: &User,
    member: &Member,
    now: OffsetDateTime,
) -> ApiResult<Result<Vec<String>, (LoginFailure, ApiError)>> {
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
    let allowlist = department
        .as_ref()
        .and_then(|d| d.settings.ip_allowlist.clone())
        .unwrap_or_else(|| tenant.settings.ip_allowlist.clone());
    if !ip_allowed(meta.source_ip.as_deref(), &allowlist) {
        return Ok(Err((LoginFailure::IpNotAllowed, ApiError::IpNotAllowed)));
    }
    if member.status == MemberStatus::Disabled {
        return Ok(Err((
            LoginFailure::AccountDisabled,
            ApiError::AccountDisabled,
        )));
    }
    if let Some(days) = tenant.settings.password_expiry_days {
        let changed = user.password_changed_at.unwrap_or(user.created_at);
        if changed + time::Duration::days(i64::from(days)) <= now {
            let access_token = app.keys.issue(
                now,
                user.id,
                TokenScope::PasswordChange,
                Some(member.tenant_id),
                Some(member.id),
            )?;
            return Ok(Err((
                LoginFailure::PasswordExpired,
                ApiError::PasswordExpired { access_token },
            )));
        }
    }
    Ok(Ok(allowlist))
}

/// An empty allowlist allows every address; otherwise the address must fall in one of the CIDRs.
pub fn ip_allowed(source_ip: Option<&str>, allowlist: &[String]) -> bool {
    if allowlist.is_empty() {
        return true;
    }
    let Some(ip) = source_ip.and_then(|ip| ip.parse::<std::net::IpAddr>().ok()) else {
        return false;
    };
    allowlist
        .iter()
        .filter_map(|cidr| cidr.parse::<ipnet::IpNet>().ok())
        .any(|net| net.contains(&ip))
}

async fn log_attempt(
    app: &App,
    meta: &RequestMeta,
    member: &Member,
    failure: Option<LoginFailure>,
) -> ApiResult<()> {
    let mut tx = Transaction::new();
    LoginEntry::new(app.now(), meta, member, failure).record(app, &mut tx)?;
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
pub async fn me(app: &App, meta: &RequestMeta) -> ApiResult<MeView> {
    let (authorized, user) = own_user(app, meta, false).await?;
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
    #[serde(default, deserialize_with = "crate::http::nullable")]
    pub phone: Option<Option<String>>,
    #[serde(default)]
    pub language: Option<String>,
}

/// Only the user edits their own name, email, phone and language. A new email needs the current
/// password, must be free, and moves the email guard in the same transaction.
pub async fn update_me(app: &App, meta: &RequestMeta, patch: MePatch) -> ApiResult<UserView> {
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
    checks.finish()?;

    let (authorized, before) = own_user(app, meta, false).await?;
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
    if let Some(email) = &new_email {
        after.email = email.clone();
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
    after.updated_at = app.now();
    after.version += 1;
    let mut tx = Transaction::new();
    tx.put(
        app.table(),
        to_item(&after, &Key::user(after.id), &[])?,
        Some((
            Condition::version_is(before.version),
            ApiError::Conflict("the profile changed at the same time; retry".into()),
        )),
    )?;
    if let Some(email) = &new_email {
        tx.delete(
            app.table(),
            &Key::email(&before.email),
            Some((
                Condition::new("user_id = :user").value(":user", s(before.id.to_string())),
                ApiError::Conflict("the account changed at the same time; retry".into()),
            )),
        )?;
        tx.put(
            app.table(),
            to_item(&EmailGuard { user_id: before.id }, &Key::email(email), &[])?,
            Some((
                Condition::absent(),
                ApiError::Conflict("the email belongs to another account".into()),
            )),
        )?;
    }
    // Members carry the user's name, email and phone (directory and search): they follow.
    if after.name != before.name || after.phone != before.phone || after.email != before.email {
        for member in memberships(app, after.id).await? {
            member.follow_user(
                app,
                &mut tx,
                &after.name,
                &after.email,
                after.phone.as_deref(),
            )?;
        }
    }
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
    app.store.transact(tx).await?;
    Ok(UserView::from(&after))
}
