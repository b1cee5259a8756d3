use super::Answer;
use crate::http::{
    clearing_refresh_cookie, no_content, ok, optional_json_body, page, path_id, problem,
    refresh_cookie, requester, with_refresh_cookie,
};
use lambda_http::Request;
use roster_shared::sessions::{manage, refresh};
use roster_shared::{ApiError, App};

/// POST /v1/auth/refresh
pub async fn refresh(app: &'static App, req: Request) -> Answer {
    let input = optional_json_body(&req)?;
    match refresh::refresh(app, &requester(&req), refresh_cookie(&req), input).await {
        Ok(out) => with_refresh_cookie(ok(&out)?, &out.refresh.token, out.refresh.max_age),
        // A refresh token that no longer refreshes anything is no use kept.
        Err(ApiError::Unauthorized) => clearing_refresh_cookie(problem(&ApiError::Unauthorized)),
        Err(err) => Err(err),
    }
}

/// POST /v1/auth/logout
pub async fn logout(app: &'static App, req: Request) -> Answer {
    let input = optional_json_body(&req)?;
    manage::logout(app, refresh_cookie(&req), input).await?;
    clearing_refresh_cookie(no_content()?)
}

/// GET /v1/me/sessions
pub async fn list(app: &'static App, req: Request) -> Answer {
    let page = page(&req)?;
    ok(&manage::list(app, &requester(&req), page).await?)
}

/// DELETE /v1/me/sessions/{session_id}
pub async fn end(app: &'static App, req: Request) -> Answer {
    let session_id = path_id(&req, "session_id")?;
    manage::end(app, &requester(&req), session_id).await?;
    no_content()
}
