//! Scheduled (EventBridge): gives back the quota places of expired invitations.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::serve(&roster_functions::registry::INVITATION_EXPIRY).await
}
