use super::Answer;
use crate::http::{created, json_body, no_content, ok, page, path_id, requester};
use http::header::CONTENT_TYPE;
use lambda_http::Request;
use roster_shared::api_clients::{self, TokenRequest};
use roster_shared::{ApiError, App};

/// POST /v1/tenants/{tenant_id}/api-clients
pub async fn create(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let input = json_body(&req)?;
    created(&api_clients::create(app, &requester(&req), tenant_id, input).await?)
}

/// GET /v1/tenants/{tenant_id}/api-clients
pub async fn list(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let page = page(&req)?;
    ok(&api_clients::list(app, &requester(&req), tenant_id, page).await?)
}

/// DELETE /v1/tenants/{tenant_id}/api-clients/{client_id}
pub async fn delete(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    let client_id = path_id(&req, "client_id")?;
    api_clients::delete(app, &requester(&req), tenant_id, client_id).await?;
    no_content()
}

/// POST /v1/auth/token — JSON, or the form encoding OAuth clients send.
pub async fn token(app: &'static App, req: Request) -> Answer {
    let form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let input: TokenRequest = if form {
        let fields: std::collections::HashMap<String, String> =
            form_urlencoded::parse(req.body().as_ref())
                .into_owned()
                .collect();
        let field = |name: &str| {
            fields
                .get(name)
                .cloned()
                .ok_or_else(|| ApiError::invalid(name, "is required"))
        };
        TokenRequest {
            grant_type: field("grant_type")?,
            client_id: field("client_id")?,
            client_secret: field("client_secret")?,
        }
    } else {
        json_body(&req)?
    };
    ok(&api_clients::token(app, &requester(&req), input).await?)
}
