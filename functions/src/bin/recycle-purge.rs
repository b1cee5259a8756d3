//! Scheduled (EventBridge): purges recycle-bin entries past their retention.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::serve(&roster_functions::registry::RECYCLE_PURGE).await
}
