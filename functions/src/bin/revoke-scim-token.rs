//! DELETE /v1/tenants/{tenant_id}/scim-tokens/{token_id}
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::run(roster_functions::handlers::scim::revoke_token).await
}
