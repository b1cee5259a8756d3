//! POST /v1/tenants/{tenant_id}/imports/{job_id}/start
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::run(roster_functions::handlers::jobs::start_import).await
}
