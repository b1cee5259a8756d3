//! Members: a user's membership in one tenant — creation, the directory and search, edits, and the
//! recycle bin. Every change moves the counters it affects (tenant members for the quota, owners
//! for the last-owner rule, department members for safe deletes) in the same transaction.

pub mod bulk;
pub mod directory;
pub mod purge;

pub use directory::{ContactRules, DirectoryEntry, Listing, Reader};

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Requester;
use crate::auth::{Access, CallerKind, Need, authorize_with_tenant};
use crate::crypto;
use crate::error::{ApiError, ApiResult, Checks};
use crate::mail::{Mail, html_escape};
use crate::model::department::Department;
use crate::model::keys::{
    GSI2, GSI3, GSI4, GSI5, Key, MEMBER_PREFIX, directory_partition, directory_position,
    last_login_partition, name_partition, recycle_bin_partition, search_partition, subtree_prefix,
    tenant_partition, tree_partition,
};
use crate::model::licence::Licence;
use crate::model::licence::{LicenceFilter, LicenceView};
use crate::model::member::SearchTerm;
pub use crate::model::member::{
    DEFAULT_DIRECTORY_NUMBER, JoinRequestInfo, JoinVia, Member, MemberSource, MemberStatus, Person,
    UserInTenant, fold, search_terms,
};
use crate::model::roles::{Permission, Permissions, Role};
use crate::model::tenant::{NewMemberPassword, Tenant};
use crate::model::user::{EmailGuard, TokenPurpose, User};
use crate::model::{List, PageParams};
use crate::store::{
    Condition, Filter, Item, Query, SortRange, Transaction, from_item, num, s, to_item,
};
use crate::users::{add_password_token, claim_address, password_link};
use crate::validate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// The statuses an admin sets (SPEC §8.2). The others are reached by their own routes only
/// (delete, approve, reject), which move the counters that go with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusInput {
    Active,
    Disabled,
}

impl From<StatusInput> for MemberStatus {
    fn from(status: StatusInput) -> Self {
        match status {
            StatusInput::Active => Self::Active,
            StatusInput::Disabled => Self::Disabled,
        }
    }
}

impl Member {
    /// Adds the member's search terms to `tx`.
    pub fn add_search_terms(&self, app: &App, tx: &mut Transaction) -> ApiResult<()> {
        for item in self.search_term_items()? {
            tx.put(app.table(), item, None)?;
        }
        Ok(())
    }

    /// The items that make the member findable by search.
    pub fn search_term_items(&self) -> ApiResult<Vec<Item>> {
        self.term_keys()
            .iter()
            .map(|key| to_item(&SearchTerm { member_id: self.id }, key, &[]))
            .collect()
    }

    /// Adds to `tx` what follows from the user's new name or phone: the member's copy, its
    /// directory and name-order keys, and its search terms.
    pub(crate) fn follow_user(
        &self,
        app: &App,
        tx: &mut Transaction,
        name: &str,
        email: &str,
        email_verified: bool,
        phone: Option<&str>,
    ) -> ApiResult<()> {
        let folded = fold(name);
        let mut update = Condition::new(
            "SET #name = :name, email = :email, email_verified = :verified, phone = :phone",
        )
        .name("#name", "name")
        .value(":name", s(name))
        .value(":email", s(email))
        .value(
            ":verified",
            aws_sdk_dynamodb::types::AttributeValue::Bool(email_verified),
        )
        .value(
            ":phone",
            phone.map_or(aws_sdk_dynamodb::types::AttributeValue::Null(true), s),
        );
        if self.status.in_directory() {
            update
                .expression
                .push_str(", gsi3sk = :dir, gsi4sk = :by_name");
            update = update
                .value(
                    ":dir",
                    s(directory_position(self.directory_number, &folded, self.id)),
                )
                .value(":by_name", s(format!("{folded}#{}", self.id)));
        }
        tx.update(
            app.table(),
            &self.key(),
            update,
            Some((Condition::exists(), ApiError::NotFound)),
        )?;
        if self.status.in_directory() && (name != self.name || email != self.email) {
            // A key may appear once per transaction: only the terms that change move.
            let old = self.term_keys();
            let new = Member {
                name: name.to_string(),
                email: email.to_string(),
                ..self.clone()
            }
            .term_keys();
            for key in old.iter().filter(|k| !new.contains(k)) {
                tx.delete(app.table(), key, None)?;
            }
            for key in new.iter().filter(|k| !old.contains(k)) {
                tx.put(
                    app.table(),
                    to_item(&SearchTerm { member_id: self.id }, key, &[])?,
                    None,
                )?;
            }
        }
        Ok(())
    }
}

/// A member as clients see it.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub phone: Option<String>,
    pub department_id: Uuid,
    pub position: Option<String>,
    pub work_number: Option<String>,
    pub location: Option<String>,
    pub directory_number: u32,
    pub role: Role,
    pub permissions: Permissions,
    pub status: MemberStatus,
    pub source: MemberSource,
    pub api_client_id: Option<Uuid>,
    pub licence: Option<LicenceView>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub deleted_at: Option<OffsetDateTime>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub purge_at: Option<OffsetDateTime>,
    #[serde(skip)]
    pub version: u64,
}

impl From<&Member> for MemberView {
    fn from(m: &Member) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            user_id: m.user_id,
            email: m.email.clone(),
            email_verified: m.email_verified,
            name: m.name.clone(),
            phone: m.phone.clone(),
            department_id: m.department_id,
            position: m.position.clone(),
            work_number: m.work_number.clone(),
            location: m.location.clone(),
            directory_number: m.directory_number,
            role: m.role,
            permissions: m.effective_permissions(),
            status: m.status,
            source: m.source,
            api_client_id: m.api_client_id,
            licence: m.licence.as_ref().map(LicenceView::from),
            created_at: m.created_at,
            updated_at: m.updated_at,
            last_login_at: m.last_login_at,
            deleted_at: m.deleted_at,
            purge_at: m.purge_at,
            version: m.version,
        }
    }
}

fn department_of(item: Option<Item>, field: &str) -> ApiResult<Department> {
    match item {
        Some(item) => from_item(item),
        None => Err(ApiError::invalid(
            field,
            "is not a department of this tenant",
        )),
    }
}

/// Whether the caller may give `role` and `permissions`: owners (and operators) give anything;
/// admins give only the permissions they hold themselves, and never the owner role.
pub(crate) fn may_grant(access: &Access, role: Role, permissions: &Permissions) -> bool {
    let mine = access.caller.permissions();
    let caller_is_owner = access.caller.is_owner() || access.via_reseller;
    if caller_is_owner {
        return true;
    }
    match (role, permissions) {
        (Role::Owner, _) => false,
        (Role::Member, _) => true,
        (Role::Admin, Permissions::All) => mine == Permissions::All,
        (Role::Admin, Permissions::Only(list)) => list.iter().all(|p| mine.allows(*p)),
    }
}

/// An admin acts on (edits, disables, deletes, restores, resets the password of) only members
/// whose permissions it holds all of; only owners act on owners (SPEC §8.2).
pub(crate) fn may_manage(access: &Access, target: &Member) -> bool {
    may_grant(access, target.role, &target.effective_permissions())
}

pub(crate) fn beyond_reach() -> ApiError {
    ApiError::Forbidden(
        "the caller acts only on members whose permissions it holds all of; only owners act on owners",
    )
}

struct OrgFields {
    position: Option<String>,
    work_number: Option<String>,
    location: Option<String>,
}

fn org_text(checks: &mut Checks, field: &str, value: Option<&str>) -> Option<String> {
    validate::optional_text(checks, field, value, validate::MAX_SHORT_TEXT)
}

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
}

/// The role asked for (member by default) and the permissions it carries: owners hold all,
/// admins what they are given (all by default), members none — a list for anyone but an admin
/// is refused.
pub(crate) fn role_and_permissions(
    checks: &mut Checks,
    role: Option<Role>,
    permissions: Option<Permissions>,
) -> (Role, Permissions) {
    let role = role.unwrap_or(Role::Member);
    if role != Role::Admin && permissions.is_some() {
        checks.fail("permissions", "are given to admins only");
    }
    let permissions = match role {
        Role::Owner => Permissions::All,
        Role::Admin => permissions.unwrap_or(Permissions::All),
        Role::Member => Permissions::none(),
    };
    (role, permissions)
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

    let (access, tenant, items) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        &[
            Key::department(tenant_id, department_id),
            Key::email(&new.email),
        ],
    )
    .await?;
    let mut items = items.into_iter();
    let department = department_of(items.next().flatten(), "department_id")?;
    let existing: Option<EmailGuard> = items.next().flatten().map(from_item).transpose()?;
    if !may_grant(&access, new.role, &new.permissions) {
        return Err(ApiError::Forbidden(
            "a caller cannot grant a role or permissions it does not hold",
        ));
    }
    let source = match &access.caller.kind {
        CallerKind::ApiClient(_) => MemberSource::Api,
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
    caller: &crate::auth::Caller,
    tenant: &Tenant,
    department: &Department,
    existing: Option<EmailGuard>,
    new: NewMember,
    source: MemberSource,
    mut tx: Transaction,
) -> ApiResult<(MemberView, Mail)> {
    let tenant_id = tenant.id;
    if existing.is_some() && new.password.is_some() {
        return Err(ApiError::invalid(
            "password",
            "the email already has an account, which keeps its own password",
        ));
    }
    if tenant.quota_used >= tenant.member_quota {
        return Err(quota_exceeded(tenant));
    }
    let NewMember {
        email,
        name,
        org,
        phone,
        directory_number,
        role,
        permissions,
        password,
    } = new;

    let now = app.now();
    let mut mail_secret = MailSecret::None;
    let link_lifetime = time::Duration::days(i64::from(tenant.settings.invitation_expiry_days));
    let user_id = match &existing {
        Some(guard) => {
            if let Some(token) = claim_address(app, &mut tx, guard, &email, link_lifetime)? {
                mail_secret = MailSecret::Link(token);
            }
            guard.user_id
        }
        None => {
            let mut user = User::new(
                now,
                email.clone(),
                name.clone(),
                tenant.settings.default_language.clone(),
            );
            user.phone = phone.clone();
            match (&password, tenant.settings.new_member_password) {
                (Some(password), _) => {
                    user.password_hash = Some(crypto::hash_password(password)?);
                    user.password_changed_at = Some(now);
                }
                (None, NewMemberPassword::RandomPasswordMail) => {
                    let password = crypto::new_token()[..20].to_string();
                    user.password_hash = Some(crypto::hash_password(&password)?);
                    user.password_changed_at = Some(now);
                    mail_secret = MailSecret::Password(password);
                }
                (None, NewMemberPassword::SetPasswordLink) => {
                    mail_secret = MailSecret::Link(add_password_token(
                        app,
                        &mut tx,
                        user.id,
                        user.session_epoch,
                        TokenPurpose::SetPassword,
                        link_lifetime,
                    )?);
                }
            }
            user.add_new(app, &mut tx)?;
            user.id
        }
    };
    let member = Member {
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
            department.id,
            Person {
                user_id,
                email: email.clone(),
                name,
                phone,
                email_verified: existing.as_ref().is_some_and(|g| g.verified),
            },
            role,
            permissions,
            source,
            now,
        )
    };
    tx.put(
        app.table(),
        to_item(&UserInTenant { member_id: member.id }, &Key::user_in_tenant(tenant_id, user_id), &[])?,
        Some((
            // A guard left by a member purged from the bin (its TTL passed) no longer counts.
            Condition::new("attribute_not_exists(pk) OR #ttl <= :now")
                .name("#ttl", "ttl")
                .value(":now", num(now.unix_timestamp())),
            ApiError::Conflict(
                "the email already belongs to a member of this tenant, or to one in the recycle bin (restore it instead)"
                    .into(),
            ),
        )),
    )?;
    add_member_counts(
        app,
        &mut tx,
        tenant,
        &Placement::from(department),
        &member,
        1,
    )?;
    tx.put(
        app.table(),
        member.to_item(&department.id_path)?,
        Some((
            Condition::absent(),
            ApiError::internal("member id collision"),
        )),
    )?;
    member.add_search_terms(app, &mut tx)?;
    let view = MemberView::from(&member);
    audit::record(
        app,
        &mut tx,
        caller,
        Change {
            tenant_id,
            action: "member.create",
            target_type: "member",
            target_id: member.id,
            before: None,
            after: audit::snapshot(&view),
        },
    )?;
    app.store.transact(tx).await?;
    let mail = welcome_mail(app, tenant, &member, &mail_secret);
    Ok((view, mail))
}

pub(crate) fn quota_exceeded(tenant: &Tenant) -> ApiError {
    ApiError::QuotaExceeded(format!(
        "the tenant's member quota ({}) is reached",
        tenant.member_quota
    ))
}

/// Moves the tenant's member count and quota use (within the quota when adding), the owner count
/// and the department's member count by `delta` (+1 or -1); a member leaving with a licence
/// gives its seats back.
pub(crate) fn add_member_counts(
    app: &App,
    tx: &mut Transaction,
    tenant: &Tenant,
    department: &Placement,
    member: &Member,
    delta: i64,
) -> ApiResult<()> {
    let owners = i64::from(member.role == Role::Owner) * delta;
    let seats = if delta < 0 {
        -member.licence.as_ref().map_or(0, Licence::seats_held)
    } else {
        0
    };
    let update = Condition::new(
        "ADD member_count :d, quota_used :d, owner_count :owners, seats_used :seats",
    )
    .value(":d", num(delta))
    .value(":owners", num(owners))
    .value(":seats", num(seats));
    // No counter goes below zero, whatever state the member was read in.
    let covered = Condition::counters_cover(&[
        ("member_count", delta),
        ("quota_used", delta),
        ("owner_count", owners),
        ("seats_used", seats),
    ]);
    let condition = if delta > 0 {
        (
            Condition::new("quota_used < member_quota"),
            quota_exceeded(tenant),
        )
    } else if owners < 0 {
        (
            Condition::new("owner_count > :one")
                .value(":one", num(1))
                .and(covered),
            last_owner(),
        )
    } else {
        (covered, counters_out_of_step())
    };
    tx.update(
        app.table(),
        &Key::tenant(tenant.id),
        update,
        Some(condition),
    )?;
    tx.update(
        app.table(),
        &Key::department(tenant.id, department.id),
        Condition::new("ADD member_count :d").value(":d", num(delta)),
        Some((
            Condition::new("id_path = :id_path")
                .value(":id_path", s(&department.id_path))
                .and(Condition::counters_cover(&[("member_count", delta)])),
            ApiError::Conflict("the department moved or was deleted; retry".into()),
        )),
    )
}

/// A conditioned decrement found less than it takes: the member was read in a state the
/// counters no longer reflect (a concurrent change). Nothing was written; a retry reads afresh.
pub(crate) fn counters_out_of_step() -> ApiError {
    ApiError::Conflict("the member changed at the same time; read it again and retry".into())
}

/// Where a member sits in the tree: its department and that department's id path.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    pub id: Uuid,
    pub id_path: String,
}

impl From<&Department> for Placement {
    fn from(d: &Department) -> Self {
        Self {
            id: d.id,
            id_path: d.id_path.clone(),
        }
    }
}

pub(super) fn last_owner() -> ApiError {
    ApiError::Conflict("the last owner can be neither demoted, disabled nor deleted".into())
}

enum MailSecret {
    None,
    Link(String),
    Password(String),
}

fn welcome_mail(app: &App, tenant: &Tenant, member: &Member, secret: &MailSecret) -> Mail {
    let (line, html_line) = match secret {
        MailSecret::Link(token) => {
            let link = password_link(app, token);
            (
                format!("Set your password to sign in:\n{link}\n"),
                format!(
                    "<p><a href=\"{}\">Set your password to sign in</a></p>",
                    html_escape(&link)
                ),
            )
        }
        MailSecret::Password(password) => (
            format!("Your password: {password}\nPlease change it after signing in.\n"),
            format!(
                "<p>Your password: <code>{}</code><br>Please change it after signing in.</p>",
                html_escape(password)
            ),
        ),
        MailSecret::None => (
            format!(
                "Sign in with your existing account: {}/login\n",
                app.config.app_url
            ),
            format!(
                "<p><a href=\"{}/login\">Sign in with your existing account</a></p>",
                html_escape(&app.config.app_url)
            ),
        ),
    };
    Mail {
        to: member.email.clone(),
        subject: format!("You have been added to {} on Roster", tenant.name),
        text: format!(
            "Hello {},\n\nyou are now a member of {}.\n{line}",
            member.name, tenant.name
        ),
        html: format!(
            "<p>Hello {},</p><p>you are now a member of <b>{}</b>.</p>{html_line}",
            html_escape(&member.name),
            html_escape(&tenant.name)
        ),
    }
}

fn member_of(item: Option<Item>) -> ApiResult<Member> {
    placed_member(item).map(|(member, _)| member)
}

/// A member not in the recycle bin, and its placement read from its tree key (so the department
/// itself need not be read).
fn placed_member(item: Option<Item>) -> ApiResult<(Member, Placement)> {
    let item = item.ok_or(ApiError::NotFound)?;
    let tree = item.get(GSI2.sk).and_then(|v| v.as_s().ok()).cloned();
    let member: Member = from_item(item)?;
    if !member.status.in_directory() {
        return Err(ApiError::NotFound);
    }
    let suffix = format!("/#{}", member.id);
    let id_path = tree
        .as_deref()
        .and_then(|t| t.strip_suffix(&suffix))
        .ok_or_else(|| ApiError::internal("member without a tree key"))?
        .to_string();
    let placement = Placement {
        id: member.department_id,
        id_path,
    };
    Ok((member, placement))
}

/// One member as the caller may see it (the admin view carries its ETag version). Members in the
/// recycle bin are not found here.
pub async fn get(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    member_id: Uuid,
) -> ApiResult<Listing> {
    let (access, tenant, items) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Member,
        &[Key::member(tenant_id, member_id)],
    )
    .await?;
    let reader = Reader::of(&access)?;
    let member = member_of(items.into_iter().next().flatten())?;
    let rules = match reader {
        Reader::Admin => ContactRules::for_admin(),
        // A colleague's entry follows the rule of the member's department.
        Reader::Colleague { .. } => {
            let department: Option<Department> = app
                .store
                .get(&Key::department(tenant_id, member.department_id))
                .await?
                .map(from_item)
                .transpose()?;
            ContactRules::of(&tenant, department.as_slice())
        }
    };
    Ok(Listing::of(reader, &rules, &member))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberPatch {
    #[serde(default)]
    pub department_id: Option<Uuid>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub position: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub work_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub location: Option<Option<String>>,
    #[serde(default)]
    pub directory_number: Option<i64>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub permissions: Option<Permissions>,
    #[serde(default)]
    pub status: Option<StatusInput>,
}

/// Organisation fields, role, permissions and status (active/disabled), with If-Match. Personal
/// fields (name, email, phone) belong to the user and change only through /v1/me.
pub async fn update(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    member_id: Uuid,
    patch: MemberPatch,
    expected: Option<u64>,
) -> ApiResult<MemberView> {
    let mut checks = Checks::new();
    if let Some(n) = patch.directory_number {
        validate::range(&mut checks, "directory_number", n, 1, 10_000);
    }
    checks.finish()?;
    let mut keys = vec![Key::member(tenant_id, member_id)];
    if let Some(d) = patch.department_id {
        keys.push(Key::department(tenant_id, d));
    }
    let (access, tenant, items) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        &keys,
    )
    .await?;
    let mut items = items.into_iter();
    let (before, placement) = placed_member(items.next().flatten())?;
    if expected.is_some_and(|v| v != before.version) {
        return Err(ApiError::PreconditionFailed);
    }
    let new_department = match patch.department_id {
        Some(_) => Some(department_of(items.next().flatten(), "department_id")?),
        None => None,
    };
    if !may_manage(&access, &before) {
        return Err(beyond_reach());
    }

    let mut after = before.clone();
    let mut checks = Checks::new();
    if let Some(v) = patch.position {
        after.position = org_text(&mut checks, "position", v.as_deref());
    }
    if let Some(v) = patch.work_number {
        after.work_number = org_text(&mut checks, "work_number", v.as_deref());
    }
    if let Some(v) = patch.location {
        after.location = org_text(&mut checks, "location", v.as_deref());
    }
    if let Some(n) = patch.directory_number {
        after.directory_number = n.clamp(1, 10_000) as u32;
    }
    if let Some(role) = patch.role {
        after.role = role;
        if role != Role::Admin {
            after.permissions = if role == Role::Owner {
                Permissions::All
            } else {
                Permissions::none()
            };
        }
    }
    if let Some(permissions) = patch.permissions {
        if after.role != Role::Admin {
            checks.fail("permissions", "are given to admins only");
        }
        after.permissions = permissions;
    }
    if let Some(status) = patch.status.map(MemberStatus::from) {
        if status == MemberStatus::Disabled && before.status != MemberStatus::Disabled {
            // The member's tokens end now and stay dead once enabled again.
            after.session_epoch = crate::model::user::new_session_epoch();
        }
        after.status = status;
    }
    checks.finish()?;
    if (patch.role.is_some() || after.permissions != before.permissions)
        && !may_grant(&access, after.role, &after.permissions)
    {
        return Err(ApiError::Forbidden(
            "a caller cannot grant a role or permissions it does not hold",
        ));
    }
    after.updated_at = app.now();
    after.version += 1;

    let department = match &new_department {
        Some(d) => Placement::from(d),
        None => placement,
    };
    after.department_id = department.id;

    let mut tx = Transaction::new();
    tx.put(
        app.table(),
        after.to_item(&department.id_path)?,
        Some((
            Condition::version_is(before.version),
            ApiError::Conflict(
                "the member changed at the same time; read it again and retry".into(),
            ),
        )),
    )?;
    let was_owner = before.role == Role::Owner && before.status != MemberStatus::Deleted;
    let is_active_owner = after.role == Role::Owner && after.status == MemberStatus::Active;
    let was_active_owner = was_owner && before.status == MemberStatus::Active;
    let owner_delta = i64::from(is_active_owner) - i64::from(was_active_owner);
    if owner_delta != 0 {
        let condition = (owner_delta < 0).then(|| {
            (
                Condition::new("owner_count > :one").value(":one", num(1)),
                last_owner(),
            )
        });
        tx.update(
            app.table(),
            &Key::tenant(tenant.id),
            Condition::new("ADD owner_count :d").value(":d", num(owner_delta)),
            condition,
        )?;
    }
    if department.id != before.department_id {
        let old = Key::department(tenant_id, before.department_id);
        tx.update(
            app.table(),
            &old,
            Condition::new("ADD member_count :d").value(":d", num(-1)),
            Some((
                Condition::counters_cover(&[("member_count", -1)]),
                counters_out_of_step(),
            )),
        )?;
        tx.update(
            app.table(),
            &Key::department(tenant_id, department.id),
            Condition::new("ADD member_count :d").value(":d", num(1)),
            Some((
                Condition::new("id_path = :id_path").value(":id_path", s(&department.id_path)),
                ApiError::Conflict("the department moved or was deleted; retry".into()),
            )),
        )?;
    }
    let view = MemberView::from(&after);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "member.update",
            target_type: "member",
            target_id: member_id,
            before: audit::snapshot(&MemberView::from(&before)),
            after: audit::snapshot(&view),
        },
    )?;
    app.store.transact(tx).await?;
    Ok(view)
}

/// Removes access: the member goes to the recycle bin until the tenant's retention ends.
pub async fn delete(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    member_id: Uuid,
) -> ApiResult<()> {
    let (access, tenant, items) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        &[Key::member(tenant_id, member_id)],
    )
    .await?;
    let (before, department) = placed_member(items.into_iter().next().flatten())?;
    if !may_manage(&access, &before) {
        return Err(beyond_reach());
    }
    let now = app.now();
    let purge_at =
        now + time::Duration::days(i64::from(tenant.settings.recycle_bin_retention_days));
    let mut after = before.clone();
    after.status = MemberStatus::Deleted;
    // The member's tokens end for good: a restore does not revive them.
    after.session_epoch = crate::model::user::new_session_epoch();
    // The seat goes back to the pool; a restore does not bring it back.
    after.licence = None;
    after.deleted_at = Some(now);
    after.purge_at = Some(purge_at);
    after.ttl = Some(purge_at.unix_timestamp());
    after.updated_at = now;
    after.version += 1;

    let mut tx = Transaction::new();
    tx.put(
        app.table(),
        after.to_item(&department.id_path)?,
        Some((
            Condition::version_is(before.version),
            ApiError::Conflict("the member changed at the same time; retry".into()),
        )),
    )?;
    // An owner counts as one only while active; a disabled owner leaves the count alone.
    let mut counted = before.clone();
    if before.status != MemberStatus::Active {
        counted.role = Role::Member;
    }
    add_member_counts(app, &mut tx, &tenant, &department, &counted, -1)?;
    // The guard keeping the email taken in this tenant expires with the bin entry.
    tx.update(
        app.table(),
        &Key::user_in_tenant(tenant_id, before.user_id),
        Condition::new("SET #ttl = :ttl")
            .name("#ttl", "ttl")
            .value(":ttl", num(purge_at.unix_timestamp())),
        None,
    )?;
    for key in before.term_keys() {
        tx.delete(app.table(), &key, None)?;
    }
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "member.delete",
            target_type: "member",
            target_id: member_id,
            before: audit::snapshot(&MemberView::from(&before)),
            after: audit::snapshot(&MemberView::from(&after)),
        },
    )?;
    app.store.transact(tx).await
}

/// The recycle bin: deleted members with deleted_at and purge_at, newest deletion first. Entries
/// past purge_at are gone, whether or not DynamoDB has removed them yet.
pub async fn recycle_bin(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    page: PageParams,
) -> ApiResult<List<MemberView>> {
    authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        &[],
    )
    .await?;
    let mut query =
        Query::new(Some(GSI3), recycle_bin_partition(tenant_id), SortRange::All).page(&page);
    query.newest_first = true;
    query.filter = Some(Filter {
        expression: "#ttl > :now".into(),
        names: HashMap::from([("#ttl".into(), "ttl".into())]),
        values: HashMap::from([(":now".into(), num(app.now().unix_timestamp()))]),
    });
    app.store
        .query(query)
        .await?
        .into_list(|m: Member| MemberView::from(&m))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreInput {
    pub department_id: Uuid,
}

/// Brings a deleted member back into a named department, active, with role and fields as before.
pub async fn restore(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    member_id: Uuid,
    input: RestoreInput,
) -> ApiResult<MemberView> {
    let (access, tenant, items) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        &[
            Key::member(tenant_id, member_id),
            Key::department(tenant_id, input.department_id),
        ],
    )
    .await?;
    let mut items = items.into_iter();
    let before: Member = from_item(items.next().flatten().ok_or(ApiError::NotFound)?)?;
    let now = app.now();
    let in_bin = before.status == MemberStatus::Deleted && before.purge_at.is_some_and(|p| p > now);
    if !in_bin {
        return Err(ApiError::NotFound);
    }
    let department = department_of(items.next().flatten(), "department_id")?;
    if !may_manage(&access, &before) {
        return Err(beyond_reach());
    }
    if tenant.quota_used >= tenant.member_quota {
        return Err(quota_exceeded(&tenant));
    }
    let mut after = before.clone();
    after.status = MemberStatus::Active;
    after.department_id = department.id;
    after.deleted_at = None;
    after.purge_at = None;
    after.ttl = None;
    after.updated_at = now;
    after.version += 1;

    let mut tx = Transaction::new();
    tx.put(
        app.table(),
        after.to_item(&department.id_path)?,
        Some((
            // Still in the bin: not restored meanwhile, and not past its purge time.
            Condition::new("#version = :version AND #ttl > :now")
                .name("#version", "version")
                .name("#ttl", "ttl")
                .value(":version", num(before.version))
                .value(":now", num(now.unix_timestamp())),
            ApiError::NotFound,
        )),
    )?;
    tx.update(
        app.table(),
        &Key::user_in_tenant(tenant_id, before.user_id),
        Condition::new("REMOVE #ttl").name("#ttl", "ttl"),
        Some((
            Condition::new("member_id = :member").value(":member", s(member_id.to_string())),
            ApiError::NotFound,
        )),
    )?;
    add_member_counts(
        app,
        &mut tx,
        &tenant,
        &Placement::from(&department),
        &after,
        1,
    )?;
    after.add_search_terms(app, &mut tx)?;
    let view = MemberView::from(&after);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "member.restore",
            target_type: "member",
            target_id: member_id,
            before: audit::snapshot(&MemberView::from(&before)),
            after: audit::snapshot(&view),
        },
    )?;
    app.store.transact(tx).await?;
    Ok(view)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberSort {
    Directory,
    Name,
    CreatedAt,
    /// Most recent sign-in first; members who never signed in last.
    LastLoginAt,
}

/// The directory and search.
#[derive(Debug, Default)]
pub struct MemberSearch {
    pub q: Option<String>,
    pub department_id: Option<String>,
    pub include_descendants: Option<String>,
    pub status: Option<String>,
    pub role: Option<String>,
    pub source: Option<String>,
    pub licence: Option<String>,
    pub sort: Option<String>,
}

fn parse_param<T: serde::de::DeserializeOwned>(
    checks: &mut Checks,
    field: &str,
    value: Option<&str>,
) -> Option<T> {
    let value = value?;
    match serde_json::from_value(serde_json::Value::String(value.into())) {
        Ok(v) => Some(v),
        Err(_) => {
            checks.fail(
                field,
                format!("\"{value}\" is not one of the accepted values"),
            );
            None
        }
    }
}

/// Search (`q`: a prefix of the email or of any word of the name, case and accents ignored) or
/// the directory, filtered and sorted. A search's first page is one query on the term partition
/// and one batched read of the members it names; a directory page is one index query.
pub async fn search(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    params: MemberSearch,
    page: PageParams,
) -> ApiResult<List<Listing>> {
    let mut checks = Checks::new();
    let q = params
        .q
        .as_deref()
        .map(|q| fold(q.trim()))
        .filter(|q| !q.is_empty());
    if q.as_ref()
        .is_some_and(|q| q.chars().count() > validate::MAX_NAME)
    {
        checks.fail("q", "must be at most 200 characters");
    }
    let department_id = match params.department_id.as_deref() {
        Some(raw) => match Uuid::parse_str(raw) {
            Ok(id) => Some(id),
            Err(_) => {
                checks.fail("department_id", "must be a UUID");
                None
            }
        },
        None => None,
    };
    let descendants = match params.include_descendants.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            checks.fail("include_descendants", "must be true or false");
            false
        }
    };
    let status: Option<MemberStatus> = parse_param(&mut checks, "status", params.status.as_deref());
    match status {
        Some(MemberStatus::Deleted) => {
            checks.fail("status", "deleted members are in the recycle bin")
        }
        Some(MemberStatus::Pending | MemberStatus::Rejected) => checks.fail(
            "status",
            "join requests are listed at /v1/tenants/{tenant_id}/join-requests",
        ),
        _ => {}
    }
    let role: Option<Role> = parse_param(&mut checks, "role", params.role.as_deref());
    let source: Option<MemberSource> = parse_param(&mut checks, "source", params.source.as_deref());
    let licence: Option<LicenceFilter> =
        parse_param(&mut checks, "licence", params.licence.as_deref());
    let now = app.now();
    let sort: MemberSort =
        parse_param(&mut checks, "sort", params.sort.as_deref()).unwrap_or(MemberSort::Directory);
    checks.finish()?;

    let keys: Vec<Key> = department_id
        .map(|d| Key::department(tenant_id, d))
        .into_iter()
        .collect();
    let (access, tenant, items) =
        authorize_with_tenant(app, requester, tenant_id, Need::Member, &keys).await?;
    let reader = Reader::of(&access)?;
    // What a directory entry does not show, a colleague cannot filter or sort by either.
    let admin_only = status.is_some()
        || role.is_some()
        || source.is_some()
        || licence.is_some()
        || matches!(sort, MemberSort::LastLoginAt | MemberSort::CreatedAt);
    if admin_only && !reader.is_admin() {
        return Err(directory::needs_members_read());
    }
    let rules = ContactRules::load(app, reader, &tenant).await?;
    let department = match department_id {
        Some(_) => Some(department_of(
            items.into_iter().next().flatten(),
            "department_id",
        )?),
        None => None,
    };
    let in_department = |m: &Member, tree_key: Option<&str>| match (&department, tree_key) {
        (None, _) => true,
        (Some(d), _) if !descendants => m.department_id == d.id,
        (Some(d), Some(key)) => key.starts_with(&subtree_prefix(&d.id_path)),
        (Some(_), None) => false,
    };
    let wanted = |m: &Member| {
        m.status.in_directory()
            && status.is_none_or(|s| m.status == s)
            && role.is_none_or(|r| m.role == r)
            && source.is_none_or(|s| m.source == s)
            && licence.is_none_or(|l| l.matches(m.licence.as_ref(), now))
    };

    if let Some(q) = q {
        let terms = app
            .store
            .query(
                Query::new(
                    None,
                    search_partition(tenant_id, &q),
                    SortRange::Prefix(q.clone()),
                )
                .page(&page),
            )
            .await?;
        let mut ids: Vec<Uuid> = Vec::new();
        // The terms each member matched by: a colleague who may not see a member's email must
        // not find them by it either (prefix searches would spell the address out).
        let mut matched: HashMap<Uuid, Vec<String>> = HashMap::new();
        for item in terms.items {
            let term_text = item
                .get(crate::model::keys::SK)
                .and_then(|v| v.as_s().ok())
                .and_then(|sk| sk.rsplit_once('#'))
                .map(|(term, _)| term.to_string())
                .unwrap_or_default();
            let term: SearchTerm = from_item(item)?;
            if !ids.contains(&term.member_id) {
                ids.push(term.member_id);
            }
            matched.entry(term.member_id).or_default().push(term_text);
        }
        let keys: Vec<Key> = ids.iter().map(|m| Key::member(tenant_id, *m)).collect();
        let mut found = Vec::new();
        for item in app.store.get_many(&keys).await?.into_iter().flatten() {
            let tree = item.get(GSI2.sk).and_then(|v| v.as_s().ok()).cloned();
            let member: Member = from_item(item)?;
            let by_name = matched
                .get(&member.id)
                .is_some_and(|terms| terms.iter().any(|t| *t != fold(&member.email)));
            let findable = by_name || rules.shows_contacts(reader, &member);
            if wanted(&member) && in_department(&member, tree.as_deref()) && findable {
                found.push(Listing::of(reader, &rules, &member));
            }
        }
        return Ok(List {
            items: found,
            next_cursor: terms.next_cursor,
        });
    }

    let query = match (&department, sort) {
        (Some(d), _) => Query::new(
            Some(GSI2),
            tree_partition(tenant_id),
            SortRange::Prefix(if descendants {
                subtree_prefix(&d.id_path)
            } else {
                format!("{}/#", d.id_path)
            }),
        ),
        (None, MemberSort::Directory) => {
            Query::new(Some(GSI3), directory_partition(tenant_id), SortRange::All)
        }
        (None, MemberSort::Name) => {
            Query::new(Some(GSI4), name_partition(tenant_id), SortRange::All)
        }
        (None, MemberSort::LastLoginAt) => {
            let mut q = Query::new(Some(GSI5), last_login_partition(tenant_id), SortRange::All);
            q.newest_first = true;
            q
        }
        (None, MemberSort::CreatedAt) => Query::new(
            None,
            tenant_partition(tenant_id),
            SortRange::Prefix(MEMBER_PREFIX.into()),
        ),
    }
    .page(&page);
    let result = app.store.query(query).await?;
    let mut found = Vec::new();
    for item in result.items {
        let member: Member = from_item(item)?;
        if wanted(&member) {
            found.push(Listing::of(reader, &rules, &member));
        }
    }
    Ok(List {
        items: found,
        next_cursor: result.next_cursor,
    })
}

/// Mails a member a single-use link to set a new password (valid one day).
pub async fn send_password_reset(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    member_id: Uuid,
) -> ApiResult<()> {
    let (access, tenant, items) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        &[Key::member(tenant_id, member_id)],
    )
    .await?;
    let member = member_of(items.into_iter().next().flatten())?;
    if !may_manage(&access, &member) {
        return Err(beyond_reach());
    }
    // The link lives as long as the user's sessions do: it carries their epoch.
    let user: User = from_item(
        app.store
            .get(&Key::user(member.user_id))
            .await?
            .ok_or(ApiError::NotFound)?,
    )?;
    let mut tx = Transaction::new();
    let token = add_password_token(
        app,
        &mut tx,
        member.user_id,
        user.session_epoch,
        TokenPurpose::ResetPassword,
        time::Duration::days(1),
    )?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "member.password_reset",
            target_type: "member",
            target_id: member_id,
            before: None,
            after: None,
        },
    )?;
    app.store.transact(tx).await?;
    let link = password_link(app, &token);
    app.mail()
        .send(Mail {
            to: member.email.clone(),
            subject: format!("Reset your {} password", tenant.name),
            text: format!(
                "Hello {},\n\nan administrator of {} asked for your password to be reset.\nChoose a new password (the link works once, for one day):\n{link}\n",
                member.name, tenant.name
            ),
            html: format!(
                "<p>Hello {},</p><p>an administrator of <b>{}</b> asked for your password to be reset.</p><p><a href=\"{}\">Choose a new password</a> (the link works once, for one day).</p>",
                html_escape(&member.name),
                html_escape(&tenant.name),
                html_escape(&link)
            ),
        })
        .await
}
