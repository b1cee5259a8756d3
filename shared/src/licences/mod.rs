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
mod read;

pub use apply::LicenceResult;
pub use bulk::{AssignInput, MAX_BULK, RenewInput, RevokeInput, assign, renew, revoke};
pub use member::{SetLicence, revoke_for_member, set_for_member};
pub use plan::MAX_PERIOD_DAYS;

use crate::app::App;
use crate::auth::Requester;
use crate::auth::{Need, authorize_with_tenant};
use crate::error::ApiResult;
use crate::model::keys::{GSI6, licences_partition};
pub use crate::model::licence::{EXPIRING_DAYS, Licence, Renewal};
pub use crate::model::licence::{LicenceFilter, LicenceView};
use crate::model::time::{rfc3339, whole_seconds};
use crate::store::{Batch, Query, SortRange};
use serde::Serialize;
use time::Duration;
use uuid::Uuid;

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

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

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
