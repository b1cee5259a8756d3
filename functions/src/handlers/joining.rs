use super::Answer;
use crate::http::{
    created, json, json_body, no_content, ok, optional_json_body, page, path_id, path_text,
    query_param, requester,
};
use http::StatusCode;
use lambda_http::Request;
use roster_shared::App;
use roster_shared::joining;

/// POST /v1/tenants/{tenant_id}/join-number/rotate
pub async fn rotate_number(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    ok(&joining::rotate_number(app, &requester(&req), tenant_id).await?)
}

/// POST /v1/tenants/{tenant_id}/join-links
pub async fn create_link(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let input = json_body(&req)?;
    created(&joining::create_link(app, &requester(&req), tenant_id, input).await?)
}

/// GET /v1/tenants/{tenant_id}/join-links
pub async fn list_links(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let page = page(&req)?;
    ok(&joining::list_links(app, &requester(&req), tenant_id, page).await?)
}

/// DELETE /v1/tenants/{tenant_id}/join-links/{join_link_id}
pub async fn revoke_link(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let link_id = path_id(&req, "join_link_id")?;
    joining::revoke_link(app, &requester(&req), tenant_id, link_id).await?;
    no_content()
}

/// GET /v1/join/{code}
pub async fn preview(app: &'static App, req: Request) -> Answer {
    let code = path_text(&req, "code")?;
    ok(&joining::preview(app, &code).await?)
}

/// POST /v1/join/{code}
pub async fn join(app: &'static App, req: Request) -> Answer {
    let code = path_text(&req, "code")?;
    let input = optional_json_body(&req)?;
    match joining::join(app, &requester(&req), &code, input).await? {
        joined @ joining::JoinOutcome::Joined(_) => created(&joined),
        sent => json(StatusCode::ACCEPTED, &sent),
    }
}

/// GET /v1/join/number/{number}
pub async fn preview_number(app: &'static App, req: Request) -> Answer {
    let number = path_text(&req, "number")?;
    ok(&joining::preview_number(app, &requester(&req), &number).await?)
}

/// POST /v1/join/number/{number}
pub async fn join_by_number(app: &'static App, req: Request) -> Answer {
    let number = path_text(&req, "number")?;
    let input = optional_json_body(&req)?;
    match joining::join_by_number(app, &requester(&req), &number, input).await? {
        joined @ joining::JoinOutcome::Joined(_) => created(&joined),
        sent => json(StatusCode::ACCEPTED, &sent),
    }
}

/// GET /v1/tenants/{tenant_id}/join-requests
pub async fn list_requests(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let page = page(&req)?;
    let status = query_param(&req, "status");
    ok(&joining::list_requests(app, &requester(&req), tenant_id, status, page).await?)
}

/// POST /v1/tenants/{tenant_id}/join-requests/{request_id}/approve
pub async fn approve(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let request_id = path_id(&req, "request_id")?;
    let input = optional_json_body(&req)?;
    ok(&joining::approve(app, &requester(&req), tenant_id, request_id, input).await?)
}

/// POST /v1/tenants/{tenant_id}/join-requests/{request_id}/reject
pub async fn reject(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let request_id = path_id(&req, "request_id")?;
    let input = optional_json_body(&req)?;
    ok(&joining::reject(app, &requester(&req), tenant_id, request_id, input).await?)
}
