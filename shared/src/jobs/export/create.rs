//! Creating an export job: the request checked against its scope, and the job queued for the
//! export function.

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Need, Requester, authorize_with_tenant};
use crate::error::{ApiError, ApiResult, Checks};
use crate::jobs::{JOB_RETENTION_DAYS, Job, JobCounts, JobKind, JobStatus, JobView};
use crate::model::job::{ExportFormat, ExportScope, ExportSpec};
use crate::model::keys::Key;
use crate::model::member::fold;
use crate::model::roles::Permission;
use crate::store::{Batch, Condition, Transaction};
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// The most ids a chosen-ids export names.
pub const MAX_SELECTED: usize = 1000;

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
    check(&input)?;
    let mut batch = Batch::new();
    let department = department_of(&input).map(|d| batch.read_item(Key::department(tenant_id, d)));
    let (access, _, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::ExportsRun),
        batch,
    )
    .await?;
    // A file of the directory carries the admin view (roles, licences, status): it needs what
    // reading that view needs.
    if !access.allows(Permission::MembersRead) {
        return Err(crate::members::directory::needs_members_read());
    }
    if department.is_some_and(|slot| read.take_item(slot).is_none()) {
        return Err(ApiError::invalid(
            "department_id",
            "is not a department of this tenant",
        ));
    }
    let now = app.now();
    let job = new_job(tenant_id, access.caller.user_id, spec_of(input), now);
    let mut tx = Transaction::new();
    tx.put(
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

/// The request against its scope: what each scope needs, and the query's bound.
fn check(input: &CreateExport) -> ApiResult<()> {
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
    checks.finish()
}

/// The department a department export reads.
fn department_of(input: &CreateExport) -> Option<Uuid> {
    input
        .department_id
        .filter(|_| input.scope == ExportScope::Department)
}

/// What the job keeps of the request: only what its scope reads.
fn spec_of(input: CreateExport) -> ExportSpec {
    ExportSpec {
        scope: input.scope,
        format: input.format,
        department_id: department_of(&input),
        include_descendants: input.include_descendants.unwrap_or(false),
        member_ids: input
            .member_ids
            .filter(|_| input.scope == ExportScope::Selected),
        query: input
            .query
            .filter(|_| input.scope == ExportScope::Query)
            .map(|q| q.trim().to_string()),
    }
}

fn new_job(tenant_id: Uuid, created_by: Uuid, spec: ExportSpec, now: OffsetDateTime) -> Job {
    Job {
        id: Uuid::now_v7(),
        tenant_id,
        kind: JobKind::Export,
        status: JobStatus::Queued,
        created_by,
        export: Some(spec),
        import: None,
        counts: JobCounts::default(),
        file_key: None,
        error: None,
        created_at: now,
        updated_at: now,
        finished_at: None,
        ttl: (now + time::Duration::days(JOB_RETENTION_DAYS)).unix_timestamp(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(scope: ExportScope) -> CreateExport {
        CreateExport {
            scope,
            format: ExportFormat::Csv,
            department_id: None,
            include_descendants: None,
            member_ids: None,
            query: None,
        }
    }

    fn refused_field(input: &CreateExport) -> Option<String> {
        match check(input) {
            Ok(()) => None,
            Err(ApiError::Validation(fields)) => Some(fields[0].field.to_string()),
            Err(other) => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn each_scope_needs_what_it_reads() {
        assert_eq!(refused_field(&input(ExportScope::All)), None);
        let department = input(ExportScope::Department);
        assert_eq!(refused_field(&department).as_deref(), Some("department_id"));
        let selected = CreateExport {
            member_ids: Some(Vec::new()),
            ..input(ExportScope::Selected)
        };
        assert_eq!(refused_field(&selected).as_deref(), Some("member_ids"));
        let blank = CreateExport {
            query: Some("  ".into()),
            ..input(ExportScope::Query)
        };
        assert_eq!(refused_field(&blank).as_deref(), Some("query"));
        let long = CreateExport {
            query: Some("x".repeat(201)),
            ..input(ExportScope::All)
        };
        assert_eq!(refused_field(&long).as_deref(), Some("query"));
    }

    #[test]
    fn the_job_keeps_only_what_its_scope_reads() {
        let department = Uuid::now_v7();
        let spec = spec_of(CreateExport {
            department_id: Some(department),
            member_ids: Some(vec![Uuid::now_v7()]),
            query: Some(" ada ".into()),
            ..input(ExportScope::Query)
        });
        assert_eq!(spec.department_id, None);
        assert_eq!(spec.member_ids, None);
        assert_eq!(spec.query.as_deref(), Some("ada"));
        assert!(!spec.include_descendants);
        let spec = spec_of(CreateExport {
            department_id: Some(department),
            include_descendants: Some(true),
            ..input(ExportScope::Department)
        });
        assert_eq!(spec.department_id, Some(department));
        assert!(spec.include_descendants);
    }
}
