//! What both public doors into a tenant share — accepting an invitation and asking to join through
//! a join link: the abuse limit, opening the link's token, reading as the signed-in person (if
//! any), refusing people who already stand in the tenant, and building the account and the
//! member that come in.

use crate::app::App;
use crate::auth::{Caller, CallerKind, Requester, authenticate_person};
use crate::crypto;
use crate::error::{ApiError, ApiResult, Checks};
use crate::members::counts::quota_exceeded;
use crate::model::department::Department;
use crate::model::keys::Key;
use crate::model::member::{
    JoinRequestInfo, Member, MemberSource, MemberStatus, Person, UserInTenant,
};
use crate::model::roles::{Permissions, Role};
use crate::model::tenant::Tenant;
use crate::model::user::{StoredToken, TokenPurpose, User};
use crate::store::{
    Batch, BatchRead, Condition, Item, Transaction, Update, from_item, num, s, to_item,
};
use crate::users::member_of;
use crate::validate;
use time::OffsetDateTime;
use uuid::Uuid;

/// Counts an attempt at the public door `door` from the requester's address (the abuse limit).
pub(crate) async fn count_attempt(
    app: &App,
    requester: &Requester,
    door: &'static str,
) -> ApiResult<()> {
    crate::limits::count_attempt(
        app,
        crate::limits::Counter::public(
            &app.config.limits,
            door,
            requester.origin.source_ip.as_deref(),
        ),
    )
    .await
}

/// The tenant and the target a link's token (stored by `hash`) names, and the token as stored;
/// unknown tokens are 404.
pub(crate) async fn open_token(
    app: &App,
    hash: &str,
    purpose: TokenPurpose,
) -> ApiResult<(Uuid, Uuid, StoredToken)> {
    let stored = StoredToken::find(app, &Key::token(hash), &[purpose])
        .await?
        .ok_or(ApiError::NotFound)?;
    match (stored.tenant_id, stored.target_id) {
        (Some(tenant_id), Some(target_id)) => Ok((tenant_id, target_id, stored)),
        _ => Err(ApiError::NotFound),
    }
}

/// Reads `batch`, as the signed-in person when the request carries a token (then also the
/// person's account), anonymously otherwise.
pub(crate) async fn read_as_person(
    app: &App,
    requester: &Requester,
    batch: Batch,
) -> ApiResult<(Option<User>, BatchRead)> {
    if requester.token.is_some() {
        let (user, read) = authenticate_person(app, requester, batch).await?;
        Ok((Some(user), read))
    } else {
        Ok((None, batch.run(&app.store).await?))
    }
}

/// The department a newcomer lands in: the one asked for, or the root when it has gone.
pub(crate) fn department_or_root(
    department: Option<Item>,
    root: Option<Item>,
) -> ApiResult<Department> {
    let department: Option<Department> = department.map(from_item).transpose()?;
    let root: Option<Department> = root.map(from_item).transpose()?;
    department
        .or(root)
        .ok_or_else(|| ApiError::internal("tenant without a root department"))
}

/// Where the person stands in the tenant already, as the refusal an invitation or a join request
/// gets. Members whose recycle-bin retention has ended no longer count.
pub(crate) fn standing_refusal(member: Option<&Member>, now: OffsetDateTime) -> Option<ApiError> {
    let member = member?;
    match member.status {
        MemberStatus::Active | MemberStatus::Disabled => Some(ApiError::AlreadyMember),
        MemberStatus::Pending => Some(ApiError::JoinRequestPending),
        MemberStatus::Rejected => Some(ApiError::PreviouslyRejected),
        MemberStatus::Deleted if member.purge_at.is_some_and(|p| p > now) => {
            Some(ApiError::PreviouslyRemoved {
                member_id: member.id,
            })
        }
        MemberStatus::Deleted => None,
    }
}

/// Reads the user's membership of the tenant and refuses them if they stand in it already.
pub(crate) async fn refuse_standing(
    app: &App,
    tenant_id: Uuid,
    user_id: Uuid,
    now: OffsetDateTime,
) -> ApiResult<()> {
    match standing_refusal(member_of(app, tenant_id, user_id).await?.as_ref(), now) {
        Some(refusal) => Err(refusal),
        None => Ok(()),
    }
}

/// Takes a place in the tenant's member quota for what `counter` counts (a pending invitation or
/// join request), within the quota.
pub(crate) fn take_quota_place(
    tx: &mut Transaction,
    tenant: &Tenant,
    counter: &str,
) -> ApiResult<()> {
    tx.update(
        &Key::tenant(tenant.id),
        Update::new(format!("ADD {counter} :one, quota_used :one")).value(":one", num(1)),
        Some((
            Condition::new("quota_used < member_quota"),
            quota_exceeded(tenant),
        )),
    )
}

/// The caller an audit entry names when a person acts through a public link.
pub(crate) fn person_caller(requester: &Requester, user_id: Uuid) -> Caller {
    Caller {
        user_id,
        kind: CallerKind::User,
        origin: requester.origin.clone(),
    }
}

/// What a new person gives for an account when coming through a link.
pub(crate) struct Newcomer<'a> {
    pub name: Option<&'a str>,
    pub password: Option<&'a str>,
    pub phone: Option<&'a str>,
}

/// A new account for a person joining through a link: name (or `fallback_name`), password,
/// optional phone, the tenant's default language.
pub(crate) fn new_account(
    tenant: &Tenant,
    email: &str,
    newcomer: &Newcomer<'_>,
    fallback_name: Option<&str>,
    now: OffsetDateTime,
) -> ApiResult<User> {
    let mut checks = Checks::new();
    let name = match newcomer.name.or(fallback_name) {
        Some(n) => validate::text(&mut checks, "name", n, validate::MAX_NAME),
        None => {
            checks.fail("name", "is required for a new account");
            String::new()
        }
    };
    match newcomer.password {
        Some(p) => validate::password(&mut checks, "password", p),
        None => checks.fail("password", "is required for a new account"),
    }
    let phone = validate::optional_text(
        &mut checks,
        "phone",
        newcomer.phone,
        validate::MAX_SHORT_TEXT,
    );
    checks.finish()?;
    let mut user = User::new(
        now,
        email.to_string(),
        name,
        tenant.settings.default_language.clone(),
    );
    user.phone = phone;
    user.password_hash = Some(crypto::hash_password(
        newcomer.password.unwrap_or_default(),
    )?);
    user.password_changed_at = Some(now);
    Ok(user)
}

/// The organisation fields a joining member starts with.
pub(crate) struct NewMemberFields {
    pub role: Role,
    pub permissions: Permissions,
    pub position: Option<String>,
    pub work_number: Option<String>,
    pub location: Option<String>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn new_member(
    tenant: &Tenant,
    department: &Department,
    user: &User,
    fields: NewMemberFields,
    status: MemberStatus,
    source: MemberSource,
    join_request: Option<JoinRequestInfo>,
    now: OffsetDateTime,
) -> Member {
    Member {
        position: fields.position,
        work_number: fields.work_number,
        location: fields.location,
        status,
        join_request,
        ..Member::new(
            tenant.id,
            department.id,
            Person::from(user),
            fields.role,
            fields.permissions,
            source,
            now,
        )
    }
}

/// The member, its one-member-per-user guard and — when it is active — its department count
/// and search terms. Tenant counters are the caller's: they differ by path.
pub(crate) fn add_member_items(
    tx: &mut Transaction,
    member: &Member,
    department: &Department,
    now: OffsetDateTime,
) -> ApiResult<()> {
    tx.put(
        member.to_item(&department.id_path)?,
        Some((
            Condition::absent(),
            ApiError::internal("member id collision"),
        )),
    )?;
    tx.put(
        to_item(
            &UserInTenant {
                member_id: member.id,
            },
            &Key::user_in_tenant(member.tenant_id, member.user_id),
            &[],
        )?,
        Some((
            // A guard left by a member purged from the bin no longer counts.
            Condition::new("attribute_not_exists(pk) OR #ttl <= :now")
                .name("#ttl", "ttl")
                .value(":now", num(now.unix_timestamp())),
            ApiError::AlreadyMember,
        )),
    )?;
    if member.status.in_directory() {
        tx.update(
            &Key::department(member.tenant_id, department.id),
            Update::new("ADD member_count :one").value(":one", num(1)),
            Some((
                Condition::new("id_path = :id_path").value(":id_path", s(&department.id_path)),
                ApiError::Conflict("the department moved or was deleted; retry".into()),
            )),
        )?;
        member.add_search_terms(tx)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invitations::invitation::fixtures::{NOW, tenant};

    fn member(status: MemberStatus, purge_at: Option<OffsetDateTime>) -> Member {
        let t = tenant();
        let user = User::new(NOW, "ada@example.com".into(), "Ada".into(), "en".into());
        Member {
            status,
            purge_at,
            ..Member::new(
                t.id,
                t.root_department_id,
                Person::from(&user),
                Role::Member,
                Permissions::none(),
                MemberSource::Invitation,
                NOW,
            )
        }
    }

    fn code(refusal: Option<ApiError>) -> Option<&'static str> {
        refusal.map(|e| e.code())
    }

    #[test]
    fn a_stranger_stands_nowhere() {
        assert!(standing_refusal(None, NOW).is_none());
    }

    #[test]
    fn members_and_requests_are_refused_by_where_they_stand() {
        let refused = |status| code(standing_refusal(Some(&member(status, None)), NOW));
        assert_eq!(refused(MemberStatus::Active), Some("already_member"));
        assert_eq!(refused(MemberStatus::Disabled), Some("already_member"));
        assert_eq!(refused(MemberStatus::Pending), Some("join_request_pending"));
        assert_eq!(refused(MemberStatus::Rejected), Some("previously_rejected"));
    }

    #[test]
    fn the_recycle_bin_refuses_until_its_retention_ends() {
        let binned = member(MemberStatus::Deleted, Some(NOW + time::Duration::days(1)));
        assert_eq!(
            code(standing_refusal(Some(&binned), NOW)),
            Some("previously_removed")
        );
        let purged = member(MemberStatus::Deleted, Some(NOW));
        assert!(standing_refusal(Some(&purged), NOW).is_none());
    }

    #[test]
    fn a_new_account_needs_a_name_and_a_password() {
        let none = Newcomer {
            name: None,
            password: None,
            phone: None,
        };
        let Err(ApiError::Validation(fields)) =
            new_account(&tenant(), "ada@example.com", &none, None, NOW)
        else {
            panic!("a newcomer without name and password was accepted");
        };
        let fields: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "password"]);
    }

    #[test]
    fn a_new_account_takes_the_fallback_name_and_the_tenants_language() {
        let mut t = tenant();
        t.settings.default_language = "de".into();
        let newcomer = Newcomer {
            name: None,
            password: Some("a long enough passphrase"),
            phone: Some("+49 30 1234"),
        };
        let user = new_account(&t, "ada@example.com", &newcomer, Some("Ada"), NOW)
            .expect("a valid newcomer");
        assert_eq!(user.name, "Ada");
        assert_eq!(user.language, "de");
        assert_eq!(user.phone.as_deref(), Some("+49 30 1234"));
        assert!(user.password_hash.is_some());
        assert!(!user.email_verified);
    }
}
