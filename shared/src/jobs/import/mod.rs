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
pub use file::{COLUMNS, MAX_FILE_BYTES, template};
pub use run::{MAX_STALLED_RUNS, WorkerReport, handle_event, run, upload_job};
pub use start::{FREE_ROWS_PER_DAY, start};

use crate::app::App;
use crate::auth::Requester;
use crate::auth::{Need, authorize_with_tenant};
use crate::error::ApiResult;
pub use crate::model::job::{CheckedUpload, ImportMode, ImportSpec};
use crate::model::roles::Permission;
use crate::store::Batch;
use uuid::Uuid;

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
