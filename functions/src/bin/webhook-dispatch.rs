//! Worker (the table's stream, new items of the tenants' event logs): delivers each event to the
//! tenant's webhook endpoints that hear it, signed, recording every attempt.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::serve(&roster_functions::registry::WEBHOOK_DISPATCH).await
}
