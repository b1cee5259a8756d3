//! Member imports from a CSV file: the client creates an import job, uploads the file to the
//! presigned URL, and the upload (S3 event) or an explicit start runs it. Every row is checked
//! (email, name, department path, role, duplicates inside the file, existing members, the quota);
//! good rows land as members (`create`) or invitations (`invite`), bad rows are reported with
//! their number and reason in a result CSV.
//!
//! Resumable: each row's outcome is a marker item written in the same transaction as the row's
//! member (or right after a refusal), so a run stopped halfway and started again skips what was
//! done and imports no row twice. A run that stops on an error that is not the file's fault (the
//! store or the bucket failing) gives its claim back, queued again, so the next delivery continues
//! where it stopped; after `MAX_STALLED_RUNS` such runs in a row that finished no row, the job fails.
//! Free-plan tenants may import at most `FREE_ROWS_PER_DAY` rows per user and per source IP per day
//! (counters with a TTL).
//!
//! The file read is the one checked: `start` (or the first run of an upload nobody started) notes
//! the object's ETag, version and size, and every later read asks S3 for exactly that object
//! (GetObject with If-Match and the version id) and takes no more bytes than that size.

mod check;
mod create;
mod file;
mod result;
mod rows;
mod run;
mod start;

pub use create::{CreateImport, ImportCreated, create};
pub use run::{WorkerReport, handle_event, run, upload_job};
pub use start::start;

use crate::app::App;
use crate::auth::Requester;
use crate::auth::{Need, authorize_with_tenant};
use crate::error::{ApiError, ApiResult};
pub use crate::model::job::{CheckedUpload, ImportMode, ImportSpec};
use crate::model::roles::Permission;
use crate::store::Batch;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

pub const MAX_FILE_BYTES: i64 = 20 * 1024 * 1024;
pub const FREE_ROWS_PER_DAY: i64 = 100;
pub const COLUMNS: [&str; 11] = [
    "email",
    "name",
    "department",
    "position",
    "work_number",
    "location",
    "phone",
    "directory_number",
    "role",
    "language",
    "password",
];
const CONTENT_TYPE: &str = "text/csv";
/// Rows read (accounts looked up) per batch.
const BATCH: usize = 100;
/// Interrupted runs in a row that finish no row before the job is given up as failed.
pub const MAX_STALLED_RUNS: u32 = 5;

/// The CSV template: the header and one example row.
pub fn template() -> String {
    let mut out = String::from('\u{feff}');
    out.push_str(&COLUMNS.join(","));
    out.push_str("\r\nada.lovelace@example.com,Ada Lovelace,Sales/EMEA,Engineer,E-1024,London,+44 20 7946 0000,100,member,en,\r\n");
    out
}

pub async fn template_for(app: &App, requester: &Requester, tenant_id: Uuid) -> ApiResult<String> {
    authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::ImportsRun),
        Batch::new(),
    )
    .await?;
    Ok(template())
}

/// One row of the file, as read.
#[derive(Debug, Clone)]
struct Row {
    /// 1-based, the header being row 1 (what a spreadsheet shows).
    number: usize,
    fields: HashMap<String, String>,
}

/// What happened to one row, kept as its marker.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RowOutcome {
    row: usize,
    email: String,
    /// created, invited or failed
    outcome: String,
    #[serde(default)]
    reason: Option<String>,
    ttl: i64,
}

/// A refused row's reason, as the result file gives it.
fn reason_of(err: &ApiError) -> String {
    match err {
        ApiError::Validation(fields) => fields
            .iter()
            .map(|f| format!("{} {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => format!("{}: {other}", other.code()),
    }
}
