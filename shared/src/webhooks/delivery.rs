//! Delivering events to webhook endpoints (SPEC.md §9.2).
//!
//! The `webhook-dispatch` worker, fed from the stream's new items of the tenants' event logs,
//! gives each event to every enabled endpoint of its tenant that hears its type: it records the
//! delivery (one per event and endpoint, put only if absent, so a redelivered record sends
//! nothing twice), attempts it, and after a failure tries again about 5 s later (once for the
//! whole batch; an endpoint already failing is left to the retry job). The
//! `webhook-retry` job takes the deliveries still failing after 5 min, 30 min, 2 h, 5 h, 10 h and
//! 10 h, then gives up. Every attempt is recorded with the delivery. An endpoint whose every
//! attempt has failed for 5 days is disabled (see [`super::health`]). At least once: receivers
//! dedupe by `webhook-id`, the event's id.

use super::endpoints::{self, signing_secrets};
use super::send::{self, Message, Outcome};
use super::{Endpoint, health, signing};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::events::{Event, EventType};
use crate::model::keys::{GSI4, Key, WEBHOOK_RETRY_QUEUE};
use crate::model::time::rfc3339;
use crate::store::{Condition, Item, to_item};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// After the first attempt: how long to wait before each retry. The first is waited for in the
/// same run; the others are the retry job's.
pub const RETRY_DELAYS: [Duration; 7] = [
    Duration::seconds(5),
    Duration::minutes(5),
    Duration::minutes(30),
    Duration::hours(2),
    Duration::hours(5),
    Duration::hours(10),
    Duration::hours(10),
];

/// Deliveries are kept as long as the events they carry.
const KEEP: Duration = Duration::days(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet: an attempt is due at `next_attempt_at`.
    Pending,
    Succeeded,
    /// Every attempt of the schedule failed (a manual retry may still succeed).
    Failed,
}

/// One attempt and what it found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// An event's delivery to one endpoint, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// The event's id: the delivery's id under its endpoint, and the message's `webhook-id`.
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub endpoint_id: Uuid,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: Vec<Attempt>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The body sent: the event as JSON, the same bytes at every attempt.
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Why no attempt is due any more although none succeeded, when it is not the schedule's end.
    #[serde(default)]
    pub given_up: Option<String>,
    pub ttl: i64,
}

/// A delivery as clients see it (its body is the event, read from the events).
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: Vec<Attempt>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    pub given_up: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id,
            endpoint_id: d.endpoint_id,
            event_id: d.id,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts.clone(),
            next_attempt_at: d.next_attempt_at,
            given_up: d.given_up.clone(),
            created_at: d.created_at,
        }
    }
}

impl Delivery {
    pub fn key(&self) -> Key {
        Key::delivery(self.tenant_id, self.endpoint_id, self.id)
    }

    /// The item; while an attempt is due, in the retry job's queue.
    pub fn item(&self) -> ApiResult<Item> {
        let queued = self.next_attempt_at.map(|at| {
            [
                (GSI4.pk, WEBHOOK_RETRY_QUEUE.to_string()),
                (
                    GSI4.sk,
                    format!(
                        "{}#{}#{}#{}",
                        rfc3339(at),
                        self.tenant_id,
                        self.endpoint_id,
                        self.id
                    ),
                ),
            ]
        });
        to_item(
            self,
            &self.key(),
            queued.as_ref().map_or(&[], |q| q.as_slice()),
        )
    }

    /// A new delivery of `event` to `endpoint`, not attempted yet.
    fn of(event: &Event, endpoint: &Endpoint, now: OffsetDateTime) -> ApiResult<Self> {
        Ok(Self {
            id: event.id,
            tenant_id: event.tenant_id,
            endpoint_id: endpoint.id,
            event_type: event.event_type,
            status: DeliveryStatus::Pending,
            attempts: Vec::new(),
            next_attempt_at: Some(now),
            body: serde_json::to_string(event).map_err(ApiError::internal)?,
            created_at: now,
            given_up: None,
            ttl: (now + KEEP).unix_timestamp(),
        })
    }

    /// The delivery after an attempt at `now` found `outcome`: delivered, due again on the
    /// schedule, or given up; a manual retry (`scheduled: false`) never moves the schedule.
    fn after(&self, now: OffsetDateTime, outcome: Outcome, scheduled: bool) -> Self {
        let mut next = self.clone();
        next.attempts.push(Attempt { at: now, outcome });
        let succeeded = next.attempts.last().is_some_and(|a| a.outcome.succeeded());
        if succeeded {
            next.status = DeliveryStatus::Succeeded;
            next.next_attempt_at = None;
        } else if scheduled {
            let failures = next
                .attempts
                .iter()
                .filter(|a| !a.outcome.succeeded())
                .count();
            match RETRY_DELAYS.get(failures - 1) {
                Some(delay) => next.next_attempt_at = Some(now + *delay),
                None => {
                    next.status = DeliveryStatus::Failed;
                    next.next_attempt_at = None;
                }
            }
        }
        next
    }
}

/// Records a delivery's new state, if nobody recorded an attempt of it meanwhile (`before`
/// attempts), or a new delivery if there is none yet; false when another run got there first.
async fn record(app: &App, before: Option<&Delivery>, after: &Delivery) -> ApiResult<bool> {
    let condition = match before {
        None => Condition::absent(),
        Some(b) => {
            Condition::new("size(attempts) = :n").value(":n", crate::store::num(b.attempts.len()))
        }
    };
    app.store.put_if(after.item()?, condition).await
}

/// Ends the schedule of a delivery no attempt can make (its endpoint deleted or disabled);
/// false when another run changed it first.
pub(crate) async fn abandon(app: &App, delivery: &Delivery, why: &str) -> ApiResult<bool> {
    let after = Delivery {
        status: DeliveryStatus::Failed,
        next_attempt_at: None,
        given_up: Some(why.into()),
        ..delivery.clone()
    };
    record(app, Some(delivery), &after).await
}

/// One attempt at `delivery` through `endpoint`, signed with its live secrets.
async fn attempt(app: &App, endpoint: &Endpoint, delivery: &Delivery) -> ApiResult<Outcome> {
    let now = app.now();
    let secrets = signing_secrets(app, endpoint, now).await?;
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let id = delivery.id.to_string();
    let timestamp = now.unix_timestamp();
    let message = Message {
        url: &endpoint.url,
        signature: signing::signature(&secrets, &id, timestamp, delivery.body.as_bytes()),
        id,
        timestamp,
        body: delivery.body.clone().into_bytes(),
    };
    Ok(send::send(message, app.config.webhooks_allow_local).await)
}

/// Attempts `delivery` and records what it found (and what that says of the endpoint's health);
/// the delivery as recorded, or None when another run recorded an attempt first.
pub(crate) async fn attempt_and_record(
    app: &App,
    endpoint: &Endpoint,
    delivery: &Delivery,
    scheduled: bool,
) -> ApiResult<Option<Delivery>> {
    let outcome = attempt(app, endpoint, delivery).await?;
    let succeeded = outcome.succeeded();
    let after = delivery.after(app.now(), outcome, scheduled);
    if !record(app, Some(delivery), &after).await? {
        return Ok(None);
    }
    health::note(app, endpoint, succeeded).await?;
    Ok(Some(after))
}

/// What a dispatch did: how many deliveries succeeded, and those that failed at once on an
/// endpoint that was not failing already (tried again together, once, about 5 s later).
#[derive(Default)]
pub struct Dispatched {
    pub delivered: usize,
    pub to_retry: Vec<(Endpoint, Delivery)>,
}

/// Gives `event` to every endpoint of its tenant that hears it: each delivery recorded once and
/// attempted. A failed one is due again 5 s later: tried by [`retry_soon`] if its endpoint was
/// working until then, else left to the retry job (an endpoint down must not hold up the
/// stream's other events for seconds each).
pub async fn dispatch(app: &App, event: &Event, done: &mut Dispatched) -> ApiResult<()> {
    let now = app.now();
    for endpoint in endpoints::all_of(app, event.tenant_id).await? {
        if !endpoint.hears(event) {
            continue;
        }
        let delivery = Delivery::of(event, &endpoint, now)?;
        // Recorded by an earlier run (a redelivered record): that run delivers it.
        if !record(app, None, &delivery).await? {
            continue;
        }
        // Failing before this run began (not since one of its deliveries failed): left alone.
        let failed_this_run = done.to_retry.iter().any(|(e, _)| e.id == endpoint.id);
        let was_working = endpoint.failing_since.is_none() || failed_this_run;
        match attempt_and_record(app, &endpoint, &delivery, true).await? {
            Some(d) if d.status == DeliveryStatus::Succeeded => done.delivered += 1,
            Some(d) if was_working => done.to_retry.push((endpoint, d)),
            Some(_) | None => {}
        }
    }
    Ok(())
}

/// The first retry of what a dispatch run could not deliver, all together about 5 s after it.
/// How many it delivered.
pub async fn retry_soon(app: &App, failed: Vec<(Endpoint, Delivery)>) -> ApiResult<usize> {
    if failed.is_empty() {
        return Ok(0);
    }
    tokio::time::sleep(RETRY_DELAYS[0].unsigned_abs()).await;
    let mut delivered = 0;
    for (endpoint, delivery) in failed {
        let again = attempt_and_record(app, &endpoint, &delivery, true).await?;
        if again.is_some_and(|d| d.status == DeliveryStatus::Succeeded) {
            delivered += 1;
        }
    }
    Ok(delivered)
}
