//! A tenant (a customer or a reseller) and its settings, as stored.

use crate::error::{ApiError, ApiResult};
use crate::model::item::{Item, counter, to_item};
use crate::model::keys::{ALL_TENANTS, GSI1, GSI2, Key, customers_of};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// The largest member quota and number of seats a tenant may be given.
pub const MAX_MEMBER_QUOTA: i64 = 1_000_000;
pub const MAX_SEATS: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantKind {
    Customer,
    Reseller,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Free,
    Paid,
}

/// What a tenant has bought beyond the base product; platform admins switch them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureFlags {
    #[serde(default)]
    pub licence_renewal: bool,
    /// API clients and the client-credentials grant. New tenants start without it; a tenant
    /// stored before the flag existed used API clients freely, so a missing flag reads as on.
    #[serde(default = "enabled")]
    pub api_access: bool,
}

fn enabled() -> bool {
    true
}

impl FeatureFlags {
    /// API clients exist, and their tokens work, only where the tenant has bought API access.
    pub fn require_api_access(&self) -> ApiResult<()> {
        if self.api_access {
            Ok(())
        } else {
            Err(ApiError::FeatureNotEnabled(
                "API access is not enabled for this tenant; a platform admin can switch it on",
            ))
        }
    }
}

/// A change to some flags: the flags it leaves out keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureFlagsPatch {
    #[serde(default)]
    pub licence_renewal: Option<bool>,
    #[serde(default)]
    pub api_access: Option<bool>,
}

impl FeatureFlagsPatch {
    pub fn apply(&self, flags: &mut FeatureFlags) {
        if let Some(on) = self.licence_renewal {
            flags.licence_renewal = on;
        }
        if let Some(on) = self.api_access {
            flags.api_access = on;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NewMemberPassword {
    SetPasswordLink,
    RandomPasswordMail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinField {
    Position,
    WorkNumber,
    Location,
    Phone,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRules {
    /// Invitations sent by non-admins join as pending requests an admin approves ("inviting
    /// verification"); admins' invitations always join directly.
    #[serde(default)]
    pub approval_for_non_admin_invitations: bool,
    /// Members without an admin role may invite people (as plain members).
    #[serde(default)]
    pub members_may_invite: bool,
    /// What a person asking to join through a join link must give besides name and email.
    #[serde(default)]
    pub required_fields: Vec<JoinField>,
    /// Anyone who knows the tenant's join number may ask to join (always pending approval).
    #[serde(default)]
    pub join_by_number: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branding {
    #[serde(default)]
    pub primary_color: Option<String>,
    #[serde(default)]
    pub secondary_color: Option<String>,
    #[serde(default)]
    pub logo_url: Option<String>,
}

/// Who among the tenant's plain members sees a member's email and phone in the directory
/// (SPEC §8.2). A department may override the tenant's choice for its own members. (`all` and
/// `none` are the names departments were first given; they still read.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactVisibility {
    #[default]
    #[serde(alias = "all")]
    Everyone,
    /// Members of the same department.
    Department,
    /// No plain member (admins only).
    #[serde(alias = "none")]
    Admins,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    #[serde(default)]
    pub contact_visibility: ContactVisibility,
    pub password_expiry_days: Option<u32>,
    pub ip_allowlist: Vec<String>,
    pub recycle_bin_retention_days: u32,
    pub invitation_expiry_days: u32,
    pub default_language: String,
    pub new_member_password: NewMemberPassword,
    pub join_rules: JoinRules,
    pub branding: Branding,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            contact_visibility: ContactVisibility::Everyone,
            password_expiry_days: None,
            ip_allowlist: Vec::new(),
            recycle_bin_retention_days: 30,
            invitation_expiry_days: 7,
            default_language: "en".into(),
            new_member_password: NewMemberPassword::SetPasswordLink,
            join_rules: JoinRules::default(),
            branding: Branding::default(),
        }
    }
}

/// Whether a tenant is in use, or deleted and waiting for its purge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    #[default]
    Active,
    /// Deleted: hidden from its members and the public until `purge_after`, when the
    /// tenant-purge job removes it; restorable until then.
    Deleting,
}

/// A tenant as stored. `member_count` and `seats_used` are counters changed atomically with the
/// items they count; `version` changes only with the editable fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    pub kind: TenantKind,
    pub parent_id: Option<Uuid>,
    pub plan: Plan,
    #[serde(default)]
    pub status: TenantStatus,
    /// While deleting: when the purge may remove it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub purge_after: Option<OffsetDateTime>,
    pub member_quota: u32,
    /// Active and disabled members.
    #[serde(deserialize_with = "counter")]
    pub member_count: u32,
    /// Pending invitations (not yet expired and released by the invitation-expiry job).
    #[serde(default, deserialize_with = "counter")]
    pub invitation_count: u32,
    /// Pending join requests.
    #[serde(default, deserialize_with = "counter")]
    pub join_request_count: u32,
    /// Of those, the ones that came through a public door (a join link or the join number): they
    /// hold no place in the member quota, only one under the deployment's cap of pending public
    /// requests, and take a quota place when approved.
    #[serde(default, deserialize_with = "counter")]
    pub public_request_count: u32,
    /// What the member quota counts: members + invitations + join requests through an invitation
    /// (not the public ones), kept as one counter because a DynamoDB condition compares
    /// attributes but cannot add them.
    #[serde(deserialize_with = "counter")]
    pub quota_used: u32,
    pub seats_total: u32,
    #[serde(deserialize_with = "counter")]
    pub seats_used: u32,
    /// Active and disabled owners: the last one can be neither demoted, disabled nor deleted.
    #[serde(default = "one", deserialize_with = "counter")]
    pub owner_count: u32,
    /// Eight digits people type to ask to join (see `joining::number`); absent only on tenants
    /// created before join numbers, until the rule `join_by_number` is first switched on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_number: Option<String>,
    /// Texts the tenant may send a day (set by operators, like the quotas).
    #[serde(default = "default_sms_daily_budget")]
    pub sms_daily_budget: u32,
    pub feature_flags: FeatureFlags,
    pub settings: TenantSettings,
    pub root_department_id: Uuid,
    pub owner_member_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

fn one() -> u32 {
    1
}

pub const DEFAULT_SMS_DAILY_BUDGET: u32 = 200;

fn default_sms_daily_budget() -> u32 {
    DEFAULT_SMS_DAILY_BUDGET
}

impl Tenant {
    /// The tenant as its members and the public may reach it: a deleted one is not found.
    pub fn reachable(self) -> ApiResult<Self> {
        match self.status {
            TenantStatus::Active => Ok(self),
            TenantStatus::Deleting => Err(ApiError::NotFound),
        }
    }

    /// Whether the tenant issues tokens and credentials: not while it is deleting (SPEC.md §9.1),
    /// when a grant answers as for a deleted tenant, whose memberships and clients are gone (401).
    pub fn issuing(&self) -> ApiResult<()> {
        match self.status {
            TenantStatus::Active => Ok(()),
            TenantStatus::Deleting => Err(ApiError::Unauthorized),
        }
    }

    pub fn to_item(&self) -> ApiResult<Item> {
        let mut extra = vec![
            (GSI1.pk, ALL_TENANTS.to_string()),
            (GSI1.sk, self.id.to_string()),
        ];
        if let Some(parent) = self.parent_id {
            extra.push((GSI2.pk, customers_of(parent)));
            extra.push((GSI2.sk, self.id.to_string()));
        }
        to_item(self, &Key::tenant(self.id), &extra)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_access_is_off_for_new_tenants_and_on_for_tenants_stored_before_it() {
        assert!(!FeatureFlags::default().api_access);
        let stored: FeatureFlags =
            serde_json::from_value(serde_json::json!({"licence_renewal": true})).expect("flags");
        assert!(stored.api_access);
        assert!(stored.require_api_access().is_ok());
        assert!(matches!(
            FeatureFlags::default().require_api_access(),
            Err(ApiError::FeatureNotEnabled(_))
        ));
    }
}
