use super::Answer;
use crate::http::{accepted, json_body, no_content, ok, requester, with_refresh_cookie};
use lambda_http::Request;
use roster_shared::App;
use roster_shared::users::{self, proof};

/// POST /v1/auth/login
pub async fn login(app: &'static App, req: Request) -> Answer {
    let input = json_body(&req)?;
    let signed_in = users::login(app, &requester(&req), input).await?;
    let refresh = &signed_in.refresh;
    with_refresh_cookie(ok(&signed_in)?, &refresh.token, refresh.max_age)
}

/// POST /v1/auth/password
pub async fn change_password(app: &'static App, req: Request) -> Answer {
    let input = json_body(&req)?;
    let changed = users::change_password(app, &requester(&req), input).await?;
    match &changed.refresh {
        // The change completed a `password_expired` sign-in: its session starts.
        Some(refresh) => with_refresh_cookie(ok(&changed)?, &refresh.token, refresh.max_age),
        None => ok(&changed),
    }
}

/// POST /v1/auth/password-reset
pub async fn complete_password_reset(app: &'static App, req: Request) -> Answer {
    let input = json_body(&req)?;
    proof::complete_password_reset(app, &requester(&req), input).await?;
    no_content()
}

/// POST /v1/auth/password-reset/request
pub async fn request_password_reset(app: &'static App, req: Request) -> Answer {
    let input = json_body(&req)?;
    proof::request_password_reset(app, &requester(&req), input).await?;
    accepted()
}

/// POST /v1/auth/verify-email
pub async fn verify_email(app: &'static App, req: Request) -> Answer {
    let input = json_body(&req)?;
    ok(&proof::verify_email(app, &requester(&req), input).await?)
}

/// POST /v1/auth/verify-email/resend
pub async fn resend_verification(app: &'static App, req: Request) -> Answer {
    let input = json_body(&req)?;
    proof::resend_verification(app, &requester(&req), input).await?;
    accepted()
}

/// GET /.well-known/jwks.json
pub async fn jwks(app: &'static App, _req: Request) -> Answer {
    ok(&app.keys.jwks(app.now()).await?)
}
