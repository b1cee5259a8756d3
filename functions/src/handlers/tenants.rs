use super::Answer;
use lambda_http::Request;
use roster_shared::App;
use roster_shared::http::{PageParams, RequestMeta, created, json_body, ok, path_id, with_etag};
use roster_shared::tenants;

/// POST /v1/tenants
pub async fn create(app: &'static App, req: Request) -> Answer {
    let input = json_body(&req)?;
    created(&tenants::create(app, &RequestMeta::of(&req), input).await?)
}

/// GET /v1/tenants
pub async fn list(app: &'static App, req: Request) -> Answer {
    let page = PageParams::of(&req)?;
    ok(&tenants::list(app, &RequestMeta::of(&req), page).await?)
}

/// GET /v1/tenants/{tenant_id}
pub async fn get(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let tenant = tenants::get(app, &RequestMeta::of(&req), tenant_id).await?;
    Ok(with_etag(ok(&tenant)?, tenant.version))
}

/// PATCH /v1/tenants/{tenant_id}
pub async fn update(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let patch = json_body(&req)?;
    let tenant = tenants::update(app, &RequestMeta::of(&req), tenant_id, patch).await?;
    Ok(with_etag(ok(&tenant)?, tenant.version))
}
