//! Reading the tree: one page of it, one department, all of it (for jobs), and a department's
//! path as files carry it.

use super::view::DepartmentView;
use crate::app::App;
use crate::auth::{Need, Requester, authorize};
use crate::error::{ApiError, ApiResult};
use crate::model::department::Department;
use crate::model::keys::{DEPARTMENT_PREFIX, Key, tenant_partition};
use crate::model::{List, PageParams};
use crate::store::{Batch, Query, SortRange, from_item};
use uuid::Uuid;

/// The tree, flat, in creation order, one page at a time.
pub async fn list(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    page: PageParams,
) -> ApiResult<List<DepartmentView>> {
    authorize(app, requester, tenant_id, Need::Member, Batch::new()).await?;
    let query = Query::new(
        None,
        tenant_partition(tenant_id),
        SortRange::Prefix(DEPARTMENT_PREFIX.into()),
    )
    .page(&page);
    app.store
        .query(query)
        .await?
        .into_list(|d: Department| DepartmentView::from(&d))
}

pub async fn get(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    department_id: Uuid,
) -> ApiResult<DepartmentView> {
    let mut batch = Batch::new();
    let department = batch.read::<Department>(Key::department(tenant_id, department_id));
    let (_, mut read) = authorize(app, requester, tenant_id, Need::Member, batch).await?;
    let department = read.take(department)?.ok_or(ApiError::NotFound)?;
    Ok(DepartmentView::from(&department))
}

/// Every department of the tenant, read once (one query).
pub(crate) async fn all(app: &App, tenant_id: Uuid) -> ApiResult<Vec<Department>> {
    app.store
        .query_all(Query::new(
            None,
            tenant_partition(tenant_id),
            SortRange::Prefix(DEPARTMENT_PREFIX.into()),
        ))
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

/// A department's path below the root, as files carry it: `Sales/EMEA`; the root is empty.
pub fn relative_path(department: &Department) -> String {
    match department.path.split_once('/') {
        Some((_, below)) if department.parent_id.is_some() => below.to_string(),
        _ => String::new(),
    }
}
