use super::Answer;
use crate::http::{
    created, if_match_version, json, json_body, ok, page, path_id, requester, with_etag,
};
use http::StatusCode;
use lambda_http::Request;
use roster_shared::App;
use roster_shared::tenants;

/// POST /v1/tenants
pub async fn create(app: &'static App, req: Request) -> Answer {
    let input = json_body(&req)?;
    created(&tenants::create(app, &requester(&req), input).await?)
}

/// GET /v1/tenants
pub async fn list(app: &'static App, req: Request) -> Answer {
    let page = page(&req)?;
    ok(&tenants::list(app, &requester(&req), page).await?)
}

/// GET /v1/tenants/{tenant_id}
pub async fn get(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let tenant = tenants::get(app, &requester(&req), tenant_id).await?;
    Ok(with_etag(ok(&tenant)?, tenant.version))
}

/// PATCH /v1/tenants/{tenant_id}
pub async fn update(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let patch = json_body(&req)?;
    let tenant = tenants::update(
        app,
        &requester(&req),
        tenant_id,
        patch,
        if_match_version(&req)?,
    )
    .await?;
    Ok(with_etag(ok(&tenant)?, tenant.version))
}

/// DELETE /v1/tenants/{tenant_id}
pub async fn delete(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let tenant = tenants::delete(app, &requester(&req), tenant_id).await?;
    Ok(with_etag(
        json(StatusCode::ACCEPTED, &tenant)?,
        tenant.version,
    ))
}

/// POST /v1/tenants/{tenant_id}/restore
pub async fn restore(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let tenant = tenants::restore(app, &requester(&req), tenant_id).await?;
    Ok(with_etag(ok(&tenant)?, tenant.version))
}
