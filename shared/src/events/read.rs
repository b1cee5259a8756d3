//! Reading the event log (SPEC.md §9.2): a tenant's events (`events.read`) or every tenant's
//! (platform admins), oldest first after the client's cursor. The cursor is the number of the
//! last event the client has seen; an answer always hands back where to go on from, even when no
//! event passed its type filter, so a client that keeps it sees every event once.

use super::sequencer::Logged;
use super::{Event, EventType};
use crate::app::App;
use crate::auth::{Need, Requester, authenticate, authorize};
use crate::error::{ApiError, ApiResult, Checks};
use crate::model::PageParams;
use crate::model::keys::{event_log, event_seq};
use crate::model::roles::Permission;
use crate::store::{Batch, Query, SortRange, from_item};
use serde::Serialize;
use uuid::Uuid;

/// The most events a read looks at (matching or not) before it answers.
const LOOK_AT: usize = 1000;

/// What a client asks for, as it sent it.
#[derive(Debug, Default)]
pub struct EventFilter {
    pub after: Option<String>,
    pub types: Option<String>,
    pub limit: Option<String>,
}

/// A page of events and where the next read goes on from.
#[derive(Debug, Serialize)]
pub struct EventPage {
    pub items: Vec<Event>,
    /// The `after` of the next read: the number of the last event this read looked at.
    pub next_cursor: String,
    /// Whether the log held more events after `next_cursor` when it was read.
    pub has_more: bool,
}

struct Wanted {
    after: u64,
    types: Option<Vec<EventType>>,
    limit: usize,
}

/// A tenant's events (`events.read`).
pub async fn for_tenant(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    filter: EventFilter,
) -> ApiResult<EventPage> {
    let wanted = wanted(filter)?;
    authorize(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::EventsRead),
        Batch::new(),
    )
    .await?;
    read(app, Some(tenant_id), wanted).await
}

/// Every tenant's events, for platform admins.
pub async fn for_platform(
    app: &App,
    requester: &Requester,
    filter: EventFilter,
) -> ApiResult<EventPage> {
    let wanted = wanted(filter)?;
    let authorized = authenticate(app, requester, Batch::new()).await?;
    if !authorized.caller.is_platform() {
        return Err(ApiError::Forbidden(
            "only platform admins read every tenant's events",
        ));
    }
    read(app, None, wanted).await
}

fn wanted(filter: EventFilter) -> ApiResult<Wanted> {
    let mut checks = Checks::new();
    let limit = PageParams::new(filter.limit.as_deref(), None)?.limit as usize;
    let after = match filter.after.as_deref() {
        None => 0,
        Some(raw) => match raw.parse::<u64>() {
            Ok(n)
                if !raw.is_empty()
                    && raw.len() <= 16
                    && raw.bytes().all(|b| b.is_ascii_digit()) =>
            {
                n
            }
            _ => {
                checks.fail("after", "must be the next_cursor of an earlier answer");
                0
            }
        },
    };
    let types = filter
        .types
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(|raw| {
            raw.split(',')
                .filter_map(|name| {
                    let parsed = EventType::parse(name.trim());
                    if parsed.is_none() {
                        checks.fail("types", format!("`{}` is not an event type", name.trim()));
                    }
                    parsed
                })
                .collect::<Vec<_>>()
        });
    checks.finish()?;
    Ok(Wanted {
        after,
        types,
        limit,
    })
}

/// Reads the log after the cursor, event by event, until `limit` events passed the filter or
/// [`LOOK_AT`] were looked at; the cursor moves past every event looked at.
async fn read(app: &App, tenant_id: Option<Uuid>, wanted: Wanted) -> ApiResult<EventPage> {
    let now = app.now().unix_timestamp();
    let mut items = Vec::new();
    let mut cursor = wanted.after;
    let mut looked_at = 0;
    let mut query = Query::new(
        None,
        event_log(tenant_id),
        SortRange::Between(event_seq(cursor + 1), "9".repeat(16)),
    );
    query.limit = (wanted.limit as u32).max(100);
    loop {
        let page = app.store.query(query.clone()).await?;
        let mut rest = page.items.into_iter();
        for item in rest.by_ref() {
            let logged: Logged = from_item(item)?;
            cursor = logged.seq;
            looked_at += 1;
            let kept = logged.ttl > now;
            let asked = wanted
                .types
                .as_ref()
                .is_none_or(|types| types.contains(&logged.event_type));
            if kept && asked {
                items.push(logged.event()?);
            }
            if items.len() == wanted.limit || looked_at == LOOK_AT {
                break;
            }
        }
        let more_here = rest.next().is_some();
        match page.next_cursor {
            _ if more_here => return Ok(answer(items, cursor, true)),
            Some(next) if items.len() < wanted.limit && looked_at < LOOK_AT => {
                query.cursor = Some(next)
            }
            next => return Ok(answer(items, cursor, next.is_some())),
        }
    }
}

fn answer(items: Vec<Event>, cursor: u64, has_more: bool) -> EventPage {
    EventPage {
        items,
        next_cursor: event_seq(cursor),
        has_more,
    }
}
