//! POST /v1/tenants/{tenant_id}/licences/revoke
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::REVOKE_LICENCES).await
}
