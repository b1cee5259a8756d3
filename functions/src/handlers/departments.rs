use super::Answer;
use crate::http::{created, json, json_body, no_content, ok, page, path_id, requester};
use http::StatusCode;
use lambda_http::Request;
use roster_shared::App;
use roster_shared::departments::{self, Updated};

/// GET /v1/tenants/{tenant_id}/departments
pub async fn list(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let page = page(&req)?;
    ok(&departments::list(app, &requester(&req), tenant_id, page).await?)
}

/// POST /v1/tenants/{tenant_id}/departments
pub async fn create(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let input = json_body(&req)?;
    created(&departments::create(app, &requester(&req), tenant_id, input).await?)
}

/// GET /v1/tenants/{tenant_id}/departments/{department_id}
pub async fn get(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let department_id = path_id(&req, "department_id")?;
    ok(&departments::get(app, &requester(&req), tenant_id, department_id).await?)
}

/// PATCH /v1/tenants/{tenant_id}/departments/{department_id} — 200 with the department, or 202
/// with the job that finishes a move too large for one transaction.
pub async fn update(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let department_id = path_id(&req, "department_id")?;
    let patch = json_body(&req)?;
    let meta = requester(&req);
    match departments::update(app, &meta, tenant_id, department_id, patch).await? {
        Updated::Done(department) => ok(&department),
        Updated::Moving(job) => json(StatusCode::ACCEPTED, &job),
    }
}

/// DELETE /v1/tenants/{tenant_id}/departments/{department_id}
pub async fn delete(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let department_id = path_id(&req, "department_id")?;
    departments::delete(app, &requester(&req), tenant_id, department_id).await?;
    no_content()
}
