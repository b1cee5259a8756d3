//! Join requests (pending or rejected members) and their decision: approve (or re-examine a
//! rejected one) into a department, or reject with a reason.

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Access, Need, Requester, authorize_with_tenant};
use crate::error::{ApiError, ApiResult, Checks};
use crate::events::{self, EventType};
use crate::invitations::{branded_html, branding_for};
use crate::mail::{Mail, html_escape};
pub use crate::members::view::JoinRequestView;
use crate::members::{MemberView, quota_exceeded};
use crate::model::department::Department;
use crate::model::keys::{GSI3, Key, join_requests_partition};
use crate::model::member::{Member, MemberStatus};
use crate::model::roles::{Permission, Role};
use crate::model::tenant::Tenant;
use crate::model::{List, PageParams};
use crate::store::{Batch, Condition, Query, SortRange, Transaction, Update, from_item, num, s};
use crate::validate;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// Pending and rejected requests (`status` narrows to one), oldest first: one index query.
pub async fn list_requests(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    status: Option<String>,
    page: PageParams,
) -> ApiResult<List<JoinRequestView>> {
    let range = match status.as_deref() {
        None => SortRange::All,
        Some(s @ ("pending" | "rejected")) => SortRange::Prefix(format!("{s}#")),
        Some(_) => return Err(ApiError::invalid("status", "must be pending or rejected")),
    };
    authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        Batch::new(),
    )
    .await?;
    let query = Query::new(Some(GSI3), join_requests_partition(tenant_id), range).page(&page);
    app.store
        .query(query)
        .await?
        .into_list(|m: Member| JoinRequestView::from(&m))
}

/// Reads a join request (a pending or rejected member) of the tenant, with its department.
async fn request_of(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    request_id: Uuid,
    department_id: Option<Uuid>,
) -> ApiResult<(Access, Tenant, Member, Option<Department>)> {
    let mut batch = Batch::new();
    let member = batch.read::<Member>(Key::member(tenant_id, request_id));
    let (access, tenant, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        batch,
    )
    .await?;
    let member = read.take(member)?.ok_or(ApiError::NotFound)?;
    undecided(&member)?;
    let department = app
        .store
        .get(&Key::department(
            tenant_id,
            department_id.unwrap_or(member.department_id),
        ))
        .await?
        .map(from_item)
        .transpose()?;
    Ok((access, tenant, member, department))
}

/// A member that never was a join request is not one (404); an approved one was decided.
fn undecided(member: &Member) -> ApiResult<()> {
    if member.join_request.is_none() {
        return Err(ApiError::NotFound);
    }
    if !member.status.is_join_request() {
        return Err(ApiError::Conflict(format!(
            "the request was already decided: the member is {}",
            serde_json::to_value(member.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        )));
    }
    Ok(())
}

/// The request decided: `status`, by whom, when, and why (a rejection's reason).
fn decided(
    before: &Member,
    status: MemberStatus,
    decided_by: Uuid,
    reason: Option<String>,
    now: OffsetDateTime,
) -> Member {
    let mut after = before.clone();
    after.status = status;
    after.updated_at = now;
    after.version += 1;
    if let Some(info) = after.join_request.as_mut() {
        info.decided_at = Some(now);
        info.decided_by = Some(decided_by);
        info.reason = reason;
    }
    after
}

/// Writes the decided member over the request as it was read (`before_version`).
fn put_decision(
    tx: &mut Transaction,
    after: &Member,
    id_path: &str,
    before_version: u64,
) -> ApiResult<()> {
    tx.put(
        after.to_item(id_path)?,
        Some((
            Condition::version_is(before_version),
            ApiError::Conflict("the request was decided at the same time".into()),
        )),
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveInput {
    /// Where the member goes; the requested department when absent.
    #[serde(default)]
    pub department_id: Option<Uuid>,
}

/// Approves a pending request, or re-examines a rejected one: the person becomes an active
/// member of the department. A request through a public door (which held no quota place) and a
/// rejected one take a place in the quota now (409 `quota_exceeded` when it is full).
pub async fn approve(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    request_id: Uuid,
    input: ApproveInput,
) -> ApiResult<MemberView> {
    let (access, tenant, before, department) =
        request_of(app, requester, tenant_id, request_id, input.department_id).await?;
    let now = app.now();
    let chosen = input.department_id.is_some();
    let by = access.caller.user_id;
    let (after, department) = plan_approval(&tenant, &before, department, chosen, by, now)?;
    let was_rejected = before.status == MemberStatus::Rejected;
    let mut tx = Transaction::new();
    put_decision(&mut tx, &after, &department.id_path, before.version)?;
    count_approval(&mut tx, &tenant, &after, Held::of(&before))?;
    tx.update(
        &Key::department(tenant_id, department.id),
        Update::new("ADD member_count :one").value(":one", num(1)),
        Some((
            Condition::new("id_path = :id_path").value(":id_path", s(&department.id_path)),
            ApiError::Conflict("the department moved or was deleted; retry".into()),
        )),
    )?;
    after.add_search_terms(&mut tx)?;
    let view = MemberView::from(&after);
    let change = Change {
        tenant_id,
        action: if was_rejected {
            "join_request.reexamine"
        } else {
            "join_request.approve"
        },
        target_type: "member",
        target_id: request_id,
        before: audit::snapshot(&MemberView::from(&before)),
        after: audit::snapshot(&view),
    };
    audit::record(app, &mut tx, &access.caller, change)?;
    let request = JoinRequestView::from(&after);
    let caller = &access.caller;
    events::record(
        app,
        &mut tx,
        caller,
        tenant_id,
        EventType::JoinRequestApproved,
        &request,
    )?;
    events::record(
        app,
        &mut tx,
        caller,
        tenant_id,
        EventType::MemberCreated,
        &view,
    )?;
    app.store.transact(tx).await?;
    let mail = approval_mail(app, &tenant, &department, &after);
    if let Err(err) = app.mail().send(mail).await {
        tracing::error!(member = %request_id, error = %err, "approval mail failed");
    }
    Ok(view)
}

/// The approved member, active in the department (the one chosen, or the one requested); or
/// why it cannot be: the department is gone, or a rejected request finds the quota full.
fn plan_approval(
    tenant: &Tenant,
    before: &Member,
    department: Option<Department>,
    department_chosen: bool,
    decided_by: Uuid,
    now: OffsetDateTime,
) -> ApiResult<(Member, Department)> {
    let Some(department) = department else {
        return Err(ApiError::invalid(
            "department_id",
            if department_chosen {
                "is not a department of this tenant"
            } else {
                "is required: the requested department no longer exists"
            },
        ));
    };
    if Held::of(before) != Held::QuotaPlace && tenant.quota_used >= tenant.member_quota {
        return Err(quota_exceeded(tenant));
    }
    let mut after = decided(before, MemberStatus::Active, decided_by, None, now);
    after.department_id = department.id;
    Ok((after, department))
}

/// What a request holds while undecided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    /// Pending through an invitation: the invitation's place in the quota.
    QuotaPlace,
    /// Pending through a join link or the join number: a place under the cap of public requests.
    PublicPlace,
    /// Rejected: nothing (its place was given back).
    Nothing,
}

impl Held {
    fn of(request: &Member) -> Self {
        match (request.status, super::public::is_public(request)) {
            (MemberStatus::Pending, false) => Self::QuotaPlace,
            (MemberStatus::Pending, true) => Self::PublicPlace,
            _ => Self::Nothing,
        }
    }

    /// The tenant's counters a decision gives back, as `ADD` terms and the decrements the
    /// condition checks.
    fn given_back(self) -> (&'static str, Vec<(&'static str, i64)>) {
        match self {
            Self::QuotaPlace => (
                "join_request_count :minus, quota_used :minus",
                vec![("join_request_count", -1), ("quota_used", -1)],
            ),
            Self::PublicPlace => (
                "join_request_count :minus, public_request_count :minus",
                vec![("join_request_count", -1), ("public_request_count", -1)],
            ),
            Self::Nothing => ("", vec![]),
        }
    }
}

/// A pending invitation's request passes its place in the quota to the member; a public door's
/// request gives its place under the cap back and, like a rejected one (which had given its
/// place back), takes a quota place, within the quota.
fn count_approval(
    tx: &mut Transaction,
    tenant: &Tenant,
    after: &Member,
    held: Held,
) -> ApiResult<()> {
    let (counters, condition) = match held {
        Held::QuotaPlace => (
            Update::new("ADD member_count :one, join_request_count :minus, owner_count :owners")
                .value(":minus", num(-1)),
            (
                Condition::counters_cover(&[("join_request_count", -1)]),
                ApiError::Conflict("the request was decided at the same time".into()),
            ),
        ),
        Held::PublicPlace => (
            Update::new(
                "ADD member_count :one, join_request_count :minus, \
                 public_request_count :minus, quota_used :one, owner_count :owners",
            )
            .value(":minus", num(-1)),
            (
                Condition::counters_cover(&[
                    ("join_request_count", -1),
                    ("public_request_count", -1),
                ])
                .and(Condition::new("quota_used < member_quota")),
                quota_exceeded(tenant),
            ),
        ),
        Held::Nothing => (
            Update::new("ADD member_count :one, quota_used :one, owner_count :owners"),
            (
                Condition::new("quota_used < member_quota"),
                quota_exceeded(tenant),
            ),
        ),
    };
    let owners = num(i64::from(after.role == Role::Owner));
    tx.update(
        &Key::tenant(tenant.id),
        counters.value(":one", num(1)).value(":owners", owners),
        Some(condition),
    )
}

fn approval_mail(app: &App, tenant: &Tenant, department: &Department, member: &Member) -> Mail {
    let branding = branding_for(tenant, Some(department));
    Mail {
        to: member.email.clone(),
        subject: format!("Welcome to {} on Roster", tenant.name),
        text: format!(
            "Hello {},\n\nyour request to join {} was approved. Sign in: {}/login\n",
            member.name, tenant.name, app.config.app_url
        ),
        html: branded_html(
            &branding,
            &format!(
                "<p>Hello {},</p><p>your request to join <b>{}</b> was approved.</p><p><a href=\"{}/login\">Sign in</a></p>",
                html_escape(&member.name),
                html_escape(&tenant.name),
                html_escape(&app.config.app_url)
            ),
        ),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectInput {
    #[serde(default)]
    pub reason: Option<String>,
}

/// Rejects a pending request with an optional reason; its place (in the quota, or under the cap
/// of public requests) is given back. The person stays known to the tenant: inviting them again
/// answers `previously_rejected`.
pub async fn reject(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    request_id: Uuid,
    input: RejectInput,
) -> ApiResult<JoinRequestView> {
    let mut checks = Checks::new();
    let reason = validate::optional_text(&mut checks, "reason", input.reason.as_deref(), 500);
    checks.finish()?;
    let (access, _, before, _) = request_of(app, requester, tenant_id, request_id, None).await?;
    let now = app.now();
    let after = plan_rejection(&before, reason, access.caller.user_id, now)?;
    let mut tx = Transaction::new();
    // Join requests have no tree position; the id path is not used for them.
    put_decision(&mut tx, &after, "", before.version)?;
    let (given_back, taken) = Held::of(&before).given_back();
    tx.update(
        &Key::tenant(tenant_id),
        Update::new(format!("ADD {given_back}")).value(":minus", num(-1)),
        Some((
            Condition::counters_cover(&taken),
            ApiError::Conflict("the request was decided at the same time".into()),
        )),
    )?;
    let view = JoinRequestView::from(&after);
    let change = Change {
        tenant_id,
        action: "join_request.reject",
        target_type: "member",
        target_id: request_id,
        before: audit::snapshot(&JoinRequestView::from(&before)),
        after: audit::snapshot(&view),
    };
    audit::record(app, &mut tx, &access.caller, change)?;
    let event = EventType::JoinRequestRejected;
    events::record(app, &mut tx, &access.caller, tenant_id, event, &view)?;
    app.store.transact(tx).await?;
    Ok(view)
}

/// The rejected request; a rejected one cannot be rejected again.
fn plan_rejection(
    before: &Member,
    reason: Option<String>,
    decided_by: Uuid,
    now: OffsetDateTime,
) -> ApiResult<Member> {
    if before.status == MemberStatus::Rejected {
        return Err(ApiError::Conflict("the request is already rejected".into()));
    }
    Ok(decided(
        before,
        MemberStatus::Rejected,
        decided_by,
        reason,
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invitations::fixtures::{NOW, root, tenant};
    use crate::model::member::{JoinRequestInfo, JoinVia, MemberSource, Person};
    use crate::model::roles::Permissions;
    use crate::model::user::User;

    fn request(tenant: &Tenant, status: MemberStatus) -> Member {
        let user = User::new(NOW, "ada@example.com".into(), "Ada".into(), "en".into());
        Member {
            status,
            join_request: Some(JoinRequestInfo::pending(
                JoinVia::JoinLink,
                None,
                Some(Uuid::now_v7()),
                NOW,
            )),
            ..Member::new(
                tenant.id,
                tenant.root_department_id,
                Person::from(&user),
                Role::Member,
                Permissions::none(),
                MemberSource::JoinLink,
                NOW,
            )
        }
    }

    fn code<T: std::fmt::Debug>(result: ApiResult<T>) -> Option<&'static str> {
        result.err().map(|e| e.code())
    }

    #[test]
    fn only_pending_or_rejected_join_requests_are_decided() {
        let t = tenant();
        assert!(undecided(&request(&t, MemberStatus::Pending)).is_ok());
        assert!(undecided(&request(&t, MemberStatus::Rejected)).is_ok());
        assert_eq!(
            code(undecided(&request(&t, MemberStatus::Active))),
            Some("conflict")
        );
        let mut invited = request(&t, MemberStatus::Active);
        invited.join_request = None;
        assert_eq!(code(undecided(&invited)), Some("not_found"));
    }

    #[test]
    fn approving_needs_a_department() {
        let t = tenant();
        let before = request(&t, MemberStatus::Pending);
        let Err(ApiError::Validation(chosen)) =
            plan_approval(&t, &before, None, true, Uuid::nil(), NOW)
        else {
            panic!("approved into no department");
        };
        assert_eq!(chosen[0].message, "is not a department of this tenant");
        let Err(ApiError::Validation(gone)) =
            plan_approval(&t, &before, None, false, Uuid::nil(), NOW)
        else {
            panic!("approved into no department");
        };
        assert_eq!(
            gone[0].message,
            "is required: the requested department no longer exists"
        );
    }

    #[test]
    fn approving_a_rejected_or_public_request_needs_a_free_place() {
        let mut t = tenant();
        t.quota_used = t.member_quota;
        let rejected = request(&t, MemberStatus::Rejected);
        let refused = plan_approval(&t, &rejected, Some(root(&t)), false, Uuid::nil(), NOW);
        assert_eq!(code(refused), Some("quota_exceeded"));
        // A request through a join link held no place while pending: it takes one now.
        let public = request(&t, MemberStatus::Pending);
        assert_eq!(Held::of(&public), Held::PublicPlace);
        let refused = plan_approval(&t, &public, Some(root(&t)), false, Uuid::nil(), NOW);
        assert_eq!(code(refused), Some("quota_exceeded"));
        // One through an invitation holds the invitation's place already.
        let mut invited = request(&t, MemberStatus::Pending);
        if let Some(info) = invited.join_request.as_mut() {
            info.via = JoinVia::Invitation;
        }
        assert_eq!(Held::of(&invited), Held::QuotaPlace);
        assert!(plan_approval(&t, &invited, Some(root(&t)), false, Uuid::nil(), NOW).is_ok());
        assert_eq!(Held::of(&rejected), Held::Nothing);
    }

    #[test]
    fn an_approved_request_is_an_active_member_of_the_department() {
        let t = tenant();
        let mut before = request(&t, MemberStatus::Rejected);
        if let Some(info) = before.join_request.as_mut() {
            info.reason = Some("unknown".into());
        }
        let admin = Uuid::now_v7();
        let mut other = root(&t);
        other.id = Uuid::now_v7();
        let (after, department) =
            plan_approval(&t, &before, Some(other), true, admin, NOW).expect("approvable");
        assert_eq!(after.status, MemberStatus::Active);
        assert_eq!(after.department_id, department.id);
        assert_eq!(after.version, before.version + 1);
        let info = after.join_request.expect("the request's history");
        assert_eq!((info.decided_at, info.decided_by), (Some(NOW), Some(admin)));
        assert_eq!(info.reason, None);
    }

    #[test]
    fn a_rejection_keeps_its_reason_and_happens_once() {
        let t = tenant();
        let before = request(&t, MemberStatus::Pending);
        let admin = Uuid::now_v7();
        let after = plan_rejection(&before, Some("unknown".into()), admin, NOW)
            .expect("a pending request is rejected");
        assert_eq!(after.status, MemberStatus::Rejected);
        let info = after.join_request.as_ref().expect("the request's history");
        assert_eq!(info.reason.as_deref(), Some("unknown"));
        assert_eq!(info.decided_by, Some(admin));
        assert_eq!(
            code(plan_rejection(&after, None, admin, NOW)),
            Some("conflict")
        );
    }
}
