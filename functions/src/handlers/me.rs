use super::Answer;
use crate::http::{json, json_body, ok, requester};
use http::StatusCode;
use lambda_http::Request;
use roster_shared::App;
use roster_shared::users::{self, email_change};

/// GET /v1/me
pub async fn get(app: &'static App, req: Request) -> Answer {
    ok(&users::me(app, &requester(&req)).await?)
}

/// PATCH /v1/me
pub async fn update(app: &'static App, req: Request) -> Answer {
    let patch = json_body(&req)?;
    let update = users::update_me(app, &requester(&req), patch).await?;
    match update.pending_email {
        // The address changes only once the link mailed to it is used.
        Some(_) => json(StatusCode::ACCEPTED, &update),
        None => ok(&update.user),
    }
}

/// POST /v1/me/email/confirm
pub async fn confirm_email(app: &'static App, req: Request) -> Answer {
    let input = json_body(&req)?;
    ok(&email_change::confirm(app, &requester(&req), input).await?)
}
