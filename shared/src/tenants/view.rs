//! A tenant as clients see it.

use crate::auth::Access;
use crate::model::roles::Permission;
use crate::model::tenant::{FeatureFlags, Plan, Tenant, TenantKind, TenantSettings, TenantStatus};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

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
    pub status: TenantStatus,
    /// While `deleting`: when the purge removes it (restorable until then).
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub purge_after: Option<OffsetDateTime>,
    pub member_quota: u32,
    /// Texts the tenant may send a day (invitations by phone).
    pub sms_daily_budget: u32,
    pub member_count: u32,
    pub pending_invitations: u32,
    pub pending_join_requests: u32,
    /// Members, pending invitations and pending join requests: what counts against the quota.
    pub quota_used: u32,
    pub seats: Seats,
    /// The tenant's join number, for those who admit people (see [`TenantView::seen_by`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_number: Option<String>,
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
            status: t.status,
            purge_after: t.purge_after,
            member_quota: t.member_quota,
            sms_daily_budget: t.sms_daily_budget,
            member_count: t.member_count,
            pending_invitations: t.invitation_count,
            pending_join_requests: t.join_request_count,
            quota_used: t.quota_used,
            seats: Seats {
                total: t.seats_total,
                used: t.seats_used,
                available: t.seats_total.saturating_sub(t.seats_used),
            },
            join_number: t.join_number.clone(),
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

impl TenantView {
    /// The tenant as `access` sees it: the join number only for operators and admins who admit
    /// people or set the join rules, not for every member.
    pub fn seen_by(t: &Tenant, access: &Access) -> Self {
        let mut view = Self::from(t);
        let admits = access.caller.is_platform()
            || access.via_reseller
            || access.allows(Permission::MembersWrite)
            || access.allows(Permission::SettingsWrite);
        if !admits {
            view.join_number = None;
        }
        view
    }
}
