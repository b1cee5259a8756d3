//! DELETE /v1/tenants/{tenant_id}/webhooks/{webhook_id}
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::DELETE_WEBHOOK).await
}
