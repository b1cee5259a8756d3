//! Who is calling and what they may do. Every authenticated request reads the caller's live
//! membership (or platform-admin record) with one consistent read, batched with the items the
//! operation needs, so a disabled account is refused at its very next request.

use crate::api_clients::ApiClient;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::RequestMeta;
use crate::keys::Key;
use crate::members::{Member, MemberStatus};
use crate::store::{Item, from_item};
use crate::tenants::Tenant;
use crate::tokens::{Claims, TokenScope};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "members.read")]
    MembersRead,
    #[serde(rename = "members.write")]
    MembersWrite,
    #[serde(rename = "departments.write")]
    DepartmentsWrite,
    #[serde(rename = "invitations.write")]
    InvitationsWrite,
    #[serde(rename = "licences.write")]
    LicencesWrite,
    #[serde(rename = "imports.run")]
    ImportsRun,
    #[serde(rename = "exports.run")]
    ExportsRun,
    #[serde(rename = "settings.write")]
    SettingsWrite,
    #[serde(rename = "audit.read")]
    AuditRead,
    #[serde(rename = "api_clients.write")]
    ApiClientsWrite,
    #[serde(rename = "customers.write")]
    CustomersWrite,
}

/// `"all"` or a chosen list, as clients send and read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permissions {
    All,
    Only(Vec<Permission>),
}

impl Permissions {
    pub fn none() -> Self {
        Self::Only(Vec::new())
    }

    pub fn allows(&self, permission: Permission) -> bool {
        match self {
            Self::All => true,
            Self::Only(list) => list.contains(&permission),
        }
    }
}

impl Serialize for Permissions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::All => s.serialize_str("all"),
            Self::Only(list) => list.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Permissions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            List(Vec<Permission>),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "all" => Ok(Self::All),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "expected \"all\" or a list of permissions, got \"{w}\""
            ))),
            Raw::List(mut list) => {
                list.sort();
                list.dedup();
                Ok(Self::Only(list))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
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
    pub meta: RequestMeta,
}

#[derive(Debug, Clone)]
pub enum CallerKind {
    Platform,
    Member(Box<Member>),
    ApiClient(Box<ApiClient>),
    /// A signed-in person acting in no tenant (a `User`-scope token).
    User,
    /// A scheduled job (its audit entries name the system).
    System,
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
            CallerKind::Platform => Permissions::All,
            CallerKind::Member(m) => m.effective_permissions(),
            CallerKind::ApiClient(c) => c.permissions.clone(),
            CallerKind::User | CallerKind::System => Permissions::none(),
        }
    }

    /// Whether the caller acts with an owner's authority (owners, operators).
    pub fn is_owner(&self) -> bool {
        match &self.kind {
            CallerKind::Platform => true,
            CallerKind::Member(m) => m.role == Role::Owner,
            CallerKind::ApiClient(_) | CallerKind::User | CallerKind::System => false,
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

/// The caller and the items read with its membership, in the order asked.
pub struct Authorized {
    pub caller: Caller,
    /// The verified token, to issue a fresh one like it.
    pub claims: Claims,
    pub items: Vec<Option<Item>>,
}

/// The part of a user record every request checks: the session epoch its tokens must carry.
#[derive(Deserialize)]
struct Sessions {
    #[serde(default)]
    session_epoch: u64,
}

/// A token of a person is alive while the user's session epoch (and, for a membership token, the
/// member's) is still the one it was issued under.
fn session_alive(claims: &Claims, user: Option<Item>) -> ApiResult<()> {
    let user: Sessions = from_item(user.ok_or(ApiError::Unauthorized)?)?;
    if user.session_epoch != claims.sev {
        return Err(ApiError::Unauthorized);
    }
    Ok(())
}

fn principal_key(claims: &Claims, password_change: bool) -> ApiResult<Key> {
    match (claims.scp, claims.tid, claims.mid) {
        (TokenScope::Platform, _, _) => Ok(Key::platform_admin(claims.sub)),
        (TokenScope::Tenant, Some(t), Some(m)) => Ok(Key::member(t, m)),
        (TokenScope::PasswordChange, Some(t), Some(m)) if password_change => Ok(Key::member(t, m)),
        (TokenScope::ApiClient, Some(_), _) => Ok(Key::api_client(claims.sub)),
        (TokenScope::User, _, _) => Ok(Key::user(claims.sub)),
        _ => Err(ApiError::Unauthorized),
    }
}

/// Verifies the bearer token and reads the caller's live record together with `keys` in one
/// batched consistent read.
pub async fn authenticate(app: &App, meta: &RequestMeta, keys: &[Key]) -> ApiResult<Authorized> {
    authenticate_scoped(app, meta, keys, false).await
}

/// Like [`authenticate`], also accepting the token a `password_expired` sign-in hands out, which
/// is good for changing the password and nothing else.
pub async fn authenticate_for_password_change(
    app: &App,
    meta: &RequestMeta,
    keys: &[Key],
) -> ApiResult<Authorized> {
    authenticate_scoped(app, meta, keys, true).await
}

async fn authenticate_scoped(
    app: &App,
    meta: &RequestMeta,
    keys: &[Key],
    password_change: bool,
) -> ApiResult<Authorized> {
    let token = meta.bearer.as_deref().ok_or(ApiError::Unauthorized)?;
    let claims = app.keys.verify(token, app.now())?;
    if !claims.allows_address(meta.source_ip.as_deref()) {
        return Err(ApiError::IpNotAllowed);
    }
    // A person's user record rides in the same batch: its session epoch ends stale tokens
    // without another round trip.
    let person = claims.scp != TokenScope::ApiClient;
    let mut all = vec![principal_key(&claims, password_change)?];
    if person {
        all.push(Key::user(claims.sub));
    }
    all.extend_from_slice(keys);
    let mut items = app.store.get_many(&all).await?;
    let principal = items.remove(0).ok_or(ApiError::Unauthorized)?;
    if person {
        session_alive(&claims, items.remove(0))?;
    }
    let kind = match claims.scp {
        TokenScope::Platform => CallerKind::Platform,
        TokenScope::ApiClient => {
            let client: ApiClient = from_item(principal)?;
            if Some(client.tenant_id) != claims.tid {
                return Err(ApiError::Unauthorized);
            }
            CallerKind::ApiClient(Box::new(client))
        }
        TokenScope::User => CallerKind::User,
        _ => {
            let member: Member = from_item(principal)?;
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
    };
    Ok(Authorized {
        caller: Caller {
            user_id: claims.sub,
            kind,
            meta: meta.clone(),
        },
        claims,
        items,
    })
}

/// The person behind any sign-in token (platform, tenant or user scope) and their live user
/// record, read consistently with `keys` in one batch: what accepting an invitation or asking to
/// join needs, whatever tenant the token was issued for. Machine clients are refused.
pub async fn authenticate_person(
    app: &App,
    meta: &RequestMeta,
    keys: &[Key],
) -> ApiResult<(crate::users::User, Vec<Option<Item>>)> {
    let token = meta.bearer.as_deref().ok_or(ApiError::Unauthorized)?;
    let claims = app.keys.verify(token, app.now())?;
    if !claims.allows_address(meta.source_ip.as_deref()) {
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
    let mut all = vec![Key::user(claims.sub)];
    all.extend_from_slice(keys);
    let mut items = app.store.get_many(&all).await?;
    let user: crate::users::User = from_item(items.remove(0).ok_or(ApiError::Unauthorized)?)?;
    if user.session_epoch != claims.sev {
        return Err(ApiError::Unauthorized);
    }
    Ok((user, items))
}

/// Authenticates the caller and clears them for `need` in `tenant_id`, reading `keys` in the same
/// request. Another tenant's ids answer 404, never 403, so callers learn nothing about them.
///
/// A reseller's admin acting in a customer tenant also needs the customer's tenant item to see its
/// parent; it is read in the same batch, so the cost is still one request.
pub async fn authorize(
    app: &App,
    meta: &RequestMeta,
    tenant_id: Uuid,
    need: Need,
    keys: &[Key],
) -> ApiResult<(Access, Vec<Option<Item>>)> {
    let mut all = vec![Key::tenant(tenant_id)];
    all.extend_from_slice(keys);
    let Authorized {
        caller, mut items, ..
    } = authenticate(app, meta, &all).await?;
    let tenant_item = items.remove(0);
    // Machine clients and resellers' admins took their token outside this tenant's rules: they
    // are held to its allowlist as it stands now.
    let held_to_allowlist = |tenant: &Tenant| {
        if crate::users::ip_allowed(meta.source_ip.as_deref(), &tenant.settings.ip_allowlist) {
            Ok(())
        } else {
            Err(ApiError::IpNotAllowed)
        }
    };
    let via_reseller = match &caller.kind {
        CallerKind::Platform => {
            if tenant_item.is_none() {
                return Err(ApiError::NotFound);
            }
            false
        }
        CallerKind::Member(m) if m.tenant_id == tenant_id => false,
        CallerKind::ApiClient(c) if c.tenant_id == tenant_id => {
            let tenant: Tenant = from_item(tenant_item.clone().ok_or(ApiError::NotFound)?)?;
            held_to_allowlist(&tenant)?;
            false
        }
        CallerKind::ApiClient(_) | CallerKind::User | CallerKind::System => {
            return Err(ApiError::NotFound);
        }
        CallerKind::Member(m) => {
            let tenant: Tenant = from_item(tenant_item.clone().ok_or(ApiError::NotFound)?)?;
            let is_reseller_admin = tenant.parent_id == Some(m.tenant_id)
                && m.effective_permissions()
                    .allows(crate::auth::Permission::CustomersWrite);
            if !is_reseller_admin {
                return Err(ApiError::NotFound);
            }
            held_to_allowlist(&tenant)?;
            true
        }
    };
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
    Ok((access, items))
}

/// Like [`authorize`] but also hands back the tenant item it read anyway.
pub async fn authorize_with_tenant(
    app: &App,
    meta: &RequestMeta,
    tenant_id: Uuid,
    need: Need,
    keys: &[Key],
) -> ApiResult<(Access, Tenant, Vec<Option<Item>>)> {
    let mut all = vec![Key::tenant(tenant_id)];
    all.extend_from_slice(keys);
    let (access, mut items) = authorize(app, meta, tenant_id, need, &all).await?;
    let tenant = from_item(items.remove(0).ok_or(ApiError::NotFound)?)?;
    Ok((access, tenant, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_read_all_or_a_list() {
        let all: Permissions = serde_json::from_str("\"all\"").unwrap();
        assert!(all.allows(Permission::AuditRead));
        let some: Permissions =
            serde_json::from_str(r#"["departments.write","departments.write"]"#).unwrap();
        assert_eq!(some, Permissions::Only(vec![Permission::DepartmentsWrite]));
        assert!(!some.allows(Permission::AuditRead));
        assert!(serde_json::from_str::<Permissions>("\"everything\"").is_err());
        assert!(serde_json::from_str::<Permissions>(r#"["root"]"#).is_err());
        assert_eq!(serde_json::to_string(&all).unwrap(), "\"all\"");
    }
}
