//! An endpoint's delivery log (`webhooks.write`): its deliveries newest first, each with its
//! attempts (status code, duration, error, the start of the answer) and its next attempt; and a
//! delivery sent again by hand, now, whatever its state (its schedule is left as it is).

use super::delivery::{Delivery, DeliveryView, attempt_and_record};
use super::endpoints::read;
use crate::app::App;
use crate::auth::Requester;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::{Key, deliveries_of};
use crate::model::{List, PageParams};
use crate::store::{Query, SortRange, from_item};
use uuid::Uuid;

pub async fn list(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    endpoint_id: Uuid,
    page: PageParams,
) -> ApiResult<List<DeliveryView>> {
    read(app, requester, tenant_id, endpoint_id).await?;
    let mut query = Query::new(
        None,
        deliveries_of(tenant_id),
        SortRange::Prefix(format!("{endpoint_id}#")),
    )
    .page(&page);
    query.newest_first = true;
    let page = app.store.query(query).await?;
    let items = page
        .items
        .into_iter()
        .map(|item| from_item::<Delivery>(item).map(|d| DeliveryView::from(&d)))
        .collect::<ApiResult<_>>()?;
    Ok(List {
        items,
        next_cursor: page.next_cursor,
    })
}

/// Sends a delivery again now; the delivery with this attempt recorded.
pub async fn retry(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    endpoint_id: Uuid,
    delivery_id: Uuid,
) -> ApiResult<DeliveryView> {
    let (_, endpoint) = read(app, requester, tenant_id, endpoint_id).await?;
    let key = Key::delivery(tenant_id, endpoint_id, delivery_id);
    let delivery: Delivery = from_item(app.store.get(&key).await?.ok_or(ApiError::NotFound)?)?;
    match attempt_and_record(app, &endpoint, &delivery, false).await? {
        Some(after) => Ok(DeliveryView::from(&after)),
        None => Err(ApiError::Conflict(
            "the delivery was attempted at the same time; read it again".into(),
        )),
    }
}
