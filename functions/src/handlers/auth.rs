use super::Answer;
use lambda_http::Request;
use roster_shared::App;
use roster_shared::http::{RequestMeta, json_body, no_content, ok};
use roster_shared::users;

/// POST /v1/auth/login
pub async fn login(app: &'static App, req: Request) -> Answer {
    let input = json_body(&req)?;
    ok(&users::login(app, &RequestMeta::of(&req), input).await?)
}

/// POST /v1/auth/password
pub async fn change_password(app: &'static App, req: Request) -> Answer {
    let input = json_body(&req)?;
    users::change_password(app, &RequestMeta::of(&req), input).await?;
    no_content()
}

/// POST /v1/auth/password-reset
pub async fn complete_password_reset(app: &'static App, req: Request) -> Answer {
    users::complete_password_reset(app, json_body(&req)?).await?;
    no_content()
}

/// GET /.well-known/jwks.json
pub async fn jwks(app: &'static App, _req: Request) -> Answer {
    ok(&app.keys.jwks())
}
