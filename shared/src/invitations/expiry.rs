//! The scheduled invitation-expiry job: gives back the quota place of every invitation whose
//! link has expired. The invitation stays (listed as expired; it can be resent), and so does its
//! email guard, which no longer blocks anything once expired. Safe to run twice or concurrently:
//! each release is conditioned on the invitation still holding its place. An item of the queue
//! that cannot be read is logged (by its key) and passed over.

use super::invitation::Invitation;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, EventType};
use crate::model::keys::{GSI4, INVITATION_EXPIRY_QUEUE, Key};
use crate::queue::{self, Conflicts, Due, DueQueue, Handled, Tally};
use crate::store::{Condition, Transaction, Update, num, s};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Debug, Default, Serialize)]
pub struct ExpiryReport {
    pub released: usize,
    /// Accepted, cancelled, resent or released meanwhile.
    pub skipped: usize,
    /// Items of the queue that could not be read (logged with their key).
    pub unreadable: usize,
}

/// What the job did with one invitation of the queue.
pub enum Expired {
    Released,
    /// Not expired yet (later in the current second).
    NotDue,
}

impl Tally for ExpiryReport {
    type Outcome = Expired;
    fn count(&mut self, item: Handled<Expired>) {
        match item {
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
        job: "invitation-expiry",
        index: GSI4,
        partition: INVITATION_EXPIRY_QUEUE,
        due: Due::ThroughSecond(now),
        conflicts: Conflicts::PassOver("invitation not expired"),
    }
}

/// Releases every expired invitation's place, oldest expiry first, a page at a time.
pub async fn run(app: &App) -> ApiResult<ExpiryReport> {
    let now = app.now();
    queue::drain(app, &due(now), |invitation: Invitation| async move {
        if invitation.expires_at > now {
            return Ok(Expired::NotDue);
        }
        release(app, &invitation, now).await?;
        Ok(Expired::Released)
    })
    .await
}

async fn release(app: &App, invitation: &Invitation, now: OffsetDateTime) -> ApiResult<()> {
    let mut tx = Transaction::new();
    tx.update(
        &invitation.key(),
        super::invitation::place_given_up(now),
        Some((
            Condition::new(
                "holds_quota = :true AND #status = :pending AND expires_epoch <= :epoch",
            )
            .name("#status", "status")
            .value(":true", AttributeValue::Bool(true))
            .value(":pending", s("pending"))
            .value(":epoch", num(now.unix_timestamp())),
            ApiError::NotFound,
        )),
    )?;
    tx.update(
        &Key::tenant(invitation.tenant_id),
        Update::new("ADD invitation_count :minus, quota_used :minus").value(":minus", num(-1)),
        Some((
            Condition::counters_cover(&[("invitation_count", -1), ("quota_used", -1)]),
            ApiError::Conflict("the tenant's invitation count is out of step".into()),
        )),
    )?;
    let view = invitation.view(now);
    let event = EventType::InvitationExpired;
    events::record(
        app,
        &mut tx,
        &Caller::system(),
        invitation.tenant_id,
        event,
        &view,
    )?;
    app.store.transact(tx).await
}
