use super::Answer;
use lambda_http::Request;
use roster_shared::App;
use roster_shared::http::{RequestMeta, json_body, ok};
use roster_shared::users;

/// GET /v1/me
pub async fn get(app: &'static App, req: Request) -> Answer {
    ok(&users::me(app, &RequestMeta::of(&req)).await?)
}

/// PATCH /v1/me
pub async fn update(app: &'static App, req: Request) -> Answer {
    let patch = json_body(&req)?;
    ok(&users::update_me(app, &RequestMeta::of(&req), patch).await?)
}
