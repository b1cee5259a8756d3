//! Who may do what to members: pure rules over a resolved caller (SPEC §8.2).

use crate::auth::Access;
use crate::error::{ApiError, Checks};
use crate::model::member::Member;
use crate::model::roles::{Permissions, Role};

/// Whether the caller may give `role` and `permissions`: owners (and operators) give anything;
/// admins give only the permissions they hold themselves, and never the owner role.
pub(crate) fn may_grant(access: &Access, role: Role, permissions: &Permissions) -> bool {
    let mine = access.caller.permissions();
    let caller_is_owner = access.caller.is_owner() || access.via_reseller;
    if caller_is_owner {
        return true;
    }
    match role {
        Role::Owner => false,
        Role::Member => true,
        Role::Admin => mine.covers(permissions),
    }
}

/// An admin acts on (edits, disables, deletes, restores, resets the password of) only members
/// whose permissions it holds all of; only owners act on owners (SPEC §8.2).
pub(crate) fn may_manage(access: &Access, target: &Member) -> bool {
    may_grant(access, target.role, &target.effective_permissions())
}

/// The refusal when [`may_manage`] says no.
pub(crate) fn beyond_reach() -> ApiError {
    ApiError::Forbidden(
        "the caller acts only on members whose permissions it holds all of; only owners act on owners",
    )
}

/// The refusal when [`may_grant`] says no.
pub(super) fn cannot_grant() -> ApiError {
    ApiError::Forbidden("a caller cannot grant a role or permissions it does not hold")
}

/// The role asked for (member by default) and the permissions it carries: owners hold all,
/// admins what they are given (all by default), members none. Permissions for anyone but an
/// admin are refused, except an empty list, which says the same as the role.
pub(crate) fn role_and_permissions(
    checks: &mut Checks,
    role: Option<Role>,
    permissions: Option<Permissions>,
) -> (Role, Permissions) {
    let role = role.unwrap_or(Role::Member);
    if role != Role::Admin && permissions.as_ref().is_some_and(grants_any) {
        checks.fail("permissions", "are given to admins only");
    }
    let permissions = match role {
        Role::Owner => Permissions::All,
        Role::Admin => permissions.unwrap_or(Permissions::All),
        Role::Member => Permissions::none(),
    };
    (role, permissions)
}

/// Whether a permission list gives anything: `[]` gives nothing.
pub(crate) fn grants_any(permissions: &Permissions) -> bool {
    *permissions != Permissions::none()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::auth::{Caller, CallerKind, Origin};
    use crate::model::member::{MemberSource, Person};
    use crate::model::roles::Permission;
    use time::OffsetDateTime;
    use uuid::Uuid;

    /// A member of one test tenant, in one department.
    pub(in crate::members) fn member(role: Role, permissions: Permissions) -> Member {
        let tenant = Uuid::from_u128(1);
        let department = Uuid::from_u128(2);
        Member::new(
            tenant,
            department,
            Person {
                user_id: Uuid::now_v7(),
                email: "ada@example.com".into(),
                name: "Ada Lovelace".into(),
                phone: None,
                email_verified: true,
            },
            role,
            permissions,
            MemberSource::Console,
            OffsetDateTime::UNIX_EPOCH,
        )
    }

    /// `member` acting in its own tenant.
    pub(in crate::members) fn acting(member: Member) -> Access {
        Access {
            tenant_id: member.tenant_id,
            caller: Caller {
                user_id: member.user_id,
                kind: CallerKind::Member(Box::new(member)),
                origin: Origin::default(),
            },
            via_reseller: false,
        }
    }

    fn only(list: &[Permission]) -> Permissions {
        Permissions::Only(list.to_vec())
    }

    #[test]
    fn owners_grant_anything() {
        let owner = acting(member(Role::Owner, Permissions::All));
        assert!(may_grant(&owner, Role::Owner, &Permissions::All));
        assert!(may_grant(&owner, Role::Admin, &Permissions::All));
    }

    #[test]
    fn admins_grant_only_what_they_hold_and_never_the_owner_role() {
        let admin = acting(member(
            Role::Admin,
            only(&[Permission::MembersRead, Permission::MembersWrite]),
        ));
        assert!(may_grant(&admin, Role::Member, &Permissions::none()));
        assert!(may_grant(
            &admin,
            Role::Admin,
            &only(&[Permission::MembersRead])
        ));
        assert!(!may_grant(
            &admin,
            Role::Admin,
            &only(&[Permission::AuditRead])
        ));
        assert!(!may_grant(&admin, Role::Admin, &Permissions::All));
        assert!(!may_grant(&admin, Role::Owner, &Permissions::All));

        let full_admin = acting(member(Role::Admin, Permissions::All));
        assert!(may_grant(&full_admin, Role::Admin, &Permissions::All));
        assert!(!may_grant(&full_admin, Role::Owner, &Permissions::All));
    }

    #[test]
    fn plain_members_grant_no_permission() {
        let plain = acting(member(Role::Member, Permissions::none()));
        assert!(may_grant(&plain, Role::Member, &Permissions::none()));
        assert!(!may_grant(
            &plain,
            Role::Admin,
            &only(&[Permission::MembersRead])
        ));
    }

    #[test]
    fn the_reseller_acts_as_an_owner() {
        let mut access = acting(member(Role::Member, Permissions::none()));
        access.via_reseller = true;
        assert!(may_grant(&access, Role::Owner, &Permissions::All));
    }

    #[test]
    fn admins_manage_only_members_whose_permissions_they_hold() {
        let admin = acting(member(Role::Admin, only(&[Permission::MembersWrite])));
        assert!(may_manage(
            &admin,
            &member(Role::Member, Permissions::none())
        ));
        assert!(may_manage(
            &admin,
            &member(Role::Admin, only(&[Permission::MembersWrite]))
        ));
        assert!(!may_manage(&admin, &member(Role::Admin, Permissions::All)));
        assert!(!may_manage(&admin, &member(Role::Owner, Permissions::All)));
    }

    #[test]
    fn only_owners_manage_owners() {
        let owner = acting(member(Role::Owner, Permissions::All));
        assert!(may_manage(&owner, &member(Role::Owner, Permissions::All)));
        let full_admin = acting(member(Role::Admin, Permissions::All));
        assert!(may_manage(
            &full_admin,
            &member(Role::Admin, Permissions::All)
        ));
        assert!(!may_manage(
            &full_admin,
            &member(Role::Owner, Permissions::All)
        ));
    }

    #[test]
    fn a_role_carries_its_permissions() {
        let mut checks = Checks::new();
        assert_eq!(
            role_and_permissions(&mut checks, None, None),
            (Role::Member, Permissions::none())
        );
        assert_eq!(
            role_and_permissions(&mut checks, Some(Role::Owner), None),
            (Role::Owner, Permissions::All)
        );
        assert_eq!(
            role_and_permissions(&mut checks, Some(Role::Admin), None),
            (Role::Admin, Permissions::All)
        );
        let list = only(&[Permission::AuditRead]);
        assert_eq!(
            role_and_permissions(&mut checks, Some(Role::Admin), Some(list.clone())),
            (Role::Admin, list)
        );
        assert!(checks.finish().is_ok());
    }

    #[test]
    fn permissions_for_anyone_but_an_admin_are_refused() {
        let mut checks = Checks::new();
        let (role, permissions) =
            role_and_permissions(&mut checks, None, Some(only(&[Permission::AuditRead])));
        assert_eq!((role, permissions), (Role::Member, Permissions::none()));
        assert!(matches!(
            checks.finish(),
            Err(ApiError::Validation(errors)) if errors[0].field == "permissions"
        ));
    }

    #[test]
    fn an_empty_list_is_no_permission_for_any_role() {
        let mut checks = Checks::new();
        assert_eq!(
            role_and_permissions(&mut checks, None, Some(Permissions::none())),
            (Role::Member, Permissions::none())
        );
        assert_eq!(
            role_and_permissions(&mut checks, Some(Role::Owner), Some(Permissions::none())),
            (Role::Owner, Permissions::All)
        );
        assert!(checks.finish().is_ok());
    }
}
