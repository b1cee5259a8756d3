//! POST /v1/invitations/{token}/accept
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::ACCEPT_INVITATION).await
}
