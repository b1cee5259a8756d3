//! POST /v1/auth/password-reset/request
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::REQUEST_PASSWORD_RESET).await
}
