//! The event log (SPEC.md §9.2): every change writes its event in the same transaction as the
//! change itself (a transactional outbox), so there is no change without its event and no event
//! without its change, and it costs no request of its own. The event is written as a pending
//! item; the sequencer ([`sequencer`]), fed from the table's stream, numbers it into the tenant's
//! log and the platform's, which clients read in order after a cursor ([`read`]).
//!
//! This module knows no domain module: every domain records its events here, never the other way
//! round.

pub mod bus;
pub mod read;
pub mod sequencer;

use crate::app::App;
use crate::auth::{Caller, CallerKind};
use crate::error::{ApiError, ApiResult};
use crate::model::keys::{GSI4, Key, event_sweep_queue};
use crate::store::{Condition, Transaction, to_item};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// What the stream filter (template.yaml) matches pending events by.
pub const PENDING_KIND: &str = "event_pending";

/// A pending event of the platform's log alone: what happens to a tenant once nothing of it is
/// left to keep its own log (`tenant.purged`).
pub const PLATFORM_PENDING_KIND: &str = "event_pending_platform";

/// Events are kept 30 days.
pub const RETENTION_SECONDS: i64 = 30 * 24 * 3600;

macro_rules! event_types {
    ($($variant:ident = $name:literal,)*) => {
        /// What happened: `member.created`, `department.moved`...
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum EventType {
            $(#[serde(rename = $name)] $variant,)*
        }

        impl EventType {
            /// Every type, in the catalogue's order (openapi.yaml's `webhooks`).
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),*];

            pub fn name(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)*
                }
            }

            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(EventType::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

event_types! {
    MemberCreated = "member.created",
    MemberUpdated = "member.updated",
    MemberDisabled = "member.disabled",
    MemberEnabled = "member.enabled",
    MemberDeleted = "member.deleted",
    MemberRestored = "member.restored",
    MemberPurged = "member.purged",
    LicenceAssigned = "member.licence.assigned",
    LicenceRevoked = "member.licence.revoked",
    LicenceRenewed = "member.licence.renewed",
    LicenceExpired = "member.licence.expired",
    DepartmentCreated = "department.created",
    DepartmentUpdated = "department.updated",
    DepartmentMoved = "department.moved",
    DepartmentDeleted = "department.deleted",
    InvitationCreated = "invitation.created",
    InvitationAccepted = "invitation.accepted",
    InvitationCancelled = "invitation.cancelled",
    InvitationExpired = "invitation.expired",
    JoinRequestCreated = "join_request.created",
    JoinRequestApproved = "join_request.approved",
    JoinRequestRejected = "join_request.rejected",
    TenantCreated = "tenant.created",
    TenantUpdated = "tenant.updated",
    TenantDeleting = "tenant.deleting",
    TenantRestored = "tenant.restored",
    TenantPurged = "tenant.purged",
    ImportCompleted = "import.completed",
    ImportFailed = "import.failed",
    ExportCompleted = "export.completed",
    ExportFailed = "export.failed",
    ApiClientCreated = "api_client.created",
    ApiClientDeleted = "api_client.deleted",
    ScimTokenCreated = "scim_token.created",
    ScimTokenDeleted = "scim_token.deleted",
    WebhookEndpointDisabled = "webhook_endpoint.disabled",
}

/// Who made the change: a person (`user`), an API client, a SCIM token, or Roster itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventActor {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Uuid,
}

impl EventActor {
    pub fn of(caller: &Caller) -> Self {
        let kind = match &caller.kind {
            CallerKind::Member(_) | CallerKind::Platform | CallerKind::User => "user",
            CallerKind::Job { .. } => "user",
            CallerKind::ApiClient(_) => "api_client",
            CallerKind::Scim(_) => "scim_token",
            CallerKind::System => "system",
        };
        Self {
            kind: kind.into(),
            id: caller.user_id,
        }
    }
}

/// An event as clients read it and webhooks deliver it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique and time-sortable; receivers dedupe by it.
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub tenant_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub actor: EventActor,
    /// The resource as the API shows it after the change (before it, for a removal).
    pub data: Value,
}

/// One event of a pending item: its id is taken when the change is made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub data: Value,
}

/// Pending events as stored: the events one change (or one chunk of a bulk change) made, in the
/// order it made them, as JSON text (any shape fits one attribute), and how many of them the
/// sequencer has numbered so far (a batch larger than one transaction is numbered in several).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub kind: String,
    pub id: Uuid,
    pub tenant_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub actor: EventActor,
    pub events: String,
    #[serde(default)]
    pub numbered: usize,
    pub ttl: i64,
}

impl Pending {
    /// The log it is numbered into: its tenant's (and the platform's), or the platform's alone.
    pub(crate) fn log(&self) -> Option<Uuid> {
        (self.kind != PLATFORM_PENDING_KIND).then_some(self.tenant_id)
    }

    pub(crate) fn key(&self) -> Key {
        Key::pending_event(self.log(), self.id)
    }

    pub(crate) fn entries(&self) -> ApiResult<Vec<Entry>> {
        serde_json::from_str(&self.events).map_err(ApiError::internal)
    }
}

/// Adds the event `event_type` of `tenant_id`, with `data` (the resource as the API shows it),
/// made by `caller`, to the change's transaction `tx`.
pub fn record(
    app: &App,
    tx: &mut Transaction,
    caller: &Caller,
    tenant_id: Uuid,
    event_type: EventType,
    data: &impl Serialize,
) -> ApiResult<()> {
    let data = serde_json::to_value(data).map_err(ApiError::internal)?;
    record_many(app, tx, caller, tenant_id, vec![(event_type, data)])
}

/// Adds the events of one change to `tx` as one item, whatever their number: a bulk change's
/// chunk costs its transaction one action for all its events.
pub fn record_many(
    app: &App,
    tx: &mut Transaction,
    caller: &Caller,
    tenant_id: Uuid,
    events: Vec<(EventType, Value)>,
) -> ApiResult<()> {
    add_pending(app, tx, caller, (tenant_id, Some(tenant_id)), events)
}

/// Adds an event of `tenant_id` that goes to the platform's log alone (the tenant's own log is
/// gone with it): `tenant.purged`.
pub fn record_for_platform(
    app: &App,
    tx: &mut Transaction,
    tenant_id: Uuid,
    event_type: EventType,
    data: &impl Serialize,
) -> ApiResult<()> {
    let data = serde_json::to_value(data).map_err(ApiError::internal)?;
    let caller = Caller::system();
    add_pending(
        app,
        tx,
        &caller,
        (tenant_id, None),
        vec![(event_type, data)],
    )
}

/// The pending item of `events` of `tenant_id`, numbered into `log` (the tenant's and the
/// platform's, or the platform's alone: `None`).
fn add_pending(
    app: &App,
    tx: &mut Transaction,
    caller: &Caller,
    (tenant_id, log): (Uuid, Option<Uuid>),
    events: Vec<(EventType, Value)>,
) -> ApiResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let entries: Vec<Entry> = events
        .into_iter()
        .map(|(event_type, data)| Entry {
            id: Uuid::now_v7(),
            event_type,
            data,
        })
        .collect();
    let now = app.now();
    let kind = if log.is_some() {
        PENDING_KIND
    } else {
        PLATFORM_PENDING_KIND
    };
    let pending = Pending {
        kind: kind.into(),
        id: entries[0].id,
        tenant_id,
        occurred_at: now,
        actor: EventActor::of(caller),
        events: serde_json::to_string(&entries).map_err(ApiError::internal)?,
        numbered: 0,
        ttl: now.unix_timestamp() + RETENTION_SECONDS,
    };
    let item = to_item(
        &pending,
        &pending.key(),
        &[
            (GSI4.pk, event_sweep_queue(tenant_id)),
            (GSI4.sk, format!("{}#{tenant_id}", pending.id)),
        ],
    )?;
    tx.put(
        item,
        Some((
            Condition::absent(),
            ApiError::internal("event id collision"),
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_one_name_that_reads_back() {
        let mut names: Vec<&str> = EventType::ALL.iter().map(|t| t.name()).collect();
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.name()), Some(*t));
            let json = serde_json::to_value(t).unwrap();
            assert_eq!(json, Value::String(t.name().into()));
        }
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "no two types share a name");
        assert_eq!(EventType::parse("member.exploded"), None);
    }

    #[test]
    fn pending_events_keep_their_data_as_json_text_in_order() {
        let entries = vec![
            Entry {
                id: Uuid::now_v7(),
                event_type: EventType::MemberCreated,
                data: serde_json::json!({"id": "m", "tags": [1, 2]}),
            },
            Entry {
                id: Uuid::now_v7(),
                event_type: EventType::MemberDisabled,
                data: serde_json::json!({"id": "m"}),
            },
        ];
        let pending = Pending {
            kind: PENDING_KIND.into(),
            id: entries[0].id,
            tenant_id: Uuid::now_v7(),
            occurred_at: OffsetDateTime::UNIX_EPOCH,
            actor: EventActor {
                kind: "user".into(),
                id: Uuid::nil(),
            },
            events: serde_json::to_string(&entries).unwrap(),
            numbered: 0,
            ttl: 1,
        };
        let item = to_item(&pending, &pending.key(), &[]).unwrap();
        assert_eq!(item["kind"].as_s().unwrap(), PENDING_KIND);
        let read: Pending = crate::store::from_item(item).unwrap();
        let back = read.entries().unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].data["tags"][1], 2);
        let json = serde_json::to_value(&back[0]).unwrap();
        assert_eq!(json["type"], "member.created");
        assert_eq!(read.actor.kind, "user");
        assert_eq!(back[1].event_type, EventType::MemberDisabled);
    }
}
