//! Scheduled (EventBridge): removes deleted tenants whose grace period is over.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::serve(&roster_functions::registry::TENANT_PURGE).await
}
