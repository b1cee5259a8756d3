//! Secrets Manager rotation of the signing-key secret: one of the four steps per invocation.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::run_worker(roster_shared::signing_keys::handle_rotation).await
}
