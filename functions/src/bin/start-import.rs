//! POST /v1/tenants/{tenant_id}/imports/{job_id}/start
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::START_IMPORT).await
}
