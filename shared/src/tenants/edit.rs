//! Changing a tenant: name, plan, quotas, feature flags and settings, each by whom may.

use super::settings::TenantSettingsPatch;
use super::view::TenantView;
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Access, Need, Requester, authorize_with_tenant};
use crate::error::{ApiError, ApiResult, Checks};
use crate::events::{self, EventType};
use crate::joining::number;
use crate::model::keys::Key;
use crate::model::roles::Permission;
use crate::model::tenant::{FeatureFlagsPatch, Plan, Tenant};
use crate::model::tenant::{MAX_MEMBER_QUOTA, MAX_SEATS};
use crate::store::{Batch, Condition, Transaction, Update, num, s};
use crate::validate;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// The most texts a day an operator may allow one tenant.
const MAX_SMS_DAILY_BUDGET: i64 = 1_000_000;

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
    /// Texts a day (operators only, like the quotas).
    #[serde(default)]
    pub sms_daily_budget: Option<i64>,
    #[serde(default)]
    pub feature_flags: Option<FeatureFlagsPatch>,
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
        authorize_with_tenant(app, requester, tenant_id, Need::Member, Batch::new()).await?;
    may_patch(&access, &patch)?;
    if expected.is_some_and(|v| v != before.version) {
        return Err(ApiError::PreconditionFailed);
    }
    let mut after = patched(&before, patch, app.now())?;
    // A tenant from before join numbers gets one when it first opens that door.
    let numbering = after.settings.join_rules.join_by_number && before.join_number.is_none();
    let mut draws = 0;
    loop {
        draws += 1;
        if numbering {
            after.join_number = Some(number::draw());
        }
        let mut tx = Transaction::new();
        write_tenant(&mut tx, &before, &after)?;
        if let (true, Some(join_number)) = (numbering, &after.join_number) {
            number::add_guard(&mut tx, join_number, tenant_id)?;
        }
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
        let view = TenantView::from(&after);
        events::record(
            app,
            &mut tx,
            &access.caller,
            tenant_id,
            EventType::TenantUpdated,
            &view,
        )?;
        match app.store.transact(tx).await {
            Ok(()) => break,
            Err(err) if number::was_taken(&err) && draws < number::DRAWS => {}
            Err(err) => return Err(err),
        }
    }
    Ok(TenantView::seen_by(&after, &access))
}

/// Whether the caller may change what the patch names.
fn may_patch(access: &Access, patch: &TenantPatch) -> ApiResult<()> {
    let operator = access.caller.is_platform() || access.via_reseller;
    let quotas = patch.member_quota.is_some()
        || patch.seats_total.is_some()
        || patch.sms_daily_budget.is_some();
    if (patch.plan.is_some() || quotas) && !operator {
        return Err(ApiError::Forbidden(
            "plan and quotas are set by platform or reseller admins",
        ));
    }
    if patch.feature_flags.is_some() && !access.caller.is_platform() {
        return Err(ApiError::Forbidden(
            "feature flags are set by platform admins",
        ));
    }
    if (patch.settings.is_some() || patch.name.is_some())
        && !access.allows(Permission::SettingsWrite)
    {
        return Err(ApiError::Forbidden(
            "changing settings needs settings.write",
        ));
    }
    Ok(())
}

/// The tenant with the patch applied, checked: quotas never below what they already count.
fn patched(before: &Tenant, patch: TenantPatch, now: OffsetDateTime) -> ApiResult<Tenant> {
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
    if let Some(budget) = patch.sms_daily_budget {
        validate::range(
            &mut checks,
            "sms_daily_budget",
            budget,
            0,
            MAX_SMS_DAILY_BUDGET,
        );
        after.sms_daily_budget = budget.clamp(0, MAX_SMS_DAILY_BUDGET) as u32;
    }
    if let Some(flags) = patch.feature_flags {
        flags.apply(&mut after.feature_flags);
    }
    if let Some(settings) = patch.settings {
        settings.apply(&mut checks, &mut after.settings);
    }
    checks.finish()?;
    after.updated_at = now;
    after.version += 1;
    Ok(after)
}

/// The editable fields, while the tenant is at the version read. Counters move without touching
/// `version`, so the condition re-checks them against the new limits as well.
fn write_tenant(tx: &mut Transaction, before: &Tenant, after: &Tenant) -> ApiResult<()> {
    // The join number is set once (see `update`) and never changes after.
    let join_number: Vec<(&str, String)> = after
        .join_number
        .iter()
        .map(|n| ("join_number", n.clone()))
        .collect();
    tx.update(
        &Key::tenant(before.id),
        Update::new(
            "SET #name = :name, #plan = :plan, member_quota = :quota, seats_total = :seats, \
             sms_daily_budget = :sms, feature_flags = :flags, settings = :settings, \
             updated_at = :now, version = :next",
        )
        .set_all(&join_number)
        .name("#name", "name")
        .name("#plan", "plan")
        .value(":name", s(&after.name))
        .value(
            ":plan",
            serde_dynamo::to_attribute_value(after.plan).map_err(ApiError::internal)?,
        )
        .value(":quota", num(after.member_quota))
        .value(":seats", num(after.seats_total))
        .value(":sms", num(after.sms_daily_budget))
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
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Caller, CallerKind};
    use crate::model::member::{Member, MemberSource, Person};
    use crate::model::roles::{Permissions, Role};
    use crate::model::tenant::{FeatureFlags, TenantKind, TenantSettings, TenantStatus};

    fn tenant() -> Tenant {
        let now = OffsetDateTime::UNIX_EPOCH;
        Tenant {
            id: Uuid::now_v7(),
            name: "Acme".into(),
            kind: TenantKind::Customer,
            parent_id: None,
            plan: Plan::Free,
            status: TenantStatus::Active,
            purge_after: None,
            member_quota: 100,
            member_count: 40,
            invitation_count: 5,
            join_request_count: 5,
            public_request_count: 0,
            quota_used: 50,
            seats_total: 20,
            seats_used: 12,
            owner_count: 1,
            join_number: None,
            feature_flags: FeatureFlags::default(),
            settings: TenantSettings::default(),
            root_department_id: Uuid::now_v7(),
            owner_member_id: Uuid::now_v7(),
            sms_daily_budget: crate::model::tenant::DEFAULT_SMS_DAILY_BUDGET,
            created_at: now,
            updated_at: now,
            version: 7,
        }
    }

    fn patch(json: serde_json::Value) -> TenantPatch {
        serde_json::from_value(json).expect("a tenant patch")
    }

    fn access(kind: CallerKind, via_reseller: bool) -> Access {
        Access {
            caller: Caller {
                user_id: Uuid::now_v7(),
                kind,
                origin: Default::default(),
            },
            tenant_id: Uuid::now_v7(),
            via_reseller,
        }
    }

    /// A member of the tenant with `permissions`.
    fn admin(permissions: Vec<Permission>) -> CallerKind {
        let person = Person {
            user_id: Uuid::now_v7(),
            email: "admin@example.com".into(),
            name: "Ada Admin".into(),
            phone: None,
            email_verified: true,
        };
        CallerKind::Member(Box::new(Member::new(
            Uuid::now_v7(),
            Uuid::now_v7(),
            person,
            Role::Admin,
            Permissions::Only(permissions),
            MemberSource::Console,
            OffsetDateTime::UNIX_EPOCH,
        )))
    }

    fn refusal(result: ApiResult<()>) -> String {
        result.map_or_else(|e| e.to_string(), |()| "allowed".into())
    }

    #[test]
    fn each_part_of_a_tenant_has_its_own_editors() {
        let settings_admin = access(admin(vec![Permission::SettingsWrite]), false);
        let reseller_admin = access(admin(vec![Permission::CustomersWrite]), true);
        let platform = access(CallerKind::Platform, false);
        let quota = patch(serde_json::json!({"member_quota": 60}));
        let flags = patch(serde_json::json!({"feature_flags": {"licence_renewal": true}}));
        let name = patch(serde_json::json!({"name": "Acme Ltd"}));

        assert_eq!(
            refusal(may_patch(&settings_admin, &quota)),
            "plan and quotas are set by platform or reseller admins"
        );
        assert_eq!(refusal(may_patch(&reseller_admin, &quota)), "allowed");
        assert_eq!(
            refusal(may_patch(&reseller_admin, &flags)),
            "feature flags are set by platform admins"
        );
        assert_eq!(refusal(may_patch(&platform, &flags)), "allowed");
        assert_eq!(refusal(may_patch(&settings_admin, &name)), "allowed");
        assert_eq!(
            refusal(may_patch(&reseller_admin, &name)),
            "changing settings needs settings.write"
        );
    }

    #[test]
    fn a_flag_patch_changes_only_the_flags_it_names() {
        let mut before = tenant();
        before.feature_flags.api_access = true;
        let after = patched(
            &before,
            patch(serde_json::json!({"feature_flags": {"licence_renewal": true}})),
            OffsetDateTime::UNIX_EPOCH,
        )
        .expect("patched");
        assert!(after.feature_flags.licence_renewal);
        assert!(after.feature_flags.api_access);
        let after = patched(
            &after,
            patch(serde_json::json!({"feature_flags": {"api_access": false}})),
            OffsetDateTime::UNIX_EPOCH,
        )
        .expect("patched");
        assert!(after.feature_flags.licence_renewal);
        assert!(!after.feature_flags.api_access);
    }

    #[test]
    fn quotas_never_drop_below_what_they_count() {
        let before = tenant();
        let Err(ApiError::Validation(errors)) = patched(
            &before,
            patch(serde_json::json!({"member_quota": 49, "seats_total": 11})),
            OffsetDateTime::UNIX_EPOCH,
        ) else {
            panic!("refused");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["member_quota", "seats_total"]);
        assert!(errors[0].message.contains("(50)"));

        let after = patched(
            &before,
            patch(serde_json::json!({"member_quota": 50, "seats_total": 12})),
            OffsetDateTime::UNIX_EPOCH,
        )
        .expect("at the counts is fine");
        assert_eq!((after.member_quota, after.seats_total), (50, 12));
    }

    #[test]
    fn a_patch_changes_what_it_names_and_moves_the_version_on() {
        let before = tenant();
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        let after = patched(
            &before,
            patch(serde_json::json!({
                "name": "  Acme Ltd ",
                "plan": "paid",
                "settings": {"invitation_expiry_days": 14},
            })),
            now,
        )
        .expect("a valid patch");
        assert_eq!(after.name, "Acme Ltd");
        assert_eq!(after.plan, Plan::Paid);
        assert_eq!(after.settings.invitation_expiry_days, 14);
        assert_eq!(after.member_quota, before.member_quota);
        assert_eq!((after.version, after.updated_at), (8, now));
    }
}
