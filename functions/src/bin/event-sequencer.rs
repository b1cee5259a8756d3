//! Worker (the table's stream, new pending events; and a schedule's sweep): numbers each tenant's
//! events into its log and the platform's.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::serve(&roster_functions::registry::EVENT_SEQUENCER).await
}
