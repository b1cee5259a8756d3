//! POST /v1/tenants/{tenant_id}/members/bulk-update
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::BULK_UPDATE_MEMBERS).await
}
