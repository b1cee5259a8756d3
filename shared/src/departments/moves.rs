//! Department moves too large for one transaction, as jobs of the task centre.
//!
//! `departments::update` moves a department atomically when the department, its descendants and
//! its members' tree keys fit in one transaction. Otherwise it commits the department at its new
//! place together with a job (`kind: department_move`, answered `202`) and the tenant's move lock
//! (one such job per tenant at a time), and this worker rewrites the rest in chunks:
//!
//! 1. sub-departments: name path, id path and depth, placed along stored parent ids below the
//!    moved department (so a path left stale by anything earlier is put right too);
//! 2. members: each member still indexed under the department's former id path (or under a
//!    descendant's stale one) gets its department's current id path as tree key, and a new
//!    `version`, so that an edit which read the member before cannot write the old key back
//!    (its version condition fails).
//!
//! Every chunk is one transaction that also advances the job's counts and lease, conditioned on
//! the run that claimed the job, and every step is computed from what is stored: a rerun (after a
//! timeout, a crash or a redelivered record) continues where the last one stopped, and redoing a
//! chunk changes nothing. A run that uses up its budget puts the job back to `queued` (the
//! stream's MODIFY record starts the next run); one that fails gives up its lease so the event
//! source's retry, or the scheduled sweep, takes over at once. Until the job completes, the lock
//! keeps the moving subtree from other moves, renames, deletes and new children. The job
//! completes only after a whole pass over the former id path found nothing left, started at least
//! `SETTLE` after the last department was placed: the tree index is eventually consistent, and a
//! member added under an old id path just before must have shown up in it.

use super::lock::{MoveLock, Placement};
use super::reshape::rewrite_descendant;
use super::tree::{Placed, Tree};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
pub(crate) use crate::model::job::spec_of;
use crate::model::job::{Job, JobStatus};
pub use crate::model::job::{MoveSpec, MoveView};
use crate::model::keys::{
    DEPARTMENT_MOVE_QUEUE, GSI2, GSI4, Key, subtree_prefix, tree_partition, tree_position,
};
use crate::model::time::rfc3339;
use crate::store::{
    Condition, MAX_TRANSACTION_ACTIONS, Query, SortRange, Transaction, Update, from_item, num, s,
};
use crate::worker_events::{Named, Scheduled, StreamOr};
use serde::Serialize;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Rewrites per transaction: one action is the job's progress.
const CHUNK: usize = MAX_TRANSACTION_ACTIONS - 1;
/// How long a run holds its job after its last chunk before another run may take it over.
const LEASE_SECONDS: i64 = 60;
/// How long after the last department was placed the final pass starts (index propagation).
const SETTLE: Duration = Duration::from_secs(1);
/// What one worker invocation spends before it hands the job on (template.yaml gives 300 s).
const WORKER_SECONDS: u64 = 240;

/// How much one run may do: a number of chunks (transactions) and a deadline.
#[derive(Debug, Clone, Copy, Default)]
pub struct Budget {
    chunks: Option<u64>,
    until: Option<Instant>,
}

impl Budget {
    /// Stops after `n` chunks, as if the run were cut off there (for tests and tools).
    pub fn chunks(n: u64) -> Self {
        Self {
            chunks: Some(n),
            until: None,
        }
    }

    pub fn unlimited() -> Self {
        Self::default()
    }

    /// What a worker invocation spends.
    pub fn worker() -> Self {
        Self {
            chunks: None,
            until: Some(Instant::now() + Duration::from_secs(WORKER_SECONDS)),
        }
    }

    fn spent(&self, report: &RunReport) -> bool {
        self.chunks.is_some_and(|n| report.transactions >= n)
            || self.until.is_some_and(|t| Instant::now() >= t)
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// The run claimed the job (false: done already, or held by another run).
    pub ran: bool,
    pub finished: bool,
    pub departments: u64,
    pub members: u64,
    pub transactions: u64,
}

struct Claim {
    tenant_id: Uuid,
    job_id: Uuid,
    run: Uuid,
    spec: MoveSpec,
}

fn lost_claim() -> ApiError {
    ApiError::Conflict("the move job was taken over by another run".into())
}

fn claimed_by(run: Uuid) -> Condition {
    Condition::new("#mv.#run = :run")
        .name("#mv", "department_move")
        .name("#run", "run_id")
        .value(":run", s(run.to_string()))
}

/// Runs a move job until it is done or `budget` is spent; a job not claimable (finished, or
/// held by a live run) is left alone.
pub async fn run(app: &App, tenant_id: Uuid, job_id: Uuid, budget: Budget) -> ApiResult<RunReport> {
    let mut report = RunReport::default();
    let Some(claim) = claim(app, tenant_id, job_id).await? else {
        return Ok(report);
    };
    report.ran = true;
    match work(app, &claim, &budget, &mut report).await {
        Ok(true) => {
            finish(app, &claim).await?;
            report.finished = true;
        }
        Ok(false) => release(app, &claim, true).await?,
        Err(err) => {
            tracing::error!(job = %job_id, error = %err, "department move interrupted");
            if let Err(release_err) = release(app, &claim, false).await {
                tracing::error!(job = %job_id, error = %release_err, "releasing the move failed");
            }
            return Err(err);
        }
    }
    Ok(report)
}

async fn claim(app: &App, tenant_id: Uuid, job_id: Uuid) -> ApiResult<Option<Claim>> {
    let Some(item) = app.store.get(&Key::job(tenant_id, job_id)).await? else {
        return Ok(None);
    };
    let Some(spec) = spec_of(&item)? else {
        return Ok(None);
    };
    let job: Job = from_item(item)?;
    let now = app.now().unix_timestamp();
    let free = match job.status {
        JobStatus::Queued => true,
        JobStatus::Running => spec.lease_until.is_none_or(|until| until <= now),
        _ => false,
    };
    if !free {
        return Ok(None);
    }
    let run = Uuid::now_v7();
    let mut tx = Transaction::new();
    tx.update(
        &Key::job(tenant_id, job_id),
        Update::new(
            "SET #status = :running, updated_at = :at, #mv.#run = :run, #mv.#lease = :lease",
        )
        .name("#status", "status")
        .name("#mv", "department_move")
        .name("#run", "run_id")
        .name("#lease", "lease_until")
        .value(":running", s("running"))
        .value(":at", s(rfc3339(app.now())))
        .value(":run", s(run.to_string()))
        .value(":lease", num(now + LEASE_SECONDS)),
        Some((
            Condition::new(
                "#status = :queued OR (#status = :running AND \
                 (attribute_not_exists(#mv.#lease) OR #mv.#lease <= :now))",
            )
            .name("#status", "status")
            .name("#mv", "department_move")
            .name("#lease", "lease_until")
            .value(":queued", s("queued"))
            .value(":now", num(now)),
            lost_claim(),
        )),
    )?;
    match app.store.transact(tx).await {
        Ok(()) => Ok(Some(Claim {
            tenant_id,
            job_id,
            run,
            spec,
        })),
        Err(ApiError::Conflict(_)) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Adds the job's progress to a chunk: `done` more rewrites, the lease renewed; the chunk goes
/// through only while this run holds the job.
fn progress(app: &App, tx: &mut Transaction, claim: &Claim, done: usize) -> ApiResult<()> {
    let now = app.now();
    tx.update(
        &Key::job(claim.tenant_id, claim.job_id),
        Update::new(
            "SET updated_at = :at, #mv.#lease = :lease, #counts.#done = #counts.#done + :n",
        )
        .name("#mv", "department_move")
        .name("#lease", "lease_until")
        .name("#counts", "counts")
        .name("#done", "succeeded")
        .value(":at", s(rfc3339(now)))
        .value(":lease", num(now.unix_timestamp() + LEASE_SECONDS))
        .value(":n", num(done)),
        Some((claimed_by(claim.run), lost_claim())),
    )
}

/// Places the subtree, then the members; true when nothing is left.
async fn work(
    app: &App,
    claim: &Claim,
    budget: &Budget,
    report: &mut RunReport,
) -> ApiResult<bool> {
    let Some(tree) = place_departments(app, claim, budget, report).await? else {
        return Ok(false);
    };
    if claim.spec.old_id_path == claim.spec.new_id_path {
        return Ok(true);
    }
    place_members(app, claim, &tree, budget, report).await
}

/// Rewrites descendants not yet where they belong, a chunk at a time; the tree once they all
/// are, None when the budget ran out first.
async fn place_departments(
    app: &App,
    claim: &Claim,
    budget: &Budget,
    report: &mut RunReport,
) -> ApiResult<Option<Tree>> {
    let mut conflicts = 0;
    loop {
        let tree = Tree::read(app, claim.tenant_id).await?;
        let top = tree
            .get(claim.spec.department_id)
            .ok_or_else(|| ApiError::internal("the moving department is gone"))?;
        let pending: Vec<Placed> = tree
            .place_below(top)
            .into_iter()
            .filter(Placed::changed)
            .collect();
        if pending.is_empty() {
            return Ok(Some(tree));
        }
        if budget.spent(report) {
            return Ok(None);
        }
        let chunk = &pending[..pending.len().min(CHUNK)];
        let mut tx = Transaction::new();
        for placed in chunk {
            rewrite_descendant(&mut tx, placed, false)?;
        }
        progress(app, &mut tx, claim, chunk.len())?;
        report.transactions += 1;
        match app.store.transact(tx).await {
            Ok(()) => report.departments += chunk.len() as u64,
            // A settings change of a descendant meanwhile: read the tree again.
            Err(ApiError::Conflict(_)) if conflicts < 3 => conflicts += 1,
            Err(err) => return Err(err),
        }
    }
}

/// Rewrites the tree keys of members still indexed under the former id path (and the stale
/// ones), a page at a time, until a whole pass (started late enough) finds none; false when the
/// budget ran out first.
async fn place_members(
    app: &App,
    claim: &Claim,
    tree: &Tree,
    budget: &Budget,
    report: &mut RunReport,
) -> ApiResult<bool> {
    let placed_at = Instant::now();
    let mut prefixes = vec![subtree_prefix(&claim.spec.old_id_path)];
    prefixes.extend(claim.spec.stale_prefixes.iter().cloned());
    loop {
        let pass = Instant::now();
        let mut rewritten = false;
        for prefix in &prefixes {
            let mut cursor = None;
            loop {
                let mut query = Query::new(
                    Some(GSI2),
                    tree_partition(claim.tenant_id),
                    SortRange::Prefix(prefix.clone()),
                );
                query.limit = CHUNK as u32;
                query.cursor = cursor;
                let page = app.store.query(query).await?;
                let found: Vec<Placement> = page.items.iter().filter_map(Placement::of).collect();
                if !found.is_empty() {
                    if budget.spent(report) {
                        return Ok(false);
                    }
                    let n = rewrite_members(app, claim, tree, prefix, found, report).await?;
                    report.members += n;
                    rewritten |= n > 0;
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        if !rewritten {
            let settled = placed_at + SETTLE;
            if pass >= settled {
                return Ok(true);
            }
            tokio::time::sleep_until(settled.into()).await;
        }
    }
}

/// Where each member belongs: its department's id path now. None for a member that is not
/// under the former id path any more, or already where it belongs.
fn target<'t>(tree: &'t Tree, prefix: &str, member: &Placement) -> Option<&'t str> {
    if !member.tree_key.starts_with(prefix) {
        return None;
    }
    let id_path = tree.get(member.department_id)?.id_path.as_str();
    (tree_position(id_path, member.member_id) != member.tree_key).then_some(id_path)
}

/// One chunk of members. The tree index lags behind the table, and members change meanwhile:
/// when the chunk's conditions fail, the members are read again from the table and the chunk
/// is decided afresh once.
async fn rewrite_members(
    app: &App,
    claim: &Claim,
    tree: &Tree,
    prefix: &str,
    found: Vec<Placement>,
    report: &mut RunReport,
) -> ApiResult<u64> {
    let chunk = |members: &[Placement]| -> ApiResult<(Transaction, u64)> {
        let mut tx = Transaction::new();
        let mut n = 0;
        for member in members {
            if let Some(id_path) = target(tree, prefix, member) {
                member.rewrite(&mut tx, id_path)?;
                n += 1;
            }
        }
        progress(app, &mut tx, claim, n as usize)?;
        Ok((tx, n))
    };
    let (tx, n) = chunk(&found)?;
    if n == 0 {
        return Ok(0);
    }
    report.transactions += 1;
    match app.store.transact(tx).await {
        Ok(()) => return Ok(n),
        Err(ApiError::Conflict(_)) => {}
        Err(err) => return Err(err),
    }
    let keys: Vec<Key> = found.iter().map(|m| m.key.clone()).collect();
    let fresh: Vec<Placement> = app
        .store
        .get_many(&keys)
        .await?
        .iter()
        .flatten()
        .filter_map(Placement::of)
        .collect();
    let (tx, n) = chunk(&fresh)?;
    if n == 0 {
        return Ok(0);
    }
    report.transactions += 1;
    app.store.transact(tx).await?;
    Ok(n)
}

/// Completes the job and lifts the lock, in one transaction.
async fn finish(app: &App, claim: &Claim) -> ApiResult<()> {
    let now = s(rfc3339(app.now()));
    let mut tx = Transaction::new();
    tx.update(
        &Key::job(claim.tenant_id, claim.job_id),
        Update::new(
            "SET #status = :completed, finished_at = :at, updated_at = :at, \
             #counts.#total = #counts.#done REMOVE #mv.#run, #mv.#lease",
        )
        .name("#status", "status")
        .name("#counts", "counts")
        .name("#total", "total")
        .name("#done", "succeeded")
        .name("#mv", "department_move")
        .name("#lease", "lease_until")
        .value(":completed", s("completed"))
        .value(":at", now),
        Some((claimed_by(claim.run), lost_claim())),
    )?;
    tx.delete(
        &Key::department_move(claim.tenant_id),
        Some((
            Condition::new("attribute_not_exists(pk) OR job_id = :job")
                .value(":job", s(claim.job_id.to_string())),
            ApiError::internal("the move lock belongs to another job"),
        )),
    )?;
    app.store.transact(tx).await
}

/// Gives the job up: back to `queued` for the next run (its stream record starts one), or, after
/// a failure, still `running` but without a lease, for the event source's retry or the sweep.
async fn release(app: &App, claim: &Claim, requeue: bool) -> ApiResult<()> {
    let now = s(rfc3339(app.now()));
    let update = if requeue {
        Update::new("SET #status = :queued, updated_at = :at REMOVE #mv.#run, #mv.#lease")
            .name("#status", "status")
            .value(":queued", s("queued"))
    } else {
        Update::new("SET updated_at = :at REMOVE #mv.#run, #mv.#lease")
    };
    let mut tx = Transaction::new();
    tx.update(
        &Key::job(claim.tenant_id, claim.job_id),
        update
            .name("#mv", "department_move")
            .name("#lease", "lease_until")
            .value(":at", now),
        Some((claimed_by(claim.run), lost_claim())),
    )?;
    app.store.transact(tx).await
}

#[derive(Debug, Default, Serialize)]
pub struct WorkerReport {
    pub runs: usize,
    pub finished: usize,
    pub skipped: usize,
}

/// The move worker's entry: stream records of queued move jobs (template.yaml filters the stream
/// to them), or, from its schedule, a sweep of every tenant's move lock that takes over jobs
/// whose runs died.
pub async fn handle_event(app: &App, event: StreamOr<Scheduled>) -> ApiResult<WorkerReport> {
    let StreamOr::Stream(event) = event else {
        return sweep(app).await;
    };
    let mut report = WorkerReport::default();
    for record in &event.records {
        match Named::of(record).job("department_move") {
            Some((tenant_id, job_id)) => {
                let run = run(app, tenant_id, job_id, Budget::worker()).await?;
                tally(&mut report, &run);
            }
            None => report.skipped += 1,
        }
    }
    Ok(report)
}

fn tally(report: &mut WorkerReport, run: &RunReport) {
    if run.ran {
        report.runs += 1;
    } else {
        report.skipped += 1;
    }
    if run.finished {
        report.finished += 1;
    }
}

/// Every tenant's move lock (one gsi4 query): each job still queued, or running without a live
/// lease, is run. A failing job is logged and the others go on.
pub async fn sweep(app: &App) -> ApiResult<WorkerReport> {
    let locks = app
        .store
        .query_all(Query::new(
            Some(GSI4),
            DEPARTMENT_MOVE_QUEUE.to_string(),
            SortRange::All,
        ))
        .await?;
    let mut report = WorkerReport::default();
    for item in locks {
        let lock: MoveLock = match from_item(item) {
            Ok(lock) => lock,
            Err(err) => {
                tracing::error!(error = %err, "an unreadable department move lock");
                report.skipped += 1;
                continue;
            }
        };
        match run(app, lock.tenant_id, lock.job_id, Budget::worker()).await {
            Ok(run) => tally(&mut report, &run),
            Err(err) => {
                tracing::error!(job = %lock.job_id, error = %err, "department move failed");
                report.skipped += 1;
            }
        }
    }
    Ok(report)
}
