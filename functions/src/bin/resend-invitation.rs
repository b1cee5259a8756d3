//! POST /v1/tenants/{tenant_id}/invitations/{invitation_id}/resend
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::run(roster_functions::handlers::invitations::resend).await
}
