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

use super::{JOB_RETENTION_DAYS, Job, JobCounts, JobKind, JobStatus, JobView, export};
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Requester;
use crate::auth::{Access, Caller, CallerKind, Need, Origin, authorize_with_tenant};
use crate::error::{ApiError, ApiResult, Checks};
use crate::invitations::{self, Draft};
use crate::members::{self, CreateMember, NewMember};
use crate::model::department::Department;
pub use crate::model::job::{CheckedUpload, ImportMode, ImportSpec};
use crate::model::keys::{Key, tenant_partition};
use crate::model::member::MemberSource;
use crate::model::roles::{Permission, Permissions, Role};
use crate::model::tenant::{Plan, Tenant};
use crate::model::time::rfc3339;
use crate::model::user::EmailGuard;
use crate::store::{Condition, Query, SortRange, Transaction, from_item, num, s, to_item};
use aws_sdk_s3::presigning::PresigningConfig;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

pub const MAX_FILE_BYTES: i64 = 20 * 1024 * 1024;
pub const FREE_ROWS_PER_DAY: i64 = 100;
pub const COLUMNS: [&str; 9] = [
    "email",
    "name",
    "department",
    "position",
    "work_number",
    "location",
    "phone",
    "directory_number",
    "role",
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
    out.push_str("\r\nada.lovelace@example.com,Ada Lovelace,Sales/EMEA,Engineer,E-1024,London,+44 20 7946 0000,100,member\r\n");
    out
}

pub async fn template_for(app: &App, requester: &Requester, tenant_id: Uuid) -> ApiResult<String> {
    authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::ImportsRun),
        &[],
    )
    .await?;
    Ok(template())
}

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
        &[],
    )
    .await?;
    let now = app.now();
    let id = Uuid::now_v7();
    let upload_key = format!("tenants/{tenant_id}/jobs/{id}/upload.csv");
    let mut job = Job {
        id,
        tenant_id,
        kind: JobKind::Import,
        status: JobStatus::AwaitingUpload,
        created_by: access.caller.user_id,
        export: None,
        import: Some(ImportSpec {
            mode: input.mode,
            send_email: input.send_email,
            upload_key: upload_key.clone(),
            source_ip: requester.origin.source_ip.clone(),
            creator_is_admin: invitations::is_admin(&access),
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
    };
    let mut tx = Transaction::new();
    tx.put(
        app.table(),
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
            target_id: id,
            before: None,
            after: audit::snapshot(&JobView::of(&job, None)),
        },
    )?;
    app.store.transact(tx).await?;
    let config = PresigningConfig::expires_in(std::time::Duration::from_secs(super::LINK_SECONDS))
        .map_err(ApiError::internal)?;
    let upload = app
        .s3()
        .put_object()
        .bucket(&app.config.bucket)
        .key(&upload_key)
        .content_type(CONTENT_TYPE)
        .presigned(config)
        .await
        .map_err(ApiError::internal)?;
    job.updated_at = now;
    Ok(ImportCreated {
        job: JobView::of(&job, None),
        upload_url: upload.uri().to_string(),
        upload_content_type: CONTENT_TYPE,
        max_bytes: MAX_FILE_BYTES,
    })
}

/// One row of the file, as read.
#[derive(Debug, Clone)]
struct Row {
    /// 1-based, the header being row 1 (what a spreadsheet shows).
    number: usize,
    fields: HashMap<String, String>,
}

/// The uploaded file: present, CSV, within the size limit, with the required columns and at
/// least one row. Its rows and the object they were read from, or the reason it cannot be
/// imported. With `checked` (a check made earlier) exactly that object is read, or none.
async fn read_file(
    app: &App,
    key: &str,
    checked: Option<&CheckedUpload>,
) -> ApiResult<(Vec<Row>, CheckedUpload)> {
    let checked = match checked {
        Some(checked) => checked.clone(),
        None => check_upload(app, key).await?,
    };
    let replaced = || {
        ApiError::invalid(
            "file",
            "was replaced or removed after it was checked; upload the new file to a new import",
        )
    };
    let object = app
        .s3()
        .get_object()
        .bucket(&app.config.bucket)
        .key(key)
        .if_match(&checked.etag)
        .set_version_id(checked.version_id.clone())
        .send()
        .await;
    let object = match object {
        Ok(object) => object,
        Err(err) => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            return Err(match status {
                Some(404 | 412) => replaced(),
                _ => {
                    ApiError::internal(aws_smithy_types::error::display::DisplayErrorContext(&err))
                }
            });
        }
    };
    if object.content_length().unwrap_or(0) > checked.size {
        return Err(replaced());
    }
    // Never more than the checked size, whatever the response claims.
    let limit = usize::try_from(checked.size).unwrap_or(0);
    let mut body = object.body;
    let mut bytes = Vec::with_capacity(limit);
    while let Some(chunk) = body.try_next().await.map_err(ApiError::internal)? {
        if bytes.len() + chunk.len() > limit {
            return Err(replaced());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((parse(&bytes)?, checked))
}

/// Checks the uploaded object's presence, type and size (HeadObject) and notes which object it is.
async fn check_upload(app: &App, key: &str) -> ApiResult<CheckedUpload> {
    let head = app
        .s3()
        .head_object()
        .bucket(&app.config.bucket)
        .key(key)
        .send()
        .await;
    let head = match head {
        Ok(head) => head,
        Err(_) => {
            return Err(ApiError::invalid(
                "file",
                "has not been uploaded: PUT it to the upload_url first",
            ));
        }
    };
    let content_type = head.content_type().unwrap_or_default();
    if !content_type.starts_with(CONTENT_TYPE) {
        return Err(ApiError::invalid(
            "file",
            format!("must be uploaded as {CONTENT_TYPE}, not \"{content_type}\""),
        ));
    }
    let size = head.content_length().unwrap_or(0);
    if size > MAX_FILE_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_FILE_BYTES as usize));
    }
    let etag = head
        .e_tag()
        .ok_or_else(|| ApiError::internal("HeadObject answered no ETag"))?;
    Ok(CheckedUpload {
        etag: etag.to_string(),
        version_id: head.version_id().map(str::to_string),
        size,
    })
}

/// Parses the CSV: UTF-8 with or without a BOM, LF or CRLF; header names are matched
/// case-insensitively and unknown columns are refused.
fn parse(bytes: &[u8]) -> ApiResult<Vec<Row>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("file", "is empty"));
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::invalid("file", "must be UTF-8 text"));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ApiError::invalid("file", format!("has no readable header: {e}")))?
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    let mut checks = Checks::new();
    for h in &headers {
        if !COLUMNS.contains(&h.as_str()) {
            checks.fail("file", format!("has an unknown column \"{h}\""));
        }
    }
    for required in ["email", "name"] {
        if !headers.iter().any(|h| h == required) {
            checks.fail("file", format!("lacks the column \"{required}\""));
        }
    }
    checks.finish()?;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        // The header is row 1, as a spreadsheet numbers it (blank lines are skipped unnumbered).
        let number = i + 2;
        let record = record.map_err(|e| ApiError::invalid("file", format!("row {number}: {e}")))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let fields = headers
            .iter()
            .zip(record.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(h, v)| (h.clone(), v.to_string()))
            .collect();
        rows.push(Row { number, fields });
    }
    if rows.is_empty() {
        return Err(ApiError::invalid("file", "has a header but no rows"));
    }
    Ok(rows)
}

/// The daily counters start again at midnight UTC.
fn seconds_to_midnight(now: OffsetDateTime) -> u64 {
    let midnight = now.date().next_day().map(|d| d.midnight().assume_utc());
    midnight.map_or(1, |m| (m - now).whole_seconds().max(1) as u64)
}

/// Counts `rows` against the free plan's daily limits of the job's creator and source IP, in
/// one transaction: both counters move or neither does.
async fn charge(app: &App, tenant: &Tenant, job: &Job, rows: usize) -> ApiResult<()> {
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
            app.table(),
            &Key::import_quota(&subject, &day),
            Condition::new("ADD #rows :n SET #ttl = :ttl")
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
    let (_, tenant, items) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::ImportsRun),
        &[Key::job(tenant_id, job_id)],
    )
    .await?;
    let mut job: Job = from_item(
        items
            .into_iter()
            .next()
            .flatten()
            .ok_or(ApiError::NotFound)?,
    )?;
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
        app.table(),
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

#[derive(Debug, Default, Serialize)]
pub struct WorkerReport {
    pub imported: usize,
    pub skipped: usize,
}

/// The import function's entry: S3 notifications of uploads (`tenants/<t>/jobs/<j>/upload.csv`)
/// and stream records of started imports.
pub async fn handle_event(app: &App, event: serde_json::Value) -> ApiResult<WorkerReport> {
    let mut report = WorkerReport::default();
    for record in event["Records"].as_array().cloned().unwrap_or_default() {
        let ids = if let Some(key) = record["s3"]["object"]["key"].as_str() {
            let key = key.replace("%2F", "/");
            let parts: Vec<&str> = key.split('/').collect();
            match parts.as_slice() {
                ["tenants", t, "jobs", j, "upload.csv"] => {
                    Uuid::parse_str(t).ok().zip(Uuid::parse_str(j).ok())
                }
                _ => None,
            }
        } else {
            let image = &record["dynamodb"]["NewImage"];
            let id = |n: &str| image[n]["S"].as_str().and_then(|v| Uuid::parse_str(v).ok());
            match image["kind"]["S"].as_str() {
                Some("import") => id("tenant_id").zip(id("id")),
                _ => None,
            }
        };
        match ids {
            Some((tenant_id, job_id)) if run(app, tenant_id, job_id).await? => report.imported += 1,
            _ => report.skipped += 1,
        }
    }
    Ok(report)
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

/// Runs an import: an upload not yet started is checked and counted first (its failures end
/// the job with the reason); then every row not done by an earlier run. False when there was
/// nothing to run (already running, done, or unknown). A run stopped by any other error gives the
/// job back, queued, and answers the error (the event source retries; the queued job's stream
/// record starts it again).
pub async fn run(app: &App, tenant_id: Uuid, job_id: Uuid) -> ApiResult<bool> {
    let items = app
        .store
        .get_many(&[Key::job(tenant_id, job_id), Key::tenant(tenant_id)])
        .await?;
    let mut items = items.into_iter();
    let (Some(job_item), Some(tenant_item)) = (items.next().flatten(), items.next().flatten())
    else {
        return Ok(false);
    };
    let mut job: Job = from_item(job_item)?;
    let tenant: Tenant = from_item(tenant_item)?;
    let Some(spec) = job.import.clone() else {
        return Ok(false);
    };
    let now = app.now();
    let runnable = matches!(job.status, JobStatus::AwaitingUpload | JobStatus::Queued)
        || super::is_stale(&job, now);
    if !runnable {
        return Ok(false);
    }
    // Claim it: of two deliveries (the upload event and the start's stream record), one runs. The
    // status is part of the condition: a claim and a release can fall in the same second.
    let mut tx = Transaction::new();
    tx.update(
        app.table(),
        &job.key(),
        Condition::new("SET #status = :running, updated_at = :now")
            .name("#status", "status")
            .value(":running", s("running"))
            .value(":now", s(rfc3339(now))),
        Some((
            is_claim(&job)?,
            ApiError::Conflict("taken by another run".into()),
        )),
    )?;
    match app.store.transact(tx).await {
        Ok(()) => {}
        Err(ApiError::Conflict(_)) => return Ok(false),
        Err(err) => return Err(err),
    }
    job.status = JobStatus::Running;
    job.updated_at = now;

    let mut finished_rows = 0;
    let outcome = async {
        let (rows, checked) = read_file(app, &spec.upload_key, spec.checked.as_ref()).await?;
        if let Some(import) = job.import.as_mut() {
            import.checked = Some(checked);
        }
        if !spec.charged {
            charge(app, &tenant, &job, rows.len()).await?;
            if let Some(import) = job.import.as_mut() {
                import.charged = true;
            }
        }
        job.counts.total = rows.len() as u64;
        import_rows(app, &tenant, &job, &spec, rows, &mut finished_rows).await
    }
    .await;
    let finished = app.now();
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
        Err(err) => {
            tracing::error!(job = %job.id, error = %err, rows = finished_rows, "import interrupted");
            release(app, job, now, finished_rows > 0).await;
            return Err(err);
        }
    }
    let mut tx = Transaction::new();
    tx.put(app.table(), job.to_item()?, None)?;
    app.store.transact(tx).await?;
    Ok(true)
}

/// The job is still as read: what a claim is conditioned on.
fn is_claim(job: &Job) -> ApiResult<Condition> {
    let status = serde_dynamo::to_attribute_value(job.status).map_err(ApiError::internal)?;
    Ok(
        Condition::new("#status = :read_status AND updated_at = :read")
            .name("#status", "status")
            .value(":read_status", status)
            .value(":read", s(rfc3339(job.updated_at))),
    )
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
            app.table(),
            job.to_item()?,
            Some((
                is_claim(&claimed)?,
                ApiError::Conflict("taken by another run".into()),
            )),
        )?;
        app.store.transact(tx).await
    }
    .await;
    match released {
        Ok(()) => tracing::info!(job = %job.id, status = ?job.status, "import released"),
        Err(err) => tracing::error!(job = %job.id, error = %err, "import claim not released"),
    }
}

fn marker_key(job: &Job, row: usize) -> Key {
    Key::job_row(job.tenant_id, job.id, row)
}

fn marker(
    job: &Job,
    row: &Row,
    outcome: &str,
    reason: Option<String>,
) -> ApiResult<crate::store::Item> {
    to_item(
        &RowOutcome {
            row: row.number,
            email: row.fields.get("email").cloned().unwrap_or_default(),
            outcome: outcome.into(),
            reason,
            ttl: job.ttl,
        },
        &marker_key(job, row.number),
        &[],
    )
}

/// Imports the rows not done yet, writes the result CSV, and returns the counts and its key.
/// `finished` counts the rows this run finished (imported or refused), as it goes.
async fn import_rows(
    app: &App,
    tenant: &Tenant,
    job: &Job,
    spec: &ImportSpec,
    rows: Vec<Row>,
    finished: &mut usize,
) -> ApiResult<(JobCounts, String)> {
    // Rows an earlier run finished (one query of the job's markers).
    let mut done: HashMap<usize, RowOutcome> = HashMap::new();
    for item in app
        .store
        .query_all(Query::new(
            None,
            tenant_partition(job.tenant_id),
            SortRange::Prefix(Key::job_rows_prefix(job.id)),
        ))
        .await?
    {
        let outcome: RowOutcome = from_item(item)?;
        done.insert(outcome.row, outcome);
    }
    let departments: HashMap<String, Department> = crate::departments::all(app, tenant.id)
        .await?
        .into_iter()
        .map(|d| (crate::departments::relative_path(&d).to_lowercase(), d))
        .collect();
    // The first row of an email wins; later ones are duplicates, whichever run looks.
    let mut first_row: HashMap<String, usize> = HashMap::new();
    for row in &rows {
        if let Some(email) = row.fields.get("email") {
            first_row
                .entry(email.trim().to_lowercase())
                .or_insert(row.number);
        }
    }
    let caller = Caller {
        user_id: job.created_by,
        // The creator's standing, as recorded when the job was created: admins' invitations
        // join directly. Audit entries name the creator.
        kind: CallerKind::Job {
            for_admin: spec.creator_is_admin,
        },
        origin: Origin {
            source_ip: spec.source_ip.clone(),
            ..Origin::default()
        },
    };
    let access = Access {
        caller: caller.clone(),
        tenant_id: tenant.id,
        via_reseller: false,
    };

    for batch in rows.chunks(BATCH) {
        let pending: Vec<&Row> = batch
            .iter()
            .filter(|r| !done.contains_key(&r.number))
            .collect();
        if pending.is_empty() {
            continue;
        }
        // Check each row; look up the accounts of the good ones in one batched read.
        let mut good: Vec<(&Row, Checked)> = Vec::new();
        for row in pending {
            match check_row(row, spec, &departments, &first_row) {
                Ok(checked) => good.push((row, checked)),
                Err(reason) => {
                    let outcome = record_failure(app, job, row, reason).await?;
                    done.insert(row.number, outcome);
                    *finished += 1;
                }
            }
        }
        let mut keys = Vec::new();
        for (_, c) in &good {
            keys.push(Key::email(&c.email));
            if spec.mode == ImportMode::Invite {
                keys.push(Key::invitation_email(tenant.id, &c.email));
            }
        }
        let found: HashMap<String, crate::store::Item> = keys
            .iter()
            .zip(app.store.get_many(&keys).await?)
            .filter_map(|(k, item)| item.map(|i| (format!("{}|{}", k.pk, k.sk), i)))
            .collect();
        let take = |key: &Key| found.get(&format!("{}|{}", key.pk, key.sk)).cloned();
        for (row, checked) in good {
            let account: Option<EmailGuard> = take(&Key::email(&checked.email))
                .map(from_item)
                .transpose()?;
            let mut tx = Transaction::new();
            let outcome_word = match spec.mode {
                ImportMode::Create => "created",
                ImportMode::Invite => "invited",
            };
            tx.put(
                app.table(),
                marker(job, row, outcome_word, None)?,
                Some((
                    Condition::absent(),
                    ApiError::Conflict("row already imported".into()),
                )),
            )?;
            let result = match spec.mode {
                ImportMode::Create => {
                    let mut checks = Checks::new();
                    let new = NewMember::validate(&mut checks, checked.member.clone());
                    match checks.finish() {
                        Err(err) => Err(err),
                        Ok(()) => members::insert(
                            app,
                            &caller,
                            tenant,
                            &checked.department,
                            account,
                            new,
                            MemberSource::Import,
                            tx,
                        )
                        .await
                        .map(|(_, mail)| Some(mail)),
                    }
                }
                ImportMode::Invite => invitations::send(
                    app,
                    &access,
                    tenant,
                    &checked.department,
                    Draft {
                        email: checked.email.clone(),
                        name: Some(checked.member.name.clone()),
                        position: checked.member.position.clone(),
                        role: checked.member.role.unwrap_or(Role::Member),
                        permissions: checked
                            .member
                            .permissions
                            .clone()
                            .unwrap_or(Permissions::none()),
                    },
                    account,
                    take(&Key::invitation_email(tenant.id, &checked.email)),
                    tx,
                    spec.send_email,
                )
                .await
                .map(|_| None),
            };
            match result {
                Ok(mail) => {
                    if let (Some(mail), true) = (mail, spec.send_email)
                        && let Err(err) = app.mail().send(mail).await
                    {
                        tracing::error!(error = %err, "import welcome mail failed");
                    }
                    done.insert(
                        row.number,
                        RowOutcome {
                            row: row.number,
                            email: checked.email.clone(),
                            outcome: outcome_word.into(),
                            reason: None,
                            ttl: job.ttl,
                        },
                    );
                    *finished += 1;
                }
                Err(ApiError::Conflict(m)) if m == "row already imported" => {}
                Err(err) => {
                    let outcome = record_failure(app, job, row, reason_of(&err)).await?;
                    done.insert(row.number, outcome);
                    *finished += 1;
                }
            }
        }
    }

    let mut counts = JobCounts {
        total: rows.len() as u64,
        ..JobCounts::default()
    };
    let mut result = csv::Writer::from_writer(Vec::new());
    let write =
        |w: &mut csv::Writer<Vec<u8>>, r: &[String]| w.write_record(r).map_err(ApiError::internal);
    write(
        &mut result,
        &[
            "row".into(),
            "email".into(),
            "outcome".into(),
            "reason".into(),
        ],
    )?;
    let mut numbers: Vec<&usize> = done.keys().collect();
    numbers.sort();
    for n in numbers {
        let o = &done[n];
        if o.outcome == "failed" {
            counts.failed += 1;
        } else {
            counts.succeeded += 1;
        }
        write(
            &mut result,
            &[
                o.row.to_string(),
                export::escape_formula(&o.email),
                o.outcome.clone(),
                export::escape_formula(o.reason.as_deref().unwrap_or("")),
            ],
        )?;
    }
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(result.into_inner().map_err(ApiError::internal)?);
    let key = format!("{}result.csv", job.file_prefix());
    app.s3()
        .put_object()
        .bucket(&app.config.bucket)
        .key(&key)
        .content_type("text/csv; charset=utf-8")
        .body(bytes.into())
        .send()
        .await
        .map_err(ApiError::internal)?;
    Ok((counts, key))
}

/// A refused row's marker (conditioned, so a rerun does not overwrite an earlier outcome).
async fn record_failure(app: &App, job: &Job, row: &Row, reason: String) -> ApiResult<RowOutcome> {
    let mut tx = Transaction::new();
    tx.put(
        app.table(),
        marker(job, row, "failed", Some(reason.clone()))?,
        Some((
            Condition::absent(),
            ApiError::Conflict("row already recorded".into()),
        )),
    )?;
    match app.store.transact(tx).await {
        Ok(()) | Err(ApiError::Conflict(_)) => {}
        Err(err) => return Err(err),
    }
    Ok(RowOutcome {
        row: row.number,
        email: row.fields.get("email").cloned().unwrap_or_default(),
        outcome: "failed".into(),
        reason: Some(reason),
        ttl: job.ttl,
    })
}

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

struct Checked {
    email: String,
    department: Department,
    member: CreateMember,
}

/// A row's own checks: what can be told without the store.
fn check_row(
    row: &Row,
    spec: &ImportSpec,
    departments: &HashMap<String, Department>,
    first_row: &HashMap<String, usize>,
) -> Result<Checked, String> {
    let get = |k: &str| row.fields.get(k).cloned();
    let email = get("email").unwrap_or_default().trim().to_lowercase();
    let mut checks = Checks::new();
    let email = crate::validate::email(&mut checks, "email", &email);
    if let Err(err) = checks.finish() {
        return Err(reason_of(&err));
    }
    if first_row.get(&email) != Some(&row.number) {
        return Err(format!(
            "duplicate: the email is already on row {}",
            first_row.get(&email).copied().unwrap_or_default()
        ));
    }
    let path = get("department").unwrap_or_default();
    let path = path.trim().trim_matches('/').to_lowercase();
    let Some(department) = departments.get(&path) else {
        return Err(format!(
            "department \"{}\" is not a department of this tenant",
            get("department").unwrap_or_default()
        ));
    };
    let role = match get("role").as_deref().map(str::to_lowercase).as_deref() {
        None | Some("member") => Role::Member,
        Some("admin") if spec.creator_holds_all => Role::Admin,
        Some("admin") => {
            return Err(
                "role admin can only be given by a creator holding every permission".into(),
            );
        }
        Some(other) => return Err(format!("role \"{other}\" must be member or admin")),
    };
    let directory_number = match get("directory_number") {
        None => None,
        Some(n) => match n.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => return Err(format!("directory_number \"{n}\" is not a number")),
        },
    };
    let name = get("name").unwrap_or_default();
    if spec.mode == ImportMode::Create && name.trim().is_empty() {
        return Err("name is required".into());
    }
    Ok(Checked {
        email: email.clone(),
        department: department.clone(),
        member: CreateMember {
            email,
            name,
            department_id: department.id,
            position: get("position"),
            work_number: get("work_number"),
            location: get("location"),
            phone: get("phone"),
            directory_number,
            role: Some(role),
            permissions: None,
            password: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_takes_bom_crlf_and_reports_empty_files() {
        let rows = parse(b"\xEF\xBB\xBFEmail,Name\r\na@x.test,A\r\n\r\nb@x.test,B\r\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].number, 2);
        assert_eq!(rows[1].number, 3);
        assert_eq!(rows[1].fields["email"], "b@x.test");
        assert!(parse(b"").is_err());
        assert!(parse(b"email,name\n").is_err());
        assert!(parse(b"email,salary\nx@y.test,1\n").is_err());
        assert!(parse(&[0xff, 0xfe, 0x00]).is_err());
        assert_eq!(parse(template().as_bytes()).unwrap().len(), 1);
    }
}
