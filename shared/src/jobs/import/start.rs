//! Starting an uploaded import: the file is checked and counted against the free plan's daily
//! limits, and the job is queued for the import function.

use super::file::read_file;
use crate::app::App;
use crate::auth::{Need, Requester, authorize_with_tenant};
use crate::error::{ApiError, ApiResult};
use crate::jobs::{Job, JobStatus, JobView};
use crate::model::keys::Key;
use crate::model::roles::Permission;
use crate::model::tenant::{Plan, Tenant};
use crate::store::{Batch, Condition, Transaction, Update, num, s};
use time::OffsetDateTime;
use uuid::Uuid;

/// Rows a free-plan tenant may import per user and per source IP per day.
pub const FREE_ROWS_PER_DAY: i64 = 100;

/// The daily counters start again at midnight UTC.
fn seconds_to_midnight(now: OffsetDateTime) -> u64 {
    let midnight = now.date().next_day().map(|d| d.midnight().assume_utc());
    midnight.map_or(1, |m| (m - now).whole_seconds().max(1) as u64)
}

/// Counts `rows` against the free plan's daily limits of the job's creator and source IP, in
/// one transaction: both counters move or neither does.
pub(super) async fn charge(app: &App, tenant: &Tenant, job: &Job, rows: usize) -> ApiResult<()> {
    if tenant.plan != Plan::Free {
        return Ok(());
    }
    let rows = rows as i64;
    let now = app.now();
    let limited = || ApiError::RateLimited {
        detail: format!(
            "free-plan tenants import at most {FREE_ROWS_PER_DAY} rows per user and per address a day"
        ),
        retry_after: seconds_to_midnight(now),
    };
    if rows > FREE_ROWS_PER_DAY {
        return Err(limited());
    }
    let day = now.date().to_string();
    let ttl = (now + time::Duration::days(2)).unix_timestamp();
    let mut tx = Transaction::new();
    let mut subjects = vec![format!("user#{}", job.created_by)];
    if let Some(ip) = job.import.as_ref().and_then(|i| i.source_ip.clone()) {
        subjects.push(format!("ip#{ip}"));
    }
    for subject in subjects {
        tx.update(
            &Key::import_quota(&subject, &day),
            Update::new("ADD #rows :n SET #ttl = :ttl")
                .name("#rows", "rows")
                .name("#ttl", "ttl")
                .value(":n", num(rows))
                .value(":ttl", num(ttl)),
            Some((
                Condition::new("attribute_not_exists(#rows) OR #rows <= :room")
                    .name("#rows", "rows")
                    .value(":room", num(FREE_ROWS_PER_DAY - rows)),
                limited(),
            )),
        )?;
    }
    app.store.transact(tx).await
}

/// Starts an uploaded import: checks the file, counts it against the daily limits (429
/// `rate_limited` on the free plan), and queues it for the import function. Starting a started
/// import answers its current state (on AWS the upload's event usually starts it first).
pub async fn start(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    job_id: Uuid,
) -> ApiResult<JobView> {
    let mut batch = Batch::new();
    let job = batch.read::<Job>(Key::job(tenant_id, job_id));
    let (_, tenant, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::ImportsRun),
        batch,
    )
    .await?;
    let mut job = read.take(job)?.ok_or(ApiError::NotFound)?;
    let Some(spec) = job.import.clone() else {
        return Err(ApiError::NotFound);
    };
    if job.status != JobStatus::AwaitingUpload {
        // Started already (by this request earlier, or by the upload's own event): nothing to do.
        return Ok(JobView::of(&job, None));
    }
    let (rows, checked) = read_file(app, &spec.upload_key, None).await?;
    charge(app, &tenant, &job, rows.len()).await?;
    job.status = JobStatus::Queued;
    job.counts.total = rows.len() as u64;
    job.updated_at = app.now();
    if let Some(import) = job.import.as_mut() {
        import.charged = true;
        import.checked = Some(checked);
    }
    let mut tx = Transaction::new();
    tx.put(
        job.to_item()?,
        Some((
            Condition::new("#status = :awaiting")
                .name("#status", "status")
                .value(":awaiting", s("awaiting_upload")),
            ApiError::Conflict("the import has already been started".into()),
        )),
    )?;
    app.store.transact(tx).await?;
    Ok(JobView::of(&job, None))
}
