//! Writing a reshaped subtree (after a move or a rename): the descendants' new places and the
//! members' new tree keys in the department's own transaction, or the move job that finishes
//! them (`moves`).

use super::guards::changed_concurrently;
use super::lock::{MoveLock, Placement};
use super::plan::Edit;
use super::tree::Placed;
use crate::app::App;
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use crate::model::department::Department;
use crate::model::job::{JOB_RETENTION_DAYS, Job, JobCounts, JobKind, JobStatus, JobView};
use crate::model::job::{MoveSpec, job_item};
use crate::model::keys::subtree_prefix;
use crate::store::{Condition, MAX_TRANSACTION_ACTIONS, Transaction, Update, num, s};
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// Adds the descendants' new places and, for a move, the members' new tree keys to `tx`.
pub(super) fn rewrite_subtree(
    tx: &mut Transaction,
    top: &Department,
    below: &[Placed],
    members: &[Placement],
    moved: bool,
) -> ApiResult<()> {
    let mut id_paths: HashMap<Uuid, &str> = below
        .iter()
        .map(|d| (d.before.id, d.id_path.as_str()))
        .collect();
    id_paths.insert(top.id, &top.id_path);
    for placed in below {
        rewrite_descendant(tx, placed, moved)?;
    }
    for member in members {
        if let Some(id_path) = id_paths.get(&member.department_id) {
            member.rewrite(tx, id_path)?;
        }
    }
    Ok(())
}

/// A descendant's new name path, id path and depth, while it is as read: same version (not
/// renamed, not moved, no settings changed meanwhile), same children and, when its members are
/// rewritten in the same transaction, the same members.
pub(crate) fn rewrite_descendant(
    tx: &mut Transaction,
    placed: &Placed,
    same_members: bool,
) -> ApiResult<()> {
    let d = &placed.before;
    let mut condition = Condition::new("#version = :version AND child_count = :children")
        .name("#version", "version")
        .value(":version", num(d.version))
        .value(":children", num(d.child_count));
    if same_members {
        condition
            .expression
            .push_str(" AND member_count = :members");
        condition = condition.value(":members", num(d.member_count));
    }
    tx.update(
        &d.key(),
        Update::new("SET #path = :path, id_path = :id_path, #depth = :depth ADD #version :one")
            .name("#path", "path")
            .name("#depth", "depth")
            .name("#version", "version")
            .value(":path", s(&placed.path))
            .value(":id_path", s(&placed.id_path))
            .value(":depth", num(placed.depth))
            .value(":one", num(1)),
        Some((condition, changed_concurrently())),
    )
}

/// Adds the move job and the tenant's move lock to `tx` (and the descendants' new places, when
/// they fit, so that only member keys are left to the job); the job as the answer shows it.
pub(super) fn start_move(
    app: &App,
    tx: &mut Transaction,
    access: &Access,
    edit: &Edit,
    below: &[Placed],
    members_total: usize,
) -> ApiResult<JobView> {
    let spec = move_spec(&edit.before, &edit.after, below);
    let placed_now = tx.len() + 2 + below.len() <= MAX_TRANSACTION_ACTIONS;
    if placed_now {
        for placed in below {
            rewrite_descendant(tx, placed, false)?;
        }
    }
    let job = move_job(
        app.now(),
        access,
        edit.before.tenant_id,
        (below.len() + members_total) as u64,
        if placed_now { below.len() as u64 } else { 0 },
    );
    tx.put(
        job_item(&job, &spec)?,
        Some((Condition::absent(), ApiError::internal("job id collision"))),
    )?;
    tx.put(
        MoveLock::for_job(job.id, &spec, edit.before.tenant_id).item()?,
        Some((
            Condition::absent(),
            ApiError::Conflict(
                "another department move started at the same time; retry once it has finished"
                    .into(),
            ),
        )),
    )?;
    Ok(JobView::of_move(&job, Some(&spec), None))
}

/// What the job is to do: the department's old and new place, and the id paths of descendants
/// that were stale (not below its old id path), whose members it also looks for.
fn move_spec(before: &Department, after: &Department, below: &[Placed]) -> MoveSpec {
    MoveSpec {
        department_id: before.id,
        from_parent_id: before.parent_id,
        to_parent_id: after.parent_id,
        from_path: before.path.clone(),
        to_path: after.path.clone(),
        old_id_path: before.id_path.clone(),
        new_id_path: after.id_path.clone(),
        stale_prefixes: below
            .iter()
            .filter(|d| {
                !d.before
                    .id_path
                    .starts_with(&subtree_prefix(&before.id_path))
            })
            .map(|d| format!("{}/#", d.before.id_path))
            .collect(),
        run_id: None,
        lease_until: None,
    }
}

/// A queued move job of `total` rewrites, `done` of them in the transaction that starts it.
fn move_job(now: OffsetDateTime, access: &Access, tenant_id: Uuid, total: u64, done: u64) -> Job {
    Job {
        id: Uuid::now_v7(),
        tenant_id,
        kind: JobKind::DepartmentMove,
        status: JobStatus::Queued,
        created_by: access.caller.user_id,
        export: None,
        import: None,
        counts: JobCounts {
            total,
            succeeded: done,
            failed: 0,
        },
        file_key: None,
        error: None,
        created_at: now,
        updated_at: now,
        finished_at: None,
        ttl: (now + time::Duration::days(JOB_RETENTION_DAYS)).unix_timestamp(),
    }
}
