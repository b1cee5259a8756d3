//! POST /v1/tenants/{tenant_id}/departments
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::CREATE_DEPARTMENT).await
}
