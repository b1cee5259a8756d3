//! GET /v1/tenants/{tenant_id}/webhooks/{webhook_id}/deliveries
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::LIST_WEBHOOK_DELIVERIES).await
}
