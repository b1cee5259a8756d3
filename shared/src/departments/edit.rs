//! Changing a department: rename, move and settings. Read (one batch), decide (`plan`), write
//! (one transaction: the department, and its subtree when it fits; otherwise a move job).

use super::counts::{Count, StillAt, add_to_count};
use super::guards::{NameGuard, changed_concurrently, name_taken};
use super::lock::{MoveLock, check_lock, members_below};
use super::plan::{Asked, Edit, fits_one_transaction};
use super::reshape::{rewrite_subtree, start_move};
use super::settings::DepartmentSettingsPatch;
use super::tree::Tree;
use super::view::DepartmentView;
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Access, Need, Requester, authorize};
use crate::error::{ApiError, ApiResult, Checks};
use crate::events::{self, EventType};
use crate::model::department::Department;
use crate::model::job::JobView;
use crate::model::keys::Key;
use crate::model::roles::Permission;
use crate::store::{Batch, Condition, Transaction, Update, num, s, to_item};
use crate::validate;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Default, Deserialize)]
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
    let read = Read::of(app, requester, tenant_id, department_id, patch.parent_id).await?;
    let asked = Asked {
        name,
        parent: read.new_parent,
        settings: patch.settings,
    };
    let may_write_settings = read.access.allows(Permission::SettingsWrite);
    let lock = read.lock.as_ref();
    let edit = Edit::plan(read.before, asked, may_write_settings, lock, app.now())?;
    let below = if edit.needs_subtree() {
        edit.place_subtree(&Tree::read(app, tenant_id).await?)?
    } else {
        Vec::new()
    };
    let members_total = edit.members_total(&below);

    let mut tx = Transaction::new();
    write_department(&mut tx, &edit)?;
    let view = DepartmentView::from(&edit.after);
    record_edit(app, &mut tx, &read.access, &edit, &view)?;
    // One transaction: the above, the move lock's check, the descendants and the members.
    if fits_one_transaction(tx.len(), below.len(), members_total) {
        let members = if members_total > 0 {
            members_below(app, tenant_id, &edit.before.id_path).await?
        } else {
            Vec::new()
        };
        if members_total == 0 || edit.has_every_member(&below, &members) {
            if edit.reshaped {
                check_lock(&mut tx, tenant_id, lock)?;
            }
            rewrite_subtree(&mut tx, &edit.after, &below, &members, edit.moved())?;
            app.store.transact(tx).await?;
            return Ok(Updated::Done(view));
        }
    }
    // Larger (or the tree index is behind the member counts): the department moves now, and a
    // job rewrites the rest. One such job per tenant at a time.
    if let Some(lock) = lock {
        return Err(lock.refusal());
    }
    let job = start_move(app, &mut tx, &read.access, &edit, &below, members_total)?;
    app.store.transact(tx).await?;
    Ok(Updated::Moving(job))
}

/// What a change reads in one batch with the caller: the department, the tenant's move lock and
/// the new parent, when one is named.
struct Read {
    access: Access,
    before: Department,
    lock: Option<MoveLock>,
    new_parent: Option<Department>,
}

impl Read {
    async fn of(
        app: &App,
        requester: &Requester,
        tenant_id: Uuid,
        department_id: Uuid,
        parent_id: Option<Uuid>,
    ) -> ApiResult<Self> {
        let mut batch = Batch::new();
        let before = batch.read::<Department>(Key::department(tenant_id, department_id));
        let lock = batch.read::<MoveLock>(Key::department_move(tenant_id));
        let new_parent =
            parent_id.map(|id| batch.read::<Department>(Key::department(tenant_id, id)));
        let (access, mut read) = authorize(
            app,
            requester,
            tenant_id,
            Need::Permission(Permission::DepartmentsWrite),
            batch,
        )
        .await?;
        let before = read.take(before)?.ok_or(ApiError::NotFound)?;
        let lock = read.take(lock)?;
        let new_parent = match new_parent {
            Some(slot) => Some(read.take(slot)?.ok_or_else(|| {
                ApiError::invalid("parent_id", "is not a department of this tenant")
            })?),
            None => None,
        };
        Ok(Self {
            access,
            before,
            lock,
            new_parent,
        })
    }
}

/// The department's own change, its sibling-name guards and, for a move, the child counts of
/// its old and new parent.
fn write_department(tx: &mut Transaction, edit: &Edit) -> ApiResult<()> {
    update_department(tx, edit)?;
    move_name_guard(tx, &edit.before, &edit.after)?;
    if let (Some(parent), Some(old_parent)) = (&edit.new_parent, edit.before.parent_id) {
        add_to_count(
            tx,
            &Key::department(edit.before.tenant_id, old_parent),
            Count::Children,
            -1,
            StillAt::Anywhere,
            changed_concurrently(),
        )?;
        // The new parent must not have moved since it was read: that is what keeps two
        // concurrent moves from building a cycle.
        add_to_count(
            tx,
            &parent.key(),
            Count::Children,
            1,
            StillAt::IdPath(&parent.id_path),
            ApiError::Conflict("the new parent moved or was deleted; retry".into()),
        )?;
    }
    Ok(())
}

/// The editable fields, while the department is as read. The children read are all the
/// children (one created meanwhile would keep the old paths), and for a move the members read
/// are all the members: otherwise the change is refused and retried instead.
fn update_department(tx: &mut Transaction, edit: &Edit) -> ApiResult<()> {
    let (before, after) = (&edit.before, &edit.after);
    let mut condition = Condition::new("#version = :version AND child_count = :children")
        .name("#version", "version")
        .value(":version", num(before.version))
        .value(":children", num(before.child_count));
    if edit.moved() {
        condition
            .expression
            .push_str(" AND member_count = :members");
        condition = condition.value(":members", num(before.member_count));
    }
    // Only the editable fields: the counters move concurrently without touching `version`.
    tx.update(
        &after.key(),
        Update::new(
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
    )
}

/// A renamed or moved department's sibling-name guard moves with it (the root has none).
fn move_name_guard(tx: &mut Transaction, before: &Department, after: &Department) -> ApiResult<()> {
    let (Some(old_parent), Some(new_parent)) = (before.parent_id, after.parent_id) else {
        return Ok(());
    };
    let old_guard = Key::sibling_name(before.tenant_id, old_parent, &before.name);
    let new_guard = Key::sibling_name(before.tenant_id, new_parent, &after.name);
    if old_guard == new_guard {
        return Ok(());
    }
    tx.delete(&old_guard, None)?;
    tx.put(
        to_item(
            &NameGuard {
                department_id: before.id,
            },
            &new_guard,
            &[],
        )?,
        Some((Condition::absent(), name_taken(&after.name))),
    )
}

fn record_edit(
    app: &App,
    tx: &mut Transaction,
    access: &Access,
    edit: &Edit,
    view: &DepartmentView,
) -> ApiResult<()> {
    audit::record(
        app,
        tx,
        &access.caller,
        Change {
            tenant_id: edit.before.tenant_id,
            action: edit.action(),
            target_type: "department",
            target_id: edit.before.id,
            before: audit::snapshot(&DepartmentView::from(&edit.before)),
            after: audit::snapshot(view),
        },
    )?;
    let event = if edit.moved() {
        EventType::DepartmentMoved
    } else {
        EventType::DepartmentUpdated
    };
    let tenant_id = edit.before.tenant_id;
    events::record(app, tx, &access.caller, tenant_id, event, view)
}
