//! The scheduled licence-expiry job: when a licence expires, its queued renewal becomes the
//! licence (the renewal's seat was held since it was queued), otherwise the seat returns to the
//! pool. Due licences are read from the expiry index (gsi7), oldest first — never a scan. Safe to
//! run twice or concurrently: each change is conditioned on the member still holding the licence
//! that expired. An item of the queue that cannot be read is logged (by its key) and passed over:
//! it never holds up the other tenants' licences.

use super::conditions::{holds, remove_licence, set_licence};
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, EventType};
use crate::members::MemberView;
use crate::model::keys::{GSI7, Key, LICENCE_DUE_QUEUE};
use crate::model::licence::Licence;
use crate::model::member::Member;
use crate::model::time::rfc3339;
use crate::queue::{self, Conflicts, Due, DueQueue, Handled, Tally};
use crate::store::{Condition, Transaction, Update, num};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

#[derive(Debug, Default, Serialize)]
pub struct ExpiryReport {
    /// Licences whose queued renewal took over.
    pub renewed: usize,
    /// Licences that ended, their seat back in the pool.
    pub released: usize,
    /// Changed meanwhile (revoked, renewed, already handled by another run).
    pub skipped: usize,
    /// Items of the queue that could not be read (logged with their key).
    pub unreadable: usize,
}

/// What the job did with one member of the queue.
pub enum Expired {
    Renewed,
    Released,
    /// No licence, or one not expired yet (later in the current second).
    NotDue,
}

impl Tally for ExpiryReport {
    type Outcome = Expired;
    fn count(&mut self, item: Handled<Expired>) {
        match item {
            Handled::Done(Expired::Renewed) => self.renewed += 1,
            Handled::Done(Expired::Released) => self.released += 1,
            Handled::Done(Expired::NotDue) => {}
            Handled::Skipped => self.skipped += 1,
            Handled::Unreadable => self.unreadable += 1,
        }
    }
}

/// The queue is sorted by expiry: everything up to now is due.
fn due(now: OffsetDateTime) -> DueQueue {
    DueQueue {
        job: "licence-expiry",
        index: GSI7,
        partition: LICENCE_DUE_QUEUE,
        due: Due::ThroughSecond(now),
        conflicts: Conflicts::PassOver("licence not expired"),
    }
}

pub async fn run(app: &App) -> ApiResult<ExpiryReport> {
    let now = app.now();
    queue::drain(app, &due(now), |member: Member| async move {
        let Some(licence) = member.licence.clone() else {
            return Ok(Expired::NotDue);
        };
        if licence.expires_at > now {
            return Ok(Expired::NotDue);
        }
        Ok(if expire(app, &member, &licence, now).await? {
            Expired::Renewed
        } else {
            Expired::Released
        })
    })
    .await
}

/// Ends one licence; true when a renewal took over.
async fn expire(
    app: &App,
    member: &Member,
    licence: &Licence,
    now: OffsetDateTime,
) -> ApiResult<bool> {
    let stamp = rfc3339(now);
    let next = licence.renewal.as_ref().map(|r| Licence {
        assigned_at: licence.expires_at,
        expires_at: r.expires_at,
        expires_epoch: r.expires_at.unix_timestamp(),
        renewal: None,
    });
    let change = match &next {
        Some(next) => set_licence(next, member.tenant_id, member.id, &stamp)?,
        None => remove_licence(&stamp),
    };
    let mut tx = Transaction::new();
    tx.update(
        &member.key(),
        change,
        Some((holds(Some(licence))?, ApiError::NotFound)),
    )?;
    // Either way one seat goes back: the expired licence's (a renewal's seat was counted when
    // it was queued and now carries the licence).
    tx.update(
        &Key::tenant(member.tenant_id),
        Update::new("ADD seats_used :minus").value(":minus", num(-1)),
        Some((
            Condition::counters_cover(&[("seats_used", -1)]),
            ApiError::Conflict("the tenant's seat count is out of step with its licences".into()),
        )),
    )?;
    audit::record(
        app,
        &mut tx,
        &Caller::system(),
        Change {
            tenant_id: member.tenant_id,
            action: if next.is_some() {
                "licence.renewal_started"
            } else {
                "licence.expire"
            },
            target_type: "member",
            target_id: member.id,
            before: Some(json!({"expires_at": rfc3339(licence.expires_at)})),
            after: next
                .as_ref()
                .map(|n| json!({"expires_at": rfc3339(n.expires_at)})),
        },
    )?;
    // A renewal taking over is the member's licence moving to its next term.
    let event = match next {
        Some(_) => EventType::MemberUpdated,
        None => EventType::LicenceExpired,
    };
    let after = Member {
        licence: next.clone(),
        updated_at: now,
        ..member.clone()
    };
    let view = MemberView::from(&after);
    events::record(
        app,
        &mut tx,
        &Caller::system(),
        member.tenant_id,
        event,
        &view,
    )?;
    app.store.transact(tx).await?;
    Ok(next.is_some())
}
