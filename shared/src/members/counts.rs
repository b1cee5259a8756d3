//! The counters a member moves: the tenant's member count and quota use, its owner count (for
//! the last-owner rule) and seats in use, and each department's member count (for safe deletes).
//! Each write is conditioned so no counter goes below zero and the last owner stays.

use crate::error::{ApiError, ApiResult};
use crate::model::department::Department;
use crate::model::keys::Key;
use crate::model::licence::Licence;
use crate::model::member::{Member, MemberStatus};
use crate::model::roles::Role;
use crate::model::tenant::Tenant;
use crate::store::{Condition, Transaction, Update, num, s};
use uuid::Uuid;

/// Where a member sits in the tree: its department and that department's id path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    pub id: Uuid,
    pub id_path: String,
}

impl From<&Department> for Placement {
    fn from(d: &Department) -> Self {
        Self {
            id: d.id,
            id_path: d.id_path.clone(),
        }
    }
}

pub(crate) fn quota_exceeded(tenant: &Tenant) -> ApiError {
    ApiError::QuotaExceeded(format!(
        "the tenant's member quota ({}) is reached",
        tenant.member_quota
    ))
}

/// A conditioned decrement found less than it takes: the member was read in a state the
/// counters no longer reflect (a concurrent change). Nothing was written; a retry reads afresh.
pub(crate) fn counters_out_of_step() -> ApiError {
    ApiError::Conflict("the member changed at the same time; read it again and retry".into())
}

pub(crate) fn last_owner() -> ApiError {
    ApiError::Conflict("the last owner can be neither demoted, disabled nor deleted".into())
}

fn department_moved() -> ApiError {
    ApiError::Conflict("the department moved or was deleted; retry".into())
}

/// What a member arriving (`delta` +1) or leaving (-1) moves on the tenant's counters: members
/// and quota use by `delta`, owners when it is an owner, and the seats of its licence when it
/// leaves with one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TenantCounts {
    pub members: i64,
    pub owners: i64,
    pub seats: i64,
}

impl TenantCounts {
    pub(super) fn of(member: &Member, delta: i64) -> Self {
        let owners = i64::from(member.role == Role::Owner) * delta;
        let seats = if delta < 0 {
            -member.licence.as_ref().map_or(0, Licence::seats_held)
        } else {
            0
        };
        Self {
            members: delta,
            owners,
            seats,
        }
    }
}

/// How many active owners an edit adds (+1), takes away (-1) or leaves (0): an owner counts only
/// while active.
pub(super) fn active_owner_change(before: &Member, after: &Member) -> i64 {
    let was_owner = before.role == Role::Owner && before.status != MemberStatus::Deleted;
    let was_active_owner = was_owner && before.status == MemberStatus::Active;
    let is_active_owner = after.role == Role::Owner && after.status == MemberStatus::Active;
    i64::from(is_active_owner) - i64::from(was_active_owner)
}

/// Moves the tenant's member count and quota use (within the quota when adding), the owner count
/// and the department's member count by `delta` (+1 or -1); a member leaving with a licence
/// gives its seats back.
pub(crate) fn add_member_counts(
    tx: &mut Transaction,
    tenant: &Tenant,
    department: &Placement,
    member: &Member,
    delta: i64,
) -> ApiResult<()> {
    let counts = TenantCounts::of(member, delta);
    let update =
        Update::new("ADD member_count :d, quota_used :d, owner_count :owners, seats_used :seats")
            .value(":d", num(counts.members))
            .value(":owners", num(counts.owners))
            .value(":seats", num(counts.seats));
    // No counter goes below zero, whatever state the member was read in.
    let covered = Condition::counters_cover(&[
        ("member_count", counts.members),
        ("quota_used", counts.members),
        ("owner_count", counts.owners),
        ("seats_used", counts.seats),
    ]);
    let condition = if delta > 0 {
        (
            Condition::new("quota_used < member_quota"),
            quota_exceeded(tenant),
        )
    } else if counts.owners < 0 {
        (
            Condition::new("owner_count > :one")
                .value(":one", num(1))
                .and(covered),
            last_owner(),
        )
    } else {
        (covered, counters_out_of_step())
    };
    tx.update(&Key::tenant(tenant.id), update, Some(condition))?;
    tx.update(
        &Key::department(tenant.id, department.id),
        Update::new("ADD member_count :d").value(":d", num(delta)),
        Some((
            Condition::new("id_path = :id_path")
                .value(":id_path", s(&department.id_path))
                .and(Condition::counters_cover(&[("member_count", delta)])),
            department_moved(),
        )),
    )
}

/// Moves the tenant's owner count by `delta` (an edit's [`active_owner_change`]); a decrease
/// needs another owner to remain.
pub(super) fn add_owner_count(tx: &mut Transaction, tenant_id: Uuid, delta: i64) -> ApiResult<()> {
    tx.update(
        &Key::tenant(tenant_id),
        Update::new("ADD owner_count :d").value(":d", num(delta)),
        owner_count_guard(delta),
    )
}

/// The condition on moving the owner count by `delta`: a decrease needs another owner to
/// remain, or it is refused as the last owner's.
pub(super) fn owner_count_guard(delta: i64) -> Option<(Condition, ApiError)> {
    (delta < 0).then(|| {
        (
            Condition::new("owner_count > :one").value(":one", num(1)),
            last_owner(),
        )
    })
}

/// Moves one member from department `from` to `to`: one less there, one more here (which must
/// still sit where it was read).
pub(super) fn move_department_count(
    tx: &mut Transaction,
    tenant_id: Uuid,
    from: Uuid,
    to: &Placement,
) -> ApiResult<()> {
    tx.update(
        &Key::department(tenant_id, from),
        Update::new("ADD member_count :d").value(":d", num(-1)),
        Some((
            Condition::counters_cover(&[("member_count", -1)]),
            counters_out_of_step(),
        )),
    )?;
    tx.update(
        &Key::department(tenant_id, to.id),
        Update::new("ADD member_count :d").value(":d", num(1)),
        Some((
            Condition::new("id_path = :id_path").value(":id_path", s(&to.id_path)),
            department_moved(),
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::members::policy::tests::member;
    use crate::model::roles::Permissions;

    #[test]
    fn an_owner_arriving_counts_as_a_member_and_an_owner() {
        let owner = member(Role::Owner, Permissions::All);
        assert_eq!(
            TenantCounts::of(&owner, 1),
            TenantCounts {
                members: 1,
                owners: 1,
                seats: 0
            }
        );
    }

    #[test]
    fn a_member_leaving_gives_back_one_member_and_no_owner() {
        let plain = member(Role::Member, Permissions::none());
        assert_eq!(
            TenantCounts::of(&plain, -1),
            TenantCounts {
                members: -1,
                owners: 0,
                seats: 0
            }
        );
    }

    #[test]
    fn only_active_owners_count() {
        let owner = member(Role::Owner, Permissions::All);
        let disabled = Member {
            status: MemberStatus::Disabled,
            ..owner.clone()
        };
        let demoted = Member {
            role: Role::Member,
            ..owner.clone()
        };
        assert_eq!(active_owner_change(&owner, &owner), 0);
        assert_eq!(active_owner_change(&owner, &disabled), -1);
        assert_eq!(active_owner_change(&disabled, &owner), 1);
        assert_eq!(active_owner_change(&owner, &demoted), -1);
        assert_eq!(active_owner_change(&demoted, &owner), 1);
        assert_eq!(active_owner_change(&disabled, &demoted), 0);
    }
}
