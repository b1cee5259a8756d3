use super::Answer;
use lambda_http::Request;
use roster_shared::App;
use roster_shared::http::{PageParams, RequestMeta, ok, path_id};
use roster_shared::logins;

/// GET /v1/tenants/{tenant_id}/login-log
pub async fn for_tenant(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let page = PageParams::of(&req)?;
    ok(&logins::for_tenant(app, &RequestMeta::of(&req), tenant_id, page).await?)
}

/// GET /v1/me/login-log
pub async fn mine(app: &'static App, req: Request) -> Answer {
    let page = PageParams::of(&req)?;
    ok(&logins::mine(app, &RequestMeta::of(&req), page).await?)
}
