use super::Answer;
use crate::http::{created, csv_file, json, json_body, no_content, ok, page, path_id, requester};
use http::StatusCode;
use lambda_http::Request;
use roster_shared::App;
use roster_shared::jobs::{self, export, import};

/// GET /v1/tenants/{tenant_id}/imports/template
pub async fn import_template(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let text = import::template_for(app, &requester(&req), tenant_id).await?;
    csv_file("roster-import-template.csv", text)
}

/// POST /v1/tenants/{tenant_id}/imports
pub async fn create_import(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let input = json_body(&req)?;
    created(&import::create(app, &requester(&req), tenant_id, input).await?)
}

/// POST /v1/tenants/{tenant_id}/imports/{job_id}/start — 202: the import runs in the background.
pub async fn start_import(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let job_id = path_id(&req, "job_id")?;
    let job = import::start(app, &requester(&req), tenant_id, job_id).await?;
    json(StatusCode::ACCEPTED, &job)
}

/// POST /v1/tenants/{tenant_id}/exports — 202: the export runs in the background.
pub async fn create_export(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let input = json_body(&req)?;
    let job = export::create(app, &requester(&req), tenant_id, input).await?;
    json(StatusCode::ACCEPTED, &job)
}

/// GET /v1/tenants/{tenant_id}/jobs
pub async fn list(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let page = page(&req)?;
    ok(&jobs::list(app, &requester(&req), tenant_id, page).await?)
}

/// GET /v1/tenants/{tenant_id}/jobs/{job_id}
pub async fn get(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let job_id = path_id(&req, "job_id")?;
    ok(&jobs::get(app, &requester(&req), tenant_id, job_id).await?)
}

/// DELETE /v1/tenants/{tenant_id}/jobs/{job_id}
pub async fn delete(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let job_id = path_id(&req, "job_id")?;
    jobs::delete(app, &requester(&req), tenant_id, job_id).await?;
    no_content()
}
