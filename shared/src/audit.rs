//! The audit log: every change writes an entry in the same transaction as the change itself, so
//! there is never a change without its entry, nor an entry without its change.

use crate::app::App;
use crate::auth::Requester;
use crate::auth::{Caller, CallerKind, Need, authorize};
use crate::error::{ApiResult, Checks};
use crate::model::keys::{GSI1, Key, audit_by_actor, audit_partition};
use crate::model::roles::Permission;
use crate::model::{List, PageParams};
use crate::store::{Batch, Filter, Item, Query, SortRange, Transaction, from_item, s, to_item};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Uuid,
    pub email: Option<String>,
}

impl Actor {
    pub fn of(caller: &Caller) -> Self {
        let (kind, email) = match &caller.kind {
            CallerKind::Member(m) => ("user", Some(m.email.clone())),
            CallerKind::Platform | CallerKind::User | CallerKind::Job { .. } => ("user", None),
            CallerKind::ApiClient(_) => ("api_client", None),
            CallerKind::Scim(t) => ("scim_token", Some(t.label.clone())),
            CallerKind::System => ("system", None),
        };
        Self {
            kind: kind.into(),
            id: caller.user_id,
            email,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Uuid,
}

/// How an entry is stored: before/after as JSON text, so any shape fits in one attribute.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredEntry {
    id: Uuid,
    tenant_id: Uuid,
    action: String,
    actor: Actor,
    target: Target,
    before: Option<String>,
    after: Option<String>,
    source_ip: Option<String>,
    user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

/// An audit entry as clients read it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub action: String,
    pub actor: Actor,
    pub target: Target,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// One change to record.
pub struct Change<'a> {
    pub tenant_id: Uuid,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Uuid,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Adds the audit entry of `change` by `caller` to `tx`.
pub fn record(
    app: &App,
    tx: &mut Transaction,
    caller: &Caller,
    change: Change<'_>,
) -> ApiResult<()> {
    let id = Uuid::now_v7();
    let actor = Actor::of(caller);
    let entry = StoredEntry {
        id,
        tenant_id: change.tenant_id,
        action: change.action.into(),
        actor: actor.clone(),
        target: Target {
            kind: change.target_type.into(),
            id: change.target_id,
        },
        before: change.before.map(|v| v.to_string()),
        after: change.after.map(|v| v.to_string()),
        source_ip: caller.origin.source_ip.clone(),
        user_agent: caller.origin.user_agent.clone(),
        at: app.now(),
    };
    let item = to_item(
        &entry,
        &Key::audit(change.tenant_id, id),
        &[
            (GSI1.pk, audit_by_actor(change.tenant_id, actor.id)),
            (GSI1.sk, id.to_string()),
        ],
    )?;
    tx.put(item, None)
}

/// A value as the audit log keeps it.
pub fn snapshot<T: Serialize>(value: &T) -> Option<Value> {
    serde_json::to_value(value).ok()
}

fn read(item: Item) -> ApiResult<AuditEntry> {
    let stored: StoredEntry = from_item(item)?;
    let parse = |v: Option<String>| v.and_then(|text| serde_json::from_str(&text).ok());
    Ok(AuditEntry {
        id: stored.id,
        tenant_id: stored.tenant_id,
        action: stored.action,
        actor: stored.actor,
        target: stored.target,
        before: parse(stored.before),
        after: parse(stored.after),
        source_ip: stored.source_ip,
        user_agent: stored.user_agent,
        at: stored.at,
    })
}

/// Filters of the audit-log list.
#[derive(Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The smallest or largest UUIDv7 of a millisecond: time ranges become key ranges.
fn uuid_v7_bound(at: OffsetDateTime, upper: bool) -> Uuid {
    let ms = (at.unix_timestamp_nanos() / 1_000_000).clamp(0, (1 << 48) - 1) as u64;
    let mut bytes = if upper { [0xff; 16] } else { [0u8; 16] };
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    bytes[6] = 0x70 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    Uuid::from_bytes(bytes)
}

fn timestamp(checks: &mut Checks, field: &str, value: Option<&str>) -> Option<OffsetDateTime> {
    let value = value?;
    match OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339) {
        Ok(t) => Some(t),
        Err(_) => {
            checks.fail(field, "must be an RFC 3339 timestamp");
            None
        }
    }
}

/// Newest first, filtered by action, actor and time range.
pub async fn list(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    filter: AuditFilter,
    page: PageParams,
) -> ApiResult<List<AuditEntry>> {
    let mut checks = Checks::new();
    let from = timestamp(&mut checks, "from", filter.from.as_deref());
    let to = timestamp(&mut checks, "to", filter.to.as_deref());
    let actor = match filter.actor_id.as_deref() {
        Some(raw) => match Uuid::parse_str(raw) {
            Ok(id) => Some(id),
            Err(_) => {
                checks.fail("actor_id", "must be a UUID");
                None
            }
        },
        None => None,
    };
    if let Some(action) = &filter.action {
        checks.check(
            !action.is_empty() && action.len() <= 100,
            "action",
            "must be 1 to 100 characters",
        );
    }
    if let (Some(from), Some(to)) = (from, to) {
        checks.check(from <= to, "from", "must not be after `to`");
    }
    checks.finish()?;
    authorize(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::AuditRead),
        Batch::new(),
    )
    .await?;

    let range = match (from, to) {
        (None, None) => SortRange::All,
        (from, to) => SortRange::Between(
            uuid_v7_bound(from.unwrap_or(OffsetDateTime::UNIX_EPOCH), false).to_string(),
            uuid_v7_bound(
                to.unwrap_or_else(|| app.now() + time::Duration::days(1)),
                true,
            )
            .to_string(),
        ),
    };
    let mut query = match actor {
        Some(actor) => Query::new(Some(GSI1), audit_by_actor(tenant_id, actor), range),
        None => Query::new(None, audit_partition(tenant_id), range),
    }
    .page(&page);
    query.newest_first = true;
    if let Some(action) = filter.action {
        query.filter = Some(Filter {
            expression: "#action = :action".into(),
            names: HashMap::from([("#action".into(), "action".into())]),
            values: HashMap::from([(":action".into(), s(action))]),
        });
    }
    let page = app.store.query(query).await?;
    Ok(List {
        items: page.items.into_iter().map(read).collect::<ApiResult<_>>()?,
        next_cursor: page.next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds_enclose_ids_of_that_millisecond() {
        let id = Uuid::now_v7();
        let (secs, nanos) = id.get_timestamp().unwrap().to_unix();
        let at = OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(secs) * 1_000_000_000 + i128::from(nanos),
        )
        .unwrap();
        assert!(uuid_v7_bound(at, false) <= id);
        assert!(id <= uuid_v7_bound(at, true));
        assert!(uuid_v7_bound(at + time::Duration::milliseconds(1), false) > id);
    }
}
