//! Signing in: abuse limits first, then the password, then the tenant's rules for the membership
//! the token is for. Each step is a function; the rules (which membership, whether the tenant
//! admits it) are pure and tested beside the code.

use super::account::{member_of, memberships};
use super::proof;
use crate::app::App;
use crate::auth::Requester;
use crate::crypto;
use crate::error::{ApiError, ApiResult, Checks, TenantChoice};
use crate::limits::{Attempt, Counter};
use crate::logins::{LoginEntry, LoginFailure};
use crate::model::department::Department;
use crate::model::keys::{Key, last_login_position};
use crate::model::member::{Member, MemberStatus};
use crate::model::tenant::{Tenant, ip_allowed};
use crate::model::time::rfc3339;
use crate::model::user::{EmailGuard, User};
use crate::sessions::issue::{self, IssuedRefresh, NewSession, RefreshDelivery};
use crate::store::{Batch, Condition, Transaction, Update, from_item, s};
use crate::tokens::{ACCESS_TOKEN_SECONDS, Grant, TokenScope};
use crate::validate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub tenant_id: Option<Uuid>,
    /// `body`: the refresh token is answered in the body too (non-browser clients).
    #[serde(default)]
    pub refresh: RefreshDelivery,
}

/// A signed-in session's answer (sign-in and refresh alike).
#[derive(Debug, Serialize)]
pub struct LoginOutput {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub tenant_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    pub platform_admin: bool,
    /// Only when the client asked for it in the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The session's refresh token, for the entrypoint's cookie.
    #[serde(skip)]
    pub refresh: IssuedRefresh,
}

impl LoginOutput {
    /// The answer of a session's fresh `access_token` for `grant`, with its refresh token in the
    /// body too when the client asked.
    pub fn new(
        access_token: String,
        grant: &Grant,
        refresh: IssuedRefresh,
        delivery: RefreshDelivery,
    ) -> Self {
        Self {
            access_token,
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_SECONDS,
            tenant_id: grant.tenant_id(),
            member_id: grant.member_id,
            platform_admin: grant.scope == Some(TokenScope::Platform),
            refresh_token: (delivery == RefreshDelivery::Body).then(|| refresh.token.clone()),
            refresh,
        }
    }
}

/// Signs a user in. Unknown emails and wrong passwords get the same 401 after the same work.
/// Every attempt is counted against the account from its source address, the account from every
/// address and the source address before the password is checked (so concurrent guesses cannot
/// slip under the limits); a right password takes its count back. Past a limit every attempt
/// answers 429, the right password too: a stranger's guesses shut out their own address, not the
/// owner's, until the account-wide ceiling shuts out every address. An account whose address
/// nobody proved answers 403 `email_unverified` to the right password and gets a verification
/// link mailed.
///
/// Without `tenant_id`, platform admins get a platform token and members of exactly one tenant a
/// token for it. A member's sign-in then passes the tenant's rules — IP allowlist (the tenant's
/// and the department's), account status, password age — and every attempt on a known
/// membership lands in the tenant's sign-in log.
///
/// Every sign-in starts a session (SPEC.md §9.4), written with the sign-in's own transaction:
/// the access token names it, and its refresh token goes back for the cookie (and in the body
/// when `refresh` asks).
pub async fn login(app: &App, requester: &Requester, input: LoginInput) -> ApiResult<LoginOutput> {
    let email = checked_email(&input)?;
    let (claim, counted) = Claim::read(app, requester, &email, input.tenant_id).await?;
    let attempt = claim.settle(app, requester, counted).await?;
    let user = claim.with_password(app, requester, &input.password).await?;
    if !user.email_verified {
        return Err(refuse_unproven(app, requester, &attempt, &user, claim.logged()).await?);
    }
    let (member, scope) = match input.tenant_id {
        Some(_) => (claim.logged().cloned(), TokenScope::Platform),
        None => chosen_membership(app, &attempt, &user).await?,
    };
    let (grant, session) = match (&member, input.tenant_id) {
        (None, Some(_)) => {
            attempt.give_back_now(app).await?;
            return Err(ApiError::Unauthorized);
        }
        (None, None) => {
            let mut grant = Grant::new(user.id, scope);
            grant.user_session = user.session_epoch;
            let session = issue::start(app, requester, &mut grant)?;
            let mut tx = Transaction::new();
            attempt.give_back(&mut tx)?;
            session.add(&mut tx)?;
            app.store.transact(tx).await?;
            (grant, session)
        }
        (Some(m), _) => sign_in_member(app, requester, &attempt, &user, m).await?,
    };
    let access_token = app.keys.issue(app.now(), &grant).await?;
    Ok(LoginOutput::new(
        access_token,
        &grant,
        session.refresh,
        input.refresh,
    ))
}

fn checked_email(input: &LoginInput) -> ApiResult<String> {
    let mut checks = Checks::new();
    let email = validate::email(&mut checks, "email", &input.email);
    checks.check(
        !input.password.is_empty() && input.password.len() <= validate::MAX_PASSWORD * 4,
        "password",
        "must be 1 to 1024 bytes",
    );
    checks.finish()?;
    Ok(email)
}

/// What a sign-in attempt claims, as read before the password is checked: the account (if the
/// address has one), the membership `tenant_id` names, and the attempt's place in the limits.
struct Claim {
    user: Option<User>,
    named: Option<Member>,
}

impl Claim {
    async fn read(
        app: &App,
        requester: &Requester,
        email: &str,
        tenant_id: Option<Uuid>,
    ) -> ApiResult<(Self, ApiResult<Attempt>)> {
        let now = app.now();
        let limits = &app.config.limits;
        let source_ip = requester.origin.source_ip.as_deref();
        let counters = [
            Counter::sign_in_account_address(limits, email, source_ip),
            Counter::sign_in_account(limits, email),
            Counter::sign_in_address(limits, source_ip),
        ];
        let mut keys = vec![Key::email(email)];
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
        // The membership named by tenant_id is known before the password is checked, so a
        // refused attempt can be logged against it.
        let named = match (&user, tenant_id) {
            (Some(u), Some(t)) => member_of(app, t, u.id).await?,
            _ => None,
        };
        Ok((Self { user, named }, counted))
    }

    /// The named membership, when it is one the tenant's sign-in log records (not a join request
    /// or a deleted member).
    fn logged(&self) -> Option<&Member> {
        self.named.as_ref().filter(|m| m.status.in_directory())
    }

    /// The attempt, counted; past a limit the refusal (logged against the named membership).
    async fn settle(
        &self,
        app: &App,
        requester: &Requester,
        counted: ApiResult<Attempt>,
    ) -> ApiResult<Attempt> {
        if let (Some(m), Err(ApiError::RateLimited { .. })) = (self.logged(), &counted) {
            log_attempt(app, requester, m, Some(LoginFailure::RateLimited), None).await?;
        }
        counted
    }

    /// The account, if `password` is its password; otherwise 401 (logged against the named
    /// membership). Unknown addresses verify against no hash, which takes the same time.
    async fn with_password(
        &self,
        app: &App,
        requester: &Requester,
        password: &str,
    ) -> ApiResult<User> {
        let hash = self.user.as_ref().and_then(|u| u.password_hash.as_deref());
        if !crypto::verify_password(password, hash) {
            if let Some(m) = self.logged() {
                log_attempt(app, requester, m, Some(LoginFailure::BadPassword), None).await?;
            }
            return Err(ApiError::Unauthorized);
        }
        self.user.clone().ok_or(ApiError::Unauthorized)
    }
}

/// The right password to an account nobody proved the address of: the attempt is given back,
/// logged against the named membership, and a fresh verification link mailed; the answer is 403.
async fn refuse_unproven(
    app: &App,
    requester: &Requester,
    attempt: &Attempt,
    user: &User,
    logged: Option<&Member>,
) -> ApiResult<ApiError> {
    let mut tx = Transaction::new();
    attempt.give_back(&mut tx)?;
    if let Some(m) = logged {
        LoginEntry::new(app.now(), requester, m, Some(LoginFailure::EmailUnverified))
            .record(&mut tx)?;
    }
    let mail = proof::add_verification(app, &mut tx, user)?;
    app.store.transact(tx).await?;
    app.mail().send(mail).await?;
    Ok(ApiError::EmailUnverified)
}

/// Which membership a sign-in without `tenant_id` is for: none for a platform admin (a platform
/// token); otherwise the person's only live membership, or none (a user-scope token: their own
/// identity, invitations and join links). Several live memberships need `tenant_id`.
async fn chosen_membership(
    app: &App,
    attempt: &Attempt,
    user: &User,
) -> ApiResult<(Option<Member>, TokenScope)> {
    if app
        .store
        .get(&Key::platform_admin(user.id))
        .await?
        .is_some()
    {
        return Ok((None, TokenScope::Platform));
    }
    match only_live(app, memberships(app, user.id).await?).await {
        Ok(Some(only)) => Ok((Some(only), TokenScope::Platform)),
        Ok(None) => Ok((None, TokenScope::User)),
        Err(err) => {
            attempt.give_back_now(app).await?;
            Err(err)
        }
    }
}

/// The one membership a person can act in (not a join request, not deleted), if there is one;
/// with several, the person (who gave the right password) is offered their tenants by name.
async fn only_live(app: &App, memberships: Vec<Member>) -> ApiResult<Option<Member>> {
    let several = match live_membership(memberships) {
        Ok(one) => return Ok(one),
        Err(several) => several,
    };
    let mut batch = Batch::new();
    let slots: Vec<_> = several
        .iter()
        .map(|m| batch.read::<Tenant>(Key::tenant(m.tenant_id)))
        .collect();
    let mut read = batch.run(&app.store).await?;
    let mut tenants = Vec::with_capacity(slots.len());
    for slot in slots {
        if let Some(tenant) = read.take(slot)? {
            tenants.push(TenantChoice {
                id: tenant.id,
                name: tenant.name,
            });
        }
    }
    tenants.sort_by(|a, b| a.name.cmp(&b.name));
    Err(ApiError::ChooseTenant(tenants))
}

/// The only live membership (or none), or every live one when there are several.
fn live_membership(memberships: Vec<Member>) -> Result<Option<Member>, Vec<Member>> {
    let mut live: Vec<Member> = memberships
        .into_iter()
        .filter(|m| m.status.in_directory())
        .collect();
    if live.len() > 1 {
        return Err(live);
    }
    Ok(live.pop())
}

/// Signs a member in once the tenant's rules admit them: records the sign-in, gives the
/// attempt back and starts the session of the membership's token (its grant).
async fn sign_in_member(
    app: &App,
    requester: &Requester,
    attempt: &Attempt,
    user: &User,
    member: &Member,
) -> ApiResult<(Grant, NewSession)> {
    let now = app.now();
    let mut grant = match admit(app, requester, user, member, now).await? {
        Ok(grant) => grant,
        Err((failure, err)) => {
            log_attempt(app, requester, member, Some(failure), Some(attempt)).await?;
            return Err(err);
        }
    };
    let mut tx = Transaction::new();
    tx.update(
        &member.key(),
        Update::new("SET last_login_at = :now, gsi5sk = :position")
            .value(":now", s(rfc3339(now)))
            .value(
                ":position",
                s(last_login_position(Some(&rfc3339(now)), member.id)),
            ),
        Some((Condition::exists(), ApiError::Unauthorized)),
    )?;
    LoginEntry::new(now, requester, member, None).record(&mut tx)?;
    attempt.give_back(&mut tx)?;
    let session = issue::start(app, requester, &mut grant)?;
    session.add(&mut tx)?;
    app.store.transact(tx).await?;
    Ok((grant, session))
}

/// A member's token in `tenant` (while it issues): usable from the addresses both allowlists
/// (tenant's, department's) allow, alive while neither the user's nor the member's sessions end.
fn member_grant(
    user: &User,
    member: &Member,
    tenant: &Tenant,
    allowlists: [Vec<String>; 2],
) -> ApiResult<Grant> {
    let [allowlist, department_allowlist] = allowlists;
    let mut grant = Grant::in_tenant(tenant, user.id, TokenScope::Tenant)?;
    grant.member_id = Some(member.id);
    grant.allowlist = allowlist;
    grant.department_allowlist = department_allowlist;
    grant.user_session = user.session_epoch;
    grant.member_session = member.session_epoch;
    Ok(grant)
}

/// What the tenant's rules say to a member who gave the right password.
#[derive(Debug, PartialEq, Eq)]
enum Admission {
    /// Admitted, with the allowlists (tenant's, department's) every request of the token passes.
    Admitted([Vec<String>; 2]),
    /// Admitted only to change the expired password.
    PasswordExpired([Vec<String>; 2]),
    Refused(LoginFailure),
}

/// The tenant's sign-in rules, in order: the source address must pass the tenant's allowlist
/// and the department's (which narrows it), the member must not be disabled, and the password
/// must be younger than the tenant's expiry.
fn admission(
    tenant: &Tenant,
    department: Option<&Department>,
    user: &User,
    member: &Member,
    source_ip: Option<&str>,
    now: OffsetDateTime,
) -> Admission {
    let department_list = department
        .and_then(|d| d.settings.ip_allowlist.clone())
        .unwrap_or_default();
    if !ip_allowed(source_ip, &tenant.settings.ip_allowlist)
        || !ip_allowed(source_ip, &department_list)
    {
        return Admission::Refused(LoginFailure::IpNotAllowed);
    }
    if member.status == MemberStatus::Disabled {
        return Admission::Refused(LoginFailure::AccountDisabled);
    }
    let allowlist = [tenant.settings.ip_allowlist.clone(), department_list];
    if user.password_must_change {
        return Admission::PasswordExpired(allowlist);
    }
    if let Some(days) = tenant.settings.password_expiry_days {
        let changed = user.password_changed_at.unwrap_or(user.created_at);
        if changed + time::Duration::days(i64::from(days)) <= now {
            return Admission::PasswordExpired(allowlist);
        }
    }
    Admission::Admitted(allowlist)
}

/// Reads the member's tenant and department and applies [`admission`]: the grant of the token,
/// or the refusal to log and answer (an expired password answers with a token good only for
/// changing it). A session's refresh passes the same rules.
pub(crate) async fn admit(
    app: &App,
    requester: &Requester,
    user: &User,
    member: &Member,
    now: OffsetDateTime,
) -> ApiResult<Result<Grant, (LoginFailure, ApiError)>> {
    let mut batch = Batch::new();
    let tenant = batch.read::<Tenant>(Key::tenant(member.tenant_id));
    let department =
        batch.read::<Department>(Key::department(member.tenant_id, member.department_id));
    let mut read = batch.run(&app.store).await?;
    // A deleted tenant takes no sign-ins: as if the membership were not there.
    let tenant = read
        .take(tenant)?
        .ok_or(ApiError::Unauthorized)?
        .reachable()
        .map_err(|_| ApiError::Unauthorized)?;
    let department = read.take(department)?;
    let source = requester.origin.source_ip.as_deref();
    Ok(
        match admission(&tenant, department.as_ref(), user, member, source, now) {
            Admission::Admitted(allowlist) => Ok(member_grant(user, member, &tenant, allowlist)?),
            Admission::Refused(LoginFailure::IpNotAllowed) => {
                Err((LoginFailure::IpNotAllowed, ApiError::IpNotAllowed))
            }
            Admission::Refused(failure) => Err((failure, ApiError::AccountDisabled)),
            Admission::PasswordExpired(allowlist) => {
                let mut grant = member_grant(user, member, &tenant, allowlist)?;
                grant.scope = Some(TokenScope::PasswordChange);
                let access_token = app.keys.issue(now, &grant).await?;
                Err((
                    LoginFailure::PasswordExpired,
                    ApiError::PasswordExpired { access_token },
                ))
            }
        },
    )
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
    LoginEntry::new(app.now(), requester, member, failure).record(&mut tx)?;
    if let Some(attempt) = right_password {
        attempt.give_back(&mut tx)?;
    }
    app.store.transact(tx).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::member::Person;
    use crate::model::roles::{Permissions, Role};
    use crate::model::tenant::{FeatureFlags, Plan, TenantKind, TenantSettings, TenantStatus};
    use crate::model::{DepartmentSettings, MemberSource};
    use time::Duration;

    fn at(days: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000 + days)
    }

    fn tenant(allowlist: &[&str], expiry_days: Option<u32>) -> Tenant {
        Tenant {
            id: Uuid::now_v7(),
            name: "Acme".into(),
            kind: TenantKind::Customer,
            parent_id: None,
            plan: Plan::Free,
            status: TenantStatus::Active,
            purge_after: None,
            member_quota: 10,
            member_count: 1,
            invitation_count: 0,
            join_request_count: 0,
            public_request_count: 0,
            quota_used: 1,
            seats_total: 0,
            seats_used: 0,
            owner_count: 1,
            join_number: None,
            feature_flags: FeatureFlags::default(),
            settings: TenantSettings {
                ip_allowlist: allowlist.iter().map(|s| s.to_string()).collect(),
                password_expiry_days: expiry_days,
                ..TenantSettings::default()
            },
            root_department_id: Uuid::now_v7(),
            owner_member_id: Uuid::now_v7(),
            sms_daily_budget: crate::model::tenant::DEFAULT_SMS_DAILY_BUDGET,
            created_at: at(0),
            updated_at: at(0),
            version: 1,
        }
    }

    fn department(t: &Tenant, allowlist: Option<&[&str]>) -> Department {
        Department {
            id: t.root_department_id,
            tenant_id: t.id,
            name: "Acme".into(),
            parent_id: None,
            path: "Acme".into(),
            id_path: t.root_department_id.to_string(),
            depth: 0,
            member_count: 1,
            child_count: 0,
            settings: DepartmentSettings {
                ip_allowlist: allowlist.map(|l| l.iter().map(|s| s.to_string()).collect()),
                ..DepartmentSettings::default()
            },
            created_at: at(0),
            updated_at: at(0),
            version: 1,
            scim_external_id: None,
        }
    }

    fn person(t: &Tenant, status: MemberStatus) -> (User, Member) {
        let mut user = User::new(at(0), "ada@example.com".into(), "Ada".into(), "en".into());
        user.password_changed_at = Some(at(10));
        let member = Member {
            status,
            ..Member::new(
                t.id,
                t.root_department_id,
                Person::from(&user),
                Role::Member,
                Permissions::none(),
                MemberSource::Console,
                at(0),
            )
        };
        (user, member)
    }

    #[test]
    fn the_tenant_and_the_department_allowlists_both_apply() {
        let t = tenant(&["10.0.0.0/8"], None);
        let (user, member) = person(&t, MemberStatus::Active);
        let narrow = department(&t, Some(&["10.1.0.0/16"]));
        let admitted = admission(&t, Some(&narrow), &user, &member, Some("10.1.2.3"), at(11));
        assert_eq!(
            admitted,
            Admission::Admitted([vec!["10.0.0.0/8".into()], vec!["10.1.0.0/16".into()]])
        );
        for outside in [Some("10.2.0.1"), Some("192.168.0.1"), None] {
            assert_eq!(
                admission(&t, Some(&narrow), &user, &member, outside, at(11)),
                Admission::Refused(LoginFailure::IpNotAllowed)
            );
        }
        let open = tenant(&[], None);
        let (user, member) = person(&open, MemberStatus::Active);
        assert_eq!(
            admission(&open, None, &user, &member, None, at(11)),
            Admission::Admitted([vec![], vec![]])
        );
    }

    #[test]
    fn a_disabled_member_is_refused_after_the_address_check() {
        let t = tenant(&["10.0.0.0/8"], None);
        let (user, member) = person(&t, MemberStatus::Disabled);
        assert_eq!(
            admission(&t, None, &user, &member, Some("10.0.0.1"), at(11)),
            Admission::Refused(LoginFailure::AccountDisabled)
        );
        assert_eq!(
            admission(&t, None, &user, &member, Some("11.0.0.1"), at(11)),
            Admission::Refused(LoginFailure::IpNotAllowed)
        );
    }

    #[test]
    fn a_password_older_than_the_expiry_admits_only_a_change() {
        let t = tenant(&[], Some(30));
        let (user, member) = person(&t, MemberStatus::Active);
        // Changed on day 10: good until day 40.
        assert!(matches!(
            admission(&t, None, &user, &member, None, at(39)),
            Admission::Admitted(_)
        ));
        assert!(matches!(
            admission(&t, None, &user, &member, None, at(40)),
            Admission::PasswordExpired(_)
        ));
    }

    #[test]
    fn a_password_an_admin_gave_admits_only_a_change() {
        let t = tenant(&[], None);
        let (mut user, member) = person(&t, MemberStatus::Active);
        user.password_must_change = true;
        assert!(matches!(
            admission(&t, None, &user, &member, None, at(11)),
            Admission::PasswordExpired(_)
        ));
        let disabled = Member {
            status: MemberStatus::Disabled,
            ..member
        };
        assert_eq!(
            admission(&t, None, &user, &disabled, None, at(11)),
            Admission::Refused(LoginFailure::AccountDisabled)
        );
    }

    #[test]
    fn only_one_live_membership_signs_in_without_a_tenant() {
        let t = tenant(&[], None);
        let (_, active) = person(&t, MemberStatus::Active);
        let (_, pending) = person(&t, MemberStatus::Pending);
        let (_, deleted) = person(&t, MemberStatus::Deleted);
        assert_eq!(
            live_membership(vec![pending.clone(), active.clone(), deleted.clone()])
                .unwrap()
                .map(|m| m.id),
            Some(active.id)
        );
        assert!(live_membership(vec![pending, deleted]).unwrap().is_none());
        assert!(live_membership(vec![]).unwrap().is_none());
        let several = live_membership(vec![active.clone(), active]).unwrap_err();
        assert_eq!(several.len(), 2);
    }
}
