//! GET /v1/me/sessions
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::LIST_MY_SESSIONS).await
}
