//! What the sender (or an admin) does with invitations afterwards: list, resend, cancel.

use super::invitation::{Invitation, InvitationStatus, InvitationView};
use super::invitation::{
    InvitationGuard, InvitationLinks, add_tokens, hold_quota_place, link_expiry, now_bound,
    put_changed,
};
use super::mail::send_invitation_mail;
use super::send::may_invite;
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Access, Need, Requester, authorize_with_tenant};
use crate::error::{ApiError, ApiResult};
use crate::events::{self, EventType};
use crate::limits::{count_text, may_text_again};
use crate::members::quota_exceeded;
use crate::model::department::Department;
use crate::model::keys::{GSI3, Key, invitations_partition};
use crate::model::roles::Permission;
use crate::model::tenant::Tenant;
use crate::model::{List, PageParams};
use crate::store::{Batch, Condition, Query, SortRange, Transaction, Update, from_item, num, s};
use time::OffsetDateTime;
use uuid::Uuid;

/// The "inactivated" list and its neighbours: `status` pending (default: live invitations,
/// soonest expiry first), expired, accepted or revoked (newest first). One index query.
pub async fn list(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    status: Option<String>,
    page: PageParams,
) -> ApiResult<List<InvitationView>> {
    let status = match status.as_deref() {
        None | Some("pending") => InvitationStatus::Pending,
        Some("expired") => InvitationStatus::Expired,
        Some("accepted") => InvitationStatus::Accepted,
        Some("revoked") => InvitationStatus::Revoked,
        Some(_) => {
            return Err(ApiError::invalid(
                "status",
                "must be pending, expired, accepted or revoked",
            ));
        }
    };
    let (access, tenant, _) =
        authorize_with_tenant(app, requester, tenant_id, Need::Member, Batch::new()).await?;
    if !may_invite(&access, &tenant) {
        return Err(ApiError::Forbidden(
            "the caller lacks the permission this operation needs",
        ));
    }
    let now = app.now();
    let query = listing(tenant_id, status, now).page(&page);
    app.store
        .query(query)
        .await?
        .into_list(|i: Invitation| i.view(now))
}

/// The index query listing the tenant's invitations with `status` at `now`.
fn listing(tenant_id: Uuid, status: InvitationStatus, now: OffsetDateTime) -> Query {
    let pending = invitations_partition(tenant_id, "pending");
    let (partition, range) = match status {
        InvitationStatus::Pending => {
            let live = SortRange::Between(now_bound(now), "~".into());
            return Query::new(Some(GSI3), pending, live);
        }
        InvitationStatus::Expired => (pending, SortRange::Between("0".into(), now_bound(now))),
        other => (
            invitations_partition(tenant_id, other.word()),
            SortRange::All,
        ),
    };
    let mut query = Query::new(Some(GSI3), partition, range);
    query.newest_first = true;
    query
}

/// An invitation being managed, with what its changes need.
struct Managed {
    access: Access,
    tenant: Tenant,
    invitation: Invitation,
    guard: Option<InvitationGuard>,
    department: Option<Department>,
}

/// Reads an invitation of the tenant for resend/cancel, with the caller cleared to manage it:
/// holders of `invitations.write`, or the member who sent it.
async fn managed(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    invitation_id: Uuid,
) -> ApiResult<Managed> {
    let mut batch = Batch::new();
    let invitation = batch.read::<Invitation>(Key::invitation(tenant_id, invitation_id));
    let (access, tenant, mut read) =
        authorize_with_tenant(app, requester, tenant_id, Need::Member, batch).await?;
    let invitation = read.take(invitation)?.ok_or(ApiError::NotFound)?;
    let own = access.caller.user_id == invitation.invited_by;
    if !(access.allows(Permission::InvitationsWrite) || (own && may_invite(&access, &tenant))) {
        return Err(ApiError::Forbidden(
            "the caller lacks the permission this operation needs",
        ));
    }
    let mut more = app
        .store
        .get_many(&[
            invitation.guard_key(),
            Key::department(tenant_id, invitation.department_id),
        ])
        .await?
        .into_iter();
    let guard = more.next().flatten().map(from_item).transpose()?;
    let department = more.next().flatten().map(from_item).transpose()?;
    Ok(Managed {
        access,
        tenant,
        invitation,
        guard,
        department,
    })
}

/// A new link and a new expiry for a pending (or expired) invitation; the old link stops working.
pub async fn resend(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    invitation_id: Uuid,
) -> ApiResult<InvitationView> {
    let Managed {
        access,
        tenant,
        invitation: before,
        guard,
        department,
    } = managed(app, requester, tenant_id, invitation_id).await?;
    let now = app.now();
    let links = InvitationLinks::new(&before.email, before.phone.as_deref());
    let (after, department) =
        plan_resend(&tenant, &before, guard.as_ref(), department, &links, now)?;
    // Texts cost money: a resend by phone is refused (429) before anything is stored or sent.
    // Concurrent resends both count, but only one is stored (the version condition below).
    if let Some(phone) = &before.phone {
        may_text_again(&app.config.sms, before.sent_count, before.last_sent_at, now)?;
        count_text(app, &tenant, phone).await?;
    }
    let mut tx = Transaction::new();
    put_changed(&mut tx, &after, before.version)?;
    add_tokens(&mut tx, &after, &links)?;
    tx.put(
        after.guard_item()?,
        Some((
            Condition::new("attribute_not_exists(pk) OR invitation_id = :id OR #ttl <= :now")
                .name("#ttl", "ttl")
                .value(":id", s(invitation_id.to_string()))
                .value(":now", num(now.unix_timestamp())),
            ApiError::Conflict("another invitation for this email was sent meanwhile".into()),
        )),
    )?;
    if !before.holds_quota {
        // Its place was given back when it expired: take one again.
        hold_quota_place(&mut tx, &tenant)?;
    }
    let view = after.view(now);
    let change = changed("invitation.resend", &before, &view, now);
    audit::record(app, &mut tx, &access.caller, change)?;
    let expired = before.expired_unrecorded(now)?;
    events::record_many(app, &mut tx, &access.caller, tenant_id, expired)?;
    app.store.transact(tx).await?;
    send_invitation_mail(app, &tenant, &department, &after, &links, &access.caller).await;
    Ok(view)
}

/// The resent invitation (new link, new expiry, a place in the quota again) and the department
/// its mail names; or why it cannot be resent.
fn plan_resend(
    tenant: &Tenant,
    before: &Invitation,
    guard: Option<&InvitationGuard>,
    department: Option<Department>,
    links: &InvitationLinks,
    now: OffsetDateTime,
) -> ApiResult<(Invitation, Department)> {
    if before.status != InvitationStatus::Pending {
        return Err(ApiError::Conflict(format!(
            "the invitation is {}; only pending or expired invitations are resent",
            before.status.word()
        )));
    }
    if let Some(g) = guard
        && g.invitation_id != before.id
        && g.is_live(now)
    {
        return Err(ApiError::InvitationPending {
            invitation_id: g.invitation_id,
        });
    }
    let Some(department) = department else {
        return Err(ApiError::Conflict(
            "the invitation's department no longer exists; cancel it and invite again".into(),
        ));
    };
    if !before.holds_quota && tenant.quota_used >= tenant.member_quota {
        return Err(quota_exceeded(tenant));
    }
    let expires_at = link_expiry(tenant, now);
    let mut after = before.clone();
    after.use_links(links);
    after.expires_at = expires_at;
    after.expires_epoch = expires_at.unix_timestamp();
    after.holds_quota = true;
    after.sent_count += 1;
    after.last_sent_at = now;
    after.updated_at = now;
    after.version += 1;
    Ok((after, department))
}

/// Cancels a pending (or expired) invitation: its link stops working and its place in the quota
/// is given back. Cancelling a cancelled invitation changes nothing.
pub async fn cancel(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    invitation_id: Uuid,
) -> ApiResult<()> {
    let Managed {
        access,
        invitation: before,
        guard,
        ..
    } = managed(app, requester, tenant_id, invitation_id).await?;
    let now = app.now();
    let Some(after) = plan_cancel(&before, now)? else {
        return Ok(());
    };
    let mut tx = Transaction::new();
    put_changed(&mut tx, &after, before.version)?;
    if before.holds_quota {
        tx.update(
            &Key::tenant(tenant_id),
            Update::new("ADD invitation_count :minus, quota_used :minus").value(":minus", num(-1)),
            Some((
                Condition::counters_cover(&[("invitation_count", -1), ("quota_used", -1)]),
                ApiError::Conflict("the invitation changed at the same time; retry".into()),
            )),
        )?;
    }
    if guard.is_some_and(|g| g.invitation_id == invitation_id) {
        tx.delete(
            &before.guard_key(),
            Some((
                Condition::new("invitation_id = :id").value(":id", s(invitation_id.to_string())),
                ApiError::Conflict("the invitation changed at the same time; retry".into()),
            )),
        )?;
    }
    let view = after.view(now);
    let change = changed("invitation.cancel", &before, &view, now);
    audit::record(app, &mut tx, &access.caller, change)?;
    let mut happened = before.expired_unrecorded(now)?;
    let cancelled = serde_json::to_value(&view).map_err(ApiError::internal)?;
    happened.push((EventType::InvitationCancelled, cancelled));
    events::record_many(app, &mut tx, &access.caller, tenant_id, happened)?;
    app.store.transact(tx).await
}

/// The cancelled invitation; `None` when it was cancelled already, a conflict once accepted.
fn plan_cancel(before: &Invitation, now: OffsetDateTime) -> ApiResult<Option<Invitation>> {
    match before.status {
        InvitationStatus::Revoked => return Ok(None),
        InvitationStatus::Accepted => {
            return Err(ApiError::Conflict(
                "the invitation was accepted; remove the member instead".into(),
            ));
        }
        InvitationStatus::Pending | InvitationStatus::Expired => {}
    }
    let mut after = before.clone();
    after.status = InvitationStatus::Revoked;
    after.revoked_at = Some(now);
    after.holds_quota = false;
    after.updated_at = now;
    after.version += 1;
    Ok(Some(after))
}

/// The audit entry of a change to an existing invitation.
fn changed(
    action: &'static str,
    before: &Invitation,
    after: &InvitationView,
    now: OffsetDateTime,
) -> Change<'static> {
    Change {
        tenant_id: before.tenant_id,
        action,
        target_type: "invitation",
        target_id: before.id,
        before: audit::snapshot(&before.view(now)),
        after: audit::snapshot(after),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailed(token: &str) -> InvitationLinks {
        InvitationLinks {
            mailed: Some(token.into()),
            texted: None,
        }
    }
    use crate::invitations::invitation::fixtures::{NOW, invitation, root, tenant};

    fn code<T>(result: ApiResult<T>) -> Option<&'static str> {
        result.err().map(|e| e.code())
    }

    #[test]
    fn only_pending_or_expired_invitations_are_resent() {
        let t = tenant();
        let mut accepted = invitation(&t);
        accepted.status = InvitationStatus::Accepted;
        let refused = plan_resend(&t, &accepted, None, Some(root(&t)), &mailed("tok"), NOW);
        assert_eq!(code(refused), Some("conflict"));

        let expired = invitation(&t);
        let later = expired.expires_at + time::Duration::days(1);
        assert!(plan_resend(&t, &expired, None, Some(root(&t)), &mailed("tok"), later).is_ok());
    }

    #[test]
    fn a_newer_live_invitation_for_the_email_blocks_a_resend() {
        let t = tenant();
        let before = invitation(&t);
        let newer = InvitationGuard {
            invitation_id: Uuid::now_v7(),
            ttl: NOW.unix_timestamp() + 60,
        };
        match plan_resend(
            &t,
            &before,
            Some(&newer),
            Some(root(&t)),
            &mailed("tok"),
            NOW,
        ) {
            Err(ApiError::InvitationPending { invitation_id }) => {
                assert_eq!(invitation_id, newer.invitation_id)
            }
            other => panic!("the newer invitation did not block: {other:?}"),
        }
        let own = InvitationGuard {
            invitation_id: before.id,
            ttl: NOW.unix_timestamp() + 60,
        };
        assert!(plan_resend(&t, &before, Some(&own), Some(root(&t)), &mailed("tok"), NOW).is_ok());
    }

    #[test]
    fn a_resend_needs_the_department_and_a_place_given_back_on_expiry() {
        let mut t = tenant();
        let mut released = invitation(&t);
        assert_eq!(
            code(plan_resend(&t, &released, None, None, &mailed("tok"), NOW)),
            Some("conflict")
        );
        t.quota_used = t.member_quota;
        released.holds_quota = false;
        let refused = plan_resend(&t, &released, None, Some(root(&t)), &mailed("tok"), NOW);
        assert_eq!(code(refused), Some("quota_exceeded"));
    }

    #[test]
    fn a_resend_replaces_the_link_and_the_expiry() {
        let t = tenant();
        let mut before = invitation(&t);
        before.holds_quota = false;
        let later = NOW + time::Duration::days(10);
        let (after, department) =
            plan_resend(&t, &before, None, Some(root(&t)), &mailed("new"), later)
                .expect("resendable");
        assert_eq!(department.id, t.root_department_id);
        assert_eq!(after.token_hash, crate::crypto::token_hash("new"));
        assert_eq!(after.expires_at, later + time::Duration::days(7));
        assert!(after.holds_quota);
        assert_eq!(after.sent_count, before.sent_count + 1);
        assert_eq!(after.version, before.version + 1);
    }

    #[test]
    fn cancelling_gives_the_place_back_once() {
        let t = tenant();
        let before = invitation(&t);
        let after = plan_cancel(&before, NOW).ok().flatten().expect("cancelled");
        assert_eq!(after.status, InvitationStatus::Revoked);
        assert_eq!(after.revoked_at, Some(NOW));
        assert!(!after.holds_quota);
        assert!(matches!(plan_cancel(&after, NOW), Ok(None)));

        let mut accepted = before;
        accepted.status = InvitationStatus::Accepted;
        assert_eq!(code(plan_cancel(&accepted, NOW)), Some("conflict"));
    }
}
