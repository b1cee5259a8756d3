//! Worker (the dead-letter queue of the other workers): ends the jobs of events they gave up on
//! `failed`, with the reason.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::serve(&roster_functions::registry::JOB_DEAD_LETTERS).await
}
