//! POST /v1/auth/token
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::ISSUE_CLIENT_TOKEN).await
}
