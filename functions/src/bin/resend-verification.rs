//! POST /v1/auth/verify-email/resend
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::run(roster_functions::handlers::auth::resend_verification).await
}
