//! Creating an import job: the job record, awaiting its upload, and the presigned URL the file
//! is uploaded to.

use super::file::{CONTENT_TYPE, MAX_FILE_BYTES};
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Access, Need, Requester, authorize_with_tenant};
use crate::error::{ApiError, ApiResult};
use crate::invitations;
use crate::jobs::{JOB_RETENTION_DAYS, Job, JobCounts, JobKind, JobStatus, JobView, LINK_SECONDS};
use crate::model::job::{ImportMode, ImportSpec};
use crate::model::roles::{Permission, Permissions};
use crate::store::{Batch, Condition, Transaction};
use aws_sdk_s3::presigning::PresigningConfig;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateImport {
    pub mode: ImportMode,
    #[serde(default = "yes")]
    pub send_email: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize)]
pub struct ImportCreated {
    pub job: JobView,
    /// PUT the CSV here with `Content-Type: text/csv` within 15 minutes.
    pub upload_url: String,
    pub upload_content_type: &'static str,
    pub max_bytes: i64,
}

/// Creates an import job and the presigned URL its file is uploaded to.
pub async fn create(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: CreateImport,
) -> ApiResult<ImportCreated> {
    let (access, _, _) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::ImportsRun),
        Batch::new(),
    )
    .await?;
    let now = app.now();
    let mut job = new_job(requester, &access, tenant_id, &input, now);
    let mut tx = Transaction::new();
    tx.put(
        job.to_item()?,
        Some((Condition::absent(), ApiError::internal("job id collision"))),
    )?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "import.create",
            target_type: "job",
            target_id: job.id,
            before: None,
            after: audit::snapshot(&JobView::of(&job, None)),
        },
    )?;
    app.store.transact(tx).await?;
    let upload_url = presigned_upload(app, &upload_key(tenant_id, job.id)).await?;
    job.updated_at = now;
    Ok(ImportCreated {
        job: JobView::of(&job, None),
        upload_url,
        upload_content_type: CONTENT_TYPE,
        max_bytes: MAX_FILE_BYTES,
    })
}

fn upload_key(tenant_id: Uuid, job_id: Uuid) -> String {
    format!("tenants/{tenant_id}/jobs/{job_id}/upload.csv")
}

/// The new job, awaiting its upload, with the creator's standing as it is now (what the run
/// acts with later).
fn new_job(
    requester: &Requester,
    access: &Access,
    tenant_id: Uuid,
    input: &CreateImport,
    now: OffsetDateTime,
) -> Job {
    let id = Uuid::now_v7();
    Job {
        id,
        tenant_id,
        kind: JobKind::Import,
        status: JobStatus::AwaitingUpload,
        created_by: access.caller.user_id,
        export: None,
        import: Some(ImportSpec {
            mode: input.mode,
            send_email: input.send_email,
            upload_key: upload_key(tenant_id, id),
            source_ip: requester.origin.source_ip.clone(),
            creator_is_admin: invitations::is_admin(access),
            creator_holds_all: access.caller.permissions() == Permissions::All,
            charged: false,
            checked: None,
            stalled_runs: 0,
        }),
        counts: JobCounts::default(),
        file_key: None,
        error: None,
        created_at: now,
        updated_at: now,
        finished_at: None,
        ttl: (now + time::Duration::days(JOB_RETENTION_DAYS)).unix_timestamp(),
    }
}

/// The URL the file is PUT to, as `text/csv`, for `LINK_SECONDS`.
async fn presigned_upload(app: &App, key: &str) -> ApiResult<String> {
    let config = PresigningConfig::expires_in(std::time::Duration::from_secs(LINK_SECONDS))
        .map_err(ApiError::internal)?;
    let upload = app
        .s3()
        .put_object()
        .bucket(&app.config.bucket)
        .key(key)
        .content_type(CONTENT_TYPE)
        .presigned(config)
        .await
        .map_err(ApiError::internal)?;
    Ok(upload.uri().to_string())
}
