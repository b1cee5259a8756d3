//! POST /v1/tenants/{tenant_id}/exports
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::CREATE_EXPORT).await
}
