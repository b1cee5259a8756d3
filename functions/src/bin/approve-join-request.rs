//! POST /v1/tenants/{tenant_id}/join-requests/{request_id}/approve
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::APPROVE_JOIN_REQUEST).await
}
