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

use super::{PENDING_KIND, Pending};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::{EVENT_SWEEP_SHARDS, GSI4, Key, event_sweep_shard, pending_events_of};
use crate::store::{Condition, Query, SortRange, Transaction, Update, from_item, num, to_item};
use crate::worker_events::{Named, Scheduled, StreamEvent, StreamOr};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Events numbered per transaction: two sequences, then three actions per event (the tenant's
/// log, the platform's, the pending item spent), within DynamoDB's 100.
const PER_TRANSACTION: usize = 32;

/// Attempts at numbering a batch while other sequencers move the same sequence.
const ATTEMPTS: usize = 20;

/// What the stream filter (template.yaml) matches log items by (webhook delivery, EventBridge).
pub const LOGGED_KIND: &str = "event";

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

/// An event in a log, as stored: the pending item as it was (of kind [`LOGGED_KIND`]) and its
/// number in that log.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Logged {
    pub seq: u64,
    #[serde(flatten)]
    pub pending: Pending,
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
    let tenants: BTreeSet<Uuid> = event
        .records
        .iter()
        .map(Named::of)
        .filter(|named| named.kind == PENDING_KIND)
        .filter_map(|named| named.tenant_id)
        .collect();
    sequence_all(app, tenants).await
}

/// The schedule's sweep (and the tests' and local stack's drain): numbers every pending event,
/// whether or not the stream brought it.
pub async fn sweep(app: &App) -> ApiResult<SequencerReport> {
    let mut tenants = BTreeSet::new();
    for shard in 0..EVENT_SWEEP_SHARDS {
        let query = Query::new(Some(GSI4), event_sweep_shard(shard), SortRange::All);
        for item in app.store.query_all(query).await? {
            let pending: Pending = from_item(item)?;
            tenants.insert(pending.tenant_id);
        }
    }
    sequence_all(app, tenants).await
}

async fn sequence_all(app: &App, tenants: BTreeSet<Uuid>) -> ApiResult<SequencerReport> {
    let mut report = SequencerReport {
        tenants: tenants.len(),
        ..SequencerReport::default()
    };
    for tenant_id in tenants {
        sequence(app, tenant_id, &mut report).await?;
    }
    Ok(report)
}

/// Numbers the tenant's pending events, oldest first, a batch per transaction.
async fn sequence(app: &App, tenant_id: Uuid, report: &mut SequencerReport) -> ApiResult<()> {
    let mut attempts = 0;
    loop {
        let mut query = Query::new(None, pending_events_of(tenant_id), SortRange::All);
        query.limit = PER_TRANSACTION as u32;
        let batch: Vec<Pending> = app
            .store
            .query(query)
            .await?
            .items
            .into_iter()
            .map(from_item)
            .collect::<ApiResult<_>>()?;
        if batch.is_empty() {
            return Ok(());
        }
        match number(app, tenant_id, &batch).await {
            Ok(()) => report.sequenced += batch.len(),
            Err(ApiError::Conflict(_)) if attempts < ATTEMPTS => {
                attempts += 1;
                report.conflicts += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// One transaction: both sequences moved past `batch` (if still where they were read), each
/// event put in both logs, each pending item spent (if not spent by another sequencer).
async fn number(app: &App, tenant_id: Uuid, batch: &[Pending]) -> ApiResult<()> {
    let tenant_seq = read_sequence(app, Some(tenant_id)).await?;
    let platform_seq = read_sequence(app, None).await?;
    let count = batch.len() as u64;
    let mut tx = Transaction::new();
    advance(&mut tx, Some(tenant_id), tenant_seq, count)?;
    advance(&mut tx, None, platform_seq, count)?;
    for (offset, pending) in (1..).zip(batch) {
        put_logged(&mut tx, Some(tenant_id), tenant_seq + offset, pending)?;
        put_logged(&mut tx, None, platform_seq + offset, pending)?;
        tx.delete(
            &Key::pending_event(tenant_id, pending.id),
            Some((Condition::exists(), ApiError::Conflict("numbered".into()))),
        )?;
    }
    app.store.transact(tx).await
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

fn put_logged(
    tx: &mut Transaction,
    tenant_id: Option<Uuid>,
    seq: u64,
    pending: &Pending,
) -> ApiResult<()> {
    let logged = Logged {
        seq,
        pending: Pending {
            kind: LOGGED_KIND.into(),
            ..pending.clone()
        },
    };
    tx.put(
        to_item(&logged, &Key::event(tenant_id, seq), &[])?,
        Some((Condition::absent(), ApiError::Conflict("seq taken".into()))),
    )
}
