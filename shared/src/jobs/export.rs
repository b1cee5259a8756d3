//! Member exports: all members, a department (with or without its descendants), chosen ids, or a
//! search, as CSV or XLSX. The export function reads members a page at a time and streams the
//! file to S3 as a multipart upload (CSV parts are cut every 8 MiB; XLSX is written by
//! rust_xlsxwriter in constant-memory mode to /tmp and uploaded from there), so memory stays flat
//! whatever the tenant's size. CSV cells that a spreadsheet would take for a formula are escaped.

use super::{JOB_RETENTION_DAYS, Job, JobCounts, JobKind, JobStatus, JobView};
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Requester;
use crate::auth::{Need, authorize_with_tenant};
use crate::error::{ApiError, ApiResult, Checks};
use crate::model::department::Department;
pub use crate::model::job::{ExportFormat, ExportScope, ExportSpec};
use crate::model::keys::{
    GSI2, GSI3, Key, directory_partition, search_partition, subtree_prefix, tree_partition,
};
use crate::model::member::{Member, fold};
use crate::model::roles::Permission;
use crate::model::time::rfc3339;
use crate::store::{Condition, Query, SortRange, Transaction, from_item, s};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use uuid::Uuid;

/// DynamoDB returns at most 1 MB per page anyway; members are well under 1 KB.
const PAGE: u32 = 1000;
/// S3 parts are at least 5 MiB (but the last); 8 MiB keeps a handful in flight at most.
const PART_BYTES: usize = 8 * 1024 * 1024;
pub const MAX_SELECTED: usize = 1000;

pub const COLUMNS: [&str; 16] = [
    "id",
    "email",
    "name",
    "phone",
    "department",
    "position",
    "work_number",
    "location",
    "directory_number",
    "role",
    "status",
    "source",
    "licence",
    "licence_expires_at",
    "created_at",
    "last_login_at",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateExport {
    pub scope: ExportScope,
    pub format: ExportFormat,
    #[serde(default)]
    pub department_id: Option<Uuid>,
    #[serde(default)]
    pub include_descendants: Option<bool>,
    #[serde(default)]
    pub member_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub query: Option<String>,
}

/// Queues an export job of the caller's tenant; the export function picks it up from the
/// table's stream.
pub async fn create(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: CreateExport,
) -> ApiResult<JobView> {
    let mut checks = Checks::new();
    let needs = |checks: &mut Checks, present: bool, field: &str| {
        if !present {
            checks.fail(field, "is required for this scope");
        }
    };
    match input.scope {
        ExportScope::All => {}
        ExportScope::Department => {
            needs(&mut checks, input.department_id.is_some(), "department_id")
        }
        ExportScope::Selected => match &input.member_ids {
            Some(ids) if !ids.is_empty() && ids.len() <= MAX_SELECTED => {}
            _ => checks.fail(
                "member_ids",
                format!("must hold 1 to {MAX_SELECTED} ids for this scope"),
            ),
        },
        ExportScope::Query => needs(
            &mut checks,
            input
                .query
                .as_deref()
                .is_some_and(|q| !fold(q.trim()).is_empty()),
            "query",
        ),
    }
    // The same bound as a search's `q`: the job stores the query and runs it later.
    checks.check(
        input
            .query
            .as_deref()
            .is_none_or(|q| q.trim().chars().count() <= crate::validate::MAX_NAME),
        "query",
        "must be at most 200 characters",
    );
    checks.finish()?;
    let keys: Vec<Key> = input
        .department_id
        .filter(|_| input.scope == ExportScope::Department)
        .map(|d| Key::department(tenant_id, d))
        .into_iter()
        .collect();
    let (access, _, items) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::ExportsRun),
        &keys,
    )
    .await?;
    // A file of the directory carries the admin view (roles, licences, status): it needs what
    // reading that view needs.
    if !access.allows(Permission::MembersRead) {
        return Err(crate::members::directory::needs_members_read());
    }
    if !keys.is_empty() && items.first().cloned().flatten().is_none() {
        return Err(ApiError::invalid(
            "department_id",
            "is not a department of this tenant",
        ));
    }
    let now = app.now();
    let spec = ExportSpec {
        scope: input.scope,
        format: input.format,
        department_id: input
            .department_id
            .filter(|_| input.scope == ExportScope::Department),
        include_descendants: input.include_descendants.unwrap_or(false),
        member_ids: input
            .member_ids
            .filter(|_| input.scope == ExportScope::Selected),
        query: input
            .query
            .filter(|_| input.scope == ExportScope::Query)
            .map(|q| q.trim().to_string()),
    };
    let job = Job {
        id: Uuid::now_v7(),
        tenant_id,
        kind: JobKind::Export,
        status: JobStatus::Queued,
        created_by: access.caller.user_id,
        export: Some(spec),
        import: None,
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
    let view = JobView::of(&job, None);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "export.create",
            target_type: "job",
            target_id: job.id,
            before: None,
            after: audit::snapshot(&view),
        },
    )?;
    app.store.transact(tx).await?;
    Ok(view)
}

#[derive(Debug, Default, Serialize)]
pub struct StreamReport {
    pub exported: usize,
    pub skipped: usize,
}

/// The export function's entry: DynamoDB stream records of new export jobs (template.yaml
/// filters the stream to them). A redelivered record finds its job no longer queued.
pub async fn handle_stream(app: &App, event: serde_json::Value) -> ApiResult<StreamReport> {
    let mut report = StreamReport::default();
    let records = event["Records"].as_array().cloned().unwrap_or_default();
    for record in records {
        let image = &record["dynamodb"]["NewImage"];
        let id = |name: &str| {
            image[name]["S"]
                .as_str()
                .and_then(|v| Uuid::parse_str(v).ok())
        };
        match (image["kind"]["S"].as_str(), id("tenant_id"), id("id")) {
            (Some("export"), Some(tenant_id), Some(job_id)) => {
                if run(app, tenant_id, job_id).await? {
                    report.exported += 1;
                } else {
                    report.skipped += 1;
                }
            }
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
    let stale = job.status == JobStatus::Running && super::is_stale(&job, app.now());
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
        app.table(),
        job.to_item()?,
        Some((
            Condition::new("#status = :running")
                .name("#status", "status")
                .value(":running", s("running")),
            ApiError::Conflict("the job changed while it ran".into()),
        )),
    )?;
    app.store.transact(tx).await?;
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
        app.table(),
        &job.key(),
        Condition::new("SET #status = :to, updated_at = :now")
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

/// Reads the export's members a page at a time.
struct Source {
    tenant_id: Uuid,
    kind: SourceKind,
    cursor: Option<String>,
    done: bool,
    seen: HashSet<Uuid>,
}

enum SourceKind {
    Index(Query),
    Selected(Vec<Uuid>),
    Terms(Query),
}

impl Source {
    async fn new(app: &App, tenant_id: Uuid, spec: &ExportSpec) -> ApiResult<Self> {
        let kind = match spec.scope {
            ExportScope::All => SourceKind::Index(Query::new(
                Some(GSI3),
                directory_partition(tenant_id),
                SortRange::All,
            )),
            ExportScope::Department => {
                let department: Department = from_item(
                    app.store
                        .get(&Key::department(
                            tenant_id,
                            spec.department_id.unwrap_or_default(),
                        ))
                        .await?
                        .ok_or_else(|| ApiError::invalid("department_id", "no longer exists"))?,
                )?;
                let prefix = if spec.include_descendants {
                    subtree_prefix(&department.id_path)
                } else {
                    format!("{}/#", department.id_path)
                };
                SourceKind::Index(Query::new(
                    Some(GSI2),
                    tree_partition(tenant_id),
                    SortRange::Prefix(prefix),
                ))
            }
            ExportScope::Selected => {
                SourceKind::Selected(spec.member_ids.clone().unwrap_or_default())
            }
            ExportScope::Query => {
                let q = fold(spec.query.as_deref().unwrap_or_default().trim());
                SourceKind::Terms(Query::new(
                    None,
                    search_partition(tenant_id, &q),
                    SortRange::Prefix(q),
                ))
            }
        };
        Ok(Self {
            tenant_id,
            kind,
            cursor: None,
            done: false,
            seen: HashSet::new(),
        })
    }

    /// The next page of members (active and disabled only), or None at the end.
    async fn next(&mut self, app: &App) -> ApiResult<Option<Vec<Member>>> {
        if self.done {
            return Ok(None);
        }
        let items = match &mut self.kind {
            SourceKind::Index(query) => {
                let mut q = query.clone();
                q.limit = PAGE;
                q.cursor = self.cursor.take();
                let page = app.store.query(q).await?;
                self.cursor = page.next_cursor;
                self.done = self.cursor.is_none();
                page.items
            }
            SourceKind::Selected(ids) => {
                let chunk: Vec<Uuid> = ids.drain(..ids.len().min(100)).collect();
                self.done = ids.is_empty();
                let keys: Vec<Key> = chunk
                    .iter()
                    .map(|m| Key::member(self.tenant_id, *m))
                    .collect();
                app.store
                    .get_many(&keys)
                    .await?
                    .into_iter()
                    .flatten()
                    .collect()
            }
            SourceKind::Terms(query) => {
                let mut q = query.clone();
                q.limit = PAGE;
                q.cursor = self.cursor.take();
                let page = app.store.query(q).await?;
                self.cursor = page.next_cursor;
                self.done = self.cursor.is_none();
                let mut keys = Vec::new();
                for item in page.items {
                    if let Some(id) = item
                        .get("member_id")
                        .and_then(|v| v.as_s().ok())
                        .and_then(|v| Uuid::parse_str(v).ok())
                    {
                        keys.push(Key::member(self.tenant_id, id));
                    }
                }
                app.store
                    .get_many(&keys)
                    .await?
                    .into_iter()
                    .flatten()
                    .collect()
            }
        };
        let mut members = Vec::with_capacity(items.len());
        for item in items {
            let member: Member = from_item(item)?;
            // Only a search can name a member twice (its email and a name word both match);
            // the other sources list each once, so memory stays flat for them.
            let first = match self.kind {
                SourceKind::Terms(_) => self.seen.insert(member.id),
                _ => true,
            };
            if member.status.in_directory() && first {
                members.push(member);
            }
        }
        Ok(Some(members))
    }
}

/// A cell a spreadsheet would read as a formula (= + - @, or a leading tab/CR) gets a leading
/// apostrophe, so an exported file cannot run anything when opened.
pub fn escape_formula(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_string(),
    }
}

fn row(member: &Member, paths: &HashMap<Uuid, String>) -> Vec<String> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let word = |v: serde_json::Result<serde_json::Value>| {
        v.ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    vec![
        member.id.to_string(),
        member.email.clone(),
        member.name.clone(),
        text(&member.phone),
        paths
            .get(&member.department_id)
            .cloned()
            .unwrap_or_default(),
        text(&member.position),
        text(&member.work_number),
        text(&member.location),
        member.directory_number.to_string(),
        word(serde_json::to_value(member.role)),
        word(serde_json::to_value(member.status)),
        word(serde_json::to_value(member.source)),
        if member.licence.is_some() {
            "active".into()
        } else {
            "none".into()
        },
        member
            .licence
            .as_ref()
            .map(|l| rfc3339(l.expires_at))
            .unwrap_or_default(),
        rfc3339(member.created_at),
        member.last_login_at.map(rfc3339).unwrap_or_default(),
    ]
}

async fn department_paths(app: &App, tenant_id: Uuid) -> ApiResult<HashMap<Uuid, String>> {
    Ok(crate::departments::all(app, tenant_id)
        .await?
        .iter()
        .map(|d| (d.id, crate::departments::relative_path(d)))
        .collect())
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

async fn write_csv(
    app: &App,
    source: &mut Source,
    paths: &HashMap<Uuid, String>,
    upload: &mut Multipart<'_>,
) -> ApiResult<u64> {
    let csv_bytes = |rows: &[Vec<String>]| -> ApiResult<Vec<u8>> {
        let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
        for r in rows {
            writer.write_record(r).map_err(ApiError::internal)?;
        }
        writer.into_inner().map_err(ApiError::internal)
    };
    // A BOM lets spreadsheet programs read the file as UTF-8.
    let mut head = b"\xEF\xBB\xBF".to_vec();
    head.extend(csv_bytes(&[COLUMNS
        .iter()
        .map(|c| c.to_string())
        .collect()])?);
    upload.write(&head).await?;
    let mut rows = 0u64;
    while let Some(members) = source.next(app).await? {
        let page: Vec<Vec<String>> = members
            .iter()
            .map(|m| row(m, paths).iter().map(|v| escape_formula(v)).collect())
            .collect();
        rows += page.len() as u64;
        upload.write(&csv_bytes(&page)?).await?;
    }
    Ok(rows)
}

async fn write_xlsx(
    app: &App,
    source: &mut Source,
    paths: &HashMap<Uuid, String>,
    upload: &mut Multipart<'_>,
) -> ApiResult<u64> {
    use rust_xlsxwriter::Workbook;
    let xlsx = |e: rust_xlsxwriter::XlsxError| ApiError::internal(e);
    let dir = std::env::temp_dir();
    let mut workbook = Workbook::new();
    workbook.set_tempdir(&dir).map_err(xlsx)?;
    let mut rows = 0u64;
    {
        let sheet = workbook
            .add_worksheet_with_constant_memory()
            .map_err(xlsx)?;
        sheet.set_name("Members").map_err(xlsx)?;
        for (col, name) in COLUMNS.iter().enumerate() {
            sheet.write_string(0, col as u16, *name).map_err(xlsx)?;
        }
        while let Some(members) = source.next(app).await? {
            for m in &members {
                rows += 1;
                let line = u32::try_from(rows).map_err(ApiError::internal)?;
                for (col, value) in row(m, paths).iter().enumerate() {
                    // Strings are stored as strings: a spreadsheet never evaluates them.
                    sheet.write_string(line, col as u16, value).map_err(xlsx)?;
                }
            }
        }
    }
    let path = dir.join(format!("roster-export-{}.xlsx", Uuid::now_v7()));
    let file = std::fs::File::create(&path).map_err(ApiError::internal)?;
    let saved = workbook.save_to_writer(file).map_err(xlsx);
    let uploaded = async {
        saved?;
        let mut file = std::fs::File::open(&path).map_err(ApiError::internal)?;
        let mut buffer = vec![0u8; PART_BYTES];
        loop {
            let n = read_full(&mut file, &mut buffer)?;
            if n == 0 {
                break;
            }
            upload.write(&buffer[..n]).await?;
        }
        Ok::<_, ApiError>(())
    }
    .await;
    let _ = std::fs::remove_file(&path);
    uploaded?;
    Ok(rows)
}

fn read_full(file: &mut std::fs::File, buffer: &mut [u8]) -> ApiResult<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        let n = file
            .read(&mut buffer[filled..])
            .map_err(ApiError::internal)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// An S3 multipart upload fed a slice at a time; a part goes out whenever 8 MiB are buffered.
struct Multipart<'a> {
    app: &'a App,
    key: String,
    upload_id: String,
    parts: Vec<CompletedPart>,
    buffer: Vec<u8>,
}

impl<'a> Multipart<'a> {
    async fn start(app: &'a App, key: &str, content_type: &str) -> ApiResult<Self> {
        let out = app
            .s3()
            .create_multipart_upload()
            .bucket(&app.config.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(ApiError::internal)?;
        Ok(Self {
            app,
            key: key.to_string(),
            upload_id: out
                .upload_id()
                .ok_or_else(|| ApiError::internal("no upload id"))?
                .to_string(),
            parts: Vec::new(),
            buffer: Vec::with_capacity(PART_BYTES),
        })
    }

    async fn write(&mut self, bytes: &[u8]) -> ApiResult<()> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= PART_BYTES {
            self.send_part().await?;
        }
        Ok(())
    }

    async fn send_part(&mut self) -> ApiResult<()> {
        let number = i32::try_from(self.parts.len() + 1).map_err(ApiError::internal)?;
        let body = std::mem::replace(&mut self.buffer, Vec::with_capacity(PART_BYTES));
        let out = self
            .app
            .s3()
            .upload_part()
            .bucket(&self.app.config.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(ApiError::internal)?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_string))
                .build(),
        );
        Ok(())
    }

    async fn finish(mut self) -> ApiResult<()> {
        if !self.buffer.is_empty() || self.parts.is_empty() {
            self.send_part().await?;
        }
        self.app
            .s3()
            .complete_multipart_upload()
            .bucket(&self.app.config.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(std::mem::take(&mut self.parts)))
                    .build(),
            )
            .send()
            .await
            .map_err(ApiError::internal)?;
        Ok(())
    }

    async fn abort(&self) {
        let aborted = self
            .app
            .s3()
            .abort_multipart_upload()
            .bucket(&self.app.config.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .send()
            .await;
        if let Err(err) = aborted {
            tracing::error!(error = %err, "aborting the export upload failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_escaped_and_others_kept() {
        assert_eq!(escape_formula("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(escape_formula("+1"), "'+1");
        assert_eq!(escape_formula("-2"), "'-2");
        assert_eq!(escape_formula("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(escape_formula("\tx"), "'\tx");
        assert_eq!(escape_formula("Ada"), "Ada");
        assert_eq!(escape_formula(""), "");
    }
}
