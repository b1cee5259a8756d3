//! The event sequencer, fed from the table's stream (and swept by a schedule for what the stream
//! did not bring): numbers a tenant's pending events into its log and the platform's.
//!
//! Why a sequencer: changes commit concurrently and out of the order their ids were taken in, so a
//! reader paging by id could read id 7 before id 6 commits and skip it for good. Here log item `n`
//! is written in the transaction that moves the log's sequence from `n - 1` to `n` (conditioned on
//! it being `n - 1`), so an item exists only once every item below it does: a reader that keeps
//! its cursor sees every event once, in order. The pending item is deleted in that transaction
//! too, so a redelivered record or a sweep racing the stream numbers nothing twice. Only the
//! sequencer writes the sequences: requests never wait on them.

use super::{Entry, Event, EventActor, EventType, PENDING_KIND, PLATFORM_PENDING_KIND, Pending};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::{EVENT_SWEEP_SHARDS, GSI4, Key, event_sweep_shard, pending_events_of};
use crate::store::{
    Condition, MAX_TRANSACTION_ACTIONS, Query, SortRange, Transaction, Update, from_item, num,
    to_item,
};
use crate::worker_events::{Named, Scheduled, StreamEvent, StreamOr};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use time::OffsetDateTime;
use uuid::Uuid;

/// Pending items read at a time.
const PENDING_PER_READ: u32 = 32;

/// Attempts at numbering a batch while other sequencers move the same sequence.
const ATTEMPTS: usize = 20;

/// What the stream filter (template.yaml) matches the tenants' log items by (webhook delivery,
/// EventBridge); the platform log's copies are of their own kind, so each event is sent once.
pub const LOGGED_KIND: &str = "event";
const PLATFORM_COPY_KIND: &str = "platform_event";
/// An event of the platform's log alone (`tenant.purged`): the event bus hears it, no webhook.
pub const PLATFORM_ONLY_KIND: &str = "platform_only_event";

#[derive(Debug, Default, Serialize)]
pub struct SequencerReport {
    pub sequenced: usize,
    pub tenants: usize,
    /// Batches another sequencer numbered first (read again and went on).
    pub conflicts: usize,
}

/// A log's sequence: the number of its last event.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Sequence {
    seq: u64,
}

/// An event in a log, as stored: its number in that log, the event, its data as JSON text.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Logged {
    pub kind: String,
    pub seq: u64,
    pub id: Uuid,
    pub event_type: EventType,
    pub tenant_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub actor: EventActor,
    pub data: String,
    pub ttl: i64,
    /// In a tenant's log: the event's number in the platform's (the tenant purge removes both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_seq: Option<u64>,
}

/// The key of the platform log's copy of a tenant log's item.
pub(crate) fn platform_copy(item: crate::store::Item) -> ApiResult<Option<Key>> {
    let logged: Logged = from_item(item)?;
    Ok(logged.platform_seq.map(|seq| Key::event(None, seq)))
}

impl Logged {
    pub(crate) fn event(self) -> ApiResult<Event> {
        Ok(Event {
            id: self.id,
            event_type: self.event_type,
            tenant_id: self.tenant_id,
            occurred_at: self.occurred_at,
            actor: self.actor,
            data: serde_json::from_str(&self.data).map_err(ApiError::internal)?,
        })
    }
}

/// What one transaction numbers of a pending item: its events `from..to` of `total`.
#[derive(Debug, PartialEq, Eq)]
struct Take {
    from: usize,
    to: usize,
    total: usize,
}

/// What fits one transaction from pending items of `sizes` (events, and how many are numbered
/// already), oldest first, numbered into `logs` logs (the tenant's and the platform's, or the
/// platform's alone): a sequence per log, then an action per event and log (its place there)
/// and one per item (spent, or its progress kept).
fn plan(sizes: &[(usize, usize)], logs: usize) -> Vec<Take> {
    let mut room = MAX_TRANSACTION_ACTIONS - logs;
    let mut takes = Vec::new();
    for &(total, numbered) in sizes {
        if room < logs + 1 {
            break;
        }
        let left = total - numbered.min(total);
        let fit = left.min((room - 1) / logs);
        takes.push(Take {
            from: numbered,
            to: numbered + fit,
            total,
        });
        room -= logs * fit + 1;
        if fit < left {
            break;
        }
    }
    takes
}

/// The worker: from the stream, numbers the events of every tenant a record names; from the
/// schedule, sweeps.
pub async fn handle_event(app: &App, event: StreamOr<Scheduled>) -> ApiResult<SequencerReport> {
    match event {
        StreamOr::Stream(event) => handle_stream(app, event).await,
        StreamOr::Other(_) => sweep(app).await,
    }
}

async fn handle_stream(app: &App, event: StreamEvent) -> ApiResult<SequencerReport> {
    let logs: BTreeSet<Option<Uuid>> = event
        .records
        .iter()
        .map(Named::of)
        .filter_map(|named| match named.kind.as_str() {
            PENDING_KIND => named.tenant_id.map(Some),
            PLATFORM_PENDING_KIND => Some(None),
            _ => None,
        })
        .collect();
    sequence_all(app, logs).await
}

/// The schedule's sweep (and the tests' and local stack's drain): numbers every pending event,
/// whether or not the stream brought it.
pub async fn sweep(app: &App) -> ApiResult<SequencerReport> {
    let mut logs = BTreeSet::new();
    for shard in 0..EVENT_SWEEP_SHARDS {
        let query = Query::new(Some(GSI4), event_sweep_shard(shard), SortRange::All);
        for item in app.store.query_all(query).await? {
            let pending: Pending = from_item(item)?;
            logs.insert(pending.log());
        }
    }
    sequence_all(app, logs).await
}

/// Numbers the pending events of each log: a tenant's (`Some`), the platform's alone (`None`).
async fn sequence_all(app: &App, logs: BTreeSet<Option<Uuid>>) -> ApiResult<SequencerReport> {
    let mut report = SequencerReport {
        tenants: logs.iter().flatten().count(),
        ..SequencerReport::default()
    };
    for log in logs {
        sequence(app, log, &mut report).await?;
    }
    Ok(report)
}

/// Numbers the log's pending events, oldest first, as many as fit per transaction.
async fn sequence(app: &App, log: Option<Uuid>, report: &mut SequencerReport) -> ApiResult<()> {
    let mut attempts = 0;
    loop {
        let mut query = Query::new(None, pending_events_of(log), SortRange::All);
        query.limit = PENDING_PER_READ;
        let mut batch = Vec::new();
        for item in app.store.query(query).await?.items {
            let pending: Pending = from_item(item)?;
            let entries = pending.entries()?;
            batch.push((pending, entries));
        }
        if batch.is_empty() {
            return Ok(());
        }
        match number(app, log, &batch).await {
            Ok(numbered) => report.sequenced += numbered,
            Err(ApiError::Conflict(_)) if attempts < ATTEMPTS => {
                attempts += 1;
                report.conflicts += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// One transaction: the sequences moved past what fits of `batch` (if still where they were
/// read), each event put in the tenant's log and the platform's (or the platform's alone), each
/// pending item spent or its progress kept (if no other sequencer numbered it meanwhile). How
/// many events it numbered.
async fn number(app: &App, log: Option<Uuid>, batch: &[(Pending, Vec<Entry>)]) -> ApiResult<usize> {
    let sizes: Vec<(usize, usize)> = batch
        .iter()
        .map(|(pending, entries)| (entries.len(), pending.numbered))
        .collect();
    let takes = plan(&sizes, if log.is_some() { 2 } else { 1 });
    let count: usize = takes.iter().map(|t| t.to - t.from).sum();
    let mut tenant_seq = match log {
        Some(_) => read_sequence(app, log).await?,
        None => 0,
    };
    let mut platform_seq = read_sequence(app, None).await?;
    let mut tx = Transaction::new();
    if log.is_some() {
        advance(&mut tx, log, tenant_seq, count as u64)?;
    }
    advance(&mut tx, None, platform_seq, count as u64)?;
    for (take, (pending, entries)) in takes.iter().zip(batch) {
        for entry in &entries[take.from..take.to] {
            platform_seq += 1;
            if log.is_some() {
                tenant_seq += 1;
                let in_tenant = (log, tenant_seq, Some(platform_seq));
                put_logged(&mut tx, LOGGED_KIND, in_tenant, (pending, entry))?;
                let copy = (None, platform_seq, None);
                put_logged(&mut tx, PLATFORM_COPY_KIND, copy, (pending, entry))?;
            } else {
                let only = (None, platform_seq, None);
                put_logged(&mut tx, PLATFORM_ONLY_KIND, only, (pending, entry))?;
            }
        }
        keep_progress(&mut tx, pending, take)?;
    }
    app.store.transact(tx).await?;
    Ok(count)
}

/// The pending item spent once all its events are numbered, else how far they are; either only
/// if no other sequencer moved it meanwhile.
fn keep_progress(tx: &mut Transaction, pending: &Pending, take: &Take) -> ApiResult<()> {
    let key = pending.key();
    let unmoved = Condition::new("numbered = :from").value(":from", num(take.from));
    let moved = || ApiError::Conflict("numbered meanwhile".into());
    if take.to == take.total {
        return tx.delete(&key, Some((unmoved, moved())));
    }
    tx.update(
        &key,
        Update::new("SET numbered = :to").value(":to", num(take.to)),
        Some((unmoved, moved())),
    )
}

async fn read_sequence(app: &App, tenant_id: Option<Uuid>) -> ApiResult<u64> {
    let item = app.store.get(&Key::event_sequence(tenant_id)).await?;
    Ok(item
        .map(from_item::<Sequence>)
        .transpose()?
        .unwrap_or_default()
        .seq)
}

fn advance(tx: &mut Transaction, tenant_id: Option<Uuid>, from: u64, by: u64) -> ApiResult<()> {
    tx.update(
        &Key::event_sequence(tenant_id),
        Update::new("SET #seq = :to")
            .name("#seq", "seq")
            .value(":to", num(from + by)),
        Some((
            Condition::new("attribute_not_exists(pk) OR #seq = :from")
                .name("#seq", "seq")
                .value(":from", num(from)),
            ApiError::Conflict("sequence moved".into()),
        )),
    )
}

/// Puts `entry` as event `seq` of a log (a tenant's, or the platform's: `None`), as an item of
/// `kind`, with its number in the platform's log when that is another.
fn put_logged(
    tx: &mut Transaction,
    kind: &str,
    (tenant_id, seq, platform_seq): (Option<Uuid>, u64, Option<u64>),
    (pending, entry): (&Pending, &Entry),
) -> ApiResult<()> {
    let logged = Logged {
        kind: kind.into(),
        seq,
        id: entry.id,
        event_type: entry.event_type,
        tenant_id: pending.tenant_id,
        occurred_at: pending.occurred_at,
        actor: pending.actor.clone(),
        data: entry.data.to_string(),
        ttl: pending.ttl,
        platform_seq,
    };
    tx.put(
        to_item(&logged, &Key::event(tenant_id, seq), &[])?,
        Some((Condition::absent(), ApiError::Conflict("seq taken".into()))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(from: usize, to: usize, total: usize) -> Take {
        Take { from, to, total }
    }

    #[test]
    fn small_items_are_numbered_together_within_one_transaction() {
        assert_eq!(plan(&[(1, 0), (3, 0)], 2), [take(0, 1, 1), take(0, 3, 3)]);
        // 2 + 32 items of 1 event (3 actions each) = 98: the 33rd waits.
        let many = vec![(1, 0); 40];
        assert_eq!(plan(&many, 2).len(), 32);
    }

    #[test]
    fn a_large_item_is_numbered_over_several_transactions() {
        // 2 sequences + 1 for the item leave 97: 48 events (96 actions).
        assert_eq!(plan(&[(97, 0), (1, 0)], 2), [take(0, 48, 97)]);
        assert_eq!(plan(&[(97, 48), (1, 0)], 2), [take(48, 96, 97)]);
        assert_eq!(
            plan(&[(97, 96), (1, 0)], 2),
            [take(96, 97, 97), take(0, 1, 1)]
        );
        // The platform's log alone: one sequence and one place per event.
        assert_eq!(plan(&[(200, 0)], 1), [take(0, 98, 200)]);
    }

    #[test]
    fn no_plan_exceeds_a_transaction() {
        for sizes in [
            vec![(5, 0); 30],
            vec![(200, 0)],
            vec![(1, 0), (60, 10), (60, 0)],
        ] {
            for logs in [1, 2] {
                let taken = plan(&sizes, logs);
                let actions: usize = taken.iter().map(|t| logs * (t.to - t.from) + 1).sum();
                assert!(actions + logs <= MAX_TRANSACTION_ACTIONS, "{sizes:?}");
            }
        }
    }
}
