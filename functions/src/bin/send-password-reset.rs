//! POST /v1/tenants/{tenant_id}/members/{member_id}/reset-password
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::SEND_PASSWORD_RESET).await
}
