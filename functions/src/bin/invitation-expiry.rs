//! Scheduled (EventBridge): gives back the quota places of expired invitations.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::run(roster_shared::invitations::expiry::run).await
}
