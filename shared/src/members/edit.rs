//! Editing one member: organisation fields, role, permissions and status (active/disabled), with
//! If-Match. Personal fields (name, email, phone) belong to the user and change only through
//! /v1/me.

use super::counts::{Placement, active_owner_change, add_owner_count, move_department_count};
use super::create::org_text;
use super::policy::{beyond_reach, cannot_grant, may_grant, may_manage};
use super::records::{department_of, placed_member};
use super::view::MemberView;
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Access, Need, Requester, authorize_with_tenant};
use crate::error::{ApiError, ApiResult, Checks};
use crate::events::{self, EventType};
use crate::model::department::Department;
use crate::model::keys::Key;
use crate::model::member::ScimProfile;
use crate::model::member::{Member, MemberStatus};
use crate::model::roles::{Permission, Permissions, Role};
use crate::store::{Batch, Condition, Transaction};
use crate::validate;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// The statuses an admin sets (SPEC §8.2). The others are reached by their own routes only
/// (delete, approve, reject), which move the counters that go with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusInput {
    Active,
    Disabled,
}

impl From<StatusInput> for MemberStatus {
    fn from(status: StatusInput) -> Self {
        match status {
            StatusInput::Active => Self::Active,
            StatusInput::Disabled => Self::Disabled,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberPatch {
    #[serde(default)]
    pub department_id: Option<Uuid>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub position: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub work_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub location: Option<Option<String>>,
    #[serde(default)]
    pub directory_number: Option<i64>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub permissions: Option<Permissions>,
    #[serde(default)]
    pub status: Option<StatusInput>,
    /// What the tenant's identity provider provisioned (SCIM only; never read from a body).
    #[serde(skip)]
    pub(crate) scim: Option<ScimProfile>,
}

/// What a patch changes: the member as it will be written and where it sits, and the counters
/// that move with it.
#[derive(Debug)]
struct MemberUpdate {
    after: Member,
    placement: Placement,
    /// Active owners added (+1) or taken away (-1); taking the last one away is refused when
    /// written (the tenant's owner count is conditioned on another owner remaining).
    owner_change: i64,
    /// The department the member leaves, when it moves to `placement`.
    leaves_department: Option<Uuid>,
}

/// Organisation fields, role, permissions and status (active/disabled), with If-Match. Personal
/// fields (name, email, phone) belong to the user and change only through /v1/me.
pub async fn update(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    member_id: Uuid,
    patch: MemberPatch,
    expected: Option<u64>,
) -> ApiResult<MemberView> {
    let mut checks = Checks::new();
    if let Some(n) = patch.directory_number {
        validate::range(&mut checks, "directory_number", n, 1, 10_000);
    }
    checks.finish()?;
    let mut batch = Batch::new();
    let member = batch.read_item(Key::member(tenant_id, member_id));
    let new_department = patch
        .department_id
        .map(|d| batch.read::<Department>(Key::department(tenant_id, d)));
    let (access, _, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        batch,
    )
    .await?;
    let (before, placement) = placed_member(read.take_item(member))?;
    if expected.is_some_and(|v| v != before.version) {
        return Err(ApiError::PreconditionFailed);
    }
    let new_department = match new_department {
        Some(slot) => Some(department_of(read.take(slot)?, "department_id")?),
        None => None,
    };
    let plan = plan_update(
        &access,
        &before,
        placement,
        new_department.as_ref(),
        patch,
        app.now(),
        crate::model::user::new_session_epoch,
    )?;
    write_update(app, &access, tenant_id, &before, plan).await
}

/// Decides what `patch` does to `before` (sitting at `placement`) for the caller, in the order
/// the refusals apply: a member beyond the caller's reach, then invalid fields, then a role or
/// permissions the caller cannot grant. `new_session_epoch` ends the member's tokens when it is
/// disabled.
fn plan_update(
    access: &Access,
    before: &Member,
    placement: Placement,
    new_department: Option<&Department>,
    patch: MemberPatch,
    now: OffsetDateTime,
    new_session_epoch: impl FnOnce() -> u64,
) -> ApiResult<MemberUpdate> {
    if !may_manage(access, before) {
        return Err(beyond_reach());
    }
    let role_asked = patch.role.is_some();
    let mut after = patched(before, patch, new_session_epoch)?;
    if (role_asked || after.permissions != before.permissions)
        && !may_grant(access, after.role, &after.permissions)
    {
        return Err(cannot_grant());
    }
    after.updated_at = now;
    after.version += 1;
    let placement = new_department.map_or(placement, Placement::from);
    after.department_id = placement.id;
    Ok(MemberUpdate {
        owner_change: active_owner_change(before, &after),
        leaves_department: (placement.id != before.department_id).then_some(before.department_id),
        placement,
        after,
    })
}

/// `before` with the patch's fields applied and checked (every bad field reported at once). A
/// role other than admin brings its own permissions; only admins are given a list.
fn patched(
    before: &Member,
    patch: MemberPatch,
    new_session_epoch: impl FnOnce() -> u64,
) -> ApiResult<Member> {
    let mut after = before.clone();
    let mut checks = Checks::new();
    if let Some(v) = patch.position {
        after.position = org_text(&mut checks, "position", v.as_deref());
    }
    if let Some(v) = patch.work_number {
        after.work_number = org_text(&mut checks, "work_number", v.as_deref());
    }
    if let Some(v) = patch.location {
        after.location = org_text(&mut checks, "location", v.as_deref());
    }
    if let Some(n) = patch.directory_number {
        after.directory_number = n.clamp(1, 10_000) as u32;
    }
    if let Some(role) = patch.role {
        after.role = role;
        if role != Role::Admin {
            after.permissions = if role == Role::Owner {
                Permissions::All
            } else {
                Permissions::none()
            };
        }
    }
    if let Some(permissions) = patch.permissions {
        if after.role != Role::Admin && super::policy::grants_any(&permissions) {
            checks.fail("permissions", "are given to admins only");
        }
        if after.role == Role::Admin {
            after.permissions = permissions;
        }
    }
    if let Some(profile) = patch.scim {
        after.scim = Some(profile);
    }
    if let Some(status) = patch.status.map(MemberStatus::from) {
        if status == MemberStatus::Disabled && before.status != MemberStatus::Disabled {
            // The member's tokens end now and stay dead once enabled again.
            after.session_epoch = new_session_epoch();
        }
        after.status = status;
    }
    checks.finish()?;
    Ok(after)
}

/// One transaction: the member (if still at the version read), the owner count and the
/// department counts it moves, the audit entry.
async fn write_update(
    app: &App,
    access: &Access,
    tenant_id: Uuid,
    before: &Member,
    plan: MemberUpdate,
) -> ApiResult<MemberView> {
    let MemberUpdate {
        after,
        placement,
        owner_change,
        leaves_department,
    } = plan;
    let mut tx = Transaction::new();
    tx.put(
        after.to_item(&placement.id_path)?,
        Some((
            Condition::version_is(before.version),
            ApiError::Conflict(
                "the member changed at the same time; read it again and retry".into(),
            ),
        )),
    )?;
    if owner_change != 0 {
        add_owner_count(&mut tx, tenant_id, owner_change)?;
    }
    if after.scim != before.scim {
        Member::swap_scim_guards(Some(before), &after, &mut tx)?;
    }
    if let Some(left) = leaves_department {
        move_department_count(&mut tx, tenant_id, left, &placement)?;
    }
    // The search terms carry the member's place in directory order.
    if after.directory_number != before.directory_number && after.status.in_directory() {
        after.add_search_terms(&mut tx)?;
    }
    let view = MemberView::from(&after);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "member.update",
            target_type: "member",
            target_id: before.id,
            before: audit::snapshot(&MemberView::from(before)),
            after: audit::snapshot(&view),
        },
    )?;
    let event = update_event(before.status, after.status);
    events::record(app, &mut tx, &access.caller, tenant_id, event, &view)?;
    app.store.transact(tx).await?;
    Ok(view)
}

/// The event of a change to a member: its disabling or enabling, else an update.
pub(crate) fn update_event(before: MemberStatus, after: MemberStatus) -> EventType {
    match (before, after) {
        (MemberStatus::Active, MemberStatus::Disabled) => EventType::MemberDisabled,
        (MemberStatus::Disabled, MemberStatus::Active) => EventType::MemberEnabled,
        _ => EventType::MemberUpdated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::members::counts::owner_count_guard;
    use crate::members::policy::tests::{acting, member};
    use crate::model::roles::Permission;

    const EPOCH: u64 = 77;
    const LATER: OffsetDateTime = OffsetDateTime::UNIX_EPOCH.saturating_add(time::Duration::DAY);

    fn placed(m: &Member) -> Placement {
        Placement {
            id: m.department_id,
            id_path: format!("/{}", m.department_id),
        }
    }

    fn plan(access: &Access, before: &Member, patch: MemberPatch) -> ApiResult<MemberUpdate> {
        plan_update(access, before, placed(before), None, patch, LATER, || EPOCH)
    }

    fn owner() -> Access {
        acting(member(Role::Owner, Permissions::All))
    }

    fn department(id: u128) -> Department {
        let id = Uuid::from_u128(id);
        Department {
            id,
            tenant_id: Uuid::from_u128(1),
            name: "Research".into(),
            parent_id: None,
            path: "/Research".into(),
            id_path: format!("/{id}"),
            depth: 0,
            member_count: 0,
            child_count: 0,
            settings: Default::default(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            version: 1,
            scim_external_id: None,
        }
    }

    #[test]
    fn an_empty_patch_changes_only_version_and_time() {
        let before = member(Role::Member, Permissions::none());
        let plan = plan(&owner(), &before, MemberPatch::default()).expect("planned");
        assert_eq!(plan.after.version, before.version + 1);
        assert_eq!(plan.after.updated_at, LATER);
        let unversioned = |m: &Member| {
            let mut v = serde_json::to_value(m).expect("json");
            v["version"] = 0.into();
            v["updated_at"] = "".into();
            v
        };
        assert_eq!(unversioned(&plan.after), unversioned(&before));
        assert_eq!(plan.owner_change, 0);
        assert_eq!(plan.leaves_department, None);
        assert_eq!(plan.placement, placed(&before));
    }

    #[test]
    fn demoting_the_last_owner_takes_an_owner_away_under_the_last_owner_guard() {
        let before = member(Role::Owner, Permissions::All);
        let patch = MemberPatch {
            role: Some(Role::Member),
            ..MemberPatch::default()
        };
        let plan = plan(&owner(), &before, patch).expect("planned");
        assert_eq!(plan.after.role, Role::Member);
        assert_eq!(plan.after.permissions, Permissions::none());
        assert_eq!(plan.owner_change, -1);
        let (condition, refusal) = owner_count_guard(plan.owner_change).expect("guarded");
        assert_eq!(condition.expression, "owner_count > :one");
        assert_eq!(
            refusal.to_string(),
            "the last owner can be neither demoted, disabled nor deleted"
        );
    }

    #[test]
    fn disabling_an_owner_takes_an_owner_away_and_ends_its_sessions() {
        let before = member(Role::Owner, Permissions::All);
        let patch = MemberPatch {
            status: Some(StatusInput::Disabled),
            ..MemberPatch::default()
        };
        let plan = plan(&owner(), &before, patch).expect("planned");
        assert_eq!(plan.after.status, MemberStatus::Disabled);
        assert_eq!(plan.after.session_epoch, EPOCH);
        assert_eq!(plan.owner_change, -1);
    }

    #[test]
    fn enabling_keeps_the_ended_sessions_ended() {
        let before = Member {
            status: MemberStatus::Disabled,
            session_epoch: 5,
            ..member(Role::Owner, Permissions::All)
        };
        let patch = MemberPatch {
            status: Some(StatusInput::Active),
            ..MemberPatch::default()
        };
        let plan = plan(&owner(), &before, patch).expect("planned");
        assert_eq!(plan.after.status, MemberStatus::Active);
        assert_eq!(plan.after.session_epoch, 5);
        assert_eq!(plan.owner_change, 1);
        assert!(owner_count_guard(plan.owner_change).is_none());
    }

    #[test]
    fn a_department_move_moves_the_counts() {
        let before = member(Role::Member, Permissions::none());
        let target = department(9);
        let patch = MemberPatch {
            department_id: Some(target.id),
            ..MemberPatch::default()
        };
        let plan = plan_update(
            &owner(),
            &before,
            placed(&before),
            Some(&target),
            patch,
            LATER,
            || EPOCH,
        )
        .expect("planned");
        assert_eq!(plan.after.department_id, target.id);
        assert_eq!(plan.placement, Placement::from(&target));
        assert_eq!(plan.leaves_department, Some(before.department_id));
    }

    #[test]
    fn naming_the_current_department_moves_nothing() {
        let before = member(Role::Member, Permissions::none());
        let mut same = department(2);
        same.id_path = placed(&before).id_path;
        let patch = MemberPatch {
            department_id: Some(same.id),
            ..MemberPatch::default()
        };
        let plan = plan_update(
            &owner(),
            &before,
            placed(&before),
            Some(&same),
            patch,
            LATER,
            || EPOCH,
        )
        .expect("planned");
        assert_eq!(plan.leaves_department, None);
    }

    #[test]
    fn permissions_go_to_admins_only() {
        let before = member(Role::Member, Permissions::none());
        let patch = MemberPatch {
            permissions: Some(Permissions::Only(vec![Permission::AuditRead])),
            ..MemberPatch::default()
        };
        assert!(matches!(
            plan(&owner(), &before, patch),
            Err(ApiError::Validation(errors)) if errors[0].field == "permissions"
        ));
    }

    #[test]
    fn an_admin_grants_only_what_it_holds() {
        let admin = acting(member(
            Role::Admin,
            Permissions::Only(vec![Permission::MembersWrite]),
        ));
        let before = member(Role::Member, Permissions::none());
        let promote = |permissions| MemberPatch {
            role: Some(Role::Admin),
            permissions: Some(permissions),
            ..MemberPatch::default()
        };
        let held = promote(Permissions::Only(vec![Permission::MembersWrite]));
        assert!(plan(&admin, &before, held).is_ok());
        let more = promote(Permissions::Only(vec![Permission::AuditRead]));
        assert!(matches!(
            plan(&admin, &before, more),
            Err(ApiError::Forbidden(m)) if m.contains("cannot grant")
        ));
    }

    #[test]
    fn an_admin_cannot_edit_an_owner() {
        let admin = acting(member(Role::Admin, Permissions::All));
        let before = member(Role::Owner, Permissions::All);
        let patch = MemberPatch {
            position: Some(Some("CTO".into())),
            ..MemberPatch::default()
        };
        assert!(matches!(
            plan(&admin, &before, patch),
            Err(ApiError::Forbidden(m)) if m.contains("only owners act on owners")
        ));
    }
}
