//! Reading tenants: one, or the list a caller may see.

use super::view::TenantView;
use crate::app::App;
use crate::auth::{CallerKind, Requester, authenticate, authorize_tenant_record};
use crate::error::{ApiError, ApiResult};
use crate::model::keys::{ALL_TENANTS, GSI1, GSI2, customers_of};
use crate::model::roles::Permission;
use crate::model::tenant::Tenant;
use crate::model::{List, PageParams};
use crate::store::{Batch, Query, SortRange};
use uuid::Uuid;

/// One tenant, for any member of it, its reseller's admins and platform admins.
pub async fn get(app: &App, requester: &Requester, tenant_id: Uuid) -> ApiResult<TenantView> {
    let (access, tenant, _) =
        authorize_tenant_record(app, requester, tenant_id, Batch::new()).await?;
    Ok(TenantView::seen_by(&tenant, &access))
}

/// Platform admins list every tenant; a reseller's admins list its customers.
pub async fn list(
    app: &App,
    requester: &Requester,
    page: PageParams,
) -> ApiResult<List<TenantView>> {
    let authorized = authenticate(app, requester, Batch::new()).await?;
    let query = match &authorized.caller.kind {
        CallerKind::Platform => Query::new(Some(GSI1), ALL_TENANTS.into(), SortRange::All),
        CallerKind::Member(m) if m.effective_permissions().allows(Permission::CustomersWrite) => {
            Query::new(Some(GSI2), customers_of(m.tenant_id), SortRange::All)
        }
        CallerKind::Member(_)
        | CallerKind::ApiClient(_)
        | CallerKind::Scim(_)
        | CallerKind::User
        | CallerKind::System
        | CallerKind::Job { .. } => {
            return Err(ApiError::Forbidden(
                "only platform and reseller admins list tenants",
            ));
        }
    }
    .page(&page);
    app.store
        .query(query)
        .await?
        .into_list(|t: Tenant| TenantView::from(&t))
}
