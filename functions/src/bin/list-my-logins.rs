//! GET /v1/me/login-log
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::LIST_MY_LOGINS).await
}
