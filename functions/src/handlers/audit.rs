use super::Answer;
use crate::http::{ok, page, path_id, query_param, requester};
use lambda_http::Request;
use roster_shared::App;
use roster_shared::audit::{self, AuditFilter};

/// GET /v1/tenants/{tenant_id}/audit-log
pub async fn list(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let page = page(&req)?;
    let filter = AuditFilter {
        action: query_param(&req, "action"),
        actor_id: query_param(&req, "actor_id"),
        from: query_param(&req, "from"),
        to: query_param(&req, "to"),
    };
    ok(&audit::list(app, &requester(&req), tenant_id, filter, page).await?)
}
