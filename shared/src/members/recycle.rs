//! The recycle bin: a deleted member loses access at once and stays restorable until the
//! tenant's retention ends (then the purge job, or DynamoDB's TTL, removes it).

use super::counts::{Placement, add_member_counts, quota_exceeded};
use super::policy::{beyond_reach, may_manage};
use super::records::{department_of, placed_member};
use super::view::MemberView;
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Access, Need, Requester, authorize_with_tenant};
use crate::error::{ApiError, ApiResult};
use crate::events::{self, EventType};
use crate::model::department::Department;
use crate::model::keys::{GSI3, Key, recycle_bin_partition};
use crate::model::member::{Member, MemberStatus};
use crate::model::roles::{Permission, Role};
use crate::model::tenant::Tenant;
use crate::model::{List, PageParams};
use crate::store::{Batch, Condition, Filter, Query, SortRange, Transaction, Update, num, s};
use serde::Deserialize;
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// What deleting a member writes: the member as it goes into the bin, and the member as the
/// counters see it leave.
#[derive(Debug)]
struct Deletion {
    after: Member,
    /// An owner counts as one only while active: a disabled owner leaves the owner count alone.
    counted: Member,
    purge_at: OffsetDateTime,
}

/// `before` moved to the recycle bin at `now` for `retention_days`.
fn deletion(
    before: &Member,
    now: OffsetDateTime,
    retention_days: u32,
    new_session_epoch: impl FnOnce() -> u64,
) -> Deletion {
    let purge_at = now + time::Duration::days(i64::from(retention_days));
    let mut after = before.clone();
    after.status = MemberStatus::Deleted;
    // The member's tokens end for good: a restore does not revive them.
    after.session_epoch = new_session_epoch();
    // The seat goes back to the pool; a restore does not bring it back.
    after.licence = None;
    after.deleted_at = Some(now);
    after.purge_at = Some(purge_at);
    after.ttl = Some(purge_at.unix_timestamp());
    after.updated_at = now;
    after.version += 1;
    let mut counted = before.clone();
    if before.status != MemberStatus::Active {
        counted.role = Role::Member;
    }
    Deletion {
        after,
        counted,
        purge_at,
    }
}

/// Removes access: the member goes to the recycle bin until the tenant's retention ends.
pub async fn delete(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    member_id: Uuid,
) -> ApiResult<()> {
    let mut batch = Batch::new();
    let member = batch.read_item(Key::member(tenant_id, member_id));
    let (access, tenant, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        batch,
    )
    .await?;
    let (before, department) = placed_member(read.take_item(member))?;
    if !may_manage(&access, &before) {
        return Err(beyond_reach());
    }
    let plan = deletion(
        &before,
        app.now(),
        tenant.settings.recycle_bin_retention_days,
        crate::model::user::new_session_epoch,
    );
    write_deletion(app, &access, &tenant, &department, &before, plan).await
}

/// One transaction: the member into the bin (if still at the version read), the counters it
/// gives back, its email guard expiring with it, its search terms gone, the audit entry.
async fn write_deletion(
    app: &App,
    access: &Access,
    tenant: &Tenant,
    department: &Placement,
    before: &Member,
    plan: Deletion,
) -> ApiResult<()> {
    let Deletion {
        after,
        counted,
        purge_at,
    } = plan;
    let mut tx = Transaction::new();
    tx.put(
        after.to_item(&department.id_path)?,
        Some((
            Condition::version_is(before.version),
            ApiError::Conflict("the member changed at the same time; retry".into()),
        )),
    )?;
    add_member_counts(&mut tx, tenant, department, &counted, -1)?;
    // The guard keeping the email taken in this tenant expires with the bin entry.
    tx.update(
        &Key::user_in_tenant(tenant.id, before.user_id),
        Update::new("SET #ttl = :ttl")
            .name("#ttl", "ttl")
            .value(":ttl", num(purge_at.unix_timestamp())),
        None,
    )?;
    for key in before.term_keys() {
        tx.delete(&key, None)?;
    }
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id: tenant.id,
            action: "member.delete",
            target_type: "member",
            target_id: before.id,
            before: audit::snapshot(&MemberView::from(before)),
            after: audit::snapshot(&MemberView::from(&after)),
        },
    )?;
    let view = MemberView::from(&after);
    events::record(
        app,
        &mut tx,
        &access.caller,
        tenant.id,
        EventType::MemberDeleted,
        &view,
    )?;
    app.store.transact(tx).await
}

/// The recycle bin: deleted members with deleted_at and purge_at, newest deletion first. Entries
/// past purge_at are gone, whether or not DynamoDB has removed them yet.
pub async fn recycle_bin(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    page: PageParams,
) -> ApiResult<List<MemberView>> {
    authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        Batch::new(),
    )
    .await?;
    let mut query =
        Query::new(Some(GSI3), recycle_bin_partition(tenant_id), SortRange::All).page(&page);
    query.newest_first = true;
    query.filter = Some(Filter {
        expression: "#ttl > :now".into(),
        names: HashMap::from([("#ttl".into(), "ttl".into())]),
        values: HashMap::from([(":now".into(), num(app.now().unix_timestamp()))]),
    });
    app.store
        .query(query)
        .await?
        .into_list(|m: Member| MemberView::from(&m))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreInput {
    pub department_id: Uuid,
}

/// Whether `member` is in the recycle bin at `now`: deleted and not yet past its purge time.
fn in_recycle_bin(member: &Member, now: OffsetDateTime) -> bool {
    member.status == MemberStatus::Deleted && member.purge_at.is_some_and(|p| p > now)
}

/// `before` back from the bin into `department`, active, with role and fields as before.
fn restored(before: &Member, department: &Department, now: OffsetDateTime) -> Member {
    let mut after = before.clone();
    after.status = MemberStatus::Active;
    after.department_id = department.id;
    after.deleted_at = None;
    after.purge_at = None;
    after.ttl = None;
    after.updated_at = now;
    after.version += 1;
    after
}

/// Brings a deleted member back into a named department, active, with role and fields as before.
pub async fn restore(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    member_id: Uuid,
    input: RestoreInput,
) -> ApiResult<MemberView> {
    let mut batch = Batch::new();
    let before = batch.read::<Member>(Key::member(tenant_id, member_id));
    let department = batch.read::<Department>(Key::department(tenant_id, input.department_id));
    let (access, tenant, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        batch,
    )
    .await?;
    let before = read.take(before)?.ok_or(ApiError::NotFound)?;
    let now = app.now();
    if !in_recycle_bin(&before, now) {
        return Err(ApiError::NotFound);
    }
    let department = department_of(read.take(department)?, "department_id")?;
    if !may_manage(&access, &before) {
        return Err(beyond_reach());
    }
    if tenant.quota_used >= tenant.member_quota {
        return Err(quota_exceeded(&tenant));
    }
    let after = restored(&before, &department, now);
    write_restore(app, &access, &tenant, &department, &before, after, now).await
}

/// One transaction: the member out of the bin (if still there), its email guard kept for good,
/// the counters it takes again, its search terms, the audit entry.
async fn write_restore(
    app: &App,
    access: &Access,
    tenant: &Tenant,
    department: &Department,
    before: &Member,
    after: Member,
    now: OffsetDateTime,
) -> ApiResult<MemberView> {
    let mut tx = Transaction::new();
    tx.put(
        after.to_item(&department.id_path)?,
        Some((
            // Still in the bin: not restored meanwhile, and not past its purge time.
            Condition::new("#version = :version AND #ttl > :now")
                .name("#version", "version")
                .name("#ttl", "ttl")
                .value(":version", num(before.version))
                .value(":now", num(now.unix_timestamp())),
            ApiError::NotFound,
        )),
    )?;
    tx.update(
        &Key::user_in_tenant(tenant.id, before.user_id),
        Update::new("REMOVE #ttl").name("#ttl", "ttl"),
        Some((
            Condition::new("member_id = :member").value(":member", s(before.id.to_string())),
            ApiError::NotFound,
        )),
    )?;
    add_member_counts(&mut tx, tenant, &Placement::from(department), &after, 1)?;
    after.add_search_terms(&mut tx)?;
    let view = MemberView::from(&after);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id: tenant.id,
            action: "member.restore",
            target_type: "member",
            target_id: before.id,
            before: audit::snapshot(&MemberView::from(before)),
            after: audit::snapshot(&view),
        },
    )?;
    events::record(
        app,
        &mut tx,
        &access.caller,
        tenant.id,
        EventType::MemberRestored,
        &view,
    )?;
    app.store.transact(tx).await?;
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::members::policy::tests::member;
    use crate::model::roles::Permissions;

    const NOW: OffsetDateTime = OffsetDateTime::UNIX_EPOCH.saturating_add(time::Duration::DAY);

    #[test]
    fn a_deleted_member_waits_in_the_bin_for_the_retention() {
        let before = member(Role::Member, Permissions::none());
        let plan = deletion(&before, NOW, 30, || 9);
        let purge_at = NOW + time::Duration::days(30);
        assert_eq!(plan.purge_at, purge_at);
        assert_eq!(plan.after.status, MemberStatus::Deleted);
        assert_eq!(plan.after.deleted_at, Some(NOW));
        assert_eq!(plan.after.purge_at, Some(purge_at));
        assert_eq!(plan.after.ttl, Some(purge_at.unix_timestamp()));
        assert_eq!(plan.after.session_epoch, 9);
        assert_eq!(plan.after.version, before.version + 1);
        assert!(in_recycle_bin(&plan.after, NOW));
        assert!(!in_recycle_bin(&plan.after, purge_at));
    }

    #[test]
    fn a_deleted_owner_leaves_the_owner_count_only_while_active() {
        let active = member(Role::Owner, Permissions::All);
        assert_eq!(deletion(&active, NOW, 30, || 9).counted.role, Role::Owner);
        let disabled = Member {
            status: MemberStatus::Disabled,
            ..active
        };
        assert_eq!(
            deletion(&disabled, NOW, 30, || 9).counted.role,
            Role::Member
        );
    }

    #[test]
    fn a_restored_member_is_active_again_where_it_is_put() {
        let before = member(Role::Admin, Permissions::All);
        let binned = deletion(&before, NOW, 30, || 9).after;
        let department = Department {
            id: Uuid::from_u128(9),
            tenant_id: before.tenant_id,
            name: "Research".into(),
            parent_id: None,
            path: "/Research".into(),
            id_path: format!("/{}", Uuid::from_u128(9)),
            depth: 0,
            member_count: 0,
            child_count: 0,
            settings: Default::default(),
            created_at: NOW,
            updated_at: NOW,
            version: 1,
            scim_external_id: None,
        };
        let after = restored(&binned, &department, NOW);
        assert_eq!(after.status, MemberStatus::Active);
        assert_eq!(after.department_id, department.id);
        assert_eq!(
            (after.deleted_at, after.purge_at, after.ttl),
            (None, None, None)
        );
        assert_eq!(after.role, Role::Admin);
        assert_eq!(after.version, binned.version + 1);
        assert!(!in_recycle_bin(&after, NOW));
    }
}
