//! POST /v1/auth/verify-email/resend
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::RESEND_VERIFICATION).await
}
