//! Deleting a customer: a grace period, a restore, then the purge.
//!
//! `DELETE` marks the tenant `deleting` with `purge_after` seven days on and queues it for the
//! tenant-purge job (gsi4 `TENANTPURGE`). From then on every route of the tenant answers 404 to
//! its members and API clients (see [`crate::auth::authorize`]), its public doors (join links,
//! the join number, invitations) are not found, and its members cannot sign in into it; its
//! platform and reseller admins still see it and may restore it, as it was, until `purge_after`.
//! The purge ([`super::purge`]) first stamps the tenant, so a restore racing it loses (its write
//! is conditioned on the tenant as read).

use super::view::TenantView;
use crate::app::App;
use crate::audit::{self, Change};
use crate::auth::{Access, Requester, authorize_tenant_record};
use crate::error::{ApiError, ApiResult};
use crate::events::{self, EventType};
use crate::model::keys::{
    GSI2, GSI4, Key, TENANT_PURGE_QUEUE, customers_of, tenant_purge_position,
};
use crate::model::tenant::{Tenant, TenantKind, TenantStatus};
use crate::model::time::{rfc3339, whole_seconds};
use crate::store::{Batch, Condition, Query, SortRange, Transaction, Update, num, s};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How long a deleted tenant can be restored before the purge may remove it.
pub const GRACE_DAYS: i64 = 7;

/// Platform admins, and a reseller's admins for its customers, delete and restore tenants.
fn may_delete(access: &Access) -> ApiResult<()> {
    if access.caller.is_platform() || access.via_reseller {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "tenants are deleted and restored by platform admins and their reseller's admins",
        ))
    }
}

/// Marks the tenant `deleting` until `purge_after` (now + 7 days). A reseller with customers is
/// refused: its customers would be left without their reseller.
pub async fn delete(app: &App, requester: &Requester, tenant_id: Uuid) -> ApiResult<TenantView> {
    let (access, before, _) =
        authorize_tenant_record(app, requester, tenant_id, Batch::new()).await?;
    may_delete(&access)?;
    if before.status == TenantStatus::Deleting {
        return Err(ApiError::Conflict(
            "the tenant is already deleted; restore it or let the purge remove it".into(),
        ));
    }
    if before.kind == TenantKind::Reseller && has_customers(app, tenant_id).await? {
        return Err(ApiError::Conflict(
            "a reseller with customers cannot be deleted; delete or move its customers first"
                .into(),
        ));
    }
    let now = app.now();
    let purge_after = whole_seconds(now) + Duration::days(GRACE_DAYS);
    let after = Tenant {
        status: TenantStatus::Deleting,
        purge_after: Some(purge_after),
        updated_at: now,
        version: before.version + 1,
        ..before.clone()
    };
    let mut tx = Transaction::new();
    tx.update(
        &Key::tenant(tenant_id),
        Update::new(
            "SET #status = :deleting, purge_after = :purge_after, updated_at = :now, \
             version = :next",
        )
        .name("#status", "status")
        .value(":deleting", s("deleting"))
        .value(":purge_after", s(rfc3339(purge_after)))
        .value(":now", s(rfc3339(now)))
        .value(":next", num(after.version))
        .set_all(&[
            (GSI4.pk, TENANT_PURGE_QUEUE.to_string()),
            (
                GSI4.sk,
                tenant_purge_position(&rfc3339(purge_after), tenant_id),
            ),
        ]),
        Some((unchanged(&before), changed())),
    )?;
    record(app, &mut tx, &access, "tenant.delete", &before, &after)?;
    app.store.transact(tx).await?;
    Ok(TenantView::from(&after))
}

/// Brings a deleted tenant back as it was, before its purge time and before its purge began.
pub async fn restore(app: &App, requester: &Requester, tenant_id: Uuid) -> ApiResult<TenantView> {
    let mut batch = Batch::new();
    let purge_mark = batch.read_item(Key::tenant_purge_mark(tenant_id));
    let (access, before, mut read) =
        authorize_tenant_record(app, requester, tenant_id, batch).await?;
    may_delete(&access)?;
    let now = app.now();
    if before.status != TenantStatus::Deleting {
        return Err(ApiError::Conflict("the tenant is not deleted".into()));
    }
    let purge_began = read.take_item(purge_mark).is_some();
    if purge_began || before.purge_after.is_none_or(|at| at <= now) {
        return Err(ApiError::Conflict(
            "the tenant is past its purge time and can no longer be restored".into(),
        ));
    }
    let after = Tenant {
        status: TenantStatus::Active,
        purge_after: None,
        updated_at: now,
        version: before.version + 1,
        ..before.clone()
    };
    let mut tx = Transaction::new();
    tx.update(
        &Key::tenant(tenant_id),
        Update::new(
            "SET #status = :active, updated_at = :now, version = :next \
             REMOVE purge_after, gsi4pk, gsi4sk",
        )
        .name("#status", "status")
        .value(":active", s("active"))
        .value(":now", s(rfc3339(now)))
        .value(":next", num(after.version)),
        Some((unchanged(&before), changed())),
    )?;
    // The purge leaves its mark before it removes anything: a purge that began meanwhile wins.
    tx.check(
        &Key::tenant_purge_mark(tenant_id),
        Condition::absent(),
        ApiError::Conflict(
            "the tenant is past its purge time and can no longer be restored".into(),
        ),
    )?;
    record(app, &mut tx, &access, "tenant.restore", &before, &after)?;
    app.store.transact(tx).await?;
    Ok(TenantView::from(&after))
}

fn unchanged(before: &Tenant) -> Condition {
    Condition::new("#version = :version")
        .name("#version", "version")
        .value(":version", num(before.version))
}

fn changed() -> ApiError {
    ApiError::Conflict("the tenant changed at the same time; read it again and retry".into())
}

async fn has_customers(app: &App, reseller_id: Uuid) -> ApiResult<bool> {
    let mut query = Query::new(Some(GSI2), customers_of(reseller_id), SortRange::All);
    query.limit = 1;
    Ok(!app.store.query(query).await?.items.is_empty())
}

fn record(
    app: &App,
    tx: &mut Transaction,
    access: &Access,
    action: &'static str,
    before: &Tenant,
    after: &Tenant,
) -> ApiResult<()> {
    audit::record(
        app,
        tx,
        &access.caller,
        Change {
            tenant_id: before.id,
            action,
            target_type: "tenant",
            target_id: before.id,
            before: audit::snapshot(&TenantView::from(before)),
            after: audit::snapshot(&TenantView::from(after)),
        },
    )?;
    let event = if action == "tenant.restore" {
        EventType::TenantRestored
    } else {
        EventType::TenantDeleting
    };
    let view = TenantView::from(after);
    events::record(app, tx, &access.caller, before.id, event, &view)
}

/// Whether a deleted tenant's grace period is over at `now`.
pub fn due(tenant: &Tenant, now: OffsetDateTime) -> bool {
    tenant.status == TenantStatus::Deleting && tenant.purge_after.is_some_and(|at| at <= now)
}
