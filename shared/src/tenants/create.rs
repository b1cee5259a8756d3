//! Creating a tenant: who may create which kind under which parent, and the records it starts
//! with (the tenant, its root department, its owner and, when the owner's address has no account
//! yet, a new user), written in one transaction.

use super::mail::send_owner_mail;
use super::settings::TenantSettingsPatch;
use super::view::TenantView;
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Caller, CallerKind, Requester, authenticate};
use crate::departments::DepartmentView;
use crate::error::{ApiError, ApiResult, Checks};
use crate::events::{self, EventType};
use crate::joining::number;
use crate::members::MemberView;
use crate::model::department::{Department, DepartmentSettings};
use crate::model::keys::Key;
use crate::model::member::{Member, MemberSource, Person, UserInTenant};
use crate::model::roles::{Permission, Permissions, Role};
use crate::model::tenant::{
    FeatureFlags, FeatureFlagsPatch, Plan, Tenant, TenantKind, TenantSettings, TenantStatus,
};
use crate::model::tenant::{MAX_MEMBER_QUOTA, MAX_SEATS};
use crate::model::user::{EmailGuard, TokenPurpose, User};
use crate::store::{Batch, Condition, Transaction, s, to_item};
use crate::tokens::{Claims, TokenScope};
use crate::users::{add_password_token, claim_address};
use crate::validate;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

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
    pub feature_flags: Option<FeatureFlagsPatch>,
}

/// Creates a tenant, its root department and its owner (reusing the user when the email already
/// has an account) in one transaction, then mails the owner.
pub async fn create(
    app: &App,
    requester: &Requester,
    input: CreateTenant,
) -> ApiResult<TenantView> {
    let asked = Asked::of(input)?;
    let parent_id = parent_of(requester.claims()?, asked.parent_id);

    // One read: the caller, whoever holds the owner's address, and the parent.
    let mut batch = Batch::new();
    let existing_user = batch.read::<EmailGuard>(Key::email(&asked.owner_email));
    let parent = parent_id.map(|parent| batch.read::<Tenant>(Key::tenant(parent)));
    let mut authorized = authenticate(app, requester, batch).await?;
    let existing_user = authorized.read.take(existing_user)?;
    let parent = match parent {
        Some(slot) => authorized.read.take(slot)?,
        None => None,
    };

    may_create(&authorized.caller.kind, &asked, parent_id, parent.as_ref())?;
    let mut new = NewTenant::plan(app.now(), asked, parent_id, existing_user);

    // A join number drawn again while the one drawn is another tenant's.
    let mut draws = 1;
    let (view, set_password_token) = loop {
        let mut tx = Transaction::new();
        new.add_records(&mut tx)?;
        let set_password_token = new.add_owner_link(app, &mut tx)?;
        let view = TenantView::from(&new.tenant);
        record_creation(app, &mut tx, &authorized.caller, &new.tenant, &view)?;
        new.record_events(app, &mut tx, &authorized.caller, &view)?;
        match app.store.transact(tx).await {
            Ok(()) => break (view, set_password_token),
            Err(err) if number::was_taken(&err) && draws < number::DRAWS => {
                draws += 1;
                new.tenant.join_number = Some(number::draw());
            }
            Err(err) => return Err(err),
        }
    };

    send_owner_mail(
        app,
        &new.tenant,
        &new.owner.email,
        &new.owner.name,
        set_password_token.as_deref(),
    )
    .await;
    Ok(view)
}

/// A creation request whose fields passed validation.
#[derive(Debug)]
struct Asked {
    name: String,
    kind: TenantKind,
    parent_id: Option<Uuid>,
    plan: Plan,
    member_quota: u32,
    seats_total: u32,
    owner_email: String,
    owner_name: String,
    settings: TenantSettings,
    feature_flags: Option<FeatureFlagsPatch>,
}

impl Asked {
    /// Every field checked at once; the settings patch applied to the defaults.
    fn of(input: CreateTenant) -> ApiResult<Self> {
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
        Ok(Self {
            name,
            kind: input.kind,
            parent_id: input.parent_id,
            plan: input.plan,
            // In range: checked above.
            member_quota: input.member_quota as u32,
            seats_total: input.seats_total as u32,
            owner_email,
            owner_name,
            settings,
            feature_flags: input.feature_flags,
        })
    }
}

/// A reseller admin's customers hang under the reseller; platform admins name the parent.
fn parent_of(claims: &Claims, asked: Option<Uuid>) -> Option<Uuid> {
    match (claims.scp, asked) {
        (TokenScope::Tenant, None) => claims.tid,
        (_, parent) => parent,
    }
}

/// Who may create which tenant where: platform admins any kind, a customer only under a
/// reseller; a reseller's admins (`customers.write`) customers of their own reseller, without
/// feature flags; nobody else.
fn may_create(
    caller: &CallerKind,
    asked: &Asked,
    parent_id: Option<Uuid>,
    parent: Option<&Tenant>,
) -> ApiResult<()> {
    let not_an_operator =
        || ApiError::Forbidden("only platform admins and reseller admins create tenants");
    match caller {
        CallerKind::Platform => {}
        CallerKind::ApiClient(_)
        | CallerKind::Scim(_)
        | CallerKind::User
        | CallerKind::System
        | CallerKind::Job { .. } => return Err(not_an_operator()),
        CallerKind::Member(m) => {
            let allowed = m.effective_permissions().allows(Permission::CustomersWrite)
                && parent_id == Some(m.tenant_id)
                && parent.is_some_and(|p| p.kind == TenantKind::Reseller);
            if !allowed {
                return Err(not_an_operator());
            }
            if asked.kind != TenantKind::Customer {
                return Err(ApiError::invalid("kind", "resellers create customers only"));
            }
            if asked.feature_flags.is_some() {
                return Err(ApiError::Forbidden(
                    "only platform admins set feature flags",
                ));
            }
        }
    }
    if parent_id.is_some() {
        let parent = parent.ok_or_else(|| ApiError::invalid("parent_id", "is not a tenant"))?;
        // Nothing is hung under a deleting reseller: it is about to be gone (SPEC.md §9.1).
        if parent.status == TenantStatus::Deleting {
            return Err(ApiError::invalid("parent_id", "is a deleted tenant"));
        }
        if parent.kind != TenantKind::Reseller {
            return Err(ApiError::invalid("parent_id", "must be a reseller tenant"));
        }
        if asked.kind == TenantKind::Reseller {
            return Err(ApiError::invalid(
                "kind",
                "a reseller cannot belong to another reseller",
            ));
        }
    }
    Ok(())
}

/// The owner's account: one the address already has (attached; its address claimed for the
/// owner while unproven), or a new one.
#[derive(Debug)]
enum OwnerAccount {
    Attach(EmailGuard),
    New(User),
}

impl OwnerAccount {
    fn of(existing_user: Option<EmailGuard>, asked: &Asked, now: OffsetDateTime) -> Self {
        match existing_user {
            Some(guard) => Self::Attach(guard),
            None => Self::New(User::new(
                now,
                asked.owner_email.clone(),
                asked.owner_name.clone(),
                asked.settings.default_language.clone(),
            )),
        }
    }

    /// The user's id, and whether its address is proven.
    fn user(&self) -> (Uuid, bool) {
        match self {
            Self::Attach(guard) => (guard.user_id, guard.verified),
            Self::New(user) => (user.id, false),
        }
    }
}

/// What a tenant starts with.
#[derive(Debug)]
struct NewTenant {
    tenant: Tenant,
    root: Department,
    owner: Member,
    account: OwnerAccount,
}

impl NewTenant {
    /// The new tenant's first events: the tenant, its root department, its owner.
    fn record_events(
        &self,
        app: &App,
        tx: &mut Transaction,
        caller: &Caller,
        view: &TenantView,
    ) -> ApiResult<()> {
        let id = self.tenant.id;
        events::record(app, tx, caller, id, EventType::TenantCreated, view)?;
        let root = DepartmentView::from(&self.root);
        events::record(app, tx, caller, id, EventType::DepartmentCreated, &root)?;
        let owner = MemberView::from(&self.owner);
        events::record(app, tx, caller, id, EventType::MemberCreated, &owner)
    }

    /// The tenant with one member (its owner, in the root department named like the tenant) and
    /// nothing else counted yet.
    fn plan(
        now: OffsetDateTime,
        asked: Asked,
        parent_id: Option<Uuid>,
        existing_user: Option<EmailGuard>,
    ) -> Self {
        let tenant_id = Uuid::now_v7();
        let root_id = Uuid::now_v7();
        let member_id = Uuid::now_v7();
        let account = OwnerAccount::of(existing_user, &asked, now);
        let (user_id, email_verified) = account.user();
        let tenant = Tenant {
            id: tenant_id,
            name: asked.name.clone(),
            kind: asked.kind,
            parent_id,
            plan: asked.plan,
            status: TenantStatus::Active,
            purge_after: None,
            member_quota: asked.member_quota,
            member_count: 1,
            invitation_count: 0,
            join_request_count: 0,
            public_request_count: 0,
            quota_used: 1,
            seats_total: asked.seats_total,
            seats_used: 0,
            owner_count: 1,
            join_number: Some(number::draw()),
            feature_flags: asked.feature_flags.as_ref().map_or_else(
                FeatureFlags::default,
                |flags| {
                    let mut chosen = FeatureFlags::default();
                    flags.apply(&mut chosen);
                    chosen
                },
            ),
            settings: asked.settings,
            root_department_id: root_id,
            owner_member_id: member_id,
            sms_daily_budget: crate::model::tenant::DEFAULT_SMS_DAILY_BUDGET,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let root = root_department(root_id, tenant_id, asked.name, now);
        let person = Person {
            user_id,
            email: asked.owner_email,
            name: asked.owner_name,
            phone: None,
            email_verified,
        };
        let owner = Member {
            id: member_id,
            ..Member::new(
                tenant_id,
                root_id,
                person,
                Role::Owner,
                Permissions::All,
                MemberSource::Console,
                now,
            )
        };
        Self {
            tenant,
            root,
            owner,
            account,
        }
    }

    fn user_id(&self) -> Uuid {
        self.owner.user_id
    }

    /// A new account, the tenant, its root, its owner (with the owner's membership of the user),
    /// none of them there before; and the parent still a reseller when the customer lands under
    /// it.
    fn add_records(&self, tx: &mut Transaction) -> ApiResult<()> {
        if let OwnerAccount::New(user) = &self.account {
            user.add_new(tx)?;
        }
        let absent = || {
            Some((
                Condition::absent(),
                ApiError::Conflict("id collision; retry".into()),
            ))
        };
        tx.put(self.tenant.to_item()?, absent())?;
        if let Some(join_number) = &self.tenant.join_number {
            number::add_guard(tx, join_number, self.tenant.id)?;
        }
        tx.put(self.root.to_item()?, absent())?;
        tx.put(self.owner.to_item(&self.root.id_path)?, absent())?;
        self.owner.add_search_terms(tx)?;
        tx.put(
            to_item(
                &UserInTenant {
                    member_id: self.owner.id,
                },
                &Key::user_in_tenant(self.tenant.id, self.user_id()),
                &[],
            )?,
            absent(),
        )?;
        // The parent is still a reseller, and not deleting, when the customer is written: a
        // deletion between the read and this write refuses the create.
        if let Some(parent_id) = self.tenant.parent_id {
            tx.check(
                &Key::tenant(parent_id),
                Condition::new(
                    "attribute_exists(pk) AND kind = :reseller \
                     AND (attribute_not_exists(#status) OR #status = :active)",
                )
                .name("#status", "status")
                .value(":reseller", s("reseller"))
                .value(":active", s("active")),
                ApiError::invalid("parent_id", "must be a reseller tenant that is not deleted"),
            )?;
        }
        Ok(())
    }

    /// The owner's set-password link, when one is due: always for a new account; for an
    /// attached one only while its address is unproven (the account must still hold the address
    /// either way).
    fn add_owner_link(&self, app: &App, tx: &mut Transaction) -> ApiResult<Option<String>> {
        let lifetime = time::Duration::days(i64::from(self.tenant.settings.invitation_expiry_days));
        match &self.account {
            OwnerAccount::Attach(guard) => {
                claim_address(app, tx, guard, &self.owner.email, lifetime)
            }
            OwnerAccount::New(user) => add_password_token(
                app,
                tx,
                user.id,
                user.session_epoch,
                TokenPurpose::SetPassword,
                lifetime,
                &user.email,
            )
            .map(Some),
        }
    }
}

/// The root of the tree, named like the tenant, holding its owner.
fn root_department(id: Uuid, tenant_id: Uuid, name: String, now: OffsetDateTime) -> Department {
    Department {
        id,
        tenant_id,
        name: name.clone(),
        parent_id: None,
        path: name,
        id_path: id.to_string(),
        depth: 0,
        member_count: 1,
        child_count: 0,
        settings: DepartmentSettings::default(),
        created_at: now,
        updated_at: now,
        version: 1,
        scim_external_id: None,
    }
}

/// The creation in the new tenant's audit log and, for a customer, in its reseller's.
fn record_creation(
    app: &App,
    tx: &mut Transaction,
    caller: &Caller,
    tenant: &Tenant,
    view: &TenantView,
) -> ApiResult<()> {
    let logs = [
        Some((tenant.id, "tenant.create")),
        tenant.parent_id.map(|parent| (parent, "customer.create")),
    ];
    for (tenant_id, action) in logs.into_iter().flatten() {
        audit::record(
            app,
            tx,
            caller,
            Change {
                tenant_id,
                action,
                target_type: "tenant",
                target_id: tenant.id,
                before: None,
                after: audit::snapshot(view),
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tenant::TenantSettings;

    fn input(kind: TenantKind) -> CreateTenant {
        CreateTenant {
            name: "Acme".into(),
            kind,
            parent_id: None,
            plan: Plan::Paid,
            member_quota: 50,
            seats_total: 10,
            owner_email: " Owner@Example.com ".into(),
            owner_name: "Olga Owner".into(),
            settings: None,
            feature_flags: None,
        }
    }

    fn asked(kind: TenantKind) -> Asked {
        Asked::of(input(kind)).expect("a valid request")
    }

    fn tenant(kind: TenantKind) -> Tenant {
        let now = OffsetDateTime::UNIX_EPOCH;
        Tenant {
            id: Uuid::now_v7(),
            name: "Reseller".into(),
            kind,
            parent_id: None,
            plan: Plan::Paid,
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
            settings: TenantSettings::default(),
            root_department_id: Uuid::now_v7(),
            owner_member_id: Uuid::now_v7(),
            sms_daily_budget: crate::model::tenant::DEFAULT_SMS_DAILY_BUDGET,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// An admin of `tenant` holding `permissions`.
    fn admin(tenant: &Tenant, permissions: Vec<Permission>) -> CallerKind {
        let person = Person {
            user_id: Uuid::now_v7(),
            email: "admin@example.com".into(),
            name: "Ada Admin".into(),
            phone: None,
            email_verified: true,
        };
        CallerKind::Member(Box::new(Member::new(
            tenant.id,
            tenant.root_department_id,
            person,
            Role::Admin,
            Permissions::Only(permissions),
            MemberSource::Console,
            OffsetDateTime::UNIX_EPOCH,
        )))
    }

    fn refusal(result: ApiResult<()>) -> String {
        match result {
            Ok(()) => "allowed".into(),
            Err(ApiError::Validation(errors)) => {
                format!("{}: {}", errors[0].field, errors[0].message)
            }
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn bad_fields_are_refused_together() {
        let mut bad = input(TenantKind::Customer);
        bad.name = "A/B".into();
        bad.owner_email = "nobody".into();
        bad.member_quota = 0;
        bad.seats_total = MAX_SEATS + 1;
        let Err(ApiError::Validation(errors)) = Asked::of(bad) else {
            panic!("refused");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["owner_email", "member_quota", "seats_total", "name"]
        );
    }

    #[test]
    fn a_valid_request_is_cleaned() {
        let asked = asked(TenantKind::Customer);
        assert_eq!(asked.owner_email, "owner@example.com");
        assert_eq!(asked.member_quota, 50);
        assert_eq!(asked.settings, TenantSettings::default());
    }

    #[test]
    fn only_platform_and_reseller_admins_create_tenants() {
        let reseller = tenant(TenantKind::Reseller);
        let customer = asked(TenantKind::Customer);
        for caller in [
            CallerKind::User,
            CallerKind::System,
            CallerKind::Job { for_admin: true },
        ] {
            assert_eq!(
                refusal(may_create(&caller, &customer, None, None)),
                "only platform admins and reseller admins create tenants"
            );
        }
        // An admin of the reseller without customers.write.
        let plain = admin(&reseller, vec![Permission::MembersWrite]);
        assert_eq!(
            refusal(may_create(
                &plain,
                &customer,
                Some(reseller.id),
                Some(&reseller)
            )),
            "only platform admins and reseller admins create tenants"
        );
        let operator = admin(&reseller, vec![Permission::CustomersWrite]);
        assert_eq!(
            refusal(may_create(
                &operator,
                &customer,
                Some(reseller.id),
                Some(&reseller)
            )),
            "allowed"
        );
        assert_eq!(
            refusal(may_create(&CallerKind::Platform, &customer, None, None)),
            "allowed"
        );
    }

    #[test]
    fn a_reseller_admin_creates_plain_customers_of_its_own_reseller_only() {
        let reseller = tenant(TenantKind::Reseller);
        let other = tenant(TenantKind::Reseller);
        let customer_tenant = tenant(TenantKind::Customer);
        let operator = admin(&reseller, vec![Permission::CustomersWrite]);
        let customer = asked(TenantKind::Customer);
        // Under another reseller, or from a customer tenant.
        assert_eq!(
            refusal(may_create(
                &operator,
                &customer,
                Some(other.id),
                Some(&other)
            )),
            "only platform admins and reseller admins create tenants"
        );
        let of_customer = admin(&customer_tenant, vec![Permission::CustomersWrite]);
        assert_eq!(
            refusal(may_create(
                &of_customer,
                &customer,
                Some(customer_tenant.id),
                Some(&customer_tenant)
            )),
            "only platform admins and reseller admins create tenants"
        );
        assert_eq!(
            refusal(may_create(
                &operator,
                &asked(TenantKind::Reseller),
                Some(reseller.id),
                Some(&reseller)
            )),
            "kind: resellers create customers only"
        );
        let mut flagged = asked(TenantKind::Customer);
        flagged.feature_flags = Some(FeatureFlagsPatch::default());
        assert_eq!(
            refusal(may_create(
                &operator,
                &flagged,
                Some(reseller.id),
                Some(&reseller)
            )),
            "only platform admins set feature flags"
        );
    }

    #[test]
    fn a_parent_must_be_an_existing_reseller_and_resellers_do_not_nest() {
        let platform = CallerKind::Platform;
        let customer = asked(TenantKind::Customer);
        let reseller = tenant(TenantKind::Reseller);
        let not_reseller = tenant(TenantKind::Customer);
        assert_eq!(
            refusal(may_create(&platform, &customer, Some(Uuid::now_v7()), None)),
            "parent_id: is not a tenant"
        );
        assert_eq!(
            refusal(may_create(
                &platform,
                &customer,
                Some(not_reseller.id),
                Some(&not_reseller)
            )),
            "parent_id: must be a reseller tenant"
        );
        assert_eq!(
            refusal(may_create(
                &platform,
                &asked(TenantKind::Reseller),
                Some(reseller.id),
                Some(&reseller)
            )),
            "kind: a reseller cannot belong to another reseller"
        );
    }

    #[test]
    fn a_new_address_gets_a_new_account_and_a_known_one_is_attached() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let parent = Uuid::now_v7();
        let new = NewTenant::plan(now, asked(TenantKind::Customer), Some(parent), None);
        let OwnerAccount::New(user) = &new.account else {
            panic!("a new account");
        };
        assert_eq!(new.owner.user_id, user.id);
        assert_eq!(user.email, "owner@example.com");
        assert!(!new.owner.email_verified);
        assert_eq!(new.tenant.parent_id, Some(parent));
        assert_eq!(new.tenant.owner_member_id, new.owner.id);
        assert_eq!(new.tenant.root_department_id, new.root.id);
        assert_eq!(new.owner.department_id, new.root.id);
        assert_eq!(new.owner.role, Role::Owner);
        assert_eq!(new.root.path, "Acme");
        assert_eq!(new.root.id_path, new.root.id.to_string());
        assert_eq!((new.tenant.member_count, new.tenant.quota_used), (1, 1));

        let guard = EmailGuard {
            user_id: Uuid::now_v7(),
            verified: true,
        };
        let attached = NewTenant::plan(now, asked(TenantKind::Customer), None, Some(guard.clone()));
        assert!(matches!(attached.account, OwnerAccount::Attach(_)));
        assert_eq!(attached.owner.user_id, guard.user_id);
        assert!(attached.owner.email_verified);
    }
}
