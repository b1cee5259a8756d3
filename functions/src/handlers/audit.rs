use super::Answer;
use lambda_http::Request;
use roster_shared::App;
use roster_shared::audit::{self, AuditFilter};
use roster_shared::http::{PageParams, RequestMeta, ok, path_id, query_param};

/// GET /v1/tenants/{tenant_id}/audit-log
pub async fn list(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let page = PageParams::of(&req)?;
    let filter = AuditFilter {
        action: query_param(&req, "action"),
        actor_id: query_param(&req, "actor_id"),
        from: query_param(&req, "from"),
        to: query_param(&req, "to"),
    };
    ok(&audit::list(app, &RequestMeta::of(&req), tenant_id, filter, page).await?)
}
