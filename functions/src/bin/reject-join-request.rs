//! POST /v1/tenants/{tenant_id}/join-requests/{request_id}/reject
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::REJECT_JOIN_REQUEST).await
}
