//! Webhooks (SPEC.md §9.2): a tenant's endpoints hear its events, each delivery signed as the
//! Standard Webhooks specification says, retried on its schedule, and recorded.
//!
//! - [`endpoints`]: the endpoints (URL, event types, enabled) and their signing secrets, shown
//!   once and kept sealed (they must stay usable to sign, so they cannot be hashed).
//! - [`delivery`]: the worker fed from the events' log, the retries, the delivery log.
//! - [`signing`] and [`address`]: what a delivery carries, and where it may go.

pub mod address;
pub mod delivery;
pub mod endpoints;
pub mod health;
pub mod log;
pub mod send;
pub mod signing;
pub mod worker;

use crate::error::ApiResult;
use crate::events::{Event, EventType};
use crate::model::keys::Key;
use crate::store::{Item, to_item};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// A secret that signs: sealed at rest; a rotated-out one until it retires.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningSecret {
    /// The sealed secret, base64.
    pub sealed: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When a rotated-out secret stops signing (none for the current one).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub retires_at: Option<OffsetDateTime>,
}

/// A tenant's webhook endpoint as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub url: String,
    /// The event types it hears; none means every type.
    pub event_types: Vec<EventType>,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why Roster disabled it (deliveries failing for days), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed (none while deliveries succeed). Absent rather than
    /// null when none, so the first failure's `if_not_exists` sets it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub failing_since: Option<OffsetDateTime>,
    pub secrets: Vec<SigningSecret>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub created_by: Uuid,
    pub version: u64,
}

impl Endpoint {
    pub fn key(&self) -> Key {
        Key::webhook(self.tenant_id, self.id)
    }

    pub fn item(&self) -> ApiResult<Item> {
        to_item(self, &self.key(), &[])
    }

    /// Whether it hears `event`: enabled, of a type it asked for, and made since it was added
    /// (a late stream record does not bring it the tenant's past). Both ids are UUIDv7, ordered
    /// by the millisecond they were taken in (timestamps here are whole seconds).
    pub fn hears(&self, event: &Event) -> bool {
        self.enabled
            && (self.event_types.is_empty() || self.event_types.contains(&event.event_type))
            && event.id > self.id
    }

    /// The secrets that sign at `now`: the current one and any rotated out less than 24 hours ago.
    pub fn live_secrets(&self, now: OffsetDateTime) -> impl Iterator<Item = &SigningSecret> {
        self.secrets
            .iter()
            .filter(move |s| s.retires_at.is_none_or(|at| at > now))
    }
}

/// An endpoint as clients see it; `secret` only in the answer that made it (create, rotate).
#[derive(Debug, Clone, Serialize)]
pub struct EndpointView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub url: String,
    pub event_types: Vec<EventType>,
    pub description: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub failing_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<&Endpoint> for EndpointView {
    fn from(e: &Endpoint) -> Self {
        Self {
            id: e.id,
            tenant_id: e.tenant_id,
            url: e.url.clone(),
            event_types: e.event_types.clone(),
            description: e.description.clone(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            failing_since: e.failing_since,
            created_at: e.created_at,
            updated_at: e.updated_at,
            secret: None,
        }
    }
}
