//! POST /v1/tenants/{tenant_id}/exports
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::run(roster_functions::handlers::jobs::create_export).await
}
