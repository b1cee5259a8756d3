//! Running an export: the export function's entry, the claim of a queued job, and the file
//! written from the members its scope reads.

use super::file::{department_paths, write_csv, write_xlsx};
use super::multipart::Multipart;
use super::source::Source;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::jobs::{Job, JobCounts, JobStatus, is_stale};
use crate::model::job::{ExportFormat, ExportSpec};
use crate::model::keys::Key;
use crate::model::time::rfc3339;
use crate::store::{Condition, Transaction, Update, from_item, s};
use crate::worker_events::{Named, StreamEvent};
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Default, Serialize)]
pub struct StreamReport {
    pub exported: usize,
    pub skipped: usize,
}

/// The export function's entry: DynamoDB stream records of new export jobs (template.yaml
/// filters the stream to them). A redelivered record finds its job no longer queued.
pub async fn handle_stream(app: &App, event: StreamEvent) -> ApiResult<StreamReport> {
    let mut report = StreamReport::default();
    for record in &event.records {
        match Named::of(record).job("export") {
            Some((tenant_id, job_id)) if run(app, tenant_id, job_id).await? => report.exported += 1,
            _ => report.skipped += 1,
        }
    }
    Ok(report)
}

/// Runs one queued export; false when the job was not queued (already taken or done).
pub async fn run(app: &App, tenant_id: Uuid, job_id: Uuid) -> ApiResult<bool> {
    let Some(item) = app.store.get(&Key::job(tenant_id, job_id)).await? else {
        return Ok(false);
    };
    let mut job: Job = from_item(item)?;
    let Some(spec) = job.export.clone() else {
        return Ok(false);
    };
    // A run that died (timeout, crash) leaves its job "running" past any Lambda's lifetime:
    // a redelivery takes it over then.
    let stale = job.status == JobStatus::Running && is_stale(&job, app.now());
    if job.status != JobStatus::Queued && !stale {
        return Ok(false);
    }
    // Claim it: of two deliveries of the same record, one runs it.
    let claimed = set_status(app, &job, job.status, JobStatus::Running).await;
    match claimed {
        Ok(()) => {}
        Err(ApiError::Conflict(_)) => return Ok(false),
        Err(err) => return Err(err),
    }
    let key = format!(
        "{}export.{}",
        job.file_prefix(),
        match spec.format {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    );
    let outcome = write_export(app, &job, &spec, &key).await;
    let now = app.now();
    job.updated_at = now;
    job.finished_at = Some(now);
    match outcome {
        Ok(rows) => {
            job.status = JobStatus::Completed;
            job.counts = JobCounts {
                total: rows,
                succeeded: rows,
                failed: 0,
            };
            job.file_key = Some(key);
        }
        Err(err) => {
            tracing::error!(job = %job.id, error = %err, "export failed");
            job.status = JobStatus::Failed;
            job.error = Some("the export failed; run it again".into());
        }
    }
    let mut tx = Transaction::new();
    tx.put(
        job.to_item()?,
        Some((
            Condition::new("#status = :running")
                .name("#status", "status")
                .value(":running", s("running")),
            ApiError::Conflict("the job changed while it ran".into()),
        )),
    )?;
    crate::jobs::record_outcome(app, &mut tx, &job)?;
    app.store.transact(tx).await?;
    if job.status == JobStatus::Failed {
        crate::jobs::record_failure(&job);
    }
    Ok(true)
}

async fn set_status(app: &App, job: &Job, from: JobStatus, to: JobStatus) -> ApiResult<()> {
    let word = |s: JobStatus| match s {
        JobStatus::AwaitingUpload => "awaiting_upload",
        JobStatus::Queued => "queued",
        JobStatus::Running => "running",
        JobStatus::Completed => "completed",
        JobStatus::Failed => "failed",
    };
    let mut tx = Transaction::new();
    tx.update(
        &job.key(),
        Update::new("SET #status = :to, updated_at = :now")
            .name("#status", "status")
            .value(":to", s(word(to)))
            .value(":now", s(rfc3339(app.now()))),
        Some((
            Condition::new("#status = :from AND updated_at = :read")
                .name("#status", "status")
                .value(":from", s(word(from)))
                .value(":read", s(rfc3339(job.updated_at))),
            ApiError::Conflict("the job was taken by another run".into()),
        )),
    )?;
    app.store.transact(tx).await
}

async fn write_export(app: &App, job: &Job, spec: &ExportSpec, key: &str) -> ApiResult<u64> {
    let paths = department_paths(app, job.tenant_id).await?;
    let mut source = Source::new(app, job.tenant_id, spec).await?;
    let content_type = match spec.format {
        ExportFormat::Csv => "text/csv; charset=utf-8",
        ExportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    };
    let mut upload = Multipart::start(app, key, content_type).await?;
    let result = match spec.format {
        ExportFormat::Csv => write_csv(app, &mut source, &paths, &mut upload).await,
        ExportFormat::Xlsx => write_xlsx(app, &mut source, &paths, &mut upload).await,
    };
    match result {
        Ok(rows) => {
            upload.finish().await?;
            Ok(rows)
        }
        Err(err) => {
            upload.abort().await;
            Err(err)
        }
    }
}
