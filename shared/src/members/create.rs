//! Creating a member directly (an admin, an API client, an import row): the fields validated,
//! the user reused when the email already has an account or made with it, and the welcome mail.

use super::counts::{Placement, add_member_counts, quota_exceeded};
use super::mail::{MailSecret, welcome_mail};
use super::policy::{cannot_grant, may_grant, role_and_permissions};
use super::records::department_of;
use super::view::MemberView;
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Caller, CallerKind, Need, Requester, authorize_with_tenant};
use crate::crypto;
use crate::error::{ApiError, ApiResult, Checks};
use crate::events::{self, EventType};
use crate::invitations::admission::standing_refusal;
use crate::mail::Mail;
use crate::model::department::Department;
use crate::model::keys::Key;
use crate::model::member::ScimProfile;
use crate::model::member::{DEFAULT_DIRECTORY_NUMBER, Member, MemberSource, Person, UserInTenant};
use crate::model::roles::{Permission, Permissions, Role};
use crate::model::tenant::{NewMemberPassword, Tenant};
use crate::model::user::{EmailGuard, TokenPurpose, User};
use crate::store::{Batch, Condition, Transaction, num, to_item};
use crate::users::{add_password_token, claim_address};
use crate::validate;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMember {
    pub email: String,
    pub name: String,
    pub department_id: Uuid,
    #[serde(default)]
    pub position: Option<String>,
    #[serde(default)]
    pub work_number: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub directory_number: Option<i64>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub permissions: Option<Permissions>,
    #[serde(default)]
    pub password: Option<String>,
    /// The new account's language (BCP 47); the tenant's default when absent. An existing
    /// account keeps its own: only its user changes it.
    #[serde(default)]
    pub language: Option<String>,
}

/// The organisation fields of a member: free text an admin sets.
struct OrgFields {
    position: Option<String>,
    work_number: Option<String>,
    location: Option<String>,
}

/// An organisation field, checked (or cleared by `None`).
pub(super) fn org_text(checks: &mut Checks, field: &str, value: Option<&str>) -> Option<String> {
    validate::optional_text(checks, field, value, validate::MAX_SHORT_TEXT)
}

/// A member to create, validated.
pub(crate) struct NewMember {
    pub email: String,
    name: String,
    org: OrgFields,
    phone: Option<String>,
    directory_number: u32,
    pub role: Role,
    pub permissions: Permissions,
    password: Option<String>,
    language: Option<String>,
    /// What an identity provider provisioned (SCIM only).
    scim: Option<ScimProfile>,
}

impl NewMember {
    /// Checks every field of `input`; `prefix` names fields inside a larger document.
    pub(crate) fn validate(checks: &mut Checks, input: CreateMember) -> Self {
        let email = validate::email(checks, "email", &input.email);
        let name = validate::text(checks, "name", &input.name, validate::MAX_NAME);
        let org = OrgFields {
            position: org_text(checks, "position", input.position.as_deref()),
            work_number: org_text(checks, "work_number", input.work_number.as_deref()),
            location: org_text(checks, "location", input.location.as_deref()),
        };
        let phone = org_text(checks, "phone", input.phone.as_deref());
        let directory_number = input
            .directory_number
            .unwrap_or(i64::from(DEFAULT_DIRECTORY_NUMBER));
        validate::range(checks, "directory_number", directory_number, 1, 10_000);
        if let Some(password) = &input.password {
            validate::password(checks, "password", password);
        }
        let language = input
            .language
            .as_deref()
            .map(|l| validate::language(checks, "language", l));
        let (role, permissions) =
            role_and_permissions(checks, input.role, input.permissions.clone());
        Self {
            email,
            name,
            org,
            phone,
            directory_number: directory_number.clamp(1, 10_000) as u32,
            role,
            permissions,
            password: input.password,
            language,
            scim: None,
        }
    }
}

/// Creates a member directly. The user is reused when the email already has an account; the
/// email guard, the one-member-per-user guard and the quota counter make the rules hold under
/// concurrency. One batched read, one transaction, then the mail.
pub async fn create(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: CreateMember,
) -> ApiResult<MemberView> {
    let mut checks = Checks::new();
    let department_id = input.department_id;
    let new = NewMember::validate(&mut checks, input);
    checks.finish()?;

    let mut batch = Batch::new();
    let department = batch.read::<Department>(Key::department(tenant_id, department_id));
    let existing = batch.read::<EmailGuard>(Key::email(&new.email));
    let (access, tenant, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        batch,
    )
    .await?;
    let department = department_of(read.take(department)?, "department_id")?;
    let existing = read.take(existing)?;
    if !may_grant(&access, new.role, &new.permissions) {
        return Err(cannot_grant());
    }
    let source = match &access.caller.kind {
        CallerKind::ApiClient(_) => MemberSource::Api,
        CallerKind::Scim(_) => MemberSource::Scim,
        _ => MemberSource::Console,
    };
    let (view, mail) = insert(
        app,
        &access.caller,
        &tenant,
        &department,
        existing,
        new,
        source,
        Transaction::new(),
    )
    .await?;
    if let Err(err) = app.mail().send(mail).await {
        tracing::error!(member = %view.id, error = %err, "welcome mail failed");
    }
    Ok(view)
}

/// Writes a new member (and its user, when the email has no account) in one transaction that
/// starts with `tx` (an import adds its row marker there), and returns the welcome mail to send.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert(
    app: &App,
    caller: &Caller,
    tenant: &Tenant,
    department: &Department,
    existing: Option<EmailGuard>,
    new: NewMember,
    source: MemberSource,
    tx: Transaction,
) -> ApiResult<(MemberView, Mail)> {
    let (_, view, mail) =
        insert_member(app, caller, tenant, department, existing, new, source, tx).await?;
    Ok((view, mail))
}

/// [`insert`], also answering the member as written.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_member(
    app: &App,
    caller: &Caller,
    tenant: &Tenant,
    department: &Department,
    existing: Option<EmailGuard>,
    new: NewMember,
    source: MemberSource,
    mut tx: Transaction,
) -> ApiResult<(Member, MemberView, Mail)> {
    refuse_insert(tenant, existing.as_ref(), &new)?;
    let now = app.now();
    let (user_id, mail_secret) = add_account(app, &mut tx, tenant, existing.as_ref(), &new, now)?;
    let member = new_member(
        caller,
        tenant.id,
        department.id,
        user_id,
        existing.as_ref().is_some_and(|g| g.verified),
        new,
        source,
        now,
    );
    let view = MemberView::from(&member);
    add_member(
        app, &mut tx, caller, tenant, department, &member, &view, now,
    )?;
    match app.store.transact(tx).await {
        Ok(()) => {}
        Err(ApiError::AlreadyMember) => {
            return Err(member_taken(app, tenant.id, user_id, now).await);
        }
        Err(err) => return Err(err),
    }
    let mail = welcome_mail(app, tenant, &member, &mail_secret);
    Ok((member, view, mail))
}

/// A member the tenant's identity provider provisions through SCIM (SPEC §8.5): written like any
/// other (quota, guards, counters, audit, the welcome mail with a set-password link for a new
/// or unproven account), with its SCIM profile and that profile's guards in the same transaction.
pub(crate) async fn provision(
    app: &App,
    caller: &Caller,
    tenant: &Tenant,
    department: &Department,
    existing: Option<EmailGuard>,
    input: CreateMember,
    profile: ScimProfile,
) -> ApiResult<Member> {
    let mut checks = Checks::new();
    let mut new = NewMember::validate(&mut checks, input);
    checks.finish()?;
    new.scim = Some(profile);
    let (member, _, mail) = insert_member(
        app,
        caller,
        tenant,
        department,
        existing,
        new,
        MemberSource::Scim,
        Transaction::new(),
    )
    .await?;
    if let Err(err) = app.mail().send(mail).await {
        tracing::error!(member = %member.id, error = %err, "welcome mail failed");
    }
    Ok(member)
}

/// The answer when the user already has a member here (the guard refused): a member in the
/// recycle bin is `previously_removed` with its id, as an invitation is told, so the client can
/// restore it; any other is a conflict.
async fn member_taken(app: &App, tenant_id: Uuid, user_id: Uuid, now: OffsetDateTime) -> ApiError {
    let taken = ApiError::Conflict("the email already belongs to a member of this tenant".into());
    match crate::users::member_of(app, tenant_id, user_id).await {
        Ok(member) => match standing_refusal(member.as_ref(), now) {
            Some(removed @ ApiError::PreviouslyRemoved { .. }) => removed,
            _ => taken,
        },
        Err(err) => err,
    }
}

/// Why a new member cannot be written, whatever the store says: a password for an address whose
/// account keeps its own, or a full quota.
fn refuse_insert(tenant: &Tenant, existing: Option<&EmailGuard>, new: &NewMember) -> ApiResult<()> {
    if existing.is_some() && new.password.is_some() {
        return Err(ApiError::invalid(
            "password",
            "the email already has an account, which keeps its own password",
        ));
    }
    if tenant.quota_used >= tenant.member_quota {
        return Err(quota_exceeded(tenant));
    }
    Ok(())
}

/// The new member's account: the existing one (an unproven address gets a set-password link),
/// or a new user whose first password follows the tenant's setting. Returns the user's id and
/// what the welcome mail carries.
fn add_account(
    app: &App,
    tx: &mut Transaction,
    tenant: &Tenant,
    existing: Option<&EmailGuard>,
    new: &NewMember,
    now: OffsetDateTime,
) -> ApiResult<(Uuid, MailSecret)> {
    let link_lifetime = time::Duration::days(i64::from(tenant.settings.invitation_expiry_days));
    if let Some(guard) = existing {
        let secret = match claim_address(app, tx, guard, &new.email, link_lifetime)? {
            Some(token) => MailSecret::Link(token),
            None => MailSecret::None,
        };
        return Ok((guard.user_id, secret));
    }
    let mut user = User::new(
        now,
        new.email.clone(),
        new.name.clone(),
        new.language
            .clone()
            .unwrap_or_else(|| tenant.settings.default_language.clone()),
    );
    user.phone = new.phone.clone();
    // A password given at creation was chosen by someone else (an admin, an import's file): its
    // user replaces it at the first sign-in (SPEC §8.1).
    user.password_must_change = new.password.is_some();
    let secret = match (&new.password, tenant.settings.new_member_password) {
        (Some(password), _) => {
            user.password_hash = Some(crypto::hash_password(password)?);
            user.password_changed_at = Some(now);
            MailSecret::None
        }
        (None, NewMemberPassword::RandomPasswordMail) => {
            let password = crypto::new_token()[..20].to_string();
            user.password_hash = Some(crypto::hash_password(&password)?);
            user.password_changed_at = Some(now);
            MailSecret::Password(password)
        }
        (None, NewMemberPassword::SetPasswordLink) => MailSecret::Link(add_password_token(
            app,
            tx,
            user.id,
            user.session_epoch,
            TokenPurpose::SetPassword,
            link_lifetime,
            &user.email,
        )?),
    };
    user.add_new(tx)?;
    Ok((user.id, secret))
}

/// The member record `new` becomes for the user `user_id`; an API client that creates it is
/// named on it.
#[allow(clippy::too_many_arguments)]
fn new_member(
    caller: &Caller,
    tenant_id: Uuid,
    department_id: Uuid,
    user_id: Uuid,
    email_verified: bool,
    new: NewMember,
    source: MemberSource,
    now: OffsetDateTime,
) -> Member {
    let NewMember {
        email,
        name,
        org,
        phone,
        directory_number,
        role,
        permissions,
        password: _,
        language: _,
        scim,
    } = new;
    Member {
        scim,
        position: org.position,
        work_number: org.work_number,
        location: org.location,
        directory_number,
        api_client_id: match &caller.kind {
            CallerKind::ApiClient(c) => Some(c.id),
            _ => None,
        },
        ..Member::new(
            tenant_id,
            department_id,
            Person {
                user_id,
                email,
                name,
                phone,
                email_verified,
            },
            role,
            permissions,
            source,
            now,
        )
    }
}

/// Adds to `tx` the member, the guard that keeps it the user's only one here, the counters it
/// moves, its search terms and the audit entry.
#[allow(clippy::too_many_arguments)]
fn add_member(
    app: &App,
    tx: &mut Transaction,
    caller: &Caller,
    tenant: &Tenant,
    department: &Department,
    member: &Member,
    view: &MemberView,
    now: OffsetDateTime,
) -> ApiResult<()> {
    tx.put(
        to_item(
            &UserInTenant {
                member_id: member.id,
            },
            &Key::user_in_tenant(tenant.id, member.user_id),
            &[],
        )?,
        Some((
            // A guard left by a member purged from the bin (its TTL passed) no longer counts.
            Condition::new("attribute_not_exists(pk) OR #ttl <= :now")
                .name("#ttl", "ttl")
                .value(":now", num(now.unix_timestamp())),
            // Told apart after the transaction (see `member_taken`).
            ApiError::AlreadyMember,
        )),
    )?;
    add_member_counts(tx, tenant, &Placement::from(department), member, 1)?;
    tx.put(
        member.to_item(&department.id_path)?,
        Some((
            Condition::absent(),
            ApiError::internal("member id collision"),
        )),
    )?;
    member.add_search_terms(tx)?;
    Member::swap_scim_guards(None, member, tx)?;
    audit::record(
        app,
        tx,
        caller,
        Change {
            tenant_id: tenant.id,
            action: "member.create",
            target_type: "member",
            target_id: member.id,
            before: None,
            after: audit::snapshot(view),
        },
    )?;
    events::record(app, tx, caller, tenant.id, EventType::MemberCreated, view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Origin;
    use crate::model::api_client::ApiClient;

    fn input() -> CreateMember {
        CreateMember {
            email: "Ada@Example.com".into(),
            name: "Ada Lovelace".into(),
            department_id: Uuid::from_u128(2),
            position: Some("Engineer".into()),
            work_number: None,
            location: Some("London".into()),
            phone: None,
            directory_number: Some(7),
            role: Some(Role::Admin),
            permissions: None,
            password: None,
            language: None,
        }
    }

    fn caller(kind: CallerKind) -> Caller {
        Caller {
            user_id: Uuid::from_u128(50),
            kind,
            origin: Origin::default(),
        }
    }

    fn validated(input: CreateMember) -> NewMember {
        let mut checks = Checks::new();
        let new = NewMember::validate(&mut checks, input);
        assert!(checks.finish().is_ok());
        new
    }

    #[test]
    fn a_new_member_carries_what_was_asked() {
        let new = validated(input());
        assert_eq!(new.email, "ada@example.com");
        let user = Uuid::from_u128(60);
        let m = new_member(
            &caller(CallerKind::System),
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            user,
            true,
            new,
            MemberSource::Console,
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(m.user_id, user);
        assert_eq!(m.email, "ada@example.com");
        assert_eq!(m.position.as_deref(), Some("Engineer"));
        assert_eq!(m.location.as_deref(), Some("London"));
        assert_eq!(m.directory_number, 7);
        assert_eq!((m.role, m.permissions), (Role::Admin, Permissions::All));
        assert!(m.email_verified);
        assert_eq!(m.api_client_id, None);
    }

    #[test]
    fn an_api_client_is_named_on_the_members_it_creates() {
        let client = ApiClient {
            id: Uuid::from_u128(70),
            tenant_id: Uuid::from_u128(1),
            name: "HR sync".into(),
            permissions: Permissions::All,
            secret_hash: String::new(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            created_by: Uuid::from_u128(50),
        };
        let m = new_member(
            &caller(CallerKind::ApiClient(Box::new(client))),
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(60),
            false,
            validated(input()),
            MemberSource::Api,
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(m.api_client_id, Some(Uuid::from_u128(70)));
        assert_eq!(m.source, MemberSource::Api);
    }

    #[test]
    fn every_bad_field_of_a_new_member_is_reported() {
        let mut checks = Checks::new();
        NewMember::validate(
            &mut checks,
            CreateMember {
                email: "not an email".into(),
                directory_number: Some(0),
                role: None,
                permissions: Some(Permissions::All),
                language: Some("english please".into()),
                ..input()
            },
        );
        let fields: Vec<String> = match checks.finish() {
            Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(
            fields,
            ["email", "directory_number", "language", "permissions"]
        );
    }
}
