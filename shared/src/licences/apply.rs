//! Writing a bulk request's plan: transactions of up to 100 actions, each with the members it
//! changes, the tenant's seat counter and one audit entry; what an earlier transaction wrote is
//! put back when a later one fails, so a request takes effect entirely or not at all.

use super::conditions::{active_without_licence, holds, holds_exactly, write_licence};
use super::plan::{Change, Plan, Pool};
use crate::app::App;
use crate::audit::{self, Change as AuditChange};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult, LicenceConflict};
use crate::events::{self, EventType};
use crate::model::keys::Key;
use crate::model::tenant::Tenant;
use crate::store::{Condition, MAX_TRANSACTION_ACTIONS, Transaction, Update, num};
use crate::tenants::Seats;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// What a licence change answers.
#[derive(Debug, Serialize)]
pub struct LicenceResult {
    /// Members changed by this request.
    pub member_ids: Vec<Uuid>,
    /// Members left out because of `skip_conflicts`, with the reason.
    pub skipped: Vec<LicenceConflict>,
    pub seats: Seats,
}

/// One member's change: the update, the state it expects, the state it leaves (what putting it
/// back is conditioned on), the update that puts it back, and the seats it moves.
struct Edit {
    member_id: Uuid,
    key: Key,
    forward: Update,
    guard: Condition,
    written: Condition,
    backward: Update,
    seats: i64,
    event: (EventType, Value),
    undo_event: (EventType, Value),
}

impl Edit {
    fn of(change: &Change, tenant_id: Uuid, stamp: &str) -> ApiResult<Self> {
        let write = |l| write_licence(l, tenant_id, change.member_id, stamp);
        Ok(Edit {
            member_id: change.member_id,
            key: change.key.clone(),
            forward: write(change.after.as_ref())?,
            guard: match &change.before {
                // Only an active member takes a new licence.
                None => active_without_licence(),
                Some(held) => holds(Some(held))?,
            },
            written: holds_exactly(change.after.as_ref())?,
            backward: write(change.before.as_ref())?,
            seats: change.seats,
            event: change.event.clone(),
            undo_event: change.undo_event.clone(),
        })
    }
}

/// Writes the plan in transactions of at most 100 actions: members, the tenant's seat counter
/// (conditioned to stay within the pool when seats are taken) and one audit entry each.
pub(super) async fn apply(
    app: &App,
    access: &Access,
    tenant: &Tenant,
    plan: Plan,
    stamp: &str,
    action: &str,
    what: serde_json::Value,
) -> ApiResult<LicenceResult> {
    let edits = plan
        .changes
        .iter()
        .map(|c| Edit::of(c, tenant.id, stamp))
        .collect::<ApiResult<Vec<_>>>()?;
    // Each chunk: its members, the seat counter, the audit entry, the events (one item).
    let per_tx = MAX_TRANSACTION_ACTIONS - 3;
    let mut applied: Vec<&[Edit]> = Vec::new();
    for chunk in edits.chunks(per_tx) {
        let tx = chunk_transaction(app, access, tenant, chunk, action, &what)?;
        if let Err(err) = app.store.transact(tx).await {
            undo(app, access, tenant, &applied).await;
            return Err(err);
        }
        applied.push(chunk);
    }
    Ok(LicenceResult {
        member_ids: edits.iter().map(|e| e.member_id).collect(),
        skipped: plan.skipped,
        seats: Pool::of(tenant).after(plan.seat_delta),
    })
}

fn chunk_transaction(
    app: &App,
    access: &Access,
    tenant: &Tenant,
    chunk: &[Edit],
    action: &str,
    what: &serde_json::Value,
) -> ApiResult<Transaction> {
    let mut tx = Transaction::new();
    for e in chunk {
        tx.update(
            &e.key,
            e.forward.clone(),
            Some((
                e.guard.clone(),
                ApiError::Conflict(format!(
                    "member {} changed at the same time; retry",
                    e.member_id
                )),
            )),
        )?;
    }
    let delta: i64 = chunk.iter().map(|e| e.seats).sum();
    seat_update(&mut tx, tenant, delta)?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        AuditChange {
            tenant_id: tenant.id,
            action,
            target_type: "members",
            target_id: tenant.id,
            before: None,
            after: Some(json!({
                "member_ids": chunk.iter().map(|e| e.member_id).collect::<Vec<_>>(),
                "seats": delta,
                "set": what,
            })),
        },
    )?;
    let events = chunk.iter().map(|e| e.event.clone()).collect();
    events::record_many(app, &mut tx, &access.caller, tenant.id, events)?;
    Ok(tx)
}

/// Moves `seats_used` by `delta`; taking seats is conditioned on the pool covering them, giving
/// them back on the count covering what is given back.
pub(super) fn seat_update(tx: &mut Transaction, tenant: &Tenant, delta: i64) -> ApiResult<()> {
    let condition = if delta > 0 {
        Some((
            // No arithmetic in conditions: the limit is computed from the total read, and the
            // total must still be that one.
            Condition::new("seats_used <= :limit AND seats_total = :total")
                .value(":limit", num(i64::from(tenant.seats_total) - delta))
                .value(":total", num(tenant.seats_total)),
            ApiError::InsufficientSeats("not enough free seats (they were taken meanwhile)".into()),
        ))
    } else {
        (delta < 0).then(|| {
            (
                Condition::counters_cover(&[("seats_used", delta)]),
                ApiError::Conflict("the licences changed at the same time; retry".into()),
            )
        })
    };
    tx.update(
        &Key::tenant(tenant.id),
        Update::new("ADD seats_used :d").value(":d", num(delta)),
        condition,
    )
}

/// Puts applied chunks back after a later one failed. Each member is put back only while it is
/// still as this request left it: one changed meanwhile (by another request or the expiry job)
/// keeps its new state and is left out, with its seats, and the rest of its chunk is put back.
async fn undo(app: &App, access: &Access, tenant: &Tenant, applied: &[&[Edit]]) {
    for chunk in applied {
        let mut left: Vec<&Edit> = chunk.iter().collect();
        while !left.is_empty() {
            match undo_edits(app, access, tenant, &left).await {
                Ok(()) => break,
                Err(ApiError::LicenceConflict { conflicts }) => {
                    for c in &conflicts {
                        tracing::warn!(member = %c.member_id, "licence undo left out: changed meanwhile");
                    }
                    let before = left.len();
                    left.retain(|e| !conflicts.iter().any(|c| c.member_id == e.member_id));
                    if left.len() == before {
                        tracing::error!(
                            members = before,
                            "licence undo failed: no member to leave out"
                        );
                        break;
                    }
                }
                Err(err) => {
                    tracing::error!(error = %err, members = left.len(), "licence undo failed");
                    break;
                }
            }
        }
    }
}

/// One transaction putting `edits` back, with their seats. A member no longer as written fails
/// it with a `LicenceConflict` naming that member.
async fn undo_edits(app: &App, access: &Access, tenant: &Tenant, edits: &[&Edit]) -> ApiResult<()> {
    app.store
        .transact_undo(|| undo_transaction(app, access, tenant, edits))
        .await
}

/// Puts `edits` back: an undo is a change too, with the events of the members put back.
fn undo_transaction(
    app: &App,
    access: &Access,
    tenant: &Tenant,
    edits: &[&Edit],
) -> ApiResult<Transaction> {
    let mut tx = Transaction::new();
    for e in edits {
        tx.update(
            &e.key,
            e.backward.clone(),
            Some((
                e.written.clone(),
                ApiError::LicenceConflict {
                    conflicts: vec![LicenceConflict {
                        member_id: e.member_id,
                        reason: "changed",
                    }],
                },
            )),
        )?;
    }
    let delta: i64 = edits.iter().map(|e| e.seats).sum();
    seat_update(&mut tx, tenant, -delta)?;
    let events = edits.iter().map(|e| e.undo_event.clone()).collect();
    events::record_many(app, &mut tx, &access.caller, tenant.id, events)?;
    Ok(tx)
}
