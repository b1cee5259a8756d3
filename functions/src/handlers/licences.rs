use super::Answer;
use crate::http::{json_body, no_content, ok, path_id, requester, with_etag};
use lambda_http::Request;
use roster_shared::App;
use roster_shared::licences;

/// GET /v1/tenants/{tenant_id}/licences
pub async fn summary(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    ok(&licences::summary(app, &requester(&req), tenant_id).await?)
}

/// POST /v1/tenants/{tenant_id}/licences/assign
pub async fn assign(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let input = json_body(&req)?;
    ok(&licences::assign(app, &requester(&req), tenant_id, input).await?)
}

/// POST /v1/tenants/{tenant_id}/licences/revoke
pub async fn revoke(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let input = json_body(&req)?;
    ok(&licences::revoke(app, &requester(&req), tenant_id, input).await?)
}

/// POST /v1/tenants/{tenant_id}/licences/renew
pub async fn renew(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let input = json_body(&req)?;
    ok(&licences::renew(app, &requester(&req), tenant_id, input).await?)
}

/// PUT /v1/tenants/{tenant_id}/members/{member_id}/licence
pub async fn set_for_member(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let member_id = path_id(&req, "member_id")?;
    let input = json_body(&req)?;
    let meta = requester(&req);
    let member = licences::set_for_member(app, &meta, tenant_id, member_id, input).await?;
    Ok(with_etag(ok(&member)?, member.version))
}

/// DELETE /v1/tenants/{tenant_id}/members/{member_id}/licence
pub async fn revoke_for_member(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let member_id = path_id(&req, "member_id")?;
    licences::revoke_for_member(app, &requester(&req), tenant_id, member_id).await?;
    no_content()
}
