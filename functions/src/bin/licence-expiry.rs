//! Scheduled (EventBridge): ends expired licences; a queued renewal takes over, otherwise the
//! seat returns to the pool.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::serve(&roster_functions::registry::LICENCE_EXPIRY).await
}
