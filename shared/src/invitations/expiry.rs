//! The scheduled invitation-expiry job: gives back the quota place of every invitation whose
//! link has expired. The invitation stays (listed as expired; it can be resent), and so does its
//! email guard, which no longer blocks anything once expired. Safe to run twice or concurrently:
//! each release is conditioned on the invitation still holding its place. An item of the queue
//! that cannot be read is logged (by its key) and passed over.

use super::Invitation;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::{GSI4, INVITATION_EXPIRY_QUEUE, Key};
use crate::model::time::rfc3339;
use crate::store::{Condition, Query, SortRange, Transaction, num, readable, s};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct ExpiryReport {
    pub released: usize,
    pub skipped: usize,
    /// Items of the queue that could not be read (logged with their key).
    pub unreadable: usize,
}

/// Releases every expired invitation's place, oldest expiry first, a page at a time.
pub async fn run(app: &App) -> ApiResult<ExpiryReport> {
    let now = app.now();
    let mut report = ExpiryReport::default();
    // The queue is sorted by expiry: everything up to now is due.
    let mut query = Query::new(
        Some(GSI4),
        INVITATION_EXPIRY_QUEUE.into(),
        SortRange::Between(
            "0".into(),
            format!("{}#~", rfc3339(crate::model::time::whole_seconds(now))),
        ),
    );
    query.limit = 100;
    loop {
        let page = app.store.query(query.clone()).await?;
        for item in page.items {
            let Some(invitation) = readable::<Invitation>(item, "invitation-expiry") else {
                report.unreadable += 1;
                continue;
            };
            if invitation.expires_at > now {
                continue;
            }
            match release(app, &invitation, now).await {
                Ok(()) => report.released += 1,
                // Accepted, cancelled, resent or released meanwhile.
                Err(ApiError::NotFound) => report.skipped += 1,
                // A tenant counter out of step with what it counts (data from before decrements
                // were conditioned): left for the operator, not a reason to stop every tenant.
                Err(ApiError::Conflict(reason)) => {
                    tracing::error!(%reason, "invitation not expired");
                    report.skipped += 1;
                }
                Err(err) => return Err(err),
            }
        }
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    Ok(report)
}

async fn release(app: &App, invitation: &Invitation, now: time::OffsetDateTime) -> ApiResult<()> {
    let mut tx = Transaction::new();
    tx.update(
        app.table(),
        &invitation.key(),
        Condition::new("SET holds_quota = :false, updated_at = :now REMOVE gsi4pk, gsi4sk")
            .value(":false", AttributeValue::Bool(false))
            .value(":now", s(rfc3339(now))),
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
        app.table(),
        &Key::tenant(invitation.tenant_id),
        Condition::new("ADD invitation_count :minus, quota_used :minus").value(":minus", num(-1)),
        Some((
            Condition::counters_cover(&[("invitation_count", -1), ("quota_used", -1)]),
            ApiError::Conflict("the tenant's invitation count is out of step".into()),
        )),
    )?;
    app.store.transact(tx).await
}
