use super::Answer;
use crate::http::{
    created, json, json_body, no_content, ok, optional_json_body, page, path_id, path_text,
    query_param, requester,
};
use http::StatusCode;
use lambda_http::Request;
use roster_shared::App;
use roster_shared::invitations;

/// POST /v1/tenants/{tenant_id}/invitations
pub async fn create(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let input = json_body(&req)?;
    created(&invitations::create(app, &requester(&req), tenant_id, input).await?)
}

/// GET /v1/tenants/{tenant_id}/invitations
pub async fn list(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let page = page(&req)?;
    let status = query_param(&req, "status");
    ok(&invitations::list(app, &requester(&req), tenant_id, status, page).await?)
}

/// POST /v1/tenants/{tenant_id}/invitations/{invitation_id}/resend
pub async fn resend(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let invitation_id = path_id(&req, "invitation_id")?;
    ok(&invitations::resend(app, &requester(&req), tenant_id, invitation_id).await?)
}

/// DELETE /v1/tenants/{tenant_id}/invitations/{invitation_id}
pub async fn cancel(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let invitation_id = path_id(&req, "invitation_id")?;
    invitations::cancel(app, &requester(&req), tenant_id, invitation_id).await?;
    no_content()
}

/// GET /v1/invitations/{token}
pub async fn preview(app: &'static App, req: Request) -> Answer {
    let token = path_text(&req, "token")?;
    ok(&invitations::preview(app, &token).await?)
}

/// POST /v1/invitations/{token}/accept
pub async fn accept(app: &'static App, req: Request) -> Answer {
    let token = path_text(&req, "token")?;
    let input = optional_json_body(&req)?;
    match invitations::accept(app, &requester(&req), &token, input).await? {
        joined @ roster_shared::joining::JoinOutcome::Joined(_) => created(&joined),
        sent => json(StatusCode::ACCEPTED, &sent),
    }
}
