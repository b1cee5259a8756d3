//! Running an import: the import function's entry, the claim of a job (one run at a time), the
//! run itself, and giving an interrupted run's claim back.

use super::file::read_file;
use super::result::reason_of;
use super::rows::import_rows;
use super::start::charge;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::jobs::{Job, JobCounts, JobStatus, is_stale, still_as_read};
use crate::model::job::ImportSpec;
use crate::model::keys::Key;
use crate::model::tenant::Tenant;
use crate::model::time::rfc3339;
use crate::store::{Transaction, Update, from_item, s};
use crate::worker_events::{Named, StreamOr, UploadEvent};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// Interrupted runs in a row that finish no row before the job is given up as failed.
pub const MAX_STALLED_RUNS: u32 = 5;

#[derive(Debug, Default, Serialize)]
pub struct WorkerReport {
    pub imported: usize,
    pub skipped: usize,
}

/// The import function's entry: S3 notifications of uploads (`tenants/<t>/jobs/<j>/upload.csv`)
/// and stream records of started imports.
pub async fn handle_event(app: &App, event: StreamOr<UploadEvent>) -> ApiResult<WorkerReport> {
    let jobs: Vec<Option<(Uuid, Uuid)>> = match &event {
        StreamOr::Stream(stream) => stream
            .records
            .iter()
            .map(|record| Named::of(record).job("import"))
            .collect(),
        StreamOr::Other(uploads) => uploads
            .records
            .iter()
            .map(|record| record.s3.object.key.as_deref().and_then(upload_job))
            .collect(),
    };
    let mut report = WorkerReport::default();
    for job in jobs {
        match job {
            Some((tenant_id, job_id)) if run(app, tenant_id, job_id).await? => report.imported += 1,
            _ => report.skipped += 1,
        }
    }
    Ok(report)
}

/// The import job an upload's object key (`tenants/<t>/jobs/<j>/upload.csv`, as S3 notifications
/// write it, slashes possibly escaped) belongs to.
pub fn upload_job(key: &str) -> Option<(Uuid, Uuid)> {
    let key = key.replace("%2F", "/");
    match key.split('/').collect::<Vec<_>>().as_slice() {
        ["tenants", t, "jobs", j, "upload.csv"] => {
            Uuid::parse_str(t).ok().zip(Uuid::parse_str(j).ok())
        }
        _ => None,
    }
}

/// Runs an import: an upload not yet started is checked and counted first (its failures end
/// the job with the reason); then every row not done by an earlier run. False when there was
/// nothing to run (already running, done, or unknown). A run stopped by any other error gives the
/// job back, queued, and answers the error (the event source retries; the queued job's stream
/// record starts it again).
pub async fn run(app: &App, tenant_id: Uuid, job_id: Uuid) -> ApiResult<bool> {
    let Some((mut job, tenant, spec)) = read_job(app, tenant_id, job_id).await? else {
        return Ok(false);
    };
    let now = app.now();
    let runnable =
        matches!(job.status, JobStatus::AwaitingUpload | JobStatus::Queued) || is_stale(&job, now);
    if !runnable || !claim(app, &job, now).await? {
        return Ok(false);
    }
    job.status = JobStatus::Running;
    job.updated_at = now;

    let mut finished_rows = 0;
    let mut carries_passwords = false;
    let outcome = attempt(
        app,
        &tenant,
        &mut job,
        &spec,
        &mut finished_rows,
        &mut carries_passwords,
    )
    .await;
    if let Err(err) = settle(&mut job, outcome, app.now()) {
        tracing::error!(job = %job.id, error = %err, rows = finished_rows, "import interrupted");
        release(app, job, now, finished_rows > 0).await;
        return Err(err);
    }
    let mut tx = Transaction::new();
    tx.put(job.to_item()?, None)?;
    crate::jobs::record_outcome(app, &mut tx, &job)?;
    // A job failed here failed on its file (the client's to fix): no alarm.
    app.store.transact(tx).await?;
    if carries_passwords && job.status == JobStatus::Completed {
        forget_upload(app, &spec.upload_key).await;
    }
    Ok(true)
}

/// Deletes an imported file that carried passwords, so they do not wait in the bucket for its
/// 30-day expiry. The result file never holds them. A failure is logged: the expiry still
/// removes the file.
async fn forget_upload(app: &App, key: &str) {
    let deleted = app
        .s3()
        .delete_object()
        .bucket(&app.config.bucket)
        .key(key)
        .send()
        .await;
    if let Err(err) = deleted {
        tracing::error!(
            key,
            error = %aws_smithy_types::error::display::DisplayErrorContext(&err),
            "an imported file with passwords was not deleted"
        );
    }
}

/// The job, its tenant and its import (one batched read); None when any is missing.
async fn read_job(
    app: &App,
    tenant_id: Uuid,
    job_id: Uuid,
) -> ApiResult<Option<(Job, Tenant, ImportSpec)>> {
    let items = app
        .store
        .get_many(&[Key::job(tenant_id, job_id), Key::tenant(tenant_id)])
        .await?;
    let mut items = items.into_iter();
    let (Some(job_item), Some(tenant_item)) = (items.next().flatten(), items.next().flatten())
    else {
        return Ok(None);
    };
    let job: Job = from_item(job_item)?;
    let tenant: Tenant = from_item(tenant_item)?;
    Ok(job.import.clone().map(|spec| (job, tenant, spec)))
}

/// Claims the job: of two deliveries (the upload event and the start's stream record), one
/// runs. The status is part of the condition: a claim and a release can fall in the same second.
/// False when another run has it.
async fn claim(app: &App, job: &Job, now: OffsetDateTime) -> ApiResult<bool> {
    let mut tx = Transaction::new();
    tx.update(
        &job.key(),
        Update::new("SET #status = :running, updated_at = :now")
            .name("#status", "status")
            .value(":running", s("running"))
            .value(":now", s(rfc3339(now))),
        Some((
            still_as_read(job)?,
            ApiError::Conflict("taken by another run".into()),
        )),
    )?;
    match app.store.transact(tx).await {
        Ok(()) => Ok(true),
        Err(ApiError::Conflict(_)) => Ok(false),
        Err(err) => Err(err),
    }
}

/// The run proper: reads the checked file, counts an uncounted upload against the daily limits,
/// and imports the rows; notes what it learnt on the job as it goes.
async fn attempt(
    app: &App,
    tenant: &Tenant,
    job: &mut Job,
    spec: &ImportSpec,
    finished_rows: &mut usize,
    carries_passwords: &mut bool,
) -> ApiResult<(JobCounts, String)> {
    let (rows, checked) = read_file(app, &spec.upload_key, spec.checked.as_ref()).await?;
    *carries_passwords = rows
        .iter()
        .any(|row| row.fields.get("password").is_some_and(|p| !p.is_empty()));
    if let Some(import) = job.import.as_mut() {
        import.checked = Some(checked);
    }
    if !spec.charged {
        charge(app, tenant, job, rows.len()).await?;
        if let Some(import) = job.import.as_mut() {
            import.charged = true;
        }
    }
    job.counts.total = rows.len() as u64;
    import_rows(app, tenant, job, spec, rows, finished_rows).await
}

/// How a run ends: completed with its counts and result file, or failed for a reason that is the
/// file's (or the limits'); any other error is an interruption, answered back.
fn settle(
    job: &mut Job,
    outcome: ApiResult<(JobCounts, String)>,
    finished: OffsetDateTime,
) -> ApiResult<()> {
    job.updated_at = finished;
    job.finished_at = Some(finished);
    match outcome {
        Ok((counts, result_key)) => {
            job.status = JobStatus::Completed;
            job.counts = counts;
            job.file_key = Some(result_key);
        }
        Err(
            err @ (ApiError::Validation(_)
            | ApiError::PayloadTooLarge(_)
            | ApiError::RateLimited { .. }),
        ) => {
            job.status = JobStatus::Failed;
            job.error = Some(reason_of(&err));
        }
        Err(err) => return Err(err),
    }
    Ok(())
}

/// Gives an interrupted run's claim back: the job is queued again (its stream record, or the
/// event source's retry, runs it on from its row markers), or failed once `MAX_STALLED_RUNS` runs
/// in a row finished no row. Conditioned on the claim still being this run's; if the write
/// fails, the job stays running until it is stale.
async fn release(app: &App, mut job: Job, claimed_at: OffsetDateTime, progressed: bool) {
    let stalled = match job.import.as_mut() {
        Some(import) => {
            import.stalled_runs = if progressed {
                0
            } else {
                import.stalled_runs + 1
            };
            import.stalled_runs
        }
        None => 0,
    };
    if stalled >= MAX_STALLED_RUNS {
        job.status = JobStatus::Failed;
        job.error = Some(format!(
            "the import was interrupted {stalled} times in a row without progress; the rows \
             imported before stay imported"
        ));
    } else {
        job.status = JobStatus::Queued;
        job.finished_at = None;
    }
    let released = async {
        let claimed = Job {
            status: JobStatus::Running,
            updated_at: claimed_at,
            ..job.clone()
        };
        let mut tx = Transaction::new();
        tx.put(
            job.to_item()?,
            Some((
                still_as_read(&claimed)?,
                ApiError::Conflict("taken by another run".into()),
            )),
        )?;
        crate::jobs::record_outcome(app, &mut tx, &job)?;
        app.store.transact(tx).await
    }
    .await;
    match released {
        Ok(()) if job.status == JobStatus::Failed => crate::jobs::record_failure(&job),
        Ok(()) => tracing::info!(job = %job.id, status = ?job.status, "import released"),
        Err(err) => tracing::error!(job = %job.id, error = %err, "import claim not released"),
    }
}
