use super::Answer;
use crate::http::{created, json_body, no_content, ok, page, path_id, requester};
use lambda_http::Request;
use roster_shared::App;
use roster_shared::webhooks::{endpoints, log};

/// POST /v1/tenants/{tenant_id}/webhooks
pub async fn create(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let input = json_body(&req)?;
    created(&endpoints::create(app, &requester(&req), tenant_id, input).await?)
}

/// GET /v1/tenants/{tenant_id}/webhooks
pub async fn list(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let page = page(&req)?;
    ok(&endpoints::list(app, &requester(&req), tenant_id, page).await?)
}

/// GET /v1/tenants/{tenant_id}/webhooks/{webhook_id}
pub async fn get(app: &'static App, req: Request) -> Answer {
    let (tenant_id, webhook_id) = (path_id(&req, "tenant_id")?, path_id(&req, "webhook_id")?);
    ok(&endpoints::get(app, &requester(&req), tenant_id, webhook_id).await?)
}

/// PATCH /v1/tenants/{tenant_id}/webhooks/{webhook_id}
pub async fn update(app: &'static App, req: Request) -> Answer {
    let (tenant_id, webhook_id) = (path_id(&req, "tenant_id")?, path_id(&req, "webhook_id")?);
    let patch = json_body(&req)?;
    ok(&endpoints::update(app, &requester(&req), tenant_id, webhook_id, patch).await?)
}

/// DELETE /v1/tenants/{tenant_id}/webhooks/{webhook_id}
pub async fn delete(app: &'static App, req: Request) -> Answer {
    let (tenant_id, webhook_id) = (path_id(&req, "tenant_id")?, path_id(&req, "webhook_id")?);
    endpoints::delete(app, &requester(&req), tenant_id, webhook_id).await?;
    no_content()
}

/// POST /v1/tenants/{tenant_id}/webhooks/{webhook_id}/rotate-secret
pub async fn rotate_secret(app: &'static App, req: Request) -> Answer {
    let (tenant_id, webhook_id) = (path_id(&req, "tenant_id")?, path_id(&req, "webhook_id")?);
    ok(&endpoints::rotate_secret(app, &requester(&req), tenant_id, webhook_id).await?)
}

/// GET /v1/tenants/{tenant_id}/webhooks/{webhook_id}/deliveries
pub async fn deliveries(app: &'static App, req: Request) -> Answer {
    let (tenant_id, webhook_id) = (path_id(&req, "tenant_id")?, path_id(&req, "webhook_id")?);
    let page = page(&req)?;
    ok(&log::list(app, &requester(&req), tenant_id, webhook_id, page).await?)
}

/// POST /v1/tenants/{tenant_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/retry
pub async fn retry_delivery(app: &'static App, req: Request) -> Answer {
    let (tenant_id, webhook_id) = (path_id(&req, "tenant_id")?, path_id(&req, "webhook_id")?);
    let delivery_id = path_id(&req, "delivery_id")?;
    ok(&log::retry(app, &requester(&req), tenant_id, webhook_id, delivery_id).await?)
}
