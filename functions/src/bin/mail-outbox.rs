//! Worker (the table's stream, new outbox items): mails what public answers queued.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::serve(&roster_functions::registry::MAIL_OUTBOX).await
}
