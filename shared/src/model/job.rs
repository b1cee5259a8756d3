//! A job of the task centre (an import, an export or a department move) as stored, with what
//! each kind carries, and as clients see it.

use crate::error::{ApiError, ApiResult};
use crate::model::item::{Item, to_item};
use crate::model::keys::Key;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub const JOB_RETENTION_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Import,
    Export,
    /// A department move (or rename) whose subtree did not fit one transaction.
    DepartmentMove,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// An import waiting for its file.
    AwaitingUpload,
    Queued,
    Running,
    Completed,
    Failed,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    pub created_by: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<ImportSpec>,
    pub counts: JobCounts,
    /// The S3 key of the job's file (the export, or an import's result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub finished_at: Option<OffsetDateTime>,
    /// Epoch seconds: DynamoDB's TTL removes the record; reads treat it as gone after.
    pub ttl: i64,
}

impl Job {
    pub fn key(&self) -> Key {
        Key::job(self.tenant_id, self.id)
    }

    pub fn to_item(&self) -> ApiResult<Item> {
        to_item(self, &self.key(), &[])
    }

    /// Where the job's files live: under the tenant, so one prefix holds a tenant's files.
    pub fn file_prefix(&self) -> String {
        format!("tenants/{}/jobs/{}/", self.tenant_id, self.id)
    }
}

/// A job as clients see it, with a fresh download link once there is a file.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    pub created_by: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<ImportView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department_move: Option<MoveView>,
    pub counts: JobCounts,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Presigned GET of the file, valid 15 minutes (only in the detail of a completed job).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
}

impl JobView {
    /// A department move job: its parameters are kept in the record beside the job's fields
    /// (`departments::moves::spec_of`).
    pub(crate) fn of_move(
        job: &Job,
        spec: Option<&MoveSpec>,
        download_url: Option<String>,
    ) -> Self {
        let mut view = Self::of(job, download_url);
        view.department_move = spec.map(Into::into);
        view
    }

    pub(crate) fn of(job: &Job, download_url: Option<String>) -> Self {
        Self {
            id: job.id,
            tenant_id: job.tenant_id,
            kind: job.kind,
            status: job.status,
            created_by: job.created_by,
            export: job.export.clone(),
            import: job.import.as_ref().map(|i| ImportView {
                mode: i.mode,
                send_email: i.send_email,
            }),
            department_move: None,
            counts: job.counts.clone(),
            error: job.error.clone(),
            created_at: job.created_at,
            finished_at: job.finished_at,
            expires_at: OffsetDateTime::from_unix_timestamp(job.ttl).unwrap_or(job.created_at),
            download_url,
        }
    }
}

/// An import's settings as clients see them.
#[derive(Debug, Serialize)]
pub struct ImportView {
    pub mode: ImportMode,
    pub send_email: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportScope {
    All,
    Department,
    Selected,
    Query,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSpec {
    pub scope: ExportScope,
    pub format: ExportFormat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_id: Option<Uuid>,
    #[serde(default)]
    pub include_descendants: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_ids: Option<Vec<Uuid>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    Create,
    Invite,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSpec {
    pub mode: ImportMode,
    pub send_email: bool,
    /// Where the client uploads the file.
    pub upload_key: String,
    /// Who asked, from where: what the free plan's daily limits count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// The creator may give the admin role (holds every permission) and acts as an admin.
    pub creator_is_admin: bool,
    pub creator_holds_all: bool,
    /// The rows were counted against the daily limits already (by the start request).
    #[serde(default)]
    pub charged: bool,
    /// The uploaded object as checked: what every read of the file asks S3 for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked: Option<CheckedUpload>,
    /// Interrupted runs in a row that finished no row.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stalled_runs: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The uploaded object a check looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedUpload {
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    pub size: i64,
}

/// A move job's parameters (the job record's `department_move`), with the claim of the run
/// that works on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveSpec {
    pub department_id: Uuid,
    pub from_parent_id: Option<Uuid>,
    pub to_parent_id: Option<Uuid>,
    /// Name paths before and after.
    pub from_path: String,
    pub to_path: String,
    /// Id paths before and after: members still indexed under the old one are rewritten.
    pub old_id_path: String,
    pub new_id_path: String,
    /// Tree-key prefixes of descendants whose stored id path did not lie below the old one
    /// (left stale by an earlier failure): their members are rewritten too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale_prefixes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Uuid>,
    /// Epoch seconds until which the claiming run holds the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<i64>,
}

/// The attribute of a job record that holds a move's parameters, beside the job's own fields.
const SPEC_ATTRIBUTE: &str = "department_move";

/// A move job's parameters, if the job record is one.
pub(crate) fn spec_of(item: &Item) -> ApiResult<Option<MoveSpec>> {
    item.get(SPEC_ATTRIBUTE)
        .map(|value| serde_dynamo::from_attribute_value(value.clone()))
        .transpose()
        .map_err(ApiError::internal)
}

/// The record of a move job: the job and its parameters.
pub(crate) fn job_item(job: &Job, spec: &MoveSpec) -> ApiResult<Item> {
    let mut item = job.to_item()?;
    item.insert(
        SPEC_ATTRIBUTE.to_string(),
        serde_dynamo::to_attribute_value(spec).map_err(ApiError::internal)?,
    );
    Ok(item)
}

/// A move job as clients see it.
#[derive(Debug, Clone, Serialize)]
pub struct MoveView {
    pub department_id: Uuid,
    pub from_parent_id: Option<Uuid>,
    pub to_parent_id: Option<Uuid>,
    pub from_path: String,
    pub to_path: String,
}

impl From<&MoveSpec> for MoveView {
    fn from(spec: &MoveSpec) -> Self {
        Self {
            department_id: spec.department_id,
            from_parent_id: spec.from_parent_id,
            to_parent_id: spec.to_parent_id,
            from_path: spec.from_path.clone(),
            to_path: spec.to_path.clone(),
        }
    }
}
