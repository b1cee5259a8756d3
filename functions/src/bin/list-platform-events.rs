//! GET /v1/events
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::LIST_PLATFORM_EVENTS).await
}
