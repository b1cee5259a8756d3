//! POST /v1/me/email/confirm
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::CONFIRM_EMAIL_CHANGE).await
}
