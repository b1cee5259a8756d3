use super::Answer;
use crate::http::{ok, page, path_id, requester};
use lambda_http::Request;
use roster_shared::App;
use roster_shared::logins;

/// GET /v1/tenants/{tenant_id}/login-log
pub async fn for_tenant(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let page = page(&req)?;
    ok(&logins::for_tenant(app, &requester(&req), tenant_id, page).await?)
}

/// GET /v1/me/login-log
pub async fn mine(app: &'static App, req: Request) -> Answer {
    let page = page(&req)?;
    ok(&logins::mine(app, &requester(&req), page).await?)
}
