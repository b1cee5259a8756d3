//! What a create asks of its caller, asked again before an idempotency key's kept answer is given
//! (SPEC.md §9.1): a caller whose session ended, who was disabled, whose address is no longer
//! allowed or whose tenant is deleting gets what a new request would get, never the kept body.
//!
//! Each creating operation names its gate in the registry; the gate is the authorization the
//! route's own operation starts with (the same [`crate::auth`] functions, with the same need), so
//! a replay refuses whom the operation would refuse at its door. What an operation decides later
//! from the body (a department's settings, the permissions an API client is given) is not asked
//! again: the body is the same as the first time, and the caller's standing is what changed.

use crate::App;
use crate::auth::{CallerKind, Need, Permission, Requester, authenticate, authorize_with_tenant};
use crate::error::{ApiError, ApiResult};
use crate::model::keys::Key;
use crate::store::{Batch, Item, Slot};
use uuid::Uuid;

/// What a new request of a creating route must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// A route of the path's tenant: the caller live, from an allowed address, in a tenant that
    /// is not deleting, holding every one of these permissions (none: any member).
    Tenant(&'static [Permission]),
    /// The same, and the tenant's `api_access` feature on (credentials for machines).
    TenantApi(&'static [Permission]),
    /// Creating tenants: platform admins, and resellers' admins (`customers.write`).
    Operators,
}

impl Gate {
    /// Clears `requester` as the route would, reading `record` in the same request; answers the
    /// record's item.
    pub(super) async fn admit(
        self,
        app: &App,
        requester: &Requester,
        tenant: Option<Uuid>,
        record: &Key,
    ) -> ApiResult<Option<Item>> {
        let mut batch = Batch::new();
        let held = batch.read_item(record.clone());
        let (permissions, api) = match self {
            Self::Operators => return operators(app, requester, batch, held).await,
            Self::Tenant(permissions) => (permissions, false),
            Self::TenantApi(permissions) => (permissions, true),
        };
        let tenant_id = tenant.ok_or(ApiError::NotFound)?;
        let need = match permissions.first() {
            Some(first) => Need::Permission(*first),
            None => Need::Member,
        };
        let (access, tenant, mut read) =
            authorize_with_tenant(app, requester, tenant_id, need, batch).await?;
        if !permissions.iter().all(|p| access.allows(*p)) {
            return Err(ApiError::Forbidden(
                "the caller lacks the permission this operation needs",
            ));
        }
        if api {
            tenant.feature_flags.require_api_access()?;
        }
        Ok(read.take_item(held))
    }
}

/// Whoever may create tenants: a platform admin, or an admin of a reseller.
async fn operators(
    app: &App,
    requester: &Requester,
    batch: Batch,
    held: Slot<Item>,
) -> ApiResult<Option<Item>> {
    let mut authorized = authenticate(app, requester, batch).await?;
    let operator = match &authorized.caller.kind {
        CallerKind::Platform => true,
        CallerKind::Member(m) => m.effective_permissions().allows(Permission::CustomersWrite),
        CallerKind::ApiClient(_)
        | CallerKind::Scim(_)
        | CallerKind::User
        | CallerKind::System
        | CallerKind::Job { .. } => false,
    };
    if !operator {
        return Err(ApiError::Forbidden(
            "only platform admins and reseller admins create tenants",
        ));
    }
    Ok(authorized.read.take_item(held))
}
