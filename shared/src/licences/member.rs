//! One member's licence: set (assign or move its expiry) and revoke.

use super::apply::seat_update;
use super::conditions::{holds, remove_licence, set_licence};
use super::plan::{Pool, plan_for_member};
use super::read::load;
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::Requester;
use crate::error::{ApiError, ApiResult, Checks, LicenceConflict};
use crate::events::{self, EventType};
use crate::members::MemberView;
use crate::model::licence::LicenceView;
use crate::model::member::Member;
use crate::model::time::{rfc3339, whole_seconds};
use crate::store::Transaction;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetLicence {
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// The one member read: unknown and deleted members are not found, join requests conflict.
fn the_member(read: Option<Result<Member, LicenceConflict>>) -> ApiResult<Member> {
    match read {
        Some(Ok(m)) => Ok(m),
        Some(Err(c)) if c.reason == "unknown" || c.reason == "deleted" => Err(ApiError::NotFound),
        Some(Err(c)) => Err(ApiError::LicenceConflict { conflicts: vec![c] }),
        None => Err(ApiError::NotFound),
    }
}

/// One member's licence: assigns one (a seat from the pool) or moves its expiry.
pub async fn set_for_member(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    member_id: Uuid,
    input: SetLicence,
) -> ApiResult<MemberView> {
    let now = app.now();
    let mut checks = Checks::new();
    checks.check(
        input.expires_at > now,
        "expires_at",
        "must be in the future",
    );
    checks.finish()?;
    let expires_at = whole_seconds(input.expires_at);
    let (access, tenant, mut members) = load(app, requester, tenant_id, &[member_id]).await?;
    let before = the_member(members.pop())?;
    let (licence, taking) = plan_for_member(&before, expires_at, Pool::of(&tenant), now)?;
    let stamp = rfc3339(now);
    let mut tx = Transaction::new();
    tx.update(
        &before.key(),
        set_licence(&licence, tenant_id, member_id, &stamp)?,
        Some((
            holds(before.licence.as_ref())?,
            ApiError::Conflict("the member's licence changed at the same time; retry".into()),
        )),
    )?;
    if taking {
        seat_update(&mut tx, &tenant, 1)?;
    }
    let mut after = before.clone();
    after.licence = Some(licence);
    after.updated_at = now;
    after.version += 1;
    let view = MemberView::from(&after);
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: if taking {
                "licence.assign"
            } else {
                "licence.update"
            },
            target_type: "member",
            target_id: member_id,
            before: audit::snapshot(&before.licence.as_ref().map(LicenceView::from)),
            after: audit::snapshot(&view.licence),
        },
    )?;
    // A new expiry for a licence held is an update of the member.
    let event = if taking {
        EventType::LicenceAssigned
    } else {
        EventType::MemberUpdated
    };
    events::record(app, &mut tx, &access.caller, tenant_id, event, &view)?;
    app.store.transact(tx).await?;
    Ok(view)
}

/// Takes one member's licence (and queued renewal) back into the pool; no licence, no change.
pub async fn revoke_for_member(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    member_id: Uuid,
) -> ApiResult<()> {
    let (access, tenant, mut members) = load(app, requester, tenant_id, &[member_id]).await?;
    let before = match members.pop() {
        Some(Ok(m)) => m,
        _ => return Err(ApiError::NotFound),
    };
    let Some(licence) = &before.licence else {
        return Ok(());
    };
    let stamp = rfc3339(app.now());
    let mut tx = Transaction::new();
    tx.update(
        &before.key(),
        remove_licence(&stamp),
        Some((
            holds(Some(licence))?,
            ApiError::Conflict("the member's licence changed at the same time; retry".into()),
        )),
    )?;
    seat_update(&mut tx, &tenant, -licence.seats_held())?;
    audit::record(
        app,
        &mut tx,
        &access.caller,
        Change {
            tenant_id,
            action: "licence.revoke",
            target_type: "member",
            target_id: member_id,
            before: audit::snapshot(&LicenceView::from(licence)),
            after: None,
        },
    )?;
    let after = Member {
        licence: None,
        updated_at: app.now(),
        ..before.clone()
    };
    let view = MemberView::from(&after);
    let event = EventType::LicenceRevoked;
    events::record(app, &mut tx, &access.caller, tenant_id, event, &view)?;
    app.store.transact(tx).await
}
