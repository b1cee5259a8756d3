//! DELETE /v1/tenants/{tenant_id}/join-links/{join_link_id}
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::REVOKE_JOIN_LINK).await
}
