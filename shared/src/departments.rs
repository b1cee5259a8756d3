//! The department tree of a tenant. Each department stores its parent id, and its name path and
//! id path from the root; members index their department's id path, so a subtree's members are
//! one query (see `keys`). A move or a rename rewrites the paths of the subtree (and a move the
//! members' tree keys) in the same transaction when they fit in one; otherwise the department
//! changes at once and a job of the task centre rewrites the rest (`moves`), holding the subtree
//! against other moves, renames, deletes and new children until it is done. Ancestry is checked
//! along stored parent ids (`tree`).

pub mod moves;
mod tree;

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Requester;
use crate::auth::{Need, authorize};
use crate::error::{ApiError, ApiResult, Checks};
use crate::model::job::{JOB_RETENTION_DAYS, Job, JobCounts, JobKind, JobStatus, JobView};
use crate::model::keys::{DEPARTMENT_PREFIX, Key, subtree_prefix, tenant_partition};
use crate::model::roles::Permission;
use crate::model::tenant::Branding;
use crate::model::{List, PageParams};
use crate::store::{
    Condition, Item, MAX_TRANSACTION_ACTIONS, Query, SortRange, Transaction, from_item, num, s,
    to_item,
};
use crate::validate;
use moves::{MoveLock, MoveSpec, Placement, check_lock};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::OffsetDateTime;
use tree::{Placed, Tree};
use uuid::Uuid;

pub use crate::model::department::{Department, DepartmentSettings, MAX_DEPTH};
pub use crate::model::tenant::ContactVisibility;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentSettingsPatch {
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub branding: Option<Option<Branding>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub ip_allowlist: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub contact_visibility: Option<Option<ContactVisibility>>,
}

impl DepartmentSettingsPatch {
    fn apply(self, checks: &mut Checks, settings: &mut DepartmentSettings) {
        if let Some(branding) = self.branding {
            settings.branding = branding.map(|b| b.validate(checks, "settings.branding"));
        }
        if let Some(list) = self.ip_allowlist {
            settings.ip_allowlist =
                list.map(|l| validate::cidrs(checks, "settings.ip_allowlist", &l));
        }
        if let Some(visibility) = self.contact_visibility {
            settings.contact_visibility = visibility;
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub parent_id: Option<Uuid>,
    pub path: String,
    pub depth: u32,
    pub member_count: u32,
    pub child_count: u32,
    pub settings: DepartmentSettings,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&Department> for DepartmentView {
    fn from(d: &Department) -> Self {
        Self {
            id: d.id,
            tenant_id: d.tenant_id,
            name: d.name.clone(),
            parent_id: d.parent_id,
            path: d.path.clone(),
            depth: d.depth,
            member_count: d.member_count,
            child_count: d.child_count,
            settings: d.settings.clone(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

fn name_taken(name: &str) -> ApiError {
    ApiError::Conflict(format!(
        "a department named \"{name}\" already exists under this parent"
    ))
}

fn changed_concurrently() -> ApiError {
    ApiError::Conflict("the department changed at the same time; read it again and retry".into())
}

fn department(item: Option<Item>) -> ApiResult<Department> {
    from_item(item.ok_or(ApiError::NotFound)?)
}

/// The tree, flat, in creation order, one page at a time.
pub async fn list(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    page: PageParams,
) -> ApiResult<List<DepartmentView>> {
    authorize(app, requester, tenant_id, Need::Member, &[]).await?;
    let query = Query::new(
        None,
        tenant_partition(tenant_id),
        SortRange::Prefix(DEPARTMENT_PREFIX.into()),
    )
    .page(&page);
    app.store
        .query(query)
        .await?
        .into_list(|d: Department| DepartmentView::from(&d))
}

pub async fn get(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    department_id: Uuid,
) -> ApiResult<DepartmentView> {
    let (_, items) = authorize(
        app,
        requester,
        tenant_id,
        Need::Member,
        &[Key::department(tenant_id, department_id)],
    )
    .await?;
    Ok(DepartmentView::from(&department(
        items.into_iter().next().flatten(),
    )?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDepartment {
    pub name: String,
    pub parent_id: Uuid,
    #[serde(default)]
    pub settings: Option<DepartmentSettingsPatch>,
}

/// A department's IP allowlist is a security setting: it takes `settings.write`, like the
/// tenant's, not only `departments.write`.
fn settings_write_needed(access: &crate::auth::Access) -> ApiResult<()> {
    if access.allows(Permission::SettingsWrite) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "a department's IP allowlist needs the settings.write permission",
        ))
    }
}

/// A sub-department: one batched read (caller, parent and the tenant's move lock), one
/// transaction. No child is added to a subtree that is being moved.
pub async fn create(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    input: CreateDepartment,
) -> ApiResult<DepartmentView> {
    let mut checks = Checks::new();
    let name = validate::department_name(&mut checks, "name", &input.name);
    let mut settings = DepartmentSettings::default();
    if let Some(patch) = input.settings {
        patch.apply(&mut checks, &mut settings);
    }
    checks.finish()?;
    let (access, items) = authorize(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::DepartmentsWrite),
        &[
            Key::department(tenant_id, input.parent_id),
            Key::department_move(tenant_id),
        ],
    )
    .await?;
    if settings.ip_allowlist.is_some() {
        settings_write_needed(&access)?;
    }
    let mut items = items.into_iter();
    let parent = department(items.next().flatten())
        .map_err(|_| ApiError::invalid("parent_id", "is not a department of this tenant"))?;
    let lock = MoveLock::of(items.next().flatten())?;
    if let Some(lock) = lock.as_ref().filter(|l| l.holds(&parent)) {
        return Err(lock.refusal());
    }
    if parent.depth >= MAX_DEPTH {
        return Err(ApiError::invalid(
            "parent_id",
            format!("departments nest at most {MAX_DEPTH} levels deep"),
        ));
    }
    let now = app.now();
    let id = Uuid::now_v7();
    let created = Department {
        id,
        tenant_id,
        name: name.clone(),
        parent_id: Some(parent.id),
        path: format!("{}/{}", parent.path, name),
        id_path: format!("{}/{}", parent.id_path, id),
        depth: parent.depth + 1,
        member_count: 0,
        child_count: 0,
        settings,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = Transaction::new();
    tx.put(
        app.table(),
        created.to_item()?,
        Some((Condition::absent(), changed_concurrently())),
    )?;
    tx.put(
        app.table(),
        to_item(
            &NameGuard { department_id: id },
            &Key::sibling_name(tenant_id, parent.id, &name),
            &[],
        )?,
        Some((Condition::absent(), name_taken(&name))),
    )?;
    // The parent must still be where and what it was read as: a concurrent move or rename
    // would leave the new department's paths wrong.
    tx.update(
        app.table(),
        &parent.key(),
        Condition::new("ADD child_count :one").value(":one", num(1)),
        Some((
            Condition::new("id_path = :id_path AND #path = :path")
                .name("#path", "path")
                .value(":id_path", s(&parent.id_path))
                .value(":path", s(&parent.path)),
            ApiError::Conflict(
                "the parent department was moved, renamed or deleted meanwhile; retry".into(),
            ),
        )),
    )?;
    check_lock(app, &mut tx, tenant_id, lock.as_ref())?;
    let view = DepartmentView::from(&created);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "department.create",
            target_type: "department",
            target_id: id,
            before: None,
            after: audit::snapshot(&view),
        },
    )?;
    app.store.transact(tx).await?;
    Ok(view)
}

/// The guard that keeps sibling names unique (case-insensitively).
#[derive(Debug, Serialize, Deserialize)]
struct NameGuard {
    department_id: Uuid,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    #[serde(default)]
    pub settings: Option<DepartmentSettingsPatch>,
}

/// What a change of a department answers: the department, or, for a move or rename whose
/// subtree does not fit one transaction, the job that finishes it.
#[derive(Debug)]
pub enum Updated {
    Done(DepartmentView),
    Moving(JobView),
}

fn too_deep() -> ApiError {
    ApiError::invalid(
        "parent_id",
        format!("departments nest at most {MAX_DEPTH} levels deep"),
    )
}

/// Rename, move and settings. A move never goes under the department itself or a descendant
/// (along stored parent ids: `department_cycle`), never deeper than `MAX_DEPTH` (the department
/// or any descendant), and neither moves nor renames reach into, out of or above a subtree whose
/// move is still running (`conflict`). The subtree's paths and, for a move, its members' tree
/// keys change in the same transaction when they fit in one; otherwise the department changes at
/// once together with a job that rewrites the rest (`Updated::Moving`, see `moves`).
pub async fn update(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    department_id: Uuid,
    patch: DepartmentPatch,
) -> ApiResult<Updated> {
    let mut checks = Checks::new();
    let name = patch
        .name
        .as_deref()
        .map(|n| validate::department_name(&mut checks, "name", n));
    checks.finish()?;
    let mut keys = vec![
        Key::department(tenant_id, department_id),
        Key::department_move(tenant_id),
    ];
    if let Some(parent_id) = patch.parent_id {
        keys.push(Key::department(tenant_id, parent_id));
    }
    let (access, items) = authorize(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::DepartmentsWrite),
        &keys,
    )
    .await?;
    let mut items = items.into_iter();
    let before = department(items.next().flatten())?;
    let lock = MoveLock::of(items.next().flatten())?;
    let new_parent =
        match patch.parent_id {
            Some(_) => Some(department(items.next().flatten()).map_err(|_| {
                ApiError::invalid("parent_id", "is not a department of this tenant")
            })?),
            None => None,
        };

    let mut after = before.clone();
    let mut checks = Checks::new();
    if let Some(settings) = patch.settings {
        settings.apply(&mut checks, &mut after.settings);
    }
    checks.finish()?;
    if after.settings.ip_allowlist != before.settings.ip_allowlist {
        settings_write_needed(&access)?;
    }
    if let Some(name) = name {
        after.name = name;
    }
    let new_parent = match new_parent {
        Some(parent) if Some(parent.id) != before.parent_id => {
            if before.parent_id.is_none() {
                return Err(ApiError::Conflict("the root department cannot move".into()));
            }
            if before.contains(&parent) {
                return Err(ApiError::DepartmentCycle);
            }
            after.parent_id = Some(parent.id);
            after.id_path = format!("{}/{}", parent.id_path, before.id);
            after.depth = parent.depth + 1;
            Some(parent)
        }
        _ => None,
    };
    let moved = new_parent.is_some();
    let parent_path = match (&new_parent, before.parent_id) {
        (Some(parent), _) => Some(parent.path.clone()),
        (None, Some(_)) => before.path.rsplit_once('/').map(|(p, _)| p.to_string()),
        (None, None) => None,
    };
    after.path = match parent_path {
        Some(p) => format!("{p}/{}", after.name),
        None => after.name.clone(),
    };
    if after.depth > MAX_DEPTH {
        return Err(too_deep());
    }
    // A move or a rename rewrites the paths below: not of a subtree a running move holds, nor
    // above it.
    let reshaped = moved || after.path != before.path;
    if reshaped && let Some(lock) = &lock {
        let into = new_parent.as_ref().is_some_and(|p| lock.holds(p));
        if into || lock.touches(&before) {
            return Err(lock.refusal());
        }
    }
    after.updated_at = app.now();
    after.version += 1;

    // The subtree, along stored parent ids. A leaf has none: its child count, conditioned in the
    // transaction, says so (and so no cycle can form through it either).
    let below = if reshaped && before.child_count > 0 {
        let tree = Tree::read(app, tenant_id).await?;
        if let Some(parent) = &new_parent
            && tree.is_within(parent.id, before.id)
        {
            return Err(ApiError::DepartmentCycle);
        }
        let below = tree.place_below(&after);
        if below.iter().any(|d| d.depth > MAX_DEPTH) {
            return Err(too_deep());
        }
        below
    } else {
        Vec::new()
    };
    let members_total = if moved {
        before.member_count as usize
            + below
                .iter()
                .map(|d| d.before.member_count as usize)
                .sum::<usize>()
    } else {
        0
    };

    let mut tx = Transaction::new();
    write_department(app, &mut tx, &before, &after, new_parent.as_ref())?;
    let view = DepartmentView::from(&after);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: if moved {
                "department.move"
            } else {
                "department.update"
            },
            target_type: "department",
            target_id: department_id,
            before: audit::snapshot(&DepartmentView::from(&before)),
            after: audit::snapshot(&view),
        },
    )?;

    // One transaction: the above, the move lock's check, the descendants and the members.
    let room = MAX_TRANSACTION_ACTIONS.saturating_sub(tx.len() + 1);
    if below.len() + members_total <= room {
        let members = if members_total > 0 {
            moves::members_below(app, tenant_id, &before.id_path).await?
        } else {
            Vec::new()
        };
        let mut counts: HashMap<Uuid, u32> = below
            .iter()
            .map(|d| (d.before.id, d.before.member_count))
            .collect();
        counts.insert(before.id, before.member_count);
        if members_total == 0 || moves::index_agrees(&members, &counts) {
            if reshaped {
                check_lock(app, &mut tx, tenant_id, lock.as_ref())?;
            }
            rewrite_subtree(app, &mut tx, &after, &below, &members, moved)?;
            app.store.transact(tx).await?;
            return Ok(Updated::Done(view));
        }
    }
    // Larger (or the tree index is behind the member counts): the department moves now, and a
    // job rewrites the rest. One such job per tenant at a time.
    if let Some(lock) = &lock {
        return Err(lock.refusal());
    }
    let job = start_move(
        app,
        &mut tx,
        &access,
        &before,
        &after,
        &below,
        members_total,
    )?;
    app.store.transact(tx).await?;
    Ok(Updated::Moving(job))
}

/// The department's own change, its sibling-name guards and, for a move, the child counts of
/// its old and new parent.
fn write_department(
    app: &App,
    tx: &mut Transaction,
    before: &Department,
    after: &Department,
    new_parent: Option<&Department>,
) -> ApiResult<()> {
    // The children read are all the children (one created meanwhile would keep the old paths),
    // and for a move the members read are all the members: otherwise the change is refused and
    // retried instead.
    let mut condition = Condition::new("#version = :version AND child_count = :children")
        .name("#version", "version")
        .value(":version", num(before.version))
        .value(":children", num(before.child_count));
    if new_parent.is_some() {
        condition
            .expression
            .push_str(" AND member_count = :members");
        condition = condition.value(":members", num(before.member_count));
    }
    // Only the editable fields: the counters move concurrently without touching `version`.
    tx.update(
        app.table(),
        &after.key(),
        Condition::new(
            "SET #name = :name, parent_id = :parent, #path = :path, id_path = :id_path, \
             #depth = :depth, settings = :settings, updated_at = :now, version = :next",
        )
        .name("#name", "name")
        .name("#path", "path")
        .name("#depth", "depth")
        .value(":name", s(&after.name))
        .value(
            ":parent",
            serde_dynamo::to_attribute_value(after.parent_id).map_err(ApiError::internal)?,
        )
        .value(":path", s(&after.path))
        .value(":id_path", s(&after.id_path))
        .value(":depth", num(after.depth))
        .value(
            ":settings",
            serde_dynamo::to_attribute_value(&after.settings).map_err(ApiError::internal)?,
        )
        .value(":now", s(crate::model::time::rfc3339(after.updated_at)))
        .value(":next", num(after.version)),
        Some((condition, changed_concurrently())),
    )?;
    if let (Some(old_parent), Some(new_parent_id)) = (before.parent_id, after.parent_id) {
        let old_guard = Key::sibling_name(before.tenant_id, old_parent, &before.name);
        let new_guard = Key::sibling_name(before.tenant_id, new_parent_id, &after.name);
        if old_guard != new_guard {
            tx.delete(app.table(), &old_guard, None)?;
            tx.put(
                app.table(),
                to_item(
                    &NameGuard {
                        department_id: before.id,
                    },
                    &new_guard,
                    &[],
                )?,
                Some((Condition::absent(), name_taken(&after.name))),
            )?;
        }
    }
    if let (Some(parent), Some(old_parent)) = (new_parent, before.parent_id) {
        tx.update(
            app.table(),
            &Key::department(before.tenant_id, old_parent),
            Condition::new("ADD child_count :minus").value(":minus", num(-1)),
            Some((
                Condition::new("child_count >= :one").value(":one", num(1)),
                changed_concurrently(),
            )),
        )?;
        // The new parent must not have moved since it was read: that is what keeps two
        // concurrent moves from building a cycle.
        tx.update(
            app.table(),
            &parent.key(),
            Condition::new("ADD child_count :one").value(":one", num(1)),
            Some((
                Condition::new("id_path = :id_path").value(":id_path", s(&parent.id_path)),
                ApiError::Conflict("the new parent moved or was deleted; retry".into()),
            )),
        )?;
    }
    Ok(())
}

/// Adds the descendants' new places and, for a move, the members' new tree keys to `tx`.
fn rewrite_subtree(
    app: &App,
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
        rewrite_descendant(app, tx, placed, moved)?;
    }
    for member in members {
        if let Some(id_path) = id_paths.get(&member.department_id) {
            member.rewrite(app, tx, id_path)?;
        }
    }
    Ok(())
}

/// A descendant's new name path, id path and depth, while it is as read: same version (not
/// renamed, not moved, no settings changed meanwhile), same children and, when its members are
/// rewritten in the same transaction, the same members.
pub(crate) fn rewrite_descendant(
    app: &App,
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
        app.table(),
        &d.key(),
        Condition::new("SET #path = :path, id_path = :id_path, #depth = :depth ADD #version :one")
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
fn start_move(
    app: &App,
    tx: &mut Transaction,
    access: &crate::auth::Access,
    before: &Department,
    after: &Department,
    below: &[Placed],
    members_total: usize,
) -> ApiResult<JobView> {
    let now = app.now();
    let spec = MoveSpec {
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
    };
    let placed_now = tx.len() + 2 + below.len() <= MAX_TRANSACTION_ACTIONS;
    if placed_now {
        for placed in below {
            rewrite_descendant(app, tx, placed, false)?;
        }
    }
    let job = Job {
        id: Uuid::now_v7(),
        tenant_id: before.tenant_id,
        kind: JobKind::DepartmentMove,
        status: JobStatus::Queued,
        created_by: access.caller.user_id,
        export: None,
        import: None,
        counts: JobCounts {
            total: (below.len() + members_total) as u64,
            succeeded: if placed_now { below.len() as u64 } else { 0 },
            failed: 0,
        },
        file_key: None,
        error: None,
        created_at: now,
        updated_at: now,
        finished_at: None,
        ttl: (now + time::Duration::days(JOB_RETENTION_DAYS)).unix_timestamp(),
    };
    tx.put(
        app.table(),
        moves::job_item(&job, &spec)?,
        Some((Condition::absent(), ApiError::internal("job id collision"))),
    )?;
    tx.put(
        app.table(),
        MoveLock::for_job(job.id, &spec, before.tenant_id).item()?,
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

/// Deletes an empty department; the root never.
pub async fn delete(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    department_id: Uuid,
) -> ApiResult<()> {
    let (access, items) = authorize(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::DepartmentsWrite),
        &[
            Key::department(tenant_id, department_id),
            Key::department_move(tenant_id),
        ],
    )
    .await?;
    let mut items = items.into_iter();
    let dept = department(items.next().flatten())?;
    let lock = MoveLock::of(items.next().flatten())?;
    let Some(parent_id) = dept.parent_id else {
        return Err(ApiError::Conflict(
            "the root department cannot be deleted".into(),
        ));
    };
    // Nothing leaves a subtree that is being moved.
    if let Some(lock) = lock.as_ref().filter(|l| l.holds(&dept)) {
        return Err(lock.refusal());
    }
    if dept.member_count > 0 || dept.child_count > 0 {
        return Err(ApiError::DepartmentNotEmpty);
    }
    let mut tx = Transaction::new();
    // The counters are re-checked in the transaction: a member added meanwhile keeps it alive.
    tx.delete(
        app.table(),
        &dept.key(),
        Some((
            Condition::new("attribute_exists(pk) AND member_count = :zero AND child_count = :zero")
                .value(":zero", num(0)),
            ApiError::DepartmentNotEmpty,
        )),
    )?;
    check_lock(app, &mut tx, tenant_id, lock.as_ref())?;
    tx.delete(
        app.table(),
        &Key::sibling_name(tenant_id, parent_id, &dept.name),
        None,
    )?;
    tx.update(
        app.table(),
        &Key::department(tenant_id, parent_id),
        Condition::new("ADD child_count :minus").value(":minus", num(-1)),
        Some((
            Condition::counters_cover(&[("child_count", -1)]),
            ApiError::Conflict("the parent department changed at the same time; retry".into()),
        )),
    )?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "department.delete",
            target_type: "department",
            target_id: department_id,
            before: audit::snapshot(&DepartmentView::from(&dept)),
            after: None,
        },
    )?;
    app.store.transact(tx).await
}

/// Every department of the tenant, read once (one query).
pub(crate) async fn all(app: &App, tenant_id: Uuid) -> ApiResult<Vec<Department>> {
    app.store
        .query_all(Query::new(
            None,
            tenant_partition(tenant_id),
            SortRange::Prefix(DEPARTMENT_PREFIX.into()),
        ))
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

/// A department's path below the root, as files carry it: `Sales/EMEA`; the root is empty.
pub fn relative_path(department: &Department) -> String {
    match department.path.split_once('/') {
        Some((_, below)) if department.parent_id.is_some() => below.to_string(),
        _ => String::new(),
    }
}
