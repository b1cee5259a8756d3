//! DELETE /v1/tenants/{tenant_id}/invitations/{invitation_id}
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::CANCEL_INVITATION).await
}
