//! Seat licences ("VIP"): a tenant owns `seats_total` seats; a member holds at most one licence
//! with an expiry, and optionally one queued renewal period. `seats_used` counts licences and
//! queued renewals (a renewal holds its seat from the moment it is queued, so renewals can never
//! oversubscribe the pool) and moves in the same transaction as the members it counts, under the
//! condition that it stays within `seats_total`.
//!
//! Bulk operations check every member first and refuse the whole request with the list of
//! conflicts (or skip them with `skip_conflicts`); then they write in transactions of up to 100
//! actions, and put back what an earlier transaction wrote if a later one fails, so a request
//! takes effect entirely or not at all. `plan` decides, `apply` writes.

mod apply;
mod bulk;
mod conditions;
pub mod expiry;
mod member;
pub mod plan;

pub use bulk::{assign, renew, revoke};
pub use member::{SetLicence, revoke_for_member, set_for_member};

use self::conditions::{holds, remove_licence, set_licence};
use crate::app::App;
use crate::auth::Requester;
use crate::auth::{Access, Need, authorize_with_tenant};
use crate::error::{ApiResult, Checks, LicenceConflict};
use crate::model::keys::{GSI6, Key, licences_partition};
pub use crate::model::licence::{EXPIRING_DAYS, Licence, Renewal};
pub use crate::model::licence::{LicenceFilter, LicenceView};
use crate::model::member::{Member, MemberStatus};
use crate::model::roles::Permission;
use crate::model::tenant::Tenant;
use crate::model::time::{rfc3339, whole_seconds};
use crate::store::{Batch, Query, Slot, SortRange};
use crate::tenants::Seats;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

pub const MAX_BULK: usize = 1000;
pub const MAX_PERIOD_DAYS: i64 = 3650;

#[derive(Debug, Serialize)]
pub struct LicenceSummary {
    pub total: u32,
    pub used: u32,
    pub available: u32,
    pub expiring_within_30_days: u64,
}

/// The pool: total, used (licences and queued renewals), available, and how many licences expire
/// within 30 days (a count over one key range of the tenant's licence index).
pub async fn summary(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
) -> ApiResult<LicenceSummary> {
    let (_, tenant, _) =
        authorize_with_tenant(app, requester, tenant_id, Need::Member, Batch::new()).await?;
    let now = app.now();
    let expiring = app
        .store
        .count(Query::new(
            Some(GSI6),
            licences_partition(tenant_id),
            SortRange::Between(
                "0".into(),
                format!(
                    "{}#~",
                    rfc3339(whole_seconds(now + Duration::days(EXPIRING_DAYS)))
                ),
            ),
        ))
        .await?;
    Ok(LicenceSummary {
        total: tenant.seats_total,
        used: tenant.seats_used,
        available: tenant.seats_total.saturating_sub(tenant.seats_used),
        expiring_within_30_days: expiring,
    })
}

#[derive(Debug, Serialize)]
pub struct LicenceResult {
    /// Members changed by this request.
    pub member_ids: Vec<Uuid>,
    /// Members left out because of `skip_conflicts`, with the reason.
    pub skipped: Vec<LicenceConflict>,
    pub seats: Seats,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    pub member_ids: Vec<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(default)]
    pub skip_conflicts: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeInput {
    pub member_ids: Vec<Uuid>,
    #[serde(default)]
    pub skip_conflicts: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewInput {
    pub member_ids: Vec<Uuid>,
    pub period_days: i64,
    #[serde(default)]
    pub skip_conflicts: bool,
}

fn unique_ids(checks: &mut Checks, ids: &[Uuid]) -> Vec<Uuid> {
    if ids.is_empty() || ids.len() > MAX_BULK {
        checks.fail("member_ids", format!("must hold 1 to {MAX_BULK} ids"));
    }
    let mut unique = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.contains(id) {
            unique.push(*id);
        }
    }
    unique
}

/// The members named, read with the caller and the tenant (batches of 100 keys); each is a
/// member, or the reason it cannot be one here.
async fn load(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> ApiResult<(Access, Tenant, Vec<Result<Member, LicenceConflict>>)> {
    let mut batch = Batch::new();
    let slots: Vec<Slot<Member>> = ids
        .iter()
        .map(|m| batch.read(Key::member(tenant_id, *m)))
        .collect();
    let (access, tenant, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::LicencesWrite),
        batch,
    )
    .await?;
    let mut members = Vec::with_capacity(ids.len());
    for (id, slot) in ids.iter().zip(slots) {
        let conflict = |reason| {
            Err(LicenceConflict {
                member_id: *id,
                reason,
            })
        };
        members.push(match read.take(slot)? {
            None => conflict("unknown"),
            Some(member) => match member.status {
                MemberStatus::Deleted => conflict("deleted"),
                MemberStatus::Pending | MemberStatus::Rejected => conflict("not_a_member"),
                _ => Ok(member),
            },
        });
    }
    Ok((access, tenant, members))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_tells_none_active_and_expiring_apart() {
        let now = OffsetDateTime::now_utc();
        let soon = Licence::new(now, now + Duration::days(10));
        let later = Licence::new(now, now + Duration::days(90));
        assert!(LicenceFilter::None.matches(None, now));
        assert!(!LicenceFilter::None.matches(Some(&soon), now));
        assert!(LicenceFilter::Active.matches(Some(&later), now));
        assert!(LicenceFilter::Expiring.matches(Some(&soon), now));
        assert!(!LicenceFilter::Expiring.matches(Some(&later), now));
        let mut renewed = soon.clone();
        renewed.renewal = Some(Renewal {
            period_days: 30,
            expires_at: soon.expires_at + Duration::days(30),
            queued_at: now,
        });
        assert_eq!(renewed.seats_held(), 2);
        assert_eq!(soon.seats_held(), 1);
    }
}
