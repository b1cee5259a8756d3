//! Creating a sub-department.

use super::counts::{Count, StillAt, add_to_count};
use super::guards::{NameGuard, changed_concurrently, name_taken};
use super::lock::{MoveLock, check_lock};
use super::settings::DepartmentSettingsPatch;
use super::settings::settings_write_needed;
use super::view::DepartmentView;
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Need, Requester, authorize};
use crate::error::{ApiError, ApiResult, Checks};
use crate::events::{self, EventType};
use crate::model::department::{Department, DepartmentSettings, MAX_DEPTH};
use crate::model::keys::Key;
use crate::model::roles::Permission;
use crate::store::{Batch, Condition, Transaction, to_item};
use crate::validate;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDepartment {
    pub name: String,
    pub parent_id: Uuid,
    #[serde(default)]
    pub settings: Option<DepartmentSettingsPatch>,
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
    let mut batch = Batch::new();
    let parent = batch.read::<Department>(Key::department(tenant_id, input.parent_id));
    let lock = batch.read::<MoveLock>(Key::department_move(tenant_id));
    let (access, mut read) = authorize(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::DepartmentsWrite),
        batch,
    )
    .await?;
    if settings.ip_allowlist.is_some() {
        settings_write_needed(access.allows(Permission::SettingsWrite))?;
    }
    let parent = read
        .take(parent)?
        .ok_or_else(|| ApiError::invalid("parent_id", "is not a department of this tenant"))?;
    let lock = read.take(lock)?;

    let created = child_of(&parent, name, settings, lock.as_ref(), app.now())?;

    let mut tx = Transaction::new();
    add_child(&mut tx, &parent, &created)?;
    check_lock(&mut tx, tenant_id, lock.as_ref())?;
    let view = DepartmentView::from(&created);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "department.create",
            target_type: "department",
            target_id: created.id,
            before: None,
            after: audit::snapshot(&view),
        },
    )?;
    let event = EventType::DepartmentCreated;
    events::record(app, &mut tx, &access.caller, tenant_id, event, &view)?;
    app.store.transact(tx).await?;
    Ok(view)
}

/// The new department below `parent`: refused inside a subtree a move holds, and below
/// `MAX_DEPTH`.
fn child_of(
    parent: &Department,
    name: String,
    settings: DepartmentSettings,
    lock: Option<&MoveLock>,
    now: OffsetDateTime,
) -> ApiResult<Department> {
    if let Some(lock) = lock.filter(|l| l.holds(parent)) {
        return Err(lock.refusal());
    }
    if parent.depth >= MAX_DEPTH {
        return Err(ApiError::invalid(
            "parent_id",
            format!("departments nest at most {MAX_DEPTH} levels deep"),
        ));
    }
    let id = Uuid::now_v7();
    Ok(Department {
        id,
        tenant_id: parent.tenant_id,
        path: format!("{}/{}", parent.path, name),
        id_path: format!("{}/{}", parent.id_path, id),
        name,
        parent_id: Some(parent.id),
        depth: parent.depth + 1,
        member_count: 0,
        child_count: 0,
        settings,
        created_at: now,
        updated_at: now,
        version: 1,
        scim_external_id: None,
    })
}

/// The department, its sibling-name guard, and one more child of the parent, which must still
/// be where and what it was read as: a concurrent move or rename would leave the new
/// department's paths wrong.
fn add_child(tx: &mut Transaction, parent: &Department, created: &Department) -> ApiResult<()> {
    tx.put(
        created.to_item()?,
        Some((Condition::absent(), changed_concurrently())),
    )?;
    tx.put(
        to_item(
            &NameGuard {
                department_id: created.id,
            },
            &Key::sibling_name(created.tenant_id, parent.id, &created.name),
            &[],
        )?,
        Some((Condition::absent(), name_taken(&created.name))),
    )?;
    add_to_count(
        tx,
        &parent.key(),
        Count::Children,
        1,
        StillAt::Paths {
            id_path: &parent.id_path,
            path: &parent.path,
        },
        ApiError::Conflict(
            "the parent department was moved, renamed or deleted meanwhile; retry".into(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::departments::plan::tests::{dept, lock_on};

    #[test]
    fn a_child_is_placed_below_its_parent() {
        let root = dept("Root", None);
        let sales = dept("Sales", Some(&root));
        let now = OffsetDateTime::UNIX_EPOCH;
        let emea = child_of(&sales, "EMEA".into(), Default::default(), None, now).expect("a child");
        assert_eq!(emea.parent_id, Some(sales.id));
        assert_eq!(emea.path, "Root/Sales/EMEA");
        assert_eq!(
            emea.id_path,
            format!("{}/{}/{}", root.id, sales.id, emea.id)
        );
        assert_eq!((emea.depth, emea.member_count, emea.version), (2, 0, 1));
    }

    #[test]
    fn no_child_below_max_depth_nor_inside_a_moving_subtree() {
        let root = dept("Root", None);
        let mut deepest = dept("Deep", Some(&root));
        deepest.depth = MAX_DEPTH;
        let now = OffsetDateTime::UNIX_EPOCH;
        let err = child_of(&deepest, "X".into(), Default::default(), None, now).unwrap_err();
        assert!(matches!(&err, ApiError::Validation(e) if e[0].field == "parent_id"));

        let moving = dept("Moving", Some(&root));
        let below = dept("Below", Some(&moving));
        let lock = lock_on(&moving);
        for parent in [&moving, &below] {
            let err =
                child_of(parent, "X".into(), Default::default(), Some(&lock), now).unwrap_err();
            assert!(err.to_string().contains("still in progress"), "{err}");
        }
        assert!(child_of(&root, "X".into(), Default::default(), Some(&lock), now).is_ok());
    }
}
