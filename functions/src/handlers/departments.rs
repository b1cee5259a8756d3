use super::Answer;
use lambda_http::Request;
use roster_shared::App;
use roster_shared::departments;
use roster_shared::http::{PageParams, RequestMeta, created, json_body, no_content, ok, path_id};

/// GET /v1/tenants/{tenant_id}/departments
pub async fn list(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let page = PageParams::of(&req)?;
    ok(&departments::list(app, &RequestMeta::of(&req), tenant_id, page).await?)
}

/// POST /v1/tenants/{tenant_id}/departments
pub async fn create(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let input = json_body(&req)?;
    created(&departments::create(app, &RequestMeta::of(&req), tenant_id, input).await?)
}

/// GET /v1/tenants/{tenant_id}/departments/{department_id}
pub async fn get(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let department_id = path_id(&req, "department_id")?;
    ok(&departments::get(app, &RequestMeta::of(&req), tenant_id, department_id).await?)
}

/// PATCH /v1/tenants/{tenant_id}/departments/{department_id}
pub async fn update(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let department_id = path_id(&req, "department_id")?;
    let patch = json_body(&req)?;
    let meta = RequestMeta::of(&req);
    ok(&departments::update(app, &meta, tenant_id, department_id, patch).await?)
}

/// DELETE /v1/tenants/{tenant_id}/departments/{department_id}
pub async fn delete(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let department_id = path_id(&req, "department_id")?;
    departments::delete(app, &RequestMeta::of(&req), tenant_id, department_id).await?;
    no_content()
}
