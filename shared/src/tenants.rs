//! Tenants: created by platform admins (or by a reseller's admins for their customers) with a root
//! department and an owner who receives a set-password mail.

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Requester;
use crate::auth::{CallerKind, Need, authenticate, authorize_with_tenant};
use crate::error::{ApiError, ApiResult, Checks};
use crate::mail::{Mail, html_escape};
use crate::model::department::{Department, DepartmentSettings};
use crate::model::keys::{ALL_TENANTS, GSI1, GSI2, Key, customers_of};
use crate::model::member::{Member, MemberSource, Person, UserInTenant};
use crate::model::roles::{Permission, Permissions, Role};
pub use crate::model::tenant::{
    Branding, ContactVisibility, FeatureFlags, JoinField, JoinRules, NewMemberPassword, Plan,
    Tenant, TenantKind, TenantSettings,
};
use crate::model::user::{EmailGuard, TokenPurpose, User};
use crate::model::{List, PageParams};
use crate::store::{Condition, Query, SortRange, Transaction, from_item, num, s, to_item};
use crate::tokens::TokenScope;
use crate::users::{add_password_token, claim_address, password_link};
use crate::validate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub const MAX_MEMBER_QUOTA: i64 = 1_000_000;
pub const MAX_SEATS: i64 = 1_000_000;

impl Branding {
    pub fn validate(mut self, checks: &mut Checks, field: &str) -> Self {
        self.primary_color = self
            .primary_color
            .map(|c| validate::color(checks, &format!("{field}.primary_color"), &c));
        self.secondary_color = self
            .secondary_color
            .map(|c| validate::color(checks, &format!("{field}.secondary_color"), &c));
        self.logo_url = self
            .logo_url
            .map(|u| validate::https_url(checks, &format!("{field}.logo_url"), &u));
        self
    }
}

/// Settings a client changes: every key optional; `null` clears the nullable ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettingsPatch {
    #[serde(default)]
    pub contact_visibility: Option<ContactVisibility>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub password_expiry_days: Option<Option<i64>>,
    #[serde(default)]
    pub ip_allowlist: Option<Vec<String>>,
    #[serde(default)]
    pub recycle_bin_retention_days: Option<i64>,
    #[serde(default)]
    pub invitation_expiry_days: Option<i64>,
    #[serde(default)]
    pub default_language: Option<String>,
    #[serde(default)]
    pub new_member_password: Option<NewMemberPassword>,
    #[serde(default)]
    pub join_rules: Option<JoinRules>,
    #[serde(default)]
    pub branding: Option<Branding>,
}

impl TenantSettingsPatch {
    /// Validates the patch and applies it to `settings`.
    pub fn apply(self, checks: &mut Checks, settings: &mut TenantSettings) {
        if let Some(visibility) = self.contact_visibility {
            settings.contact_visibility = visibility;
        }
        if let Some(days) = self.password_expiry_days {
            if let Some(d) = days {
                validate::range(checks, "settings.password_expiry_days", d, 1, 3650);
            }
            settings.password_expiry_days = days.map(|d| d.clamp(1, 3650) as u32);
        }
        if let Some(list) = self.ip_allowlist {
            settings.ip_allowlist = validate::cidrs(checks, "settings.ip_allowlist", &list);
        }
        if let Some(days) = self.recycle_bin_retention_days {
            validate::range(checks, "settings.recycle_bin_retention_days", days, 1, 180);
            settings.recycle_bin_retention_days = days.clamp(1, 180) as u32;
        }
        if let Some(days) = self.invitation_expiry_days {
            validate::range(checks, "settings.invitation_expiry_days", days, 1, 30);
            settings.invitation_expiry_days = days.clamp(1, 30) as u32;
        }
        if let Some(language) = self.default_language {
            settings.default_language =
                validate::language(checks, "settings.default_language", &language);
        }
        if let Some(mode) = self.new_member_password {
            settings.new_member_password = mode;
        }
        if let Some(mut rules) = self.join_rules {
            rules.required_fields.sort();
            rules.required_fields.dedup();
            settings.join_rules = rules;
        }
        if let Some(branding) = self.branding {
            settings.branding = branding.validate(checks, "settings.branding");
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Seats {
    pub total: u32,
    pub used: u32,
    pub available: u32,
}

/// A tenant as clients see it, with the "used/total" seat figure.
#[derive(Debug, Clone, Serialize)]
pub struct TenantView {
    pub id: Uuid,
    pub name: String,
    pub kind: TenantKind,
    pub parent_id: Option<Uuid>,
    pub plan: Plan,
    pub member_quota: u32,
    pub member_count: u32,
    pub pending_invitations: u32,
    pub pending_join_requests: u32,
    /// Members, pending invitations and pending join requests: what counts against the quota.
    pub quota_used: u32,
    pub seats: Seats,
    pub feature_flags: FeatureFlags,
    pub settings: TenantSettings,
    pub root_department_id: Uuid,
    pub owner_member_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(skip)]
    pub version: u64,
}

impl From<&Tenant> for TenantView {
    fn from(t: &Tenant) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            kind: t.kind,
            parent_id: t.parent_id,
            plan: t.plan,
            member_quota: t.member_quota,
            member_count: t.member_count,
            pending_invitations: t.invitation_count,
            pending_join_requests: t.join_request_count,
            quota_used: t.quota_used,
            seats: Seats {
                total: t.seats_total,
                used: t.seats_used,
                available: t.seats_total.saturating_sub(t.seats_used),
            },
            feature_flags: t.feature_flags.clone(),
            settings: t.settings.clone(),
            root_department_id: t.root_department_id,
            owner_member_id: t.owner_member_id,
            created_at: t.created_at,
            updated_at: t.updated_at,
            version: t.version,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    pub name: String,
    pub kind: TenantKind,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    pub plan: Plan,
    pub member_quota: i64,
    pub seats_total: i64,
    pub owner_email: String,
    pub owner_name: String,
    #[serde(default)]
    pub settings: Option<TenantSettingsPatch>,
    #[serde(default)]
    pub feature_flags: Option<FeatureFlags>,
}

/// Creates a tenant, its root department and its owner (reusing the user when the email already
/// has an account) in one transaction, then mails the owner.
pub async fn create(
    app: &App,
    requester: &Requester,
    input: CreateTenant,
) -> ApiResult<TenantView> {
    let mut checks = Checks::new();
    let name = validate::text(&mut checks, "name", &input.name, validate::MAX_NAME);
    let owner_email = validate::email(&mut checks, "owner_email", &input.owner_email);
    let owner_name = validate::text(
        &mut checks,
        "owner_name",
        &input.owner_name,
        validate::MAX_NAME,
    );
    validate::range(
        &mut checks,
        "member_quota",
        input.member_quota,
        1,
        MAX_MEMBER_QUOTA,
    );
    validate::range(&mut checks, "seats_total", input.seats_total, 0, MAX_SEATS);
    if name.contains('/') {
        checks.fail("name", "must not contain '/'");
    }
    let mut settings = TenantSettings::default();
    if let Some(patch) = input.settings {
        patch.apply(&mut checks, &mut settings);
    }
    checks.finish()?;

    let claims = requester.claims()?;
    // A reseller admin's customers hang under the reseller; platform admins name the parent.
    let parent_id = match (claims.scp, input.parent_id) {
        (TokenScope::Tenant, None) => claims.tid,
        (_, parent) => parent,
    };
    let mut keys = vec![Key::email(&owner_email)];
    if let Some(parent) = parent_id {
        keys.push(Key::tenant(parent));
    }
    let authorized = authenticate(app, requester, &keys).await?;
    let caller = authorized.caller;
    let mut items = authorized.items.into_iter();
    let existing_user = items
        .next()
        .flatten()
        .map(from_item::<EmailGuard>)
        .transpose()?;
    let parent: Option<Tenant> = items.next().flatten().map(from_item).transpose()?;

    match &caller.kind {
        CallerKind::Platform => {}
        CallerKind::ApiClient(_)
        | CallerKind::User
        | CallerKind::System
        | CallerKind::Job { .. } => {
            return Err(ApiError::Forbidden(
                "only platform admins and reseller admins create tenants",
            ));
        }
        CallerKind::Member(m) => {
            let allowed = m.effective_permissions().allows(Permission::CustomersWrite)
                && parent_id == Some(m.tenant_id)
                && parent
                    .as_ref()
                    .is_some_and(|p| p.kind == TenantKind::Reseller);
            if !allowed {
                return Err(ApiError::Forbidden(
                    "only platform admins and reseller admins create tenants",
                ));
            }
            if input.kind != TenantKind::Customer {
                return Err(ApiError::invalid("kind", "resellers create customers only"));
            }
            if input.feature_flags.is_some() {
                return Err(ApiError::Forbidden(
                    "only platform admins set feature flags",
                ));
            }
        }
    }
    if let Some(parent_id) = parent_id {
        let parent = parent
            .as_ref()
            .ok_or_else(|| ApiError::invalid("parent_id", "is not a tenant"))?;
        if parent.kind != TenantKind::Reseller {
            return Err(ApiError::invalid("parent_id", "must be a reseller tenant"));
        }
        if input.kind == TenantKind::Reseller {
            return Err(ApiError::invalid(
                "kind",
                "a reseller cannot belong to another reseller",
            ));
        }
        debug_assert_eq!(parent.id, parent_id);
    }

    let now = app.now();
    let tenant_id = Uuid::now_v7();
    let root_id = Uuid::now_v7();
    let member_id = Uuid::now_v7();
    let mut tx = Transaction::new();
    let (user_id, new_user) = match &existing_user {
        Some(guard) => (guard.user_id, None),
        None => {
            let user = User::new(
                now,
                owner_email.clone(),
                owner_name.clone(),
                settings.default_language.clone(),
            );
            user.add_new(app, &mut tx)?;
            (user.id, Some(user))
        }
    };
    let tenant = Tenant {
        id: tenant_id,
        name: name.clone(),
        kind: input.kind,
        parent_id,
        plan: input.plan,
        member_quota: input.member_quota as u32,
        member_count: 1,
        invitation_count: 0,
        join_request_count: 0,
        quota_used: 1,
        seats_total: input.seats_total as u32,
        seats_used: 0,
        owner_count: 1,
        feature_flags: input.feature_flags.unwrap_or_default(),
        settings,
        root_department_id: root_id,
        owner_member_id: member_id,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let root = Department {
        id: root_id,
        tenant_id,
        name: name.clone(),
        parent_id: None,
        path: name.clone(),
        id_path: root_id.to_string(),
        depth: 0,
        member_count: 1,
        child_count: 0,
        settings: DepartmentSettings::default(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let owner = Member {
        id: member_id,
        ..Member::new(
            tenant_id,
            root_id,
            Person {
                user_id,
                email: owner_email.clone(),
                name: owner_name.clone(),
                phone: None,
                email_verified: existing_user.as_ref().is_some_and(|g| g.verified),
            },
            Role::Owner,
            Permissions::All,
            MemberSource::Console,
            now,
        )
    };
    let exists = || ApiError::Conflict("id collision; retry".into());
    tx.put(
        app.table(),
        tenant.to_item()?,
        Some((Condition::absent(), exists())),
    )?;
    tx.put(
        app.table(),
        root.to_item()?,
        Some((Condition::absent(), exists())),
    )?;
    tx.put(
        app.table(),
        owner.to_item(&root.id_path)?,
        Some((Condition::absent(), exists())),
    )?;
    owner.add_search_terms(app, &mut tx)?;
    tx.put(
        app.table(),
        to_item(
            &UserInTenant { member_id },
            &Key::user_in_tenant(tenant_id, user_id),
            &[],
        )?,
        Some((Condition::absent(), exists())),
    )?;
    if let Some(parent_id) = parent_id {
        // The parent must still be a reseller when the customer lands under it.
        tx.check(
            app.table(),
            &Key::tenant(parent_id),
            Condition::new("attribute_exists(pk) AND kind = :reseller")
                .value(":reseller", s("reseller")),
            ApiError::invalid("parent_id", "must be a reseller tenant"),
        )?;
    }
    let link_lifetime = time::Duration::days(i64::from(tenant.settings.invitation_expiry_days));
    let set_password_token = match (&existing_user, &new_user) {
        // A reused account must still hold the email; an unproven one is claimed for its owner.
        (Some(guard), _) => claim_address(app, &mut tx, guard, &owner_email, link_lifetime)?,
        (None, Some(user)) => Some(add_password_token(
            app,
            &mut tx,
            user_id,
            user.session_epoch,
            TokenPurpose::SetPassword,
            link_lifetime,
        )?),
        (None, None) => None,
    };
    let view = TenantView::from(&tenant);
    audit::record(
        app,
        &mut tx,
        &caller,
        Change {
            tenant_id,
            action: "tenant.create",
            target_type: "tenant",
            target_id: tenant_id,
            before: None,
            after: audit::snapshot(&view),
        },
    )?;
    if let Some(parent_id) = parent_id {
        audit::record(
            app,
            &mut tx,
            &caller,
            Change {
                tenant_id: parent_id,
                action: "customer.create",
                target_type: "tenant",
                target_id: tenant_id,
                before: None,
                after: audit::snapshot(&view),
            },
        )?;
    }
    app.store.transact(tx).await?;

    let mail = owner_mail(
        app,
        &tenant,
        &owner_email,
        &owner_name,
        set_password_token.as_deref(),
    );
    if let Err(err) = app.mail().send(mail).await {
        // The tenant exists; the owner can ask for a reset mail. Losing the whole request would be
        // worse than a missing mail.
        tracing::error!(tenant = %tenant_id, error = %err, "owner mail failed");
    }
    Ok(view)
}

fn owner_mail(app: &App, tenant: &Tenant, email: &str, name: &str, token: Option<&str>) -> Mail {
    let (action, link) = match token {
        Some(token) => ("Set your password to sign in", password_link(app, token)),
        None => (
            "Sign in with your existing account",
            format!("{}/login", app.config.app_url),
        ),
    };
    let text = format!(
        "Hello {name},\n\nyou are now the owner of {tenant} on Roster.\n{action}:\n{link}\n",
        tenant = tenant.name
    );
    let html = format!(
        "<p>Hello {name},</p><p>you are now the owner of <b>{tenant}</b> on Roster.</p><p><a href=\"{link}\">{action}</a></p>",
        name = html_escape(name),
        tenant = html_escape(&tenant.name),
        link = html_escape(&link),
    );
    Mail {
        to: email.into(),
        subject: format!("You are the owner of {} on Roster", tenant.name),
        text,
        html,
    }
}

/// One tenant, for any member of it, its reseller's admins and platform admins.
pub async fn get(app: &App, requester: &Requester, tenant_id: Uuid) -> ApiResult<TenantView> {
    let (_, tenant, _) =
        authorize_with_tenant(app, requester, tenant_id, Need::Member, &[]).await?;
    Ok(TenantView::from(&tenant))
}

/// Platform admins list every tenant; a reseller's admins list its customers.
pub async fn list(
    app: &App,
    requester: &Requester,
    page: PageParams,
) -> ApiResult<List<TenantView>> {
    let authorized = authenticate(app, requester, &[]).await?;
    let query = match &authorized.caller.kind {
        CallerKind::Platform => Query::new(Some(GSI1), ALL_TENANTS.into(), SortRange::All),
        CallerKind::Member(m) if m.effective_permissions().allows(Permission::CustomersWrite) => {
            Query::new(Some(GSI2), customers_of(m.tenant_id), SortRange::All)
        }
        CallerKind::Member(_)
        | CallerKind::ApiClient(_)
        | CallerKind::User
        | CallerKind::System
        | CallerKind::Job { .. } => {
            return Err(ApiError::Forbidden(
                "only platform and reseller admins list tenants",
            ));
        }
    }
    .page(&page);
    app.store
        .query(query)
        .await?
        .into_list(|t: Tenant| TenantView::from(&t))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub plan: Option<Plan>,
    #[serde(default)]
    pub member_quota: Option<i64>,
    #[serde(default)]
    pub seats_total: Option<i64>,
    #[serde(default)]
    pub feature_flags: Option<FeatureFlags>,
    #[serde(default)]
    pub settings: Option<TenantSettingsPatch>,
}

/// Name, plan and quotas: platform admins and the reseller's admins; feature flags: platform
/// admins; settings: `settings.write`.
pub async fn update(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    patch: TenantPatch,
    expected: Option<u64>,
) -> ApiResult<TenantView> {
    let (access, before, _) =
        authorize_with_tenant(app, requester, tenant_id, Need::Member, &[]).await?;
    let operator = access.caller.is_platform() || access.via_reseller;
    let forbidden = |what| Err(ApiError::Forbidden(what));
    if (patch.plan.is_some() || patch.member_quota.is_some() || patch.seats_total.is_some())
        && !operator
    {
        return forbidden("plan and quotas are set by platform or reseller admins");
    }
    if patch.feature_flags.is_some() && !access.caller.is_platform() {
        return forbidden("feature flags are set by platform admins");
    }
    if (patch.settings.is_some() || patch.name.is_some())
        && !access.allows(Permission::SettingsWrite)
    {
        return forbidden("changing settings needs settings.write");
    }
    if expected.is_some_and(|v| v != before.version) {
        return Err(ApiError::PreconditionFailed);
    }

    let mut checks = Checks::new();
    let mut after = before.clone();
    if let Some(name) = &patch.name {
        after.name = validate::text(&mut checks, "name", name, validate::MAX_NAME);
    }
    if let Some(plan) = patch.plan {
        after.plan = plan;
    }
    if let Some(quota) = patch.member_quota {
        validate::range(&mut checks, "member_quota", quota, 1, MAX_MEMBER_QUOTA);
        checks.check(
            quota >= i64::from(before.quota_used),
            "member_quota",
            &format!(
                "must not be below the members, pending invitations and join requests it counts ({})",
                before.quota_used
            ),
        );
        after.member_quota = quota.clamp(1, MAX_MEMBER_QUOTA) as u32;
    }
    if let Some(seats) = patch.seats_total {
        validate::range(&mut checks, "seats_total", seats, 0, MAX_SEATS);
        checks.check(
            seats >= i64::from(before.seats_used),
            "seats_total",
            &format!("must not be below the seats in use ({})", before.seats_used),
        );
        after.seats_total = seats.clamp(0, MAX_SEATS) as u32;
    }
    if let Some(flags) = patch.feature_flags {
        after.feature_flags = flags;
    }
    if let Some(settings) = patch.settings {
        settings.apply(&mut checks, &mut after.settings);
    }
    checks.finish()?;
    after.updated_at = app.now();
    after.version += 1;

    let mut tx = Transaction::new();
    // Counters move without touching `version`, so the condition re-checks them against the new
    // limits as well as the version read.
    tx.update(
        app.table(),
        &Key::tenant(tenant_id),
        Condition::new(
            "SET #name = :name, #plan = :plan, member_quota = :quota, seats_total = :seats, \
             feature_flags = :flags, settings = :settings, updated_at = :now, version = :next",
        )
        .name("#name", "name")
        .name("#plan", "plan")
        .value(":name", s(&after.name))
        .value(
            ":plan",
            serde_dynamo::to_attribute_value(after.plan).map_err(ApiError::internal)?,
        )
        .value(":quota", num(after.member_quota))
        .value(":seats", num(after.seats_total))
        .value(
            ":flags",
            serde_dynamo::to_attribute_value(&after.feature_flags).map_err(ApiError::internal)?,
        )
        .value(
            ":settings",
            serde_dynamo::to_attribute_value(&after.settings).map_err(ApiError::internal)?,
        )
        .value(":now", s(crate::model::time::rfc3339(after.updated_at)))
        .value(":next", num(after.version)),
        Some((
            Condition::new("#version = :version AND quota_used <= :quota AND seats_used <= :seats")
                .name("#version", "version")
                .value(":version", num(before.version)),
            ApiError::Conflict(
                "the tenant changed at the same time; read it again and retry".into(),
            ),
        )),
    )?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "tenant.update",
            target_type: "tenant",
            target_id: tenant_id,
            before: audit::snapshot(&TenantView::from(&before)),
            after: audit::snapshot(&TenantView::from(&after)),
        },
    )?;
    app.store.transact(tx).await?;
    Ok(TenantView::from(&after))
}
