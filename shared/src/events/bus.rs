//! The deployment's EventBridge bus (`RosterEvents`, SPEC.md §9.2): every event is also put there
//! — source `roster`, detail-type the event's type, detail the event as the API shows it — so
//! AWS-native consumers route what they want with rules. The `event-bus` worker is fed from the
//! stream's new log items: the tenants' logs, and the platform's own events (a tenant purged),
//! never the platform log's copies of tenant events, so each event is put once per delivery.
//!
//! At least once: a batch whose entries EventBridge still refuses after a few attempts fails the
//! invocation, and the stream hands the batch over again; consumers dedupe by the detail's `id`.

use super::Event;
use super::sequencer::{LOGGED_KIND, Logged, PLATFORM_ONLY_KIND};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::store::sdk_error;
use crate::worker_events::StreamEvent;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde::Serialize;

/// The `source` of every entry Roster puts on the bus.
pub const SOURCE: &str = "roster";

/// PutEvents takes at most 10 entries a call.
const ENTRIES_PER_CALL: usize = 10;

/// Calls per batch while EventBridge refuses some of its entries (throttled, internal failure).
const ATTEMPTS: u32 = 4;

#[derive(Debug, Default, Serialize)]
pub struct BusReport {
    pub published: usize,
    pub skipped: usize,
}

/// The worker: the new log items of a stream batch, put on the bus in the stream's order.
pub async fn handle_stream(app: &App, event: StreamEvent) -> ApiResult<BusReport> {
    let mut report = BusReport::default();
    let mut events = Vec::new();
    for record in &event.records {
        let logged: Option<Logged> = serde_dynamo::from_item(record.change.new_image.clone()).ok();
        match logged.filter(|l| l.kind == LOGGED_KIND || l.kind == PLATFORM_ONLY_KIND) {
            Some(logged) => events.push(logged.event()?),
            None => report.skipped += 1,
        }
    }
    report.published = publish(app, &events).await?;
    Ok(report)
}

/// Puts `events` on the bus, ten a call; the entries EventBridge refused are sent again (only
/// those), and still refused after [`ATTEMPTS`] calls fail the whole batch: 503 `unavailable`.
pub async fn publish(app: &App, events: &[Event]) -> ApiResult<usize> {
    for chunk in events.chunks(ENTRIES_PER_CALL) {
        let mut entries = chunk
            .iter()
            .map(|event| entry(&app.config.event_bus, event))
            .collect::<ApiResult<Vec<_>>>()?;
        let mut attempt = 0;
        while !entries.is_empty() {
            if attempt == ATTEMPTS {
                return Err(ApiError::unavailable(format!(
                    "EventBridge refused {} events {ATTEMPTS} times",
                    entries.len()
                )));
            }
            if attempt > 0 {
                let wait = 50u64 << attempt;
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
            entries = put(app, entries).await?;
            attempt += 1;
        }
    }
    Ok(events.len())
}

/// One PutEvents call; the entries it refused.
async fn put(
    app: &App,
    entries: Vec<PutEventsRequestEntry>,
) -> ApiResult<Vec<PutEventsRequestEntry>> {
    let answer = app
        .event_bus()
        .put_events()
        .set_entries(Some(entries.clone()))
        .send()
        .await
        .map_err(sdk_error)?;
    if answer.failed_entry_count() == 0 {
        return Ok(Vec::new());
    }
    // The answer's entries are in the request's order: an `error_code` marks a refused one.
    Ok(entries
        .into_iter()
        .zip(answer.entries())
        .filter(|(_, result)| result.error_code().is_some())
        .map(|(entry, _)| entry)
        .collect())
}

/// `event` as an entry of the bus named `bus`.
fn entry(bus: &str, event: &Event) -> ApiResult<PutEventsRequestEntry> {
    let detail = serde_json::to_string(event).map_err(ApiError::internal)?;
    Ok(PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(SOURCE)
        .detail_type(event.event_type.name())
        .detail(detail)
        .time(aws_smithy_types::DateTime::from_secs(
            event.occurred_at.unix_timestamp(),
        ))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventActor, EventType};

    #[test]
    fn an_entry_carries_the_event_as_its_detail_and_its_type_as_detail_type() {
        let event = Event {
            id: uuid::Uuid::now_v7(),
            event_type: EventType::MemberCreated,
            tenant_id: uuid::Uuid::now_v7(),
            occurred_at: time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
            actor: EventActor {
                kind: "user".into(),
                id: uuid::Uuid::now_v7(),
            },
            data: serde_json::json!({"email": "a@example.com"}),
        };
        let entry = entry("RosterEvents", &event).unwrap();
        assert_eq!(entry.source(), Some("roster"));
        assert_eq!(entry.detail_type(), Some("member.created"));
        assert_eq!(entry.event_bus_name(), Some("RosterEvents"));
        let detail: Event = serde_json::from_str(entry.detail().unwrap()).unwrap();
        assert_eq!(detail, event);
        assert_eq!(entry.time().map(|t| t.secs()), Some(1_800_000_000));
    }
}
