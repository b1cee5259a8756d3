//! A member's seat licence.

use crate::model::keys::{GSI6, GSI7, LICENCE_DUE_QUEUE, licences_partition};
use crate::model::time::rfc3339;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// "Expiring" means within this many days.
pub const EXPIRING_DAYS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renewal {
    pub period_days: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub queued_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Licence {
    #[serde(with = "time::serde::rfc3339")]
    pub assigned_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// `expires_at` in epoch seconds: what conditions compare.
    pub expires_epoch: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal: Option<Renewal>,
}

impl Licence {
    pub(crate) fn new(assigned_at: OffsetDateTime, expires_at: OffsetDateTime) -> Self {
        Self {
            assigned_at,
            expires_at,
            expires_epoch: expires_at.unix_timestamp(),
            renewal: None,
        }
    }

    /// Seats this licence holds: itself, and its queued renewal.
    pub fn seats_held(&self) -> i64 {
        1 + i64::from(self.renewal.is_some())
    }

    pub fn expiring(&self, now: OffsetDateTime) -> bool {
        self.expires_at <= now + Duration::days(EXPIRING_DAYS)
    }

    /// The index keys of a licensed member: the tenant's licences by expiry, and the job's queue.
    pub fn index_keys(&self, tenant_id: Uuid, member_id: Uuid) -> Vec<(&'static str, String)> {
        let at = rfc3339(self.expires_at);
        vec![
            (GSI6.pk, licences_partition(tenant_id)),
            (GSI6.sk, format!("{at}#{member_id}")),
            (GSI7.pk, LICENCE_DUE_QUEUE.to_string()),
            (GSI7.sk, format!("{at}#{tenant_id}#{member_id}")),
        ]
    }
}

/// A licence as clients see it.
#[derive(Debug, Clone, Serialize)]
pub struct LicenceView {
    #[serde(with = "time::serde::rfc3339")]
    pub assigned_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub renewal: Option<Renewal>,
}

impl From<&Licence> for LicenceView {
    fn from(l: &Licence) -> Self {
        Self {
            assigned_at: l.assigned_at,
            expires_at: l.expires_at,
            renewal: l.renewal.clone(),
        }
    }
}

/// The member list's `licence` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceFilter {
    None,
    Active,
    Expiring,
}

impl LicenceFilter {
    pub fn matches(self, licence: Option<&Licence>, now: OffsetDateTime) -> bool {
        match (self, licence) {
            (Self::None, l) => l.is_none(),
            (Self::Active, l) => l.is_some(),
            (Self::Expiring, Some(l)) => l.expiring(now),
            (Self::Expiring, None) => false,
        }
    }
}
