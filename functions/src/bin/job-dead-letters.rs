//! Worker (the dead-letter queue of the other workers): ends the jobs of events they gave up on
//! `failed`, with the reason.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::run_worker(roster_shared::jobs::dead_letters::handle_event).await
}
