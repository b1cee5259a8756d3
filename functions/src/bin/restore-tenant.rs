//! POST /v1/tenants/{tenant_id}/restore
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::RESTORE_TENANT).await
}
