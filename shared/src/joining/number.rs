//! The organisation's join number (the seed's "door number"): eight digits a tenant's admins read
//! out or print so people can ask to join, when the tenant's join rule `join_by_number` is on.
//!
//! Unlike a join link's code, eight digits can be guessed, so a number never admits anyone by
//! itself: every request through it waits for an admin's approval, and previews and requests
//! count against the caller's address (a scan of the number space runs into 429 long before it
//! finds a door). An unknown number and one whose tenant has the rule off answer the same 404.

use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Need, Requester, authorize_with_tenant};
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, EventType};
use crate::invitations::admission::count_attempt;
use crate::model::keys::Key;
use crate::model::roles::Permission;
use crate::model::tenant::Tenant;
use crate::model::time::rfc3339;
use crate::store::{Batch, Condition, Transaction, Update, from_item, num, s, to_item};
use crate::tenants::view::TenantView;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The guard `JOINNUMBER#<n>`: the number belongs to this tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinNumberGuard {
    pub tenant_id: Uuid,
}

/// What the guard's write fails with when the number drawn is already a tenant's.
pub(crate) const JOIN_NUMBER_TAKEN: &str = "the join number drawn is taken; retry";

/// Draws of a new number before a creation gives up (each collides with odds of tenants / 9e7).
pub(crate) const DRAWS: usize = 4;

/// A random number of eight digits, never starting with 0 (so no digit gets lost when typed
/// into a spreadsheet or read out).
pub fn draw() -> String {
    let random = u32::from_le_bytes(crypto::random_bytes::<4>());
    (10_000_000 + random % 90_000_000).to_string()
}

/// Whether `number` is the shape of a join number.
pub fn is_join_number(number: &str) -> bool {
    number.len() == 8 && number.bytes().all(|b| b.is_ascii_digit()) && !number.starts_with('0')
}

/// Adds the guard that gives `number` to `tenant_id`, refused when another tenant has it.
pub(crate) fn add_guard(tx: &mut Transaction, number: &str, tenant_id: Uuid) -> ApiResult<()> {
    tx.put(
        to_item(
            &JoinNumberGuard { tenant_id },
            &Key::join_number(number),
            &[],
        )?,
        Some((
            Condition::absent(),
            ApiError::Conflict(JOIN_NUMBER_TAKEN.into()),
        )),
    )
}

/// Whether a failed write failed only because the number drawn was taken.
pub(crate) fn was_taken(err: &ApiError) -> bool {
    matches!(err, ApiError::Conflict(m) if m == JOIN_NUMBER_TAKEN)
}

/// The tenant a number opens for joining, after counting the attempt against the caller's
/// address: 404 for a malformed or unknown number and for a tenant that does not join by number.
pub(crate) async fn open_number(
    app: &App,
    requester: &Requester,
    number: &str,
) -> ApiResult<Tenant> {
    count_attempt(app, requester, "join-number").await?;
    if !is_join_number(number) {
        return Err(ApiError::NotFound);
    }
    let guard: JoinNumberGuard = from_item(
        app.store
            .get(&Key::join_number(number))
            .await?
            .ok_or(ApiError::NotFound)?,
    )?;
    let tenant: Tenant = from_item(
        app.store
            .get(&Key::tenant(guard.tenant_id))
            .await?
            .ok_or(ApiError::NotFound)?,
    )?;
    if tenant.join_number.as_deref() != Some(number) || !tenant.settings.join_rules.join_by_number {
        return Err(ApiError::NotFound);
    }
    tenant.reachable()
}

/// What a rotation answers: the tenant's new number.
#[derive(Debug, Serialize)]
pub struct JoinNumberView {
    pub join_number: String,
}

/// POST /v1/tenants/{t}/join-number/rotate (`settings.write`): draws a new number for the tenant.
/// The tenant's number, the new number's guard and the old one's removal are one transaction
/// conditioned on the tenant as read, so the old number stops opening the door at once, two
/// rotations racing cannot both win (the loser answers 409 `conflict`), and a number another
/// tenant holds is never taken (drawn again).
pub async fn rotate(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
) -> ApiResult<JoinNumberView> {
    let (access, before, _) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::SettingsWrite),
        Batch::new(),
    )
    .await?;
    let mut draws = 0;
    loop {
        let number = draw();
        if before.join_number.as_deref() == Some(number.as_str()) {
            continue;
        }
        draws += 1;
        let mut after = before.clone();
        after.join_number = Some(number.clone());
        after.updated_at = app.now();
        after.version += 1;
        let mut tx = Transaction::new();
        add_number_move(&mut tx, &before, &after)?;
        let change = Change {
            tenant_id,
            action: "tenant.join_number_rotate",
            target_type: "tenant",
            target_id: tenant_id,
            before: audit::snapshot(&TenantView::from(&before)),
            after: audit::snapshot(&TenantView::from(&after)),
        };
        audit::record(app, &mut tx, &access.caller, change)?;
        let view = TenantView::from(&after);
        events::record(
            app,
            &mut tx,
            &access.caller,
            tenant_id,
            EventType::TenantUpdated,
            &view,
        )?;
        match app.store.transact(tx).await {
            Ok(()) => {
                return Ok(JoinNumberView {
                    join_number: number,
                });
            }
            Err(err) if was_taken(&err) && draws < DRAWS => {}
            Err(err) => return Err(err),
        }
    }
}

/// Moves the tenant from `before`'s number to `after`'s: the tenant (while at the version read),
/// the new guard (refused when another tenant holds it) and the old guard's removal.
fn add_number_move(tx: &mut Transaction, before: &Tenant, after: &Tenant) -> ApiResult<()> {
    let changed = || ApiError::Conflict("the tenant changed at the same time; retry".into());
    let new = after.join_number.as_deref().unwrap_or_default();
    tx.update(
        &Key::tenant(before.id),
        Update::new("SET join_number = :number, updated_at = :now, version = :next")
            .value(":number", s(new))
            .value(":now", s(rfc3339(after.updated_at)))
            .value(":next", num(after.version)),
        Some((Condition::version_is(before.version), changed())),
    )?;
    add_guard(tx, new, before.id)?;
    if let Some(old) = &before.join_number {
        tx.delete(
            &Key::join_number(old),
            Some((
                Condition::new("tenant_id = :tenant").value(":tenant", s(before.id.to_string())),
                changed(),
            )),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_eight_digits_without_a_leading_zero() {
        for _ in 0..1000 {
            let n = draw();
            assert!(is_join_number(&n), "{n}");
        }
        for bad in [
            "1234567",
            "123456789",
            "01234567",
            "1234567a",
            "",
            "１２３４５６７８",
        ] {
            assert!(!is_join_number(bad), "{bad}");
        }
    }

    #[test]
    fn only_the_guards_own_refusal_means_the_number_was_taken() {
        assert!(was_taken(&ApiError::Conflict(JOIN_NUMBER_TAKEN.into())));
        assert!(!was_taken(&ApiError::Conflict(
            "id collision; retry".into()
        )));
    }
}
