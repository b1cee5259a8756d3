//! DELETE /v1/tenants/{tenant_id}/scim-tokens/{token_id}
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::REVOKE_SCIM_TOKEN).await
}
