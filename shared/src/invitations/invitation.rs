//! An invitation as stored, the guard keeping one live invitation per email, and the view clients
//! get; with the items every use case writes for them.

use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::events::EventType;
use crate::model::keys::{GSI3, GSI4, INVITATION_EXPIRY_QUEUE, Key, invitations_partition};
use crate::model::roles::{Permissions, Role};
use crate::model::tenant::Tenant;
use crate::model::time::{rfc3339, whole_seconds};
use crate::model::user::{Delivery, StoredToken, TokenPurpose};
use crate::store::{Condition, Item, Transaction, Update, s, to_item};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// What is stored: `expired` is not a stored state but a pending invitation past its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

impl InvitationStatus {
    pub(super) fn word(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invitation {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// Lowercase; empty for an invitation by phone only.
    #[serde(default)]
    pub email: String,
    /// E.164; the link also goes by text message to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub name: Option<String>,
    pub department_id: Uuid,
    pub position: Option<String>,
    pub role: Role,
    pub permissions: Permissions,
    /// pending, accepted or revoked (never `expired`: that is read from `expires_at`).
    pub status: InvitationStatus,
    pub invited_by: Uuid,
    /// Sent by an owner, admin, operator or API client: joins directly whatever the join rules.
    pub invited_by_admin: bool,
    /// SHA-256 of the current link's token: the mailed link's, or the texted one's when the
    /// invitation has no email. A resend replaces it.
    pub token_hash: String,
    /// SHA-256 of the texted link's token when the invitation has an email too: each channel
    /// gets its own token, so the texted link can never prove the email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_token_hash: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub expires_epoch: i64,
    /// Whether the invitation still counts in the tenant's `quota_used` and `invitation_count`.
    pub holds_quota: bool,
    pub sent_count: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub last_sent_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub accepted_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub member_id: Option<Uuid>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

/// The guard keeping one live invitation per email per tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct InvitationGuard {
    pub(super) invitation_id: Uuid,
    /// The invitation's expiry: an expired guard no longer blocks a new invitation.
    pub(super) ttl: i64,
}

impl InvitationGuard {
    /// Whether the guard still blocks another invitation for its email at `now`.
    pub(super) fn is_live(&self, now: OffsetDateTime) -> bool {
        self.ttl > now.unix_timestamp()
    }
}

/// The bound that splits a pending partition into expired (below) and live (above) at `now`.
pub(super) fn now_bound(now: OffsetDateTime) -> String {
    format!("{}#~", rfc3339(whole_seconds(now)))
}

/// When a link sent at `now` stops working, by the tenant's setting.
pub(super) fn link_expiry(tenant: &Tenant, now: OffsetDateTime) -> OffsetDateTime {
    whole_seconds(now + time::Duration::days(i64::from(tenant.settings.invitation_expiry_days)))
}

impl Invitation {
    /// `invitation.expired`, for an invitation whose link expired before the expiry job gave its
    /// place back: the job passes it over once a cancel, a resend or a new invitation taking its
    /// place has, so they tell it instead (the invitation as it was, expired).
    pub(crate) fn expired_unrecorded(
        &self,
        now: OffsetDateTime,
    ) -> ApiResult<Vec<(EventType, serde_json::Value)>> {
        let unreleased = self.status == InvitationStatus::Pending && self.holds_quota;
        if !(unreleased && self.expires_at <= now) {
            return Ok(Vec::new());
        }
        let view = serde_json::to_value(self.view(now)).map_err(ApiError::internal)?;
        Ok(vec![(EventType::InvitationExpired, view)])
    }

    pub(super) fn key(&self) -> Key {
        Key::invitation(self.tenant_id, self.id)
    }

    /// The status clients see.
    pub fn status_at(&self, now: OffsetDateTime) -> InvitationStatus {
        match self.status {
            InvitationStatus::Pending if self.expires_at <= now => InvitationStatus::Expired,
            other => other,
        }
    }

    pub(super) fn to_item(&self) -> ApiResult<Item> {
        let mut extra = vec![(
            GSI3.pk,
            invitations_partition(self.tenant_id, self.status.word()),
        )];
        if self.status == InvitationStatus::Pending {
            extra.push((GSI3.sk, format!("{}#{}", rfc3339(self.expires_at), self.id)));
        } else {
            extra.push((GSI3.sk, self.id.to_string()));
        }
        if self.holds_quota {
            extra.push((GSI4.pk, INVITATION_EXPIRY_QUEUE.to_string()));
            extra.push((GSI4.sk, expiry_position(self)));
        }
        to_item(self, &self.key(), &extra)
    }

    /// The guard item naming this invitation as the live one for its email.
    pub(super) fn guard_item(&self) -> ApiResult<Item> {
        to_item(
            &InvitationGuard {
                invitation_id: self.id,
                ttl: self.expires_epoch,
            },
            &self.guard_key(),
            &[],
        )
    }

    /// The key of the guard keeping this invitation the only live one for its email (or, by
    /// phone only, its phone).
    pub(crate) fn guard_key(&self) -> Key {
        invitee_guard(self.tenant_id, &self.email, self.phone.as_deref())
    }

    /// Sent by phone only: no address is known until someone accepts.
    pub fn by_phone_only(&self) -> bool {
        self.email.is_empty()
    }

    /// Whether the token hashed as `hash` is one of the current links (mailed or texted).
    pub(super) fn has_link(&self, hash: &str) -> bool {
        self.token_hash == hash || self.text_token_hash.as_deref() == Some(hash)
    }

    /// Where a link stored before links recorded their delivery went: by text when the
    /// invitation has a phone (the one token went both ways, so it proves no email).
    pub(super) fn unrecorded_delivery(&self) -> Delivery {
        match &self.phone {
            Some(phone) => Delivery::Phone(phone.clone()),
            None => Delivery::Email(self.email.clone()),
        }
    }

    /// Takes `links` as the current links: the old ones stop working.
    pub(super) fn use_links(&mut self, links: &InvitationLinks) {
        let mailed = links.mailed.as_deref().map(crypto::token_hash);
        let texted = links.texted.as_deref().map(crypto::token_hash);
        match (mailed, texted) {
            (Some(mailed), texted) => {
                self.token_hash = mailed;
                self.text_token_hash = texted;
            }
            (None, texted) => {
                self.token_hash = texted.unwrap_or_default();
                self.text_token_hash = None;
            }
        }
    }

    /// The token items' keys of the current links.
    pub(crate) fn link_keys(&self) -> Vec<Key> {
        std::iter::once(&self.token_hash)
            .chain(&self.text_token_hash)
            .map(|hash| Key::token(hash))
            .collect()
    }

    /// The stored invitation without the link's hash.
    pub fn view(&self, now: OffsetDateTime) -> InvitationView {
        InvitationView {
            id: self.id,
            tenant_id: self.tenant_id,
            email: (!self.email.is_empty()).then(|| self.email.clone()),
            phone: self.phone.clone(),
            name: self.name.clone(),
            department_id: self.department_id,
            position: self.position.clone(),
            role: self.role,
            permissions: self.permissions.clone(),
            status: self.status_at(now),
            invited_by: self.invited_by,
            needs_approval_if_rules_say_so: !self.invited_by_admin,
            expires_at: self.expires_at,
            sent_count: self.sent_count,
            last_sent_at: self.last_sent_at,
            accepted_at: self.accepted_at,
            member_id: self.member_id,
            revoked_at: self.revoked_at,
            created_at: self.created_at,
        }
    }
}

/// The live-invitation guard of an invitee: by email, or by phone when there is no email.
pub(crate) fn invitee_guard(tenant_id: Uuid, email: &str, phone: Option<&str>) -> Key {
    match phone {
        Some(phone) if email.is_empty() => Key::invitation_phone(tenant_id, phone),
        _ => Key::invitation_email(tenant_id, email),
    }
}

fn expiry_position(invitation: &Invitation) -> String {
    format!(
        "{}#{}#{}",
        rfc3339(invitation.expires_at),
        invitation.tenant_id,
        invitation.id
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct InvitationView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    pub department_id: Uuid,
    pub position: Option<String>,
    pub role: Role,
    pub permissions: Permissions,
    pub status: InvitationStatus,
    pub invited_by: Uuid,
    /// Sent by a non-admin: joins as a pending request while the tenant's join rules ask for
    /// approval of such invitations.
    #[serde(rename = "sent_by_non_admin")]
    pub needs_approval_if_rules_say_so: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub sent_count: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub last_sent_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub accepted_at: Option<OffsetDateTime>,
    pub member_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Writes `after` over the invitation as it was read (`before_version`).
pub(super) fn put_changed(
    tx: &mut Transaction,
    after: &Invitation,
    before_version: u64,
) -> ApiResult<()> {
    tx.put(
        after.to_item()?,
        Some((
            Condition::version_is(before_version),
            ApiError::Conflict("the invitation changed at the same time; retry".into()),
        )),
    )
}

/// The links one send of an invitation carries: a token per channel it goes through.
pub(crate) struct InvitationLinks {
    /// The link mailed to the invitation's email, if it has one.
    pub(crate) mailed: Option<String>,
    /// The link texted to the invitation's phone, if it has one.
    pub(crate) texted: Option<String>,
}

impl InvitationLinks {
    pub(crate) fn new(email: &str, phone: Option<&str>) -> Self {
        Self {
            mailed: (!email.is_empty()).then(crypto::new_token),
            texted: phone.map(|_| crypto::new_token()),
        }
    }
}

/// The token items of `links`: each names the invitation and the address it goes to, and lives
/// 30 days past the expiry, so an expired link is answered "expired" rather than "unknown".
pub(super) fn add_tokens(
    tx: &mut Transaction,
    invitation: &Invitation,
    links: &InvitationLinks,
) -> ApiResult<()> {
    let deliveries = [
        (
            &links.mailed,
            Some(Delivery::Email(invitation.email.clone())),
        ),
        (&links.texted, invitation.phone.clone().map(Delivery::Phone)),
    ];
    for (token, delivered) in deliveries {
        let Some(token) = token else { continue };
        let stored = StoredToken {
            purpose: TokenPurpose::Invitation,
            user_id: None,
            tenant_id: Some(invitation.tenant_id),
            target_id: Some(invitation.id),
            expires_at: Some(invitation.expires_at),
            ttl: Some(invitation.expires_epoch + 30 * 24 * 3600),
            session_epoch: None,
            email: None,
            delivered,
        };
        tx.put(
            to_item(&stored, &Key::token(&crypto::token_hash(token)), &[])?,
            Some((Condition::absent(), ApiError::internal("token collision"))),
        )?;
    }
    Ok(())
}

/// A pending invitation takes a place in the member quota (and counts as pending).
pub(super) fn hold_quota_place(tx: &mut Transaction, tenant: &Tenant) -> ApiResult<()> {
    super::admission::take_quota_place(tx, tenant, "invitation_count")
}

/// The update that gives an invitation's place in the quota up (it leaves the expiry queue).
pub(crate) fn place_given_up(now: OffsetDateTime) -> Update {
    Update::new("SET holds_quota = :false, updated_at = :now REMOVE gsi4pk, gsi4sk")
        .value(":false", AttributeValue::Bool(false))
        .value(":now", s(rfc3339(now)))
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Records for the unit tests of the invitation rules.

    use super::*;
    use crate::model::department::{Department, DepartmentSettings};
    use crate::model::tenant::{FeatureFlags, Plan, TenantKind, TenantSettings, TenantStatus};
    use time::macros::datetime;

    pub const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    pub fn tenant() -> Tenant {
        Tenant {
            id: Uuid::now_v7(),
            name: "Acme".into(),
            kind: TenantKind::Customer,
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
            created_at: NOW,
            updated_at: NOW,
            version: 1,
        }
    }

    /// The root department of `tenant`.
    pub fn root(tenant: &Tenant) -> Department {
        Department {
            id: tenant.root_department_id,
            tenant_id: tenant.id,
            name: "Acme".into(),
            parent_id: None,
            path: "Acme".into(),
            id_path: tenant.root_department_id.to_string(),
            depth: 0,
            member_count: 1,
            child_count: 0,
            settings: DepartmentSettings::default(),
            created_at: NOW,
            updated_at: NOW,
            version: 1,
            scim_external_id: None,
        }
    }

    /// A pending invitation of `tenant`, sent by an admin, live for a week from `NOW`.
    pub fn invitation(tenant: &Tenant) -> Invitation {
        let expires_at = NOW + time::Duration::days(7);
        Invitation {
            phone: None,
            id: Uuid::now_v7(),
            tenant_id: tenant.id,
            email: "ada@example.com".into(),
            name: Some("Ada".into()),
            department_id: tenant.root_department_id,
            position: Some("Engineer".into()),
            role: Role::Member,
            permissions: Permissions::none(),
            status: InvitationStatus::Pending,
            invited_by: Uuid::now_v7(),
            invited_by_admin: true,
            token_hash: "hash".into(),
            text_token_hash: None,
            expires_at,
            expires_epoch: expires_at.unix_timestamp(),
            holds_quota: true,
            sent_count: 1,
            last_sent_at: NOW,
            accepted_at: None,
            member_id: None,
            revoked_at: None,
            created_at: NOW,
            updated_at: NOW,
            version: 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{NOW, invitation, tenant};
    use super::*;

    #[test]
    fn a_pending_invitation_past_its_expiry_reads_expired() {
        let mut i = invitation(&tenant());
        assert_eq!(i.status_at(NOW), InvitationStatus::Pending);
        assert_eq!(i.status_at(i.expires_at), InvitationStatus::Expired);
        i.status = InvitationStatus::Revoked;
        assert_eq!(i.status_at(i.expires_at), InvitationStatus::Revoked);
    }

    #[test]
    fn links_expire_after_the_tenants_days_on_a_whole_second() {
        let mut t = tenant();
        t.settings.invitation_expiry_days = 3;
        let sent = NOW + time::Duration::milliseconds(400);
        assert_eq!(link_expiry(&t, sent), NOW + time::Duration::days(3));
    }

    #[test]
    fn a_guard_blocks_until_its_expiry() {
        let guard = InvitationGuard {
            invitation_id: Uuid::now_v7(),
            ttl: NOW.unix_timestamp(),
        };
        assert!(guard.is_live(NOW - time::Duration::seconds(1)));
        assert!(!guard.is_live(NOW));
    }
}
