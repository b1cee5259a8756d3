//! The task centre: import and export jobs of a tenant, newest first, with their status, counts
//! and presigned links to their files. Job records expire by TTL after `JOB_RETENTION_DAYS`; the
//! bucket's lifecycle rule removes their files on the same schedule.

pub mod dead_letters;
pub mod export;
pub mod import;

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Requester;
use crate::auth::{Access, Need, authorize_with_tenant};
use crate::auth::{Caller, CallerKind};
use crate::error::{ApiError, ApiResult};
use crate::events::{self, EventType};
pub use crate::model::job::{
    ImportView, JOB_RETENTION_DAYS, Job, JobCounts, JobKind, JobStatus, JobView,
};
use crate::model::keys::{JOB_PREFIX, Key, tenant_partition};
use crate::model::roles::Permission;
use crate::model::time::rfc3339;
use crate::model::{List, PageParams};
use crate::store::{Batch, Condition, Query, SortRange, Transaction, from_item, s};
use aws_sdk_s3::presigning::PresigningConfig;
use time::OffsetDateTime;
use uuid::Uuid;

/// How long a presigned link works.
pub const LINK_SECONDS: u64 = 15 * 60;

/// A job left queued or running longer than any Lambda invocation lives (15 minutes) was
/// abandoned (its run died, or its event was lost): it can be taken over or removed.
pub fn is_stale(job: &Job, now: OffsetDateTime) -> bool {
    matches!(job.status, JobStatus::Queued | JobStatus::Running)
        && job.updated_at + time::Duration::minutes(16) < now
}

/// The job is still as it was read (status and last change): what a claim or a takeover is
/// conditioned on, so of two writers racing for one job, one wins.
pub fn still_as_read(job: &Job) -> ApiResult<Condition> {
    let status = serde_dynamo::to_attribute_value(job.status).map_err(ApiError::internal)?;
    Ok(
        Condition::new("#status = :read_status AND updated_at = :read")
            .name("#status", "status")
            .value(":read_status", status)
            .value(":read", s(rfc3339(job.updated_at))),
    )
}

/// Adds a finished import's or export's event to `tx`, made for the person who started it: the
/// job as clients list it (without a download link, which would expire; its detail gives one).
pub(crate) fn record_outcome(app: &App, tx: &mut Transaction, job: &Job) -> ApiResult<()> {
    let event = match (job.kind, job.status) {
        (JobKind::Import, JobStatus::Completed) => EventType::ImportCompleted,
        (JobKind::Import, JobStatus::Failed) => EventType::ImportFailed,
        (JobKind::Export, JobStatus::Completed) => EventType::ExportCompleted,
        (JobKind::Export, JobStatus::Failed) => EventType::ExportFailed,
        _ => return Ok(()),
    };
    let runner = Caller {
        user_id: job.created_by,
        kind: CallerKind::Job { for_admin: false },
        origin: Default::default(),
    };
    let view = JobView::of(job, None);
    events::record(app, tx, &runner, job.tenant_id, event, &view)
}

/// Counts a failed job in CloudWatch (the `Roster/JobsFailed` metric the failed-jobs alarm
/// watches), through the embedded metric format: one JSON line on stdout, no API call.
pub fn record_failure(job: &Job) {
    let kind = match job.kind {
        JobKind::Export => "export",
        JobKind::Import => "import",
        JobKind::DepartmentMove => "department_move",
    };
    tracing::warn!(job = %job.id, tenant = %job.tenant_id, kind, error = job.error.as_deref().unwrap_or(""), "job failed");
    println!("{}", failure_metric(kind, OffsetDateTime::now_utc()));
}

fn failure_metric(kind: &str, now: OffsetDateTime) -> serde_json::Value {
    serde_json::json!({
        "_aws": {
            "Timestamp": now.unix_timestamp() * 1000,
            "CloudWatchMetrics": [{
                "Namespace": "Roster",
                "Dimensions": [[], ["Kind"]],
                "Metrics": [{"Name": "JobsFailed", "Unit": "Count"}],
            }],
        },
        "Kind": kind,
        "JobsFailed": 1,
    })
}

/// Who may see the task centre: whoever may run imports or exports, or move departments.
fn may_see_jobs(access: &Access) -> bool {
    access.allows(Permission::ImportsRun)
        || access.allows(Permission::ExportsRun)
        || access.allows(Permission::DepartmentsWrite)
}

/// A job and its files are for whoever may run its kind: an export's file holds the directory
/// (`exports.run`), an import's result its rows (`imports.run`).
fn may_see(access: &Access, job: &Job) -> bool {
    access.allows(match job.kind {
        JobKind::Import => Permission::ImportsRun,
        JobKind::Export => Permission::ExportsRun,
        JobKind::DepartmentMove => Permission::DepartmentsWrite,
    })
}

/// The tenant's jobs, newest first (one query).
pub async fn list(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    page: PageParams,
) -> ApiResult<List<JobView>> {
    let (access, _, _) =
        authorize_with_tenant(app, requester, tenant_id, Need::Member, Batch::new()).await?;
    if !may_see_jobs(&access) {
        return Err(ApiError::Forbidden(
            "the task centre needs imports.run, exports.run or departments.write",
        ));
    }
    let mut query = Query::new(
        None,
        tenant_partition(tenant_id),
        SortRange::Prefix(JOB_PREFIX.into()),
    )
    .page(&page);
    query.newest_first = true;
    let now = app.now().unix_timestamp();
    let page = app.store.query(query).await?;
    let mut items = Vec::new();
    for item in page.items {
        let spec = crate::departments::moves::spec_of(&item)?;
        let job: Job = from_item(item)?;
        if job.ttl > now && may_see(&access, &job) {
            items.push(JobView::of_move(&job, spec.as_ref(), None));
        }
    }
    Ok(List {
        items,
        next_cursor: page.next_cursor,
    })
}

async fn read(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    job_id: Uuid,
) -> ApiResult<(Access, Job, Option<crate::departments::moves::MoveSpec>)> {
    let mut batch = Batch::new();
    let job = batch.read_item(Key::job(tenant_id, job_id));
    let (access, mut read) =
        crate::auth::authorize(app, requester, tenant_id, Need::Member, batch).await?;
    if !may_see_jobs(&access) {
        return Err(ApiError::Forbidden(
            "the task centre needs imports.run, exports.run or departments.write",
        ));
    }
    let item = read.take_item(job).ok_or(ApiError::NotFound)?;
    let spec = crate::departments::moves::spec_of(&item)?;
    let job: Job = from_item(item)?;
    if job.ttl <= app.now().unix_timestamp() {
        return Err(ApiError::NotFound);
    }
    if !may_see(&access, &job) {
        return Err(ApiError::Forbidden(match job.kind {
            JobKind::Import => "an import and its results need imports.run",
            JobKind::Export => "an export and its file need exports.run",
            JobKind::DepartmentMove => "a department move needs departments.write",
        }));
    }
    Ok((access, job, spec))
}

/// One job, with a presigned download link when its file is ready.
pub async fn get(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    job_id: Uuid,
) -> ApiResult<JobView> {
    let (_, job, spec) = read(app, requester, tenant_id, job_id).await?;
    let url = match (&job.file_key, job.status) {
        (Some(key), JobStatus::Completed) => Some(presigned_get(app, key).await?),
        _ => None,
    };
    Ok(JobView::of_move(&job, spec.as_ref(), url))
}

pub async fn presigned_get(app: &App, key: &str) -> ApiResult<String> {
    let config = PresigningConfig::expires_in(std::time::Duration::from_secs(LINK_SECONDS))
        .map_err(ApiError::internal)?;
    let request = app
        .s3()
        .get_object()
        .bucket(&app.config.bucket)
        .key(key)
        .presigned(config)
        .await
        .map_err(ApiError::internal)?;
    Ok(request.uri().to_string())
}

/// Removes a job's record and its files. A running job cannot be removed.
pub async fn delete(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    job_id: Uuid,
) -> ApiResult<()> {
    let (access, job, _) = read(app, requester, tenant_id, job_id).await?;
    // A department move holds its subtree until it completes: its record stays until then.
    if job.kind == JobKind::DepartmentMove
        && matches!(job.status, JobStatus::Queued | JobStatus::Running)
    {
        return Err(ApiError::Conflict(
            "the department move is still running; remove it once it has finished".into(),
        ));
    }
    if matches!(job.status, JobStatus::Queued | JobStatus::Running) && !is_stale(&job, app.now()) {
        return Err(ApiError::Conflict(
            "the job is still running; remove it once it has finished".into(),
        ));
    }
    // Files first: a record without files is harmless, files without a record are not findable.
    let listed = app
        .s3()
        .list_objects_v2()
        .bucket(&app.config.bucket)
        .prefix(job.file_prefix())
        .send()
        .await
        .map_err(crate::store::sdk_error)?;
    for object in listed.contents() {
        if let Some(key) = object.key() {
            app.s3()
                .delete_object()
                .bucket(&app.config.bucket)
                .key(key)
                .send()
                .await
                .map_err(crate::store::sdk_error)?;
        }
    }
    let mut tx = Transaction::new();
    tx.delete(&job.key(), Some((Condition::exists(), ApiError::NotFound)))?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "job.delete",
            target_type: "job",
            target_id: job_id,
            before: audit::snapshot(&JobView::of(&job, None)),
            after: None,
        },
    )?;
    app.store.transact(tx).await
}
