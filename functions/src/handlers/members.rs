use super::Answer;
use crate::http::{
    created, if_match_version, json_body, no_content, ok, page, path_id, query_param, requester,
    with_etag,
};
use lambda_http::Request;
use roster_shared::App;
use roster_shared::members::{self, MemberSearch};

/// POST /v1/tenants/{tenant_id}/members
pub async fn create(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let input = json_body(&req)?;
    let member = members::create(app, &requester(&req), tenant_id, input).await?;
    Ok(with_etag(created(&member)?, member.version))
}

/// GET /v1/tenants/{tenant_id}/members
pub async fn list(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let page = page(&req)?;
    let params = MemberSearch {
        q: query_param(&req, "q"),
        department_id: query_param(&req, "department_id"),
        include_descendants: query_param(&req, "include_descendants"),
        status: query_param(&req, "status"),
        role: query_param(&req, "role"),
        source: query_param(&req, "source"),
        licence: query_param(&req, "licence"),
        sort: query_param(&req, "sort"),
        position: query_param(&req, "position"),
        location: query_param(&req, "location"),
        work_number: query_param(&req, "work_number"),
        directory_number_set: query_param(&req, "directory_number_set"),
    };
    ok(&members::search(app, &requester(&req), tenant_id, params, page).await?)
}

/// GET /v1/tenants/{tenant_id}/members/{member_id}
pub async fn get(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let member_id = path_id(&req, "member_id")?;
    let member = members::get(app, &requester(&req), tenant_id, member_id).await?;
    match member.version() {
        Some(version) => Ok(with_etag(ok(&member)?, version)),
        None => ok(&member),
    }
}

/// PATCH /v1/tenants/{tenant_id}/members/{member_id}
pub async fn update(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let member_id = path_id(&req, "member_id")?;
    let patch = json_body(&req)?;
    let expected = if_match_version(&req)?;
    let member =
        members::update(app, &requester(&req), tenant_id, member_id, patch, expected).await?;
    Ok(with_etag(ok(&member)?, member.version))
}

/// DELETE /v1/tenants/{tenant_id}/members/{member_id}
pub async fn delete(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let member_id = path_id(&req, "member_id")?;
    members::delete(app, &requester(&req), tenant_id, member_id).await?;
    no_content()
}

/// GET /v1/tenants/{tenant_id}/recycle-bin
pub async fn recycle_bin(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let page = page(&req)?;
    ok(&members::recycle_bin(app, &requester(&req), tenant_id, page).await?)
}

/// POST /v1/tenants/{tenant_id}/recycle-bin/{member_id}/restore
pub async fn restore(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let member_id = path_id(&req, "member_id")?;
    let input = json_body(&req)?;
    let meta = requester(&req);
    ok(&members::restore(app, &meta, tenant_id, member_id, input).await?)
}

/// POST /v1/tenants/{tenant_id}/members/bulk-update
pub async fn bulk_update(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let input = json_body(&req)?;
    ok(&members::bulk::update(app, &requester(&req), tenant_id, input).await?)
}

/// POST /v1/tenants/{tenant_id}/members/bulk-status
pub async fn bulk_status(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let input = json_body(&req)?;
    ok(&members::bulk::status(app, &requester(&req), tenant_id, input).await?)
}

/// POST /v1/tenants/{tenant_id}/members/{member_id}/reset-password
pub async fn reset_password(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let member_id = path_id(&req, "member_id")?;
    members::send_password_reset(app, &requester(&req), tenant_id, member_id).await?;
    no_content()
}
