//! Schedule (every minute): attempts again the webhook deliveries due on their retry schedule.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::serve(&roster_functions::registry::WEBHOOK_RETRY).await
}
