//! DELETE /v1/me/sessions/{session_id}
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::END_MY_SESSION).await
}
