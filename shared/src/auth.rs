//! Who is calling and what they may do. Every authenticated request reads the caller's live
//! membership (or platform-admin record) with one consistent read, batched with the items the
//! operation needs, so a disabled account is refused at its very next request.

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::Key;
pub use crate::model::roles::{Permission, Permissions, Role};
pub use crate::model::scim_token::PresentedToken;
use crate::model::scim_token::ScimToken;
use crate::model::tenant::TenantStatus;
use crate::model::{ApiClient, Member, MemberStatus, Tenant, User};
use crate::store::{Batch, BatchRead, Slot};
use crate::tokens::{Claims, TokenScope};
use serde::Deserialize;
use uuid::Uuid;

/// Where a request came from, as the entrypoint saw it (for abuse limits, sign-in logs, audit).
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The caller as the entrypoint resolved it before any domain logic runs: the verified claims of
/// its bearer token (`None` when it sent none) and where it called from. Whether the account
/// behind the token is still live is read by [`authenticate`], batched with what the operation
/// reads anyway.
#[derive(Debug, Clone, Default)]
pub struct Requester {
    pub token: Option<Claims>,
    /// The SCIM token presented on a `/scim/v2` route instead of a signed token (checked against
    /// its stored hash by [`authenticate`]).
    pub scim: Option<PresentedToken>,
    pub origin: Origin,
}

impl Requester {
    /// The verified claims of the caller's token; 401 when it sent none.
    pub fn claims(&self) -> ApiResult<&Claims> {
        self.token.as_ref().ok_or(ApiError::Unauthorized)
    }
}

/// What an operation requires of the caller in the tenant it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any active member of the tenant (the directory, the tree).
    Member,
    /// A permission (owners hold all of them).
    Permission(Permission),
    /// Platform operators only.
    Platform,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub kind: CallerKind,
    pub origin: Origin,
}

impl Caller {
    /// Roster itself: what a schedule or a worker does on nobody's behalf.
    pub fn system() -> Self {
        Self {
            user_id: Uuid::nil(),
            kind: CallerKind::System,
            origin: Origin::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum CallerKind {
    Platform,
    Member(Box<Member>),
    ApiClient(Box<ApiClient>),
    /// An identity provider provisioning through SCIM with one of the tenant's SCIM tokens.
    Scim(Box<ScimToken>),
    /// A signed-in person acting in no tenant (a `User`-scope token).
    User,
    /// A scheduled job (its audit entries name the system).
    System,
    /// A job acting for the person who created it (`Caller::user_id`), with the standing the
    /// creator had then: an admin's (whose invitations join directly) or a plain member's.
    Job {
        for_admin: bool,
    },
}

impl Caller {
    pub fn is_platform(&self) -> bool {
        matches!(self.kind, CallerKind::Platform)
    }

    pub fn member(&self) -> Option<&Member> {
        match &self.kind {
            CallerKind::Member(m) => Some(m),
            _ => None,
        }
    }

    /// Permissions the caller holds in its own tenant (platform admins: all).
    pub fn permissions(&self) -> Permissions {
        match &self.kind {
            CallerKind::Platform | CallerKind::Job { for_admin: true } => Permissions::All,
            CallerKind::Member(m) => m.effective_permissions(),
            CallerKind::ApiClient(c) => c.permissions.clone(),
            CallerKind::Scim(t) => t.permissions(),
            CallerKind::User | CallerKind::System | CallerKind::Job { for_admin: false } => {
                Permissions::none()
            }
        }
    }

    /// Whether the caller acts with an owner's authority (owners, operators).
    pub fn is_owner(&self) -> bool {
        match &self.kind {
            CallerKind::Platform | CallerKind::Job { for_admin: true } => true,
            CallerKind::Member(m) => m.role == Role::Owner,
            CallerKind::ApiClient(_)
            | CallerKind::Scim(_)
            | CallerKind::User
            | CallerKind::System
            | CallerKind::Job { for_admin: false } => false,
        }
    }
}

/// A caller cleared to act in one tenant.
#[derive(Debug, Clone)]
pub struct Access {
    pub caller: Caller,
    pub tenant_id: Uuid,
    /// The caller acts from the reseller that owns this tenant.
    pub via_reseller: bool,
}

impl Access {
    pub fn allows(&self, permission: Permission) -> bool {
        self.caller.permissions().allows(permission)
    }
}

/// The caller and the records read with its membership, each taken by the slot it was asked for.
pub struct Authorized {
    pub caller: Caller,
    /// The verified token, to issue a fresh one like it (none for a SCIM token).
    pub claims: Option<Claims>,
    /// The tenant a membership's or machine client's token acts in, as read with it (none for
    /// platform, user and SCIM callers): never a deleting one.
    pub home: Option<Tenant>,
    pub read: BatchRead,
}

/// The part of a user record every request checks: the session epoch its tokens must carry.
#[derive(Deserialize)]
struct Sessions {
    #[serde(default)]
    session_epoch: u64,
}

/// A record whose existence is all that is checked.
#[derive(Deserialize)]
struct Exists {}

/// The part of a session every request of its access tokens checks: whose it is and when it
/// ends (an ended session's item is deleted; DynamoDB deletes an idle one late).
#[derive(Deserialize)]
struct OpenSession {
    user_id: Uuid,
    ttl: i64,
}

/// A token issued in a session (`sid`) is alive while its session is: not ended, not run out.
fn session_open(app: &App, claims: &Claims, session: Option<OpenSession>) -> ApiResult<()> {
    match session {
        Some(s) if s.user_id == claims.sub && s.ttl > app.now().unix_timestamp() => Ok(()),
        _ => Err(ApiError::Unauthorized),
    }
}

/// A token of a person is alive while the user's session epoch (and, for a membership token, the
/// member's) is still the one it was issued under.
fn session_alive(claims: &Claims, user: Option<Sessions>) -> ApiResult<()> {
    let user = user.ok_or(ApiError::Unauthorized)?;
    if user.session_epoch != claims.sev {
        return Err(ApiError::Unauthorized);
    }
    Ok(())
}

/// The live record a token stands for, as asked of the batch.
enum Principal {
    Platform(Slot<Exists>),
    Member(Slot<Member>),
    ApiClient(Slot<ApiClient>),
    User(Slot<Exists>),
}

fn principal(claims: &Claims, password_change: bool, batch: &mut Batch) -> ApiResult<Principal> {
    Ok(match (claims.scp, claims.tid, claims.mid) {
        (TokenScope::Platform, _, _) => {
            Principal::Platform(batch.read(Key::platform_admin(claims.sub)))
        }
        (TokenScope::Tenant, Some(t), Some(m)) => Principal::Member(batch.read(Key::member(t, m))),
        (TokenScope::PasswordChange, Some(t), Some(m)) if password_change => {
            Principal::Member(batch.read(Key::member(t, m)))
        }
        (TokenScope::ApiClient, Some(_), _) => {
            Principal::ApiClient(batch.read(Key::api_client(claims.sub)))
        }
        (TokenScope::User, _, _) => Principal::User(batch.read(Key::user(claims.sub))),
        _ => return Err(ApiError::Unauthorized),
    })
}

/// The caller a token's principal makes, once it is read: refused when it no longer answers for
/// the token.
fn caller_kind(
    claims: &Claims,
    principal: Principal,
    read: &mut BatchRead,
) -> ApiResult<CallerKind> {
    Ok(match principal {
        Principal::Platform(slot) => {
            read.take(slot)?.ok_or(ApiError::Unauthorized)?;
            CallerKind::Platform
        }
        Principal::User(slot) => {
            read.take(slot)?.ok_or(ApiError::Unauthorized)?;
            CallerKind::User
        }
        Principal::ApiClient(slot) => {
            let client = read.take(slot)?.ok_or(ApiError::Unauthorized)?;
            if Some(client.tenant_id) != claims.tid {
                return Err(ApiError::Unauthorized);
            }
            CallerKind::ApiClient(Box::new(client))
        }
        Principal::Member(slot) => {
            let member = read.take(slot)?.ok_or(ApiError::Unauthorized)?;
            if member.user_id != claims.sub {
                return Err(ApiError::Unauthorized);
            }
            match member.status {
                MemberStatus::Active => {}
                MemberStatus::Disabled => return Err(ApiError::AccountDisabled),
                _ => return Err(ApiError::Unauthorized),
            }
            // Disabled or deleted since the token was issued: it stays dead once enabled again.
            if member.session_epoch != claims.mev {
                return Err(ApiError::Unauthorized);
            }
            CallerKind::Member(Box::new(member))
        }
    })
}

/// The tenant a token of a membership or a machine client acts in.
fn home_of(claims: &Claims) -> Option<Uuid> {
    match claims.scp {
        TokenScope::Tenant | TokenScope::PasswordChange | TokenScope::ApiClient => claims.tid,
        TokenScope::Platform | TokenScope::User => None,
    }
}

/// The token's tenant, read with its principal, answers for it (SPEC.md §8.3, §9.1): while the
/// tenant is deleting its members and clients act nowhere. Its own routes (`route`) answer 404;
/// everything else (renewing the token, acting for a reseller's customers) answers as for a
/// deleted tenant's membership, which is gone: 401. Being checked at every use, this also
/// covers a token minted while its tenant was being set deleting (read active just before):
/// it opens nothing until a restore, like every token issued before the deletion.
fn home_in_use(tenant: Option<Tenant>, route: Option<Uuid>) -> ApiResult<Tenant> {
    let tenant = tenant.ok_or(ApiError::Unauthorized)?;
    match tenant.status {
        TenantStatus::Active => Ok(tenant),
        TenantStatus::Deleting if route == Some(tenant.id) => Err(ApiError::NotFound),
        TenantStatus::Deleting => Err(ApiError::Unauthorized),
    }
}

pub use crate::model::tenant::ip_allowed;

/// Verifies the bearer token and reads the caller's live record together with `batch` in one
/// batched consistent read.
pub async fn authenticate(app: &App, requester: &Requester, batch: Batch) -> ApiResult<Authorized> {
    authenticate_scoped(app, requester, batch, false, None).await
}

/// Like [`authenticate`], also accepting the token a `password_expired` sign-in hands out, which
/// is good for changing the password and nothing else.
pub async fn authenticate_for_password_change(
    app: &App,
    requester: &Requester,
    batch: Batch,
) -> ApiResult<Authorized> {
    authenticate_scoped(app, requester, batch, true, None).await
}

/// `route`: the tenant whose route is called, if any (see [`home_in_use`]).
async fn authenticate_scoped(
    app: &App,
    requester: &Requester,
    mut batch: Batch,
    password_change: bool,
    route: Option<Uuid>,
) -> ApiResult<Authorized> {
    if let Some(presented) = &requester.scim {
        return authenticate_scim(app, requester, presented, batch).await;
    }
    let claims = requester.claims()?.clone();
    if !claims.allows_address(requester.origin.source_ip.as_deref()) {
        return Err(ApiError::IpNotAllowed);
    }
    // A person's user record and the token's tenant ride in the same batch: the session epoch
    // ends stale tokens, the tenant's status deleting ones, without another round trip.
    let principal = principal(&claims, password_change, &mut batch)?;
    let sessions = (claims.scp != TokenScope::ApiClient)
        .then(|| batch.read::<Sessions>(Key::user(claims.sub)));
    let session = claims
        .sid
        .map(|sid| batch.read::<OpenSession>(Key::session(sid)));
    let home = home_of(&claims).map(|tenant_id| batch.read::<Tenant>(Key::tenant(tenant_id)));
    let mut read = batch.run(&app.store).await?;
    // An ended session is refused before the principal's standing: a stale token of a since
    // disabled member is 401, not `account_disabled`.
    if let Some(slot) = sessions {
        session_alive(&claims, read.take(slot)?)?;
    }
    if let Some(slot) = session {
        session_open(app, &claims, read.take(slot)?)?;
    }
    let kind = caller_kind(&claims, principal, &mut read)?;
    let home = match home {
        Some(slot) => Some(home_in_use(read.take(slot)?, route)?),
        None => None,
    };
    Ok(Authorized {
        caller: Caller {
            user_id: claims.sub,
            kind,
            origin: requester.origin.clone(),
        },
        claims: Some(claims),
        home,
        read,
    })
}

/// A SCIM token: its stored record, read with `batch`, must hold the presented token's hash.
async fn authenticate_scim(
    app: &App,
    requester: &Requester,
    presented: &PresentedToken,
    mut batch: Batch,
) -> ApiResult<Authorized> {
    let token_id = presented.token_id().ok_or(ApiError::Unauthorized)?;
    let token = batch.read::<ScimToken>(Key::scim_token(token_id));
    let mut read = batch.run(&app.store).await?;
    let stored = read.take(token)?.ok_or(ApiError::Unauthorized)?;
    if !presented.proves(&stored) {
        return Err(ApiError::Unauthorized);
    }
    Ok(Authorized {
        caller: Caller {
            user_id: stored.id,
            kind: CallerKind::Scim(Box::new(stored)),
            origin: requester.origin.clone(),
        },
        claims: None,
        home: None,
        read,
    })
}

/// The person behind any sign-in token (platform, tenant or user scope) and their live user
/// record, read consistently with `batch` in one request: what accepting an invitation or asking
/// to join needs, whatever tenant the token was issued for. Machine clients are refused.
pub async fn authenticate_person(
    app: &App,
    requester: &Requester,
    mut batch: Batch,
) -> ApiResult<(User, BatchRead)> {
    let claims = requester.claims()?.clone();
    if !claims.allows_address(requester.origin.source_ip.as_deref()) {
        return Err(ApiError::IpNotAllowed);
    }
    if !matches!(
        claims.scp,
        TokenScope::Platform | TokenScope::Tenant | TokenScope::User
    ) {
        return Err(ApiError::Forbidden(
            "only a person can do this, not a machine client",
        ));
    }
    let user = batch.read::<User>(Key::user(claims.sub));
    let session = claims
        .sid
        .map(|sid| batch.read::<OpenSession>(Key::session(sid)));
    let mut read = batch.run(&app.store).await?;
    let user = read.take(user)?.ok_or(ApiError::Unauthorized)?;
    if user.session_epoch != claims.sev {
        return Err(ApiError::Unauthorized);
    }
    if let Some(slot) = session {
        session_open(app, &claims, read.take(slot)?)?;
    }
    Ok((user, read))
}

/// Authenticates the caller and clears them for `need` in `tenant_id`, reading `batch` in the
/// same request. Another tenant's ids answer 404, never 403, so callers learn nothing about them.
///
/// A reseller's admin acting in a customer tenant also needs the customer's tenant item to see its
/// parent; it is read in the same batch, so the cost is still one request.
pub async fn authorize(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    need: Need,
    batch: Batch,
) -> ApiResult<(Access, BatchRead)> {
    let (access, _, read) =
        authorize_reaching(app, requester, tenant_id, need, batch, Reach::Live).await?;
    Ok((access, read))
}

/// How far into a deleting tenant a route lets its operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Platform admins only: a reseller acts for a deleting customer as for a deleted one
    /// (SPEC.md §9.1), so nothing is issued or changed in it.
    Live,
    /// Its reseller's admins too: the tenant record itself, to see, delete and restore it.
    Deleting,
}

/// [`authorize`], also answering the tenant record it read (none when it is not there and the
/// caller is its own member).
async fn authorize_reaching(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    need: Need,
    mut batch: Batch,
    reach: Reach,
) -> ApiResult<(Access, Option<Tenant>, BatchRead)> {
    let tenant = batch.read::<Tenant>(Key::tenant(tenant_id));
    let Authorized {
        caller, mut read, ..
    } = authenticate_scoped(app, requester, batch, false, Some(tenant_id)).await?;
    let tenant = read.take(tenant)?;
    let via_reseller = standing(&caller, requester, tenant_id, tenant.as_ref())?;
    // A deleted tenant is gone for its members and clients (and their own tokens are refused
    // with it, see `home_in_use`); its operators still see it (to restore it).
    let deleting = tenant
        .as_ref()
        .is_some_and(|t| t.status == TenantStatus::Deleting);
    let reaches = caller.is_platform() || (via_reseller && reach == Reach::Deleting);
    if deleting && !reaches {
        return Err(ApiError::NotFound);
    }
    let access = Access {
        caller,
        tenant_id,
        via_reseller,
    };
    let allowed = match need {
        Need::Member => true,
        Need::Permission(p) => access.allows(p),
        Need::Platform => access.caller.is_platform(),
    };
    if !allowed {
        return Err(ApiError::Forbidden(
            "the caller lacks the permission this operation needs",
        ));
    }
    Ok((access, tenant, read))
}

/// Whether the caller acts in `tenant_id` at all (404 if not), and whether as the admin of the
/// reseller that owns it.
fn standing(
    caller: &Caller,
    requester: &Requester,
    tenant_id: Uuid,
    tenant: Option<&Tenant>,
) -> ApiResult<bool> {
    let tenant = || tenant.ok_or(ApiError::NotFound);
    // Machine clients and resellers' admins took their token outside this tenant's rules: they
    // are held to its allowlist as it stands now.
    let held_to_allowlist = |tenant: &Tenant| {
        if ip_allowed(
            requester.origin.source_ip.as_deref(),
            &tenant.settings.ip_allowlist,
        ) {
            Ok(())
        } else {
            Err(ApiError::IpNotAllowed)
        }
    };
    match &caller.kind {
        CallerKind::Platform => {
            tenant()?;
            Ok(false)
        }
        CallerKind::Member(m) if m.tenant_id == tenant_id => Ok(false),
        CallerKind::ApiClient(c) if c.tenant_id == tenant_id => {
            let tenant = tenant()?;
            held_to_allowlist(tenant)?;
            // Switching the feature off ends the tokens already handed out, not only new ones.
            tenant.feature_flags.require_api_access()?;
            Ok(false)
        }
        CallerKind::Scim(t) if t.tenant_id == tenant_id => {
            let tenant = tenant()?;
            held_to_allowlist(tenant)?;
            tenant.feature_flags.require_api_access()?;
            Ok(false)
        }
        CallerKind::ApiClient(_)
        | CallerKind::Scim(_)
        | CallerKind::User
        | CallerKind::System
        | CallerKind::Job { .. } => Err(ApiError::NotFound),
        CallerKind::Member(m) => {
            let tenant = tenant()?;
            let is_reseller_admin = tenant.parent_id == Some(m.tenant_id)
                && m.effective_permissions().allows(Permission::CustomersWrite);
            if !is_reseller_admin {
                return Err(ApiError::NotFound);
            }
            held_to_allowlist(tenant)?;
            Ok(true)
        }
    }
}

/// Like [`authorize`] but also hands back the tenant record it read anyway.
pub async fn authorize_with_tenant(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    need: Need,
    batch: Batch,
) -> ApiResult<(Access, Tenant, BatchRead)> {
    with_tenant(app, requester, tenant_id, need, batch, Reach::Live).await
}

/// [`authorize_with_tenant`] for the routes of the tenant record itself (read, delete, restore):
/// while it is deleting, its reseller's admins reach it too (SPEC.md §8.3), to see and restore it.
pub async fn authorize_tenant_record(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    batch: Batch,
) -> ApiResult<(Access, Tenant, BatchRead)> {
    with_tenant(
        app,
        requester,
        tenant_id,
        Need::Member,
        batch,
        Reach::Deleting,
    )
    .await
}

async fn with_tenant(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    need: Need,
    batch: Batch,
    reach: Reach,
) -> ApiResult<(Access, Tenant, BatchRead)> {
    let (access, tenant, read) =
        authorize_reaching(app, requester, tenant_id, need, batch, reach).await?;
    Ok((access, tenant.ok_or(ApiError::NotFound)?, read))
}
