//! POST /v1/auth/password-reset/request
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::run(roster_functions::handlers::auth::request_password_reset).await
}
