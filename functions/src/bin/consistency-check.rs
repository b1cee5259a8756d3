//! Scheduled (EventBridge): checks every invariant of the table (and repairs what it can when the
//! deployment says so); each finding is a log line, their number the `Roster/BrokenInvariants`
//! metric.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::serve(&roster_functions::registry::CONSISTENCY_CHECK).await
}
