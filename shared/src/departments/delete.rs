//! Deleting an empty department.

use super::counts::{Count, StillAt, add_to_count};
use super::lock::{MoveLock, check_lock};
use super::view::DepartmentView;
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Need, Requester, authorize};
use crate::error::{ApiError, ApiResult};
use crate::events::{self, EventType};
use crate::model::department::Department;
use crate::model::keys::Key;
use crate::model::roles::Permission;
use crate::store::{Batch, Condition, Transaction, num};
use uuid::Uuid;

/// Deletes an empty department; the root never.
pub async fn delete(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    department_id: Uuid,
) -> ApiResult<()> {
    let mut batch = Batch::new();
    let dept = batch.read::<Department>(Key::department(tenant_id, department_id));
    let lock = batch.read::<MoveLock>(Key::department_move(tenant_id));
    let (access, mut read) = authorize(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::DepartmentsWrite),
        batch,
    )
    .await?;
    let dept = read.take(dept)?.ok_or(ApiError::NotFound)?;
    let lock = read.take(lock)?;
    let parent_id = deletable(&dept, lock.as_ref())?;

    let mut tx = Transaction::new();
    // The counters are re-checked in the transaction: a member added meanwhile keeps it alive.
    tx.delete(
        &dept.key(),
        Some((
            Condition::new("attribute_exists(pk) AND member_count = :zero AND child_count = :zero")
                .value(":zero", num(0)),
            ApiError::DepartmentNotEmpty,
        )),
    )?;
    check_lock(&mut tx, tenant_id, lock.as_ref())?;
    tx.delete(&Key::sibling_name(tenant_id, parent_id, &dept.name), None)?;
    add_to_count(
        &mut tx,
        &Key::department(tenant_id, parent_id),
        Count::Children,
        -1,
        StillAt::Anywhere,
        ApiError::Conflict("the parent department changed at the same time; retry".into()),
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
    let view = DepartmentView::from(&dept);
    events::record(
        app,
        &mut tx,
        &access.caller,
        tenant_id,
        EventType::DepartmentDeleted,
        &view,
    )?;
    app.store.transact(tx).await
}

/// Whether `dept` may go, and its parent's id: not the root, nothing leaves a subtree that is
/// being moved, and only an empty department.
fn deletable(dept: &Department, lock: Option<&MoveLock>) -> ApiResult<Uuid> {
    let Some(parent_id) = dept.parent_id else {
        return Err(ApiError::Conflict(
            "the root department cannot be deleted".into(),
        ));
    };
    if let Some(lock) = lock.filter(|l| l.holds(dept)) {
        return Err(lock.refusal());
    }
    if dept.member_count > 0 || dept.child_count > 0 {
        return Err(ApiError::DepartmentNotEmpty);
    }
    Ok(parent_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::departments::plan::tests::{dept, lock_on};

    #[test]
    fn only_an_empty_department_outside_a_moving_subtree_goes() {
        let root = dept("Root", None);
        let sales = dept("Sales", Some(&root));
        assert_eq!(deletable(&sales, None).ok(), Some(root.id));
        assert_eq!(deletable(&root, None).unwrap_err().code(), "conflict");

        let mut staffed = sales.clone();
        staffed.member_count = 1;
        let mut parent = sales.clone();
        parent.child_count = 1;
        for full in [staffed, parent] {
            assert_eq!(
                deletable(&full, None).unwrap_err().code(),
                "department_not_empty"
            );
        }

        let lock = lock_on(&sales);
        let inside = dept("Inside", Some(&sales));
        let err = deletable(&inside, Some(&lock)).unwrap_err();
        assert!(err.to_string().contains("still in progress"), "{err}");
        assert!(deletable(&dept("Aside", Some(&root)), Some(&lock)).is_ok());
    }
}
